/*
 * Unit tests for table/prune.c: the typed comparator of partition values and
 * stats with query literals, file pruning on a hand-made snapshot (every
 * expected decision worked out by hand from the stats written below), and
 * the view over the kept files of a real table.
 */
#include "table/table.h"

#include <setjmp.h>
/* cmocka.h needs setjmp.h first */
#include <cmocka.h>

/* string literals for the char * fields of structs built by hand */
#define C(s) ((char *)(s))

static int cmp(const char *type, const char *value, enum tbl_lit_kind k, const char *text)
{
    struct tbl_lit l = {k, (char *)text};
    return tbl_value_cmp(type, value, &l);
}

static void test_numbers(void **state)
{
    (void)state;
    assert_int_equal(cmp("long", "5", TBL_LIT_NUMBER, "5"), 0);
    assert_int_equal(cmp("long", "4", TBL_LIT_NUMBER, "5"), -1);
    assert_int_equal(cmp("integer", "6", TBL_LIT_NUMBER, "5.5"), 1);
    assert_int_equal(cmp("byte", "-3", TBL_LIT_NUMBER, "-2"), -1);
    assert_int_equal(cmp("decimal(10,2)", "12.50", TBL_LIT_NUMBER, "12.5"), 0);
    assert_int_equal(cmp("decimal(10,2)", "12.49", TBL_LIT_NUMBER, "12.5"), -1);
    assert_int_equal(cmp("decimal(10,2)", "1e2", TBL_LIT_NUMBER, "99"), 1);
    /* beyond a double's 53 bits the two cannot be told apart: unknown */
    assert_int_equal(cmp("long", "9007199254740993", TBL_LIT_NUMBER, "9007199254740992"),
                     TBL_CMP_UNKNOWN);
    /* a string literal compared with a number column is cast by DuckDB */
    assert_int_equal(cmp("long", "5", TBL_LIT_STRING, "5"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("long", "x", TBL_LIT_NUMBER, "5"), TBL_CMP_UNKNOWN);
    /* floats and doubles are left out (NaN) */
    assert_int_equal(cmp("double", "1.5", TBL_LIT_NUMBER, "1.5"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("float", "1.5", TBL_LIT_NUMBER, "2"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("boolean", "true", TBL_LIT_STRING, "true"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("long", "5", TBL_LIT_NULL, NULL), TBL_CMP_UNKNOWN);
}

static void test_strings(void **state)
{
    (void)state;
    assert_int_equal(cmp("string", "abc", TBL_LIT_STRING, "abd"), -1);
    assert_int_equal(cmp("string", "b", TBL_LIT_STRING, "abc"), 1);
    assert_int_equal(cmp("string", "ab", TBL_LIT_STRING, "abc"), -1);
    assert_int_equal(cmp("string", "abc", TBL_LIT_STRING, "abc"), 0);
    assert_int_equal(cmp("string", "", TBL_LIT_STRING, "a"), -1);
    /* bytes of UTF-8: U+00E9 (C3 A9) sorts after 'z' */
    assert_int_equal(cmp("string", "\xc3\xa9", TBL_LIT_STRING, "z"), 1);
    /* 'B' < 'a': binary, not case-insensitive */
    assert_int_equal(cmp("string", "B", TBL_LIT_STRING, "a"), -1);
    assert_int_equal(cmp("string", "5", TBL_LIT_NUMBER, "5"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("string", "2026-01-01", TBL_LIT_DATE, "2026-01-01"), TBL_CMP_UNKNOWN);
}

static void test_dates_and_timestamps(void **state)
{
    (void)state;
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_DATE, "2026-01-10"), -1);
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_STRING, "2026-01-09"), 0);
    assert_int_equal(cmp("date", "2026-02-01", TBL_LIT_STRING, "2026-01-31"), 1);
    assert_int_equal(cmp("date", "2025-12-31", TBL_LIT_DATE, "2026-01-01"), -1);
    /* a DATE against a TIMESTAMP is compared at midnight */
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_TIMESTAMP, "2026-01-09 00:00:01"), -1);
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_TIMESTAMP, "2026-01-09 00:00:00"), 0);
    /* what DuckDB would do with these casts is not modelled */
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_STRING, "2026-01-09 10:00"),
                     TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("date", "2026-02-30", TBL_LIT_DATE, "2026-01-01"), TBL_CMP_UNKNOWN);
    assert_int_equal(cmp("date", "2026-01-09", TBL_LIT_TIMESTAMPTZ, "2026-01-09 00:00Z"),
                     TBL_CMP_UNKNOWN);

    assert_int_equal(
        cmp("timestamp_ntz", "2026-01-09T10:00:00.000", TBL_LIT_TIMESTAMP, "2026-01-09 10:00:00"),
        0);
    assert_int_equal(cmp("timestamp_ntz", "2026-01-09T10:00:00.000", TBL_LIT_DATE, "2026-01-09"),
                     1);
    assert_int_equal(
        cmp("timestamp_ntz", "2026-01-09 10:00:00.000001", TBL_LIT_STRING, "2026-01-09 10:00:00"),
        1);
    assert_int_equal(
        cmp("timestamp_ntz", "2026-01-09T10:00:00.000Z", TBL_LIT_TIMESTAMP, "2026-01-09 10:00"), 0);
    /* an offset on either side of a zone-less timestamp: not modelled */
    assert_int_equal(
        cmp("timestamp_ntz", "2026-01-09T10:00:00+02:00", TBL_LIT_TIMESTAMP, "2026-01-09 10:00"),
        TBL_CMP_UNKNOWN);
    assert_int_equal(
        cmp("timestamp_ntz", "2026-01-09T10:00:00", TBL_LIT_STRING, "2026-01-09 10:00+01"),
        TBL_CMP_UNKNOWN);
    /* TIMESTAMP WITH TIME ZONE: only with explicit offsets on both sides */
    assert_int_equal(
        cmp("timestamp", "2026-01-09T10:00:00.000Z", TBL_LIT_TIMESTAMPTZ, "2026-01-09 12:00:00+02"),
        0);
    assert_int_equal(
        cmp("timestamp", "2026-01-09T10:00:00.000Z", TBL_LIT_STRING, "2026-01-09 10:00:00-00:30"),
        -1);
    assert_int_equal(
        cmp("timestamp", "2026-01-09T10:00:00.000Z", TBL_LIT_TIMESTAMP, "2026-01-09 10:00:00"),
        TBL_CMP_UNKNOWN);
    assert_int_equal(
        cmp("timestamp", "2026-01-09 10:00:00", TBL_LIT_TIMESTAMPTZ, "2026-01-09 10:00:00Z"),
        TBL_CMP_UNKNOWN);

    /* microseconds since the epoch, worked out with Python's datetime */
    int64_t us = 0;
    bool off = true;
    assert_true(tbl_parse_timestamp("1970-01-01", &us, &off));
    assert_int_equal(us, 0);
    assert_false(off);
    assert_true(tbl_parse_timestamp("2026-11-21T13:31:05.250Z", &us, &off));
    assert_int_equal(us, 1795267865250000LL);
    assert_true(off);
    assert_true(tbl_parse_timestamp("2026-01-09 10:00:00+02:00", &us, NULL));
    assert_int_equal(us, 1767945600000000LL);
    assert_true(tbl_parse_timestamp("1969-12-31 23:59:59", &us, NULL));
    assert_int_equal(us, -1000000LL);
    assert_true(tbl_parse_timestamp("2000-02-29", &us, NULL));
    assert_false(tbl_parse_timestamp("1900-02-29", &us, NULL));
    assert_false(tbl_parse_timestamp("2026-01-09 24:00:00", &us, NULL));
    assert_false(tbl_parse_timestamp("2026-01-09 10:00:00.1234567", &us, NULL));
    assert_false(tbl_parse_timestamp("2026-01-09x", &us, NULL));
    assert_false(tbl_parse_timestamp("", &us, NULL));
}

/* --- file pruning on a hand-made snapshot ------------------------------------ */

static struct tbl_column cols[] = {
    {.name = C("id"), .delta_type = C("long"), .sql_type = C("BIGINT")},
    {.name = C("s"), .delta_type = C("string"), .sql_type = C("VARCHAR")},
    {.name = C("d"), .delta_type = C("date"), .sql_type = C("DATE")},
    {.name = C("ts"), .delta_type = C("timestamp_ntz"), .sql_type = C("TIMESTAMP")},
    {.name = C("f"), .delta_type = C("double"), .sql_type = C("DOUBLE")},
    {.name = C("part"), .delta_type = C("string"), .sql_type = C("VARCHAR")},
    {.name = C("n"), .delta_type = C("integer"), .sql_type = C("INTEGER")},
    {.name = C("amt"), .delta_type = C("decimal(10,2)"), .sql_type = C("DECIMAL(10,2)")},
};
static char *part_cols[] = {C("part"), C("n")};

/* A string of 40 'm's: a max that long may have been truncated by its writer. */
#define M40 "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"

static struct tbl_file files[] = {
    /* A */
    {.path = C("a"),
     .partition_values = C("{\"part\":\"x\",\"n\":\"1\"}"),
     .stats =
         C("{\"numRecords\":3,\"minValues\":{\"id\":1,\"s\":\"apple\",\"d\":\"2026-01-01\","
           "\"ts\":\"2026-01-01T10:00:00.000\",\"f\":5.0,\"amt\":1.25},\"maxValues\":{\"id\":10,"
           "\"s\":\"cherry\",\"d\":\"2026-01-05\",\"ts\":\"2026-01-01T12:00:00.000\",\"f\":6.0,"
           "\"amt\":12.5},"
           "\"nullCount\":{\"id\":0,\"s\":1,\"d\":0,\"ts\":0,\"f\":0}}")},
    /* B: d all NULL, s max maybe truncated */
    {.path = C("b"),
     .partition_values = C("{\"part\":null,\"n\":\"2\"}"),
     .stats = C("{\"numRecords\":2,\"minValues\":{\"id\":20,\"s\":\"" M40 "\"},\"maxValues\":{"
                "\"id\":30,\"s\":\"" M40 "\"},\"nullCount\":{\"id\":0,\"s\":0,\"d\":2,\"ts\":0}}")},
    /* C: no stats */
    {.path = C("c"), .partition_values = C("{\"part\":\"y\",\"n\":\"1.5\"}")},
    /* D: no rows */
    {.path = C("d"),
     .partition_values = C("{\"part\":\"x\",\"n\":\"3\"}"),
     .stats = C("{\"numRecords\":0}")},
};

static struct tbl_snapshot snap = {
    .columns = cols,
    .ncolumns = sizeof(cols) / sizeof(cols[0]),
    .partition_columns = part_cols,
    .npartition_columns = 2,
    .files = files,
    .nfiles = sizeof(files) / sizeof(files[0]),
};

/* The decisions for files A B C D, one letter each: k(eep), p(artition),
 * s(tats). */
static char *decide(const struct tbl_pred *p, size_t n)
{
    char *r = sm_calloc(snap.nfiles + 1, 1);
    for (size_t i = 0; i < snap.nfiles; i++)
        r[i] = "kps"[tbl_file_prune(&snap, &snap.files[i], p, n)];
    return r;
}

#define L(k, t) ((struct tbl_lit){k, (char *)(t)})
#define NUM(t) L(TBL_LIT_NUMBER, t)
#define STR(t) L(TBL_LIT_STRING, t)

static void expect1(const char *col, enum tbl_pred_op op, struct tbl_lit a, struct tbl_lit b,
                    size_t nargs, const char *want)
{
    struct tbl_lit args[2] = {a, b};
    struct tbl_pred p = {.column = (char *)col, .op = op, .args = args, .nargs = nargs};
    char *got = decide(&p, 1);
    struct sm_buf t = SM_BUF_INIT;
    tbl_pred_format(&p, &t);
    if (strcmp(got, want))
        fail_msg("%s: got %s, want %s", t.buf, got, want);
    sm_buf_release(&t);
    free(got);
}

static void test_file_prune(void **state)
{
    (void)state;
    struct tbl_lit none = L(TBL_LIT_NULL, NULL);
    /* stats: A has id 1..10, B 20..30, C none, D is empty */
    expect1("id", TBL_PRED_EQ, NUM("5"), none, 1, "ksks");
    expect1("id", TBL_PRED_EQ, NUM("25"), none, 1, "skks");
    expect1("id", TBL_PRED_GT, NUM("10"), none, 1, "skks");
    expect1("id", TBL_PRED_GE, NUM("10"), none, 1, "kkks");
    expect1("id", TBL_PRED_LT, NUM("1"), none, 1, "ssks");
    expect1("id", TBL_PRED_LE, NUM("1"), none, 1, "ksks");
    expect1("id", TBL_PRED_LT, NUM("20.5"), none, 1, "kkks");
    expect1("id", TBL_PRED_BETWEEN, NUM("11"), NUM("19"), 2, "ssks");
    expect1("id", TBL_PRED_BETWEEN, NUM("10"), NUM("19"), 2, "ksks");
    expect1("id", TBL_PRED_EQ, none, none, 1, "ssks");
    expect1("id", TBL_PRED_EQ, STR("5"), none, 1, "kkks");
    {
        struct tbl_lit in[] = {NUM("15"), NUM("40"), none};
        struct tbl_pred p = {.column = C("id"), .op = TBL_PRED_IN, .args = in, .nargs = 3};
        char *got = decide(&p, 1);
        assert_string_equal(got, "ssks");
        free(got);
        p.nargs = 1;
        in[0] = NUM("5");
        got = decide(&p, 1);
        assert_string_equal(got, "ksks");
        free(got);
        in[0] = none;
        got = decide(&p, 1); /* id IN (NULL) */
        assert_string_equal(got, "ssks");
        free(got);
    }
    /* strings: B's min is a lower bound even if truncated; its max is not an
     * upper bound */
    expect1("s", TBL_PRED_EQ, STR("banana"), none, 1, "ksks");
    expect1("s", TBL_PRED_GT, STR("n"), none, 1, "skks");
    expect1("s", TBL_PRED_LT, STR("b"), none, 1, "ksks");
    expect1("s", TBL_PRED_IS_NULL, none, none, 0, "ksks");
    expect1("s", TBL_PRED_NOT_NULL, none, none, 0, "kkks");
    /* B's d is all NULL */
    expect1("d", TBL_PRED_NOT_NULL, none, none, 0, "ksks");
    expect1("d", TBL_PRED_EQ, STR("2026-01-03"), none, 1, "ksks");
    expect1("d", TBL_PRED_GT, L(TBL_LIT_DATE, "2026-01-05"), none, 1, "ssks");
    expect1("d", TBL_PRED_GE, L(TBL_LIT_TIMESTAMP, "2026-01-05 00:00:00"), none, 1, "ksks");
    expect1("d", TBL_PRED_GE, L(TBL_LIT_TIMESTAMP, "2026-01-05 00:00:01"), none, 1, "ssks");
    /* timestamp maxima get a millisecond: 12:00:00.000 may be 12:00:00.999 */
    expect1("ts", TBL_PRED_GT, L(TBL_LIT_TIMESTAMP, "2026-01-01 12:00:00"), none, 1, "kkks");
    expect1("ts", TBL_PRED_GT, L(TBL_LIT_TIMESTAMP, "2026-01-01 12:00:00.001"), none, 1, "skks");
    expect1("ts", TBL_PRED_LT, STR("2026-01-01 10:00:00"), none, 1, "skks");
    /* decimal stats are JSON reals, roundings: only a clear difference prunes */
    expect1("amt", TBL_PRED_GT, NUM("12.5"), none, 1, "kkks");
    expect1("amt", TBL_PRED_GT, NUM("12.51"), none, 1, "skks");
    expect1("amt", TBL_PRED_EQ, NUM("1.25"), none, 1, "kkks");
    expect1("amt", TBL_PRED_LT, NUM("1.25"), none, 1, "kkks");
    expect1("amt", TBL_PRED_LT, NUM("1.2"), none, 1, "skks");
    /* doubles are never pruned by value, IS NULL works for any type */
    expect1("f", TBL_PRED_EQ, NUM("1"), none, 1, "kkks");
    expect1("f", TBL_PRED_IS_NULL, none, none, 0, "skks");
    /* partitions: part is x, NULL, y, x; n is 1, 2, 1.5, 3 */
    expect1("part", TBL_PRED_EQ, STR("x"), none, 1, "kppk");
    expect1("part", TBL_PRED_IS_NULL, none, none, 0, "pkpp");
    expect1("part", TBL_PRED_NOT_NULL, none, none, 0, "kpkk");
    expect1("part", TBL_PRED_GT, STR("x"), none, 1, "ppkp");
    expect1("n", TBL_PRED_EQ, NUM("1"), none, 1, "kpkp"); /* "1.5" in an integer: unknown */
    /* only partition predicates: D's stats (no rows) are not read */
    expect1("n", TBL_PRED_IN, NUM("2"), NUM("3"), 2, "pkkk");
    /* an unknown column prunes nothing */
    expect1("nosuch", TBL_PRED_EQ, NUM("1"), none, 1, "kkkk");
    /* a conjunction: partition first, then stats */
    struct tbl_lit x = STR("x"), v25 = NUM("25");
    struct tbl_pred two[] = {{.column = C("part"), .op = TBL_PRED_EQ, .args = &x, .nargs = 1},
                             {.column = C("id"), .op = TBL_PRED_EQ, .args = &v25, .nargs = 1}};
    char *got = decide(two, 2);
    assert_string_equal(got, "spps");
    free(got);
}

static void test_format(void **state)
{
    (void)state;
    struct tbl_lit in[] = {NUM("1"), STR("it's"), L(TBL_LIT_NULL, NULL)};
    struct tbl_pred p = {.column = C("Store Id"), .op = TBL_PRED_IN, .args = in, .nargs = 3};
    struct sm_buf b = SM_BUF_INIT;
    tbl_pred_format(&p, &b);
    assert_string_equal(b.buf, "\"Store Id\" IN (1, 'it''s', NULL)");
    sm_buf_reset(&b);
    struct tbl_lit bt[] = {L(TBL_LIT_DATE, "2026-01-01"), L(TBL_LIT_TIMESTAMP, "2026-01-02 10:00")};
    struct tbl_pred q = {.column = C("day"), .op = TBL_PRED_BETWEEN, .args = bt, .nargs = 2};
    tbl_pred_format(&q, &b);
    assert_string_equal(b.buf, "day BETWEEN DATE '2026-01-01' AND TIMESTAMP '2026-01-02 10:00'");
    sm_buf_release(&b);
}

/* The view over kept files of a real partitioned table reads exactly them. */
static void test_view_over_kept_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/smelt-prune-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *loc = sm_asprintf("%s/t", dir);
    struct eng_db *db;
    assert_int_equal(eng_open(NULL, &db, NULL), 0);
    struct tbl_commit *c = tbl_commit_new("WRITE");
    int64_t rows = 0, v = -1;
    /* k = 0, 1, 2: 4, 3 and 3 rows of 0..9 (by range % 3) */
    assert_int_equal(tbl_write_select(db, loc, "SELECT range AS id, range % 3 AS k FROM range(10)",
                                      "k", c, &rows, NULL),
                     0);
    assert_int_equal(tbl_commit_write(c, loc, -1, NULL, &v, NULL), 0);
    tbl_commit_free(c);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(loc, -1, &s, NULL), 0);
    assert_int_equal(s->nfiles, 3);
    struct tbl_lit one = NUM("1");
    struct tbl_pred p = {.column = C("k"), .op = TBL_PRED_EQ, .args = &one, .nargs = 1};
    bool keep[3];
    size_t kept = 0;
    for (size_t i = 0; i < 3; i++) {
        keep[i] = tbl_file_prune(s, &s->files[i], &p, 1) == TBL_PRUNE_KEEP;
        kept += keep[i];
    }
    assert_int_equal(kept, 1);
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b,
                      "SELECT CAST(count(*) AS VARCHAR) || ',' || CAST(sum(id) AS VARCHAR) FROM (");
    tbl_snapshot_view_sql_files(s, keep, &b);
    (void)sm_buf_adds(&b, ")");
    char *r = NULL;
    assert_int_equal(eng_query_scalar(db, b.buf, &r, NULL), 0);
    assert_string_equal(r, "3,12"); /* 1 + 4 + 7 */
    free(r);
    /* nothing kept: the columns, no rows */
    memset(keep, 0, sizeof(keep));
    sm_buf_reset(&b);
    (void)sm_buf_adds(&b, "SELECT CAST(count(*) AS VARCHAR) || ',' || typeof(any_value(k)) FROM (");
    tbl_snapshot_view_sql_files(s, keep, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(db, b.buf, &r, NULL), 0);
    assert_string_equal(r, "0,BIGINT");
    free(r);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
    eng_close(db);
    assert_int_equal(sm_rmtree(dir, NULL), 0);
    free(loc);
}

/* Opening a table reads numRecords from each add's stats without parsing
 * them: only the top-level member counts, whatever comes before it. */
static void test_num_records(void **state)
{
    (void)state;
    char dir[] = "/tmp/smelt-prune-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *log = sm_asprintf("%s/_delta_log", dir);
    assert_int_equal(sm_mkdirs(log, NULL), 0);
    char *v0 = sm_asprintf("%s/00000000000000000000.json", log);
    const char *text =
        "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"
        "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\"},\"schemaString\":"
        "\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"numRecords\\\","
        "\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","
        "\"partitionColumns\":[]}}\n"
        /* a column named numRecords before the member, and a string holding it */
        "{\"add\":{\"path\":\"a.parquet\",\"partitionValues\":{},\"size\":1,\"dataChange\":true,"
        "\"stats\":\"{\\\"minValues\\\":{\\\"numRecords\\\":99},\\\"note\\\":"
        "\\\"\\\\\\\"numRecords\\\\\\\": 7\\\","
        "\\\"numRecords\\\" : 3}\"}}\n"
        "{\"add\":{\"path\":\"b.parquet\",\"partitionValues\":{},\"size\":1,\"dataChange\":true,"
        "\"stats\":\"{\\\"minValues\\\":{\\\"numRecords\\\":99}}\"}}\n"
        "{\"add\":{\"path\":\"c.parquet\",\"partitionValues\":{},\"size\":1,\"dataChange\":true,"
        "\"stats\":\"{\\\"numRecords\\\":40}\"}}\n";
    assert_int_equal(sm_write_file_atomic(v0, text, strlen(text), NULL), 0);
    struct tbl_snapshot *s;
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_snapshot_open(dir, -1, &s, &e), 0);
    assert_int_equal(s->nfiles, 3);
    assert_int_equal(s->files[0].num_records, 3);
    assert_int_equal(s->files[1].num_records, -1);
    assert_int_equal(s->files[2].num_records, 40);
    tbl_snapshot_free(s);
    assert_int_equal(sm_rmtree(dir, NULL), 0);
    free(v0);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_dates_and_timestamps),
        cmocka_unit_test(test_file_prune),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_view_over_kept_files),
        cmocka_unit_test(test_num_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
