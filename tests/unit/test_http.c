/* Unit tests for the parsers of outside input in util/: {field} templates
 * (util/tmpl.h) and OAuth token endpoint answers (util/http.h). */
#include "util/http.h"
#include "util/tmpl.h"

#include <setjmp.h>
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
        assert_int_equal(sm_oauth_parse_token(bad[i].body, strlen(bad[i].body), &t, &e),
                         SM_EPARSE);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpl_parts),
        cmocka_unit_test(test_tmpl_errors),
        cmocka_unit_test(test_oauth_token),
        cmocka_unit_test(test_oauth_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
