/*
 * Unit tests for the top-level keys of NDJSON lines (ingest/ndkeys.c),
 * found as the line counter passes over a file (ing_lines with
 * want_keys). Every expected list is read off the text by hand: the keys
 * of the lines shaped like objects, outside nested values, unescaped, in
 * order of first appearance.
 */
#include "ingest/ingest_int.h"

#include <unistd.h>

#include <setjmp.h>
/* cmocka.h needs setjmp.h first */
#include <cmocka.h>

/* The keys of text fed in pieces of piece bytes, as "a|b|c", "-" when no
 * line was an object, "refused" when the file has too many keys. */
static char *keys(const char *text, size_t len, size_t piece)
{
    struct ing_lines proto = {.ws_blank = true, .want_keys = true}, l;
    ing_lines_init(&l, &proto);
    for (size_t at = 0; at < len; at += piece)
        ing_lines_feed(&l, text + at, len - at < piece ? len - at : piece);
    ing_lines_finish(&l);
    struct sm_buf b = SM_BUF_INIT;
    if (l.keys.refused)
        (void)sm_buf_adds(&b, "refused");
    else if (!l.keys.any)
        (void)sm_buf_adds(&b, "-");
    for (size_t i = 0; i < l.keys.n && !l.keys.refused; i++)
        (void)sm_buf_addf(&b, "%s%s", i ? "|" : "", l.keys.names[i]);
    ing_lines_release(&l);
    (void)sm_buf_adds(&b, "");
    return sm_buf_detach(&b);
}

/* The same keys whatever the pieces the text comes in. */
#define assert_keys(text, want)                                                                    \
    do {                                                                                           \
        static const size_t pieces[] = {1, 2, 3, 7, 64, 1 << 20};                                  \
        for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {                          \
            char *got = keys(text, sizeof(text) - 1, pieces[i]);                                   \
            assert_string_equal(got, want);                                                        \
            free(got);                                                                             \
        }                                                                                          \
    } while (0)

static void test_lines(void **state)
{
    (void)state;
    assert_keys("{\"id\": 1, \"v\": \"a\"}\n{\"id\": 2}\n{\"v\": \"b\", \"late\": 3}\n",
                "id|v|late");
    /* the last line without its newline, blank lines, CRs, blanks around */
    assert_keys("\n {\"a\":1} \r\n\t\n{ \"b\" :\t2 ,\"a\":0}", "a|b");
    /* a key twice in a line, keys in another order */
    assert_keys("{\"a\":1,\"a\":2}\n{\"b\":1,\"a\":2}\n", "a|b");
    assert_keys("", "-");
    assert_keys("{}\n", "");
}

static void test_values_skipped(void **state)
{
    (void)state;
    /* keys of nested objects are not top-level keys */
    assert_keys("{\"a\":{\"b\":{\"c\":1}},\"d\":[{\"e\":2},[3]],\"f\":null}\n", "a|d|f");
    /* quotes, braces, commas and colons inside strings */
    assert_keys("{\"a\":\"x}\\\"{,\\\\\",\"b\":\"\\\\\",\"c\":{\"k\":\"]}\"}}\n", "a|b|c");
    /* numbers, literals */
    assert_keys("{\"n\":-1.5e3,\"t\":true,\"z\":false}\n", "n|t|z");
}

static void test_escaped_keys(void **state)
{
    (void)state;
    /* as DuckDB names the column: escapes undone */
    assert_keys("{\"l\\u00e4te\":1,\"q\\\"k\":2}\n", "l\xc3\xa4te|q\"k");
    /* two spellings of one name: one key */
    assert_keys("{\"a\":1}\n{\"\\u0061\":2}\n", "a");
    /* a byte-order mark before the first line */
    assert_keys("\xef\xbb\xbf{\"k\":1}\n", "k");
}

static void test_not_objects(void **state)
{
    (void)state;
    /* not objects, or not closed: no keys, not even of the part read */
    assert_keys("[1,2]\n\"x\"\n3\n", "-");
    assert_keys("{\"a\":1\n{\"b\" 1}\n{\"c\":}\n{\"d\":1} x\n{\"e\":\"open}\n", "-");
    assert_keys("{\"f\":[1,{\"g\":2}\n", "-");
    /* a trailing comma is taken: DuckDB's reader takes it too */
    assert_keys("{\"a\":1,}\n", "a");
    /* a line with a raw NUL in a key gives the others */
    assert_keys("{\"a\":1,\"b\0c\":2}\n", "a");
}

static void test_too_many(void **state)
{
    (void)state;
    struct sm_buf b = SM_BUF_INIT;
    for (int i = 0; i < 10001; i++)
        (void)sm_buf_addf(&b, "{\"k%d\":1}\n", i);
    char *got = keys(b.buf, b.len, 4096);
    assert_string_equal(got, "refused");
    free(got);
    sm_buf_release(&b);
    for (int i = 0; i < 10000; i++)
        (void)sm_buf_addf(&b, "{\"k%d\":1}\n", i % 10000);
    got = keys(b.buf, b.len, 4096);
    /* "k0|k1|...|k9999": 10 names of 2 characters, 90 of 3, 900 of 4, 9000 of 5 */
    assert_int_equal(strlen(got), 10 * 2 + 90 * 3 + 900 * 4 + 9000 * 5 + 9999);
    free(got);
    sm_buf_release(&b);
}

/* The keys of the records of a JSON document, as keys() gives them. */
static char *record_keys(const char *text, size_t len)
{
    char path[] = "/tmp/test_ingest.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    struct ing_keys k = {0};
    assert_int_equal(ing_keys_of_records(&k, path, NULL), 0);
    unlink(path);
    struct sm_buf b = SM_BUF_INIT;
    if (!k.any)
        (void)sm_buf_adds(&b, "-");
    for (size_t i = 0; i < k.n; i++)
        (void)sm_buf_addf(&b, "%s%s", i ? "|" : "", k.names[i]);
    ing_keys_release(&k);
    (void)sm_buf_adds(&b, "");
    return sm_buf_detach(&b);
}

#define assert_record_keys(text, want)                                                             \
    do {                                                                                           \
        char *got = record_keys(text, sizeof(text) - 1);                                           \
        assert_string_equal(got, want);                                                            \
        free(got);                                                                                 \
    } while (0)

static void test_records(void **state)
{
    (void)state;
    /* the elements of the top-level array, in order of first appearance */
    assert_record_keys("[{\"id\":1,\"v\":{\"in\":1}},{\"id\":2},\n{\"v\":3,\"late\":[{\"x\":1}]}]",
                       "id|v|late");
    /* one object: its keys */
    assert_record_keys(" {\"a\": 1, \"b\": 2} ", "a|b");
    /* escapes undone once: a backslash the key spells stays */
    assert_record_keys("[{\"a\\\\b\":1,\"\\u00e4\":2}]", "a\\b|\xc3\xa4");
    /* no records that are objects; not JSON: no keys */
    assert_record_keys("[1, \"x\"]", "-");
    assert_record_keys("[{\"a\":1}, {\"b\"", "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),        cmocka_unit_test(test_values_skipped),
        cmocka_unit_test(test_escaped_keys), cmocka_unit_test(test_not_objects),
        cmocka_unit_test(test_too_many),     cmocka_unit_test(test_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
