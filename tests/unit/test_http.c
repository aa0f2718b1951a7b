/* Unit tests for the parsers of outside input in util/: {field} templates
 * (util/tmpl.h), OAuth token endpoint answers and URLs (util/http.h) and
 * the one-pass page scanner (util/jscan.h). */
#include "util/http.h"
#include "util/jscan.h"
#include "util/tmpl.h"

#include <pthread.h>
#include <setjmp.h> /* before cmocka.h, which needs jmp_buf */

#include <cmocka.h>

/* "lit|{field}|lit" */
static char *show(const struct sm_tmpl *t)
{
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < t->n; i++)
        (void)sm_buf_addf(&b, t->parts[i].field ? "%s{%s}" : "%s%s", i ? "|" : "",
                          t->parts[i].text);
    return sm_buf_detach(&b);
}

static void test_tmpl_parts(void **state)
{
    (void)state;
    static const struct {
        const char *in, *parts;
        size_t nfields;
    } cases[] = {
        {"orders/{id}/items", "orders/|{id}|/items", 1},
        {"{a}{b.c}", "{a}|{b.c}", 2},
        {"plain", "plain", 0},
        {"", "", 0},
        {"x{{y}}z", "x{y}z", 0},
        {"a}b", "a}b", 0},
        {"${env:HOME}/{id}", "${env:HOME}/|{id}", 1},
        {"$${id}", "$${id}", 0},
        {"${secret:x}{id}", "${secret:x}|{id}", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sm_tmpl t;
        struct sm_err err = SM_ERR_INIT;
        assert_int_equal(sm_tmpl_parse(cases[i].in, &t, &err), 0);
        char *s = show(&t);
        assert_string_equal(s, cases[i].parts);
        assert_int_equal(t.nfields, cases[i].nfields);
        free(s);
        sm_tmpl_release(&t);
    }
}

static void test_tmpl_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"a/{id", "placeholder at character 3 is not closed"},
        {"a/{x{y}}", "placeholder at character 3 is not closed"},
        {"{}", "empty placeholder '{}' at character 1"},
        {"{a..b}", "invalid field 'a..b'"},
        {"{.a}", "invalid field '.a'"},
        {"{a b}", "invalid field 'a b'"},
        {"{a[0]}", "invalid field 'a[0]'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sm_tmpl t;
        struct sm_err err = SM_ERR_INIT;
        assert_int_equal(sm_tmpl_parse(cases[i].in, &t, &err), SM_EINVALID);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("'%s': got '%s'", cases[i].in, err.msg);
        sm_tmpl_release(&t);
    }
}

static void test_oauth_token(void **state)
{
    (void)state;
    struct sm_oauth_token t;
    struct sm_err err = SM_ERR_INIT;
    const char *ok1 = "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":3600}";
    assert_int_equal(sm_oauth_parse_token(ok1, strlen(ok1), &t, &err), 0);
    assert_string_equal(t.access_token, "abc");
    assert_int_equal(t.expires_in, 3600);
    sm_oauth_token_release(&t);
    assert_null(t.access_token);

    /* expires_in as a string, token_type in another case, no expiry at all */
    const char *ok2 = "{\"access_token\":\"x\",\"token_type\":\"bearer\",\"expires_in\":\"60\"}";
    assert_int_equal(sm_oauth_parse_token(ok2, strlen(ok2), &t, &err), 0);
    assert_int_equal(t.expires_in, 60);
    sm_oauth_token_release(&t);
    const char *ok3 = "{\"access_token\":\"x\",\"expires_in\":0}";
    assert_int_equal(sm_oauth_parse_token(ok3, strlen(ok3), &t, &err), 0);
    assert_int_equal(t.expires_in, -1);
    sm_oauth_token_release(&t);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {"{}", "no 'access_token'"},
        {"{\"access_token\":\"\"}", "no 'access_token'"},
        {"{\"access_token\":5}", "no 'access_token'"},
        {"{\"access_token\":\"a\\nb\"}", "characters a header cannot"},
        {"{\"access_token\":\"a\\u0000b\"}", "not a JSON object"}, /* jansson refuses NUL */
        {"{\"access_token\":\"a\",\"token_type\":\"mac\"}", "other than 'Bearer'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sm_err e = SM_ERR_INIT;
        assert_int_equal(sm_oauth_parse_token(bad[i].body, strlen(bad[i].body), &t, &e), SM_EPARSE);
        assert_null(t.access_token);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("'%s': got '%s'", bad[i].body, e.msg);
        /* the body is never quoted */
        assert_null(strstr(e.msg, bad[i].body));
    }
}

static void test_oauth_error(void **state)
{
    (void)state;
    char *code, *desc;
    const char *b = "{\"error\":\"invalid_client\",\"error_description\":\"bad\\u0007 secret\"}";
    sm_oauth_parse_error(b, strlen(b), &code, &desc);
    assert_string_equal(code, "invalid_client");
    assert_string_equal(desc, "bad  secret");
    free(code);
    free(desc);
    sm_oauth_parse_error("<html>", 6, &code, &desc);
    assert_null(code);
    assert_null(desc);
    struct sm_buf big = SM_BUF_INIT;
    (void)sm_buf_adds(&big, "{\"error\":\"");
    for (int i = 0; i < 500; i++)
        (void)sm_buf_addc(&big, 'x');
    (void)sm_buf_adds(&big, "\"}");
    sm_oauth_parse_error(big.buf, big.len, &code, &desc);
    assert_int_equal(strlen(code), 203); /* 200 and "..." */
    free(code);
    sm_buf_release(&big);
}

/* The URL functions, which need libcurl, on several threads at once: the
 * first calls race to load it (dlopen, curl_global_init) exactly once. */
#define URL_THREADS 4

static void *url_work(void *arg)
{
    int *bad = arg;
    char *r = NULL;
    if (sm_http_url_resolve("https://api.example.com/v1/items?page=1", "?page=2", &r, NULL) ||
        strcmp(r, "https://api.example.com/v1/items?page=2"))
        (*bad)++;
    free(r);
    if (sm_http_url_resolve("https://api.example.com/v1/items", "/v2/x", &r, NULL) ||
        strcmp(r, "https://api.example.com/v2/x"))
        (*bad)++;
    free(r);
    if (!sm_http_same_origin("https://a.example.com/x", "https://A.example.com:443/y") ||
        sm_http_same_origin("https://a.example.com/x", "http://a.example.com/x"))
        (*bad)++;
    static const char *const secret[] = {"key", NULL};
    char *s = sm_http_url_redact("https://u:pw@a.example.com/x?key=k1&n=2", secret);
    if (strcmp(s, "https://a.example.com/x?key=REDACTED&n=2"))
        (*bad)++;
    free(s);
    return NULL;
}

static void test_http_urls(void **state)
{
    (void)state;
    pthread_t t[URL_THREADS];
    int bad[URL_THREADS] = {0};
    for (int i = 0; i < URL_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, url_work, &bad[i]), 0);
    for (int i = 0; i < URL_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(bad[i], 0);
    }
    struct sm_err err = SM_ERR_INIT;
    char *r = NULL;
    assert_int_equal(sm_http_url_resolve("not a url", "/x", &r, &err), SM_EINVALID);
    assert_null(r);
    assert_false(sm_http_same_origin("https://a.example.com/", "::"));
    char *s = sm_http_url_redact("::?token=t", NULL);
    assert_string_equal(s, "::");
    free(s);
}

static char fields[256], keys[256];

static void on_key(void *ctx, const char *key, size_t len)
{
    (void)ctx;
    size_t n = strlen(keys);
    snprintf(keys + n, sizeof(keys) - n, "%s%.*s", n ? "," : "", (int)len, key);
}

static void on_field(void *ctx, const struct sm_jscan_value *v)
{
    (void)ctx;
    size_t n = strlen(fields);
    snprintf(fields + n, sizeof(fields) - n, "%s%d:%s", n ? "," : "", (int)v->type,
             v->text ? v->text : "-");
}

static void test_jscan_picks(void **state)
{
    (void)state;
    static const char *const paths[] = {"meta.next", "has_more", "meta.total", "missing", NULL};
    const char *doc = " {\"data\": {\"items\": [{\"id\": 1, \"u\": {\"t\": \"a\\u00e9\"}}, "
                      "{\"u\": {\"t\": 5.50e1}}, 7, {\"u\": [1]}]}, \"has_more\": false, "
                      "\"meta\": {\"next\": \"c\\\"10\", \"total\": 45, \"next\": \"c20\"},"
                      " \"x.y\": {\"z\": 1}} ";
    struct sm_jscan_query q = {.records = "data.items",
                               .paths = paths,
                               .record_field = "u.t",
                               .on_field = on_field,
                               .on_key = on_key};
    struct sm_jscan_result r;
    fields[0] = keys[0] = 0;
    assert_int_equal(sm_jscan(doc, strlen(doc), &q, &r, NULL), 0);
    assert_int_equal(r.nrecords, 4);
    assert_int_equal(r.nobjects, 3);
    /* the keys of the records only, not of objects inside them */
    assert_string_equal(keys, "id,u,u,u");
    /* the last of two equal keys counts */
    assert_int_equal(r.values[0].type, SM_JSCAN_STRING);
    assert_string_equal(r.values[0].text, "c20");
    assert_int_equal(r.values[1].type, SM_JSCAN_FALSE);
    assert_int_equal(r.values[2].type, SM_JSCAN_NUMBER);
    assert_string_equal(r.values[2].text, "45");
    assert_int_equal(r.values[3].type, SM_JSCAN_ABSENT);
    /* string unescaped, number as written, an array is no scalar */
    assert_string_equal(fields, "5:a\xc3\xa9,4:5.50e1");
    sm_jscan_result_release(&r);

    /* one object as the records; the document itself */
    const char *one = "{\"id\": 2}";
    struct sm_jscan_query q1 = {.records = ""};
    assert_int_equal(sm_jscan(one, strlen(one), &q1, &r, NULL), 0);
    assert_int_equal(r.nrecords, 1);
    assert_int_equal(r.nobjects, 1);
    sm_jscan_result_release(&r);
    assert_int_equal(sm_jscan("[1,2,3]", 7, &q1, &r, NULL), 0);
    assert_int_equal(r.nrecords, 3);
    sm_jscan_result_release(&r);
    assert_int_equal(sm_jscan("\"s\"", 3, &q1, &r, NULL), 0);
    assert_int_equal(r.nrecords, 0);
    sm_jscan_result_release(&r);
}

static void test_jscan_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *msg;
    } bad[] = {
        {"", "a value is missing at the end"},
        {"{\"a\": 1,}", "expected a key (a string) in an object at line 1, column 9"},
        {"[1 2]", "expected ',' or ']' in an array at line 1, column 4"},
        {"{\"a\" 1}", "expected ':' after a key"},
        {"[01]", "expected ',' or ']'"},
        {"[1.]", "an invalid number"},
        {"[-]", "an invalid number"},
        {"[1e]", "an invalid number"},
        {"[tru]", "an unexpected character where a value should be"},
        {"\"abc", "a string is not closed"},
        {"\"a\tb\"", "a control character inside a string"},
        {"\"\\x\"", "an invalid escape"},
        {"\"\\ud800\"", "a lone UTF-16 surrogate"},
        {"\"\xc3\x28\"", "invalid UTF-8"},
        {"\"\xe0\x80\x80\"", "invalid UTF-8"},
        {"{}\n{}", "more text after the document at line 2, column 1"},
        {"[[1]", "an array is not closed at the end"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sm_jscan_query q = {.records = ""};
        struct sm_jscan_result r;
        struct sm_err err = SM_ERR_INIT;
        assert_int_equal(sm_jscan(bad[i].doc, strlen(bad[i].doc), &q, &r, &err), SM_EPARSE);
        if (!strstr(err.msg, bad[i].msg))
            fail_msg("'%s': got '%s'", bad[i].doc, err.msg);
        sm_jscan_result_release(&r);
    }
    /* deep nesting is an error, not a crash */
    struct sm_buf deep = SM_BUF_INIT;
    for (int i = 0; i < 20000; i++)
        (void)sm_buf_addc(&deep, '[');
    struct sm_jscan_query q = {.records = ""};
    struct sm_jscan_result r;
    struct sm_err err = SM_ERR_INIT;
    assert_int_equal(sm_jscan(deep.buf, deep.len, &q, &r, &err), SM_EPARSE);
    assert_non_null(strstr(err.msg, "nesting deeper than 10000 levels"));
    sm_jscan_result_release(&r);
    sm_buf_release(&deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpl_parts),    cmocka_unit_test(test_tmpl_errors),
        cmocka_unit_test(test_oauth_token),   cmocka_unit_test(test_oauth_error),
        cmocka_unit_test(test_http_urls),     cmocka_unit_test(test_jscan_picks),
        cmocka_unit_test(test_jscan_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
