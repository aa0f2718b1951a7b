/* Unit tests for util: buffers, the hash map, JSON/SQL quoting, helpers. */
#include "util/util.h"

#include <setjmp.h>
#include <cmocka.h>

static void test_buf_grows_and_detaches(void **state)
{
    (void)state;
    struct sm_buf b = SM_BUF_INIT;
    assert_string_equal(b.buf, "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sm_buf_addf(&b, "%d,", i), 0);
    assert_int_equal(b.len, strlen(b.buf));
    assert_true(sm_starts_with(b.buf, "0,1,2,"));
    assert_true(sm_ends_with(b.buf, "998,999,"));
    char *s = sm_buf_detach(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.buf, "");
    free(s);
}

static void test_buf_cap_refuses(void **state)
{
    (void)state;
    struct sm_buf b;
    sm_buf_init(&b, 8);
    assert_int_equal(sm_buf_adds(&b, "12345678"), 0);
    assert_int_equal(sm_buf_addc(&b, 'x'), SM_ENOMEM);
    assert_string_equal(b.buf, "12345678");
    sm_buf_release(&b);
}

static void test_quoting(void **state)
{
    (void)state;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_add_sql_str(&b, "it's");
    (void)sm_buf_addc(&b, ' ');
    (void)sm_buf_add_sql_ident(&b, "a\"b");
    (void)sm_buf_addc(&b, ' ');
    (void)sm_buf_add_json_str(&b, "q\"\\\n\x01");
    assert_string_equal(b.buf, "'it''s' \"a\"\"b\" \"q\\\"\\\\\\n\\u0001\"");
    sm_buf_release(&b);
}

static void test_map(void **state)
{
    (void)state;
    struct sm_map m = SM_MAP_INIT;
    char keys[500][16];
    for (int i = 0; i < 500; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        sm_map_put(&m, keys[i], keys[i]);
    }
    assert_int_equal(m.count, 500);
    for (int i = 0; i < 500; i += 2)
        assert_ptr_equal(sm_map_del(&m, keys[i]), keys[i]);
    assert_int_equal(m.count, 250);
    for (int i = 0; i < 500; i++)
        assert_ptr_equal(sm_map_get(&m, keys[i]), i % 2 ? keys[i] : NULL);
    sm_map_put(&m, "k1", NULL);
    assert_null(sm_map_get(&m, "k1"));
    assert_int_equal(m.count, 250);
    sm_map_release(&m);
}

static void test_errors_first_wins(void **state)
{
    (void)state;
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(sm_err_set(&e, SM_EIO, "root %d", 1), SM_EIO);
    assert_int_equal(sm_err_set(&e, SM_EPARSE, "later"), SM_EPARSE);
    assert_int_equal(e.code, SM_EIO);
    assert_int_equal(sm_err_prefix(&e, SM_ECONFIG, "ctx"), SM_EIO);
    assert_string_equal(e.msg, "ctx: root 1");
    assert_int_equal(sm_err_set(NULL, SM_EDB, "x"), SM_EDB);
}

static void test_helpers(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(sm_parse_i64("-42", &v), 0);
    assert_int_equal(v, -42);
    assert_int_equal(sm_parse_i64("4x", &v), SM_EINVALID);
    assert_int_equal(sm_parse_i64("", &v), SM_EINVALID);
    assert_int_equal(sm_edit_distance("delimter", "delimiter"), 1);
    assert_int_equal(sm_edit_distance("", "abc"), 3);
    char *p = sm_path_join("a/", "b");
    assert_string_equal(p, "a/b");
    free(p);
    p = sm_path_join("a", "/abs");
    assert_string_equal(p, "/abs");
    free(p);
    char *u = sm_uuid4();
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    free(u);
    char iso[40];
    sm_iso8601(1700000000123LL, iso, sizeof(iso));
    assert_string_equal(iso, "2023-11-14T22:13:20.123Z");
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/smelt-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *sub = sm_asprintf("%s/a/b/c", dir);
    assert_int_equal(sm_mkdirs(sub, NULL), 0);
    assert_true(sm_is_dir(sub));
    char *f = sm_asprintf("%s/file", sub);
    assert_int_equal(sm_write_file_atomic(f, "hello", 5, NULL), 0);
    char *data;
    size_t n;
    assert_int_equal(sm_read_file(f, &data, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_string_equal(data, "hello");
    free(data);
    struct sm_err e = SM_ERR_INIT;
    char *missing = sm_asprintf("%s/nope", dir);
    assert_int_equal(sm_read_file(missing, &data, &n, &e), SM_ENOTFOUND);
    assert_non_null(strstr(e.msg, "nope"));
    assert_int_equal(sm_rmtree(dir, NULL), 0);
    assert_false(sm_path_exists(dir));
    free(missing);
    free(f);
    free(sub);
}

static void test_glob_match(void **state)
{
    (void)state;
    assert_true(sm_glob_match("*.csv", "a.csv"));
    assert_false(sm_glob_match("*.csv", "d/a.csv"));
    assert_false(sm_glob_match("*", ".hidden"));
    assert_true(sm_glob_match("**/*.csv.gz", "x.csv.gz"));
    assert_true(sm_glob_match("**/*.csv.gz", "2026/01/02/x.csv.gz"));
    assert_false(sm_glob_match("**/*.csv.gz", "2026/x.csv"));
    assert_false(sm_glob_match("**/*.csv", ".git/x.csv"));
    assert_true(sm_glob_match("a/**/b/*.csv", "a/b/x.csv"));
    assert_true(sm_glob_match("a/**/b/*.csv", "a/1/2/b/x.csv"));
    assert_false(sm_glob_match("a/**/b/*.csv", "a/1/2/c/x.csv"));
    assert_true(sm_glob_match("**", "a/b/c"));
    assert_true(sm_glob_match("20?" "?/*/orders_[0-9]*.csv", "2026/01/orders_3.csv"));
    assert_false(sm_glob_match("20?" "?/*/orders_[0-9]*.csv", "2026/01/02/orders_3.csv"));
}

static void add_square(size_t i, void *ctx)
{
    ((int64_t *)ctx)[i] = (int64_t)(i * i);
}

/* every index exactly once, whatever the thread count (more threads than
 * items, one, none asked) */
/* %XX escapes decoded, any case; a '%' without two hex digits stays; the
 * length bounds the input (no NUL needed). */
static void test_percent_decode(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {{"a%20b", "a b"},      {"%3d%3D", "=="}, {"100%", "100%"},
                 {"%4", "%4"},          {"%zz1", "%zz1"}, {"x%2Fy%25", "x/y%"},
                 {"p=1&s=%C3%A9", "p=1&s=\xc3\xa9"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = sm_percent_decode(cases[i].in, strlen(cases[i].in));
        assert_string_equal(d, cases[i].out);
        free(d);
    }
    char *d = sm_percent_decode("%41%42tail", 6); /* only "%41%42" */
    assert_string_equal(d, "AB");
    free(d);
}

static void test_parallel_for(void **state)
{
    (void)state;
    size_t threads[] = {0, 1, 3, 64};
    for (size_t t = 0; t < 4; t++) {
        int64_t out[50];
        memset(out, 0xff, sizeof(out));
        sm_parallel_for(50, threads[t], add_square, out);
        int64_t sum = 0;
        for (size_t i = 0; i < 50; i++)
            sum += out[i];
        assert_int_equal(sum, 40425); /* sum of i*i for i < 50 = 49*50*99/6 */
    }
    sm_parallel_for(0, 4, add_square, NULL); /* nothing to do */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_match),
        cmocka_unit_test(test_buf_grows_and_detaches),
        cmocka_unit_test(test_buf_cap_refuses),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_errors_first_wins),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_parallel_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
