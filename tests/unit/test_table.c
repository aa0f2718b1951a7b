/*
 * Unit tests for table/: the Delta writer and reader, through the real
 * DuckDB engine and real files. Expected contents come from the SQL that
 * generated the data (range(), known literals) or, for tables written by
 * Spark (delta-dat), from their expected/ Parquet files read directly.
 */
#include "catalog/catalog.h"
#include "table/table.h"

#include <jansson.h>
#include <setjmp.h>
#include <cmocka.h>

#ifndef TESTDATA
#define TESTDATA "../shared/testdata"
#endif

struct fx {
    char dir[64];
    char *loc;
    struct eng_db *db;
};

static int setup(void **state)
{
    struct fx *f = sm_calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/smelt-tbl-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->loc = sm_asprintf("%s/t", f->dir);
    if (eng_open(NULL, &f->db, NULL))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    eng_close(f->db);
    if (sm_rmtree(f->dir, NULL))
        return -1;
    free(f->loc);
    free(f);
    return 0;
}

static const char *testdata(void)
{
    const char *t = getenv("TESTDATA");
    return t ? t : TESTDATA;
}

static int64_t count_view(struct eng_db *db, const struct tbl_snapshot *s)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT count(*) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    int64_t n = -1;
    assert_int_equal(eng_query_i64(db, b.buf, &n, NULL), 0);
    sm_buf_release(&b);
    return n;
}

static void write_version(struct fx *f, const char *sql, const char *part, bool overwrite,
                          int64_t expect_version)
{
    struct tbl_snapshot *snap = NULL;
    if (tbl_latest_version(f->loc) >= 0)
        assert_int_equal(tbl_snapshot_open(f->loc, -1, &snap, NULL), 0);
    struct tbl_commit *c = tbl_commit_new("WRITE");
    struct sm_err e = SM_ERR_INIT;
    int64_t rows = 0, v = -1;
    assert_int_equal(tbl_write_select(f->db, f->loc, sql, part, c, &rows, &e), 0);
    if (overwrite)
        tbl_commit_remove_all(c, snap);
    tbl_commit_set_txn(c, "test-app", expect_version + 100);
    assert_int_equal(tbl_commit_write(c, f->loc, snap ? snap->version : -1, snap, &v, &e), 0);
    assert_int_equal(v, expect_version);
    tbl_commit_free(c);
    tbl_snapshot_free(snap);
}

static void test_append_and_overwrite(void **state)
{
    struct fx *f = *state;
    write_version(f, "SELECT range AS id, 'x' || range AS s FROM range(10)", NULL, false, 0);
    write_version(f, "SELECT range AS id, 'y' AS s FROM range(10, 15)", NULL, false, 1);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->version, 1);
    assert_int_equal(s->nfiles, 2);
    assert_int_equal(s->num_records, 15);
    assert_int_equal(count_view(f->db, s), 15);
    assert_int_equal(tbl_snapshot_txn(s, "test-app"), 101);
    assert_int_equal(tbl_snapshot_txn(s, "other"), -1);
    assert_int_equal(s->ncolumns, 2);
    assert_string_equal(s->columns[0].delta_type, "long");
    assert_string_equal(s->columns[1].delta_type, "string");
    tbl_snapshot_free(s);

    write_version(f, "SELECT 7 AS id, 'z' AS s", NULL, true, 2);
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->nfiles, 1);
    assert_int_equal(count_view(f->db, s), 1);
    tbl_snapshot_free(s);
    /* time travel: version 0 still has its 10 rows */
    assert_int_equal(tbl_snapshot_open(f->loc, 0, &s, NULL), 0);
    assert_int_equal(count_view(f->db, s), 10);
    tbl_snapshot_free(s);
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_snapshot_open(f->loc, 9, &s, &e), SM_ENOTFOUND);
    assert_non_null(strstr(e.msg, "no version 9"));
}

static void test_stats_and_partitions(void **state)
{
    struct fx *f = *state;
    write_version(f,
                  "SELECT range AS id, DATE '2026-01-01' + CAST(range % 3 AS INTEGER) AS day, "
                  "CAST(range AS DECIMAL(10,2)) / 4 AS amount, "
                  "CASE WHEN range = 4 THEN NULL ELSE 'n' || range END AS s, "
                  "TIMESTAMP '2026-01-01 10:00:00' + INTERVAL (range) HOUR AS ts "
                  "FROM range(9)",
                  "day", false, 0);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->npartition_columns, 1);
    assert_string_equal(s->partition_columns[0], "day");
    assert_int_equal(s->nfiles, 3);
    assert_int_equal(count_view(f->db, s), 9);
    int seen_null = 0;
    for (size_t i = 0; i < s->nfiles; i++) {
        /* day = 2026-01-0(k+1) holds ids k, k+3, k+6 */
        json_t *pv = json_loads(s->files[i].partition_values, 0, NULL);
        const char *day = json_string_value(json_object_get(pv, "day"));
        assert_non_null(day);
        int k = day[9] - '1';
        assert_true(strstr(s->files[i].path, "day=2026-01-0") == s->files[i].path);
        json_t *st = json_loads(s->files[i].stats, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(st, "numRecords")), 3);
        json_t *mn = json_object_get(st, "minValues"), *mx = json_object_get(st, "maxValues");
        assert_int_equal(json_integer_value(json_object_get(mn, "id")), k);
        assert_int_equal(json_integer_value(json_object_get(mx, "id")), k + 6);
        assert_true(json_number_value(json_object_get(mx, "amount")) == (k + 6) / 4.0);
        assert_null(json_object_get(mn, "day")); /* partition columns carry no stats */
        char want[32];
        snprintf(want, sizeof(want), "2026-01-01T%02d:00:00.000", 10 + k);
        assert_string_equal(json_string_value(json_object_get(mn, "ts")), want);
        json_int_t nulls = json_integer_value(json_object_get(json_object_get(st, "nullCount"), "s"));
        seen_null += (int)nulls;
        json_decref(st);
        json_decref(pv);
    }
    assert_int_equal(seen_null, 1);
    /* timestamp_ntz needs the table feature */
    char *log0 = sm_asprintf("%s/_delta_log/00000000000000000000.json", f->loc);
    char *text;
    assert_int_equal(sm_read_file(log0, &text, NULL, NULL), 0);
    assert_non_null(strstr(text, "\"readerFeatures\":[\"timestampNtz\"]"));
    free(text);
    free(log0);
    /* the view reads partition values back with their type */
    char *v = NULL;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT CAST(sum(id) FILTER (WHERE day = DATE '2026-01-02') AS VARCHAR) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(f->db, b.buf, &v, NULL), 0);
    assert_string_equal(v, "12"); /* 1 + 4 + 7 */
    free(v);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
}

/* partition_by "region, day": nested Hive folders, one value per column in
 * each add (NULL as null, the string 'NULL' as itself), no stats for either
 * column, and the values read back by the view. */
static void test_multi_column_partitions(void **state)
{
    struct fx *f = *state;
    const char *sql = "SELECT * FROM (VALUES (1, 'a/b', DATE '2026-01-01'), "
                      "(2, NULL, DATE '2026-01-02'), (3, 'NULL', DATE '2026-01-02'), "
                      "(4, 'x=y %z', NULL), (5, 'West', DATE '2026-01-01'), "
                      "(6, 'West', DATE '2026-01-01')) t(id, region, day)";
    write_version(f, sql, " region , day", false, 0);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->npartition_columns, 2);
    assert_string_equal(s->partition_columns[0], "region");
    assert_string_equal(s->partition_columns[1], "day");
    /* five distinct (region, day) pairs; the first id of each names it */
    static const char *const want[] = {
        NULL,
        "{\"day\": \"2026-01-01\", \"region\": \"a/b\"}",
        "{\"day\": \"2026-01-02\", \"region\": null}",
        "{\"day\": \"2026-01-02\", \"region\": \"NULL\"}",
        "{\"day\": null, \"region\": \"x=y %z\"}",
        "{\"day\": \"2026-01-01\", \"region\": \"West\"}",
    };
    assert_int_equal(s->nfiles, 5);
    for (size_t i = 0; i < s->nfiles; i++) {
        json_t *st = json_loads(s->files[i].stats, 0, NULL);
        json_int_t id = json_integer_value(json_object_get(json_object_get(st, "minValues"), "id"));
        assert_true(id >= 1 && id <= 5);
        json_t *pv = json_loads(s->files[i].partition_values, 0, NULL);
        char *text = json_dumps(pv, JSON_SORT_KEYS);
        assert_string_equal(text, want[id]);
        free(text);
        assert_null(json_object_get(json_object_get(st, "minValues"), "region"));
        assert_null(json_object_get(json_object_get(st, "nullCount"), "day"));
        /* region=<value>/day=<value>/part-... exists on disk */
        assert_true(sm_starts_with(s->files[i].path, "region="));
        assert_non_null(strstr(s->files[i].path, "/day="));
        char *abs = sm_path_join(f->loc, s->files[i].path);
        assert_true(sm_path_exists(abs));
        free(abs);
        json_decref(pv);
        json_decref(st);
    }
    char *v = NULL;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT string_agg(id || ':' || coalesce(region, '<null>') || ':' || "
                          "coalesce(CAST(day AS VARCHAR), '<null>'), ',' ORDER BY id) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(f->db, b.buf, &v, NULL), 0);
    assert_string_equal(v, "1:a/b:2026-01-01,2:<null>:2026-01-02,3:NULL:2026-01-02,"
                           "4:x=y %z:<null>,5:West:2026-01-01,6:West:2026-01-01");
    free(v);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
    /* the same partitioning again: an append with no metaData */
    write_version(f, "SELECT 7 AS id, 'West' AS region, DATE '2026-01-09' AS day", "region,day",
                  false, 1);
    char *log1 = sm_asprintf("%s/_delta_log/00000000000000000001.json", f->loc);
    char *text;
    assert_int_equal(sm_read_file(log1, &text, NULL, NULL), 0);
    assert_null(strstr(text, "\"metaData\""));
    assert_non_null(
        strstr(text, "\"partitionValues\":{\"region\":\"West\",\"day\":\"2026-01-09\"}"));
    free(text);
    free(log1);
    /* bad lists */
    static const struct {
        const char *spec, *msg;
    } bad[] = {{"region, nosuch", "'nosuch' is not in the query's output"},
               {"region,,day", "empty column name"},
               {"day, day", "names column 'day' twice"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tbl_commit *c = tbl_commit_new("WRITE");
        struct sm_err e = SM_ERR_INIT;
        assert_int_not_equal(tbl_write_select(f->db, f->loc, sql, bad[i].spec, c, NULL, &e), 0);
        assert_non_null(strstr(e.msg, bad[i].msg));
        tbl_commit_free(c);
    }
}

static void test_conflict(void **state)
{
    struct fx *f = *state;
    write_version(f, "SELECT 1 AS id", NULL, false, 0);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    /* two blind appends read version 0: the loser retries at version 2 */
    struct tbl_commit *a = tbl_commit_new("WRITE"), *b = tbl_commit_new("WRITE");
    assert_int_equal(tbl_write_select(f->db, f->loc, "SELECT 2 AS id", NULL, a, NULL, NULL), 0);
    assert_int_equal(tbl_write_select(f->db, f->loc, "SELECT 3 AS id", NULL, b, NULL, NULL), 0);
    tbl_commit_set_txn(b, "app-b", 1);
    int64_t v;
    assert_int_equal(tbl_commit_write(a, f->loc, 0, s, &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(tbl_commit_write(b, f->loc, 0, s, &v, NULL), 0);
    assert_int_equal(v, 2);
    tbl_commit_free(a);
    tbl_commit_free(b);
    /* the same txn again (a resumed writer) is recognized, not applied twice */
    struct tbl_commit *again = tbl_commit_new("WRITE");
    assert_int_equal(tbl_write_select(f->db, f->loc, "SELECT 3 AS id", NULL, again, NULL, NULL), 0);
    tbl_commit_set_txn(again, "app-b", 1);
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_commit_write(again, f->loc, 0, s, &v, &e), SM_ECONFLICT);
    assert_non_null(strstr(e.msg, "already committed txn 1"));
    tbl_commit_free(again);
    /* an overwrite whose read files changed fails with a clear conflict */
    struct tbl_commit *ow = tbl_commit_new("WRITE");
    assert_int_equal(tbl_write_select(f->db, f->loc, "SELECT 9 AS id", NULL, ow, NULL, NULL), 0);
    tbl_commit_remove_all(ow, s);
    sm_err_clear(&e);
    assert_int_equal(tbl_commit_write(ow, f->loc, 0, s, &v, &e), SM_ECONFLICT);
    assert_non_null(strstr(e.msg, "changed while this commit was prepared"));
    assert_int_equal(tbl_latest_version(f->loc), 2);
    tbl_commit_free(ow);
    tbl_snapshot_free(s);
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(count_view(f->db, s), 3);
    tbl_snapshot_free(s);
}

static void test_type_mapping(void **state)
{
    struct fx *f = *state;
    write_version(f,
                  "SELECT CAST(1 AS HUGEINT) AS h, CAST(2 AS UBIGINT) AS u, CAST(3 AS UTINYINT) AS t, "
                  "sum(CAST(5 AS INTEGER)) AS agg, TIME '10:00:00' AS tm",
                  NULL, false, 0);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_string_equal(s->columns[0].delta_type, "decimal(38,0)");
    assert_string_equal(s->columns[1].delta_type, "decimal(20,0)");
    assert_string_equal(s->columns[2].delta_type, "short");
    assert_string_equal(s->columns[3].delta_type, "decimal(38,0)");
    assert_string_equal(s->columns[4].delta_type, "string");
    char *v = NULL;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT CAST(h + u + t + agg AS VARCHAR) || tm FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(f->db, b.buf, &v, NULL), 0);
    assert_string_equal(v, "1110:00:00");
    free(v);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
}

static void test_checkpoint_every_ten_commits(void **state)
{
    struct fx *f = *state;
    for (int64_t v = 0; v < 12; v++) {
        char *sql = sm_asprintf("SELECT %lld AS id, 'v%lld' AS s", (long long)v, (long long)v);
        write_version(f, sql, NULL, false, v);
        free(sql);
    }
    char *ck = sm_asprintf("%s/_delta_log/00000000000000000010.checkpoint.parquet", f->loc);
    char *last = sm_asprintf("%s/_delta_log/_last_checkpoint", f->loc);
    assert_true(sm_path_exists(ck));
    char *text;
    assert_int_equal(sm_read_file(last, &text, NULL, NULL), 0);
    assert_non_null(strstr(text, "\"version\":10"));
    free(text);
    /* Replay from the checkpoint gives the same table as replay from 0:
     * hide the JSON commits 0..9 and read again. */
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->checkpoint_version, 10);
    assert_int_equal(s->nfiles, 12);
    assert_int_equal(count_view(f->db, s), 12);
    assert_int_equal(tbl_snapshot_txn(s, "test-app"), 111);
    tbl_snapshot_free(s);
    for (int v = 0; v < 10; v++) {
        char *p = sm_asprintf("%s/_delta_log/%020d.json", f->loc, v);
        assert_int_equal(unlink(p), 0);
        free(p);
    }
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(count_view(f->db, s), 12);
    char *v = NULL;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT CAST(sum(id) AS VARCHAR) || string_agg(s, '' ORDER BY id) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(f->db, b.buf, &v, NULL), 0);
    assert_string_equal(v, "66v0v1v2v3v4v5v6v7v8v9v10v11");
    free(v);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
    /* an older version than the oldest commit left cannot be rebuilt */
    struct sm_err e = SM_ERR_INIT;
    assert_int_not_equal(tbl_snapshot_open(f->loc, 5, &s, &e), 0);
    assert_non_null(strstr(e.msg, "no checkpoint"));
    free(ck);
    free(last);
}

static void test_append_schema_evolution(void **state)
{
    struct fx *f = *state;
    write_version(f, "SELECT 1 AS id, 'a' AS s", NULL, false, 0);
    write_version(f, "SELECT 2 AS id, 'b' AS s, 2.5 AS extra", NULL, false, 1);
    struct tbl_snapshot *s;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->ncolumns, 3);
    char *v = NULL;
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT count(*) || ',' || count(extra) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")");
    assert_int_equal(eng_query_scalar(f->db, b.buf, &v, NULL), 0);
    assert_string_equal(v, "2,1");
    free(v);
    sm_buf_release(&b);
    /* an incompatible type change is refused, naming column and types */
    struct tbl_commit *c = tbl_commit_new("WRITE");
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_write_select(f->db, f->loc, "SELECT 'x' AS id, 'c' AS s, 1.5 AS extra",
                                      NULL, c, NULL, NULL),
                     0);
    assert_int_equal(tbl_commit_write(c, f->loc, s->version, s, NULL, &e), SM_EINVALID);
    if (!strstr(e.msg, "'id' changes type from integer to string"))
        fail_msg("unexpected message: %s", e.msg);
    assert_int_equal(tbl_latest_version(f->loc), 1);
    tbl_commit_free(c);
    tbl_snapshot_free(s);
}

/* Tables written by Spark: contents equal the expected/ Parquet files. */
static void check_dat(struct fx *f, const char *name, int64_t version, const char *expected,
                      int64_t want_rows)
{
    char *loc = sm_asprintf("%s/delta-dat/%s/delta", testdata(), name);
    char *exp = sm_asprintf("%s/delta-dat/%s/expected/%s/table_content.parquet", testdata(), name,
                            expected);
    struct tbl_snapshot *s;
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_snapshot_open(loc, version, &s, &e), 0);
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT (SELECT count(*) FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")) * 1000 + (SELECT count(*) FROM ((FROM read_parquet(");
    (void)sm_buf_add_sql_str(&b, exp);
    (void)sm_buf_adds(&b, ") EXCEPT ALL FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ")) UNION ALL (FROM (");
    tbl_snapshot_view_sql(s, &b);
    (void)sm_buf_adds(&b, ") EXCEPT ALL FROM read_parquet(");
    (void)sm_buf_add_sql_str(&b, exp);
    (void)sm_buf_adds(&b, "))))");
    int64_t r = -1;
    if (eng_query_i64(f->db, b.buf, &r, &e))
        fail_msg("%s", e.msg);
    /* rows * 1000 + rows that differ from expected (must be 0) */
    assert_int_equal(r, want_rows * 1000);
    sm_buf_release(&b);
    tbl_snapshot_free(s);
    free(loc);
    free(exp);
}

static void test_reads_spark_tables(void **state)
{
    struct fx *f = *state;
    check_dat(f, "basic_append", -1, "latest", 5);
    check_dat(f, "basic_append", 0, "v0", 3);
    check_dat(f, "basic_partitioned", -1, "latest", 6);
    check_dat(f, "basic_partitioned", 0, "v0", 3);
}

static void test_unsupported_feature_is_named(void **state)
{
    char *loc = sm_asprintf("%s/delta-golden/deltalog-invalid-protocol-version", testdata());
    struct tbl_snapshot *s = NULL;
    struct sm_err e = SM_ERR_INIT;
    assert_int_not_equal(tbl_snapshot_open(loc, -1, &s, &e), 0);
    assert_non_null(strstr(e.msg, "reader version"));
    free(loc);
    /* a reader feature smelt lacks is refused by name */
    struct fx *f = *state;
    char *log = sm_asprintf("%s/_delta_log", f->loc);
    assert_int_equal(sm_mkdirs(log, NULL), 0);
    char *v0 = sm_asprintf("%s/00000000000000000000.json", log);
    const char *text = "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
                       "\"readerFeatures\":[\"v2Checkpoint\"],\"writerFeatures\":[]}}\n";
    assert_int_equal(sm_write_file_atomic(v0, text, strlen(text), NULL), 0);
    sm_err_clear(&e);
    assert_int_not_equal(tbl_snapshot_open(f->loc, -1, &s, &e), 0);
    assert_non_null(strstr(e.msg, "'v2Checkpoint'"));
    free(v0);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_column_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_every_ten_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_schema_evolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_spark_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_feature_is_named, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
