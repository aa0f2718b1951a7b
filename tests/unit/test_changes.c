/*
 * Unit tests for table/changes.c: what changed between two versions, and
 * which files can hold given keys. Tables are written through the real
 * DuckDB engine; expected files and keys are hand counts of the range()
 * data written.
 */
#include "table/table.h"

#include <setjmp.h>
#include <cmocka.h>

struct fx {
    char dir[64];
    char *loc;
    struct eng_db *db;
};

static int setup(void **state)
{
    struct fx *f = sm_calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/smelt-chg-XXXXXX");
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

/* Commit sql's rows; remove_first removes the snapshot's first file (by
 * path order) in the same commit, as a copy-on-write rewrite would. */
static int64_t commit(struct fx *f, const char *sql, const char *part, bool remove_first,
                      bool data_change)
{
    struct tbl_snapshot *snap = NULL;
    if (tbl_latest_version(f->loc) >= 0)
        assert_int_equal(tbl_snapshot_open(f->loc, -1, &snap, NULL), 0);
    struct tbl_commit *c = tbl_commit_new("WRITE");
    tbl_commit_set_data_change(c, data_change);
    struct sm_err e = SM_ERR_INIT;
    int64_t rows = 0, v = -1;
    if (sql)
        assert_int_equal(tbl_write_select(f->db, f->loc, sql, part, c, &rows, &e), 0);
    if (remove_first && snap)
        tbl_commit_remove_file(c, &snap->files[0]);
    assert_int_equal(tbl_commit_write(c, f->loc, snap ? snap->version : -1, snap, &v, &e), 0);
    tbl_commit_free(c);
    tbl_snapshot_free(snap);
    return v;
}

static void test_changes_between_versions(void **state)
{
    struct fx *f = *state;
    assert_int_equal(commit(f, "SELECT range AS id FROM range(10)", NULL, false, true), 0);
    assert_int_equal(commit(f, "SELECT range AS id FROM range(10, 15)", NULL, false, true), 1);
    assert_int_equal(commit(f, "SELECT range AS id FROM range(15, 17)", NULL, true, true), 2);
    /* a rewrite that changes no rows (OPTIMIZE-like): left out */
    assert_int_equal(commit(f, "SELECT range AS id FROM range(100, 101)", NULL, false, false), 3);

    struct tbl_changes ch;
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_changes_read(f->loc, 0, 3, &ch, &e), 0);
    assert_int_equal(ch.nadded, 2);
    assert_int_equal(ch.nremoved, 1);
    assert_int_equal(ch.added[0].num_records + ch.added[1].num_records, 7);
    /* the removed file is described by its add: the 10 rows of version 0,
     * or the 5 of version 1 (whichever sorts first) */
    assert_true(ch.removed[0].num_records == 10 || ch.removed[0].num_records == 5);
    tbl_changes_release(&ch);

    /* from the beginning: every add, nothing removed before it was added */
    assert_int_equal(tbl_changes_read(f->loc, -1, 1, &ch, &e), 0);
    assert_int_equal(ch.nadded, 2);
    assert_int_equal(ch.nremoved, 0);
    tbl_changes_release(&ch);

    /* an empty range */
    assert_int_equal(tbl_changes_read(f->loc, 3, 3, &ch, &e), 0);
    assert_int_equal(ch.nadded + ch.nremoved, 0);
    tbl_changes_release(&ch);

    /* a commit gone from the log: SM_ENOTFOUND, said so */
    char *p = sm_asprintf("%s/_delta_log/00000000000000000002.json", f->loc);
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(tbl_changes_read(f->loc, 0, 3, &ch, &e), SM_ENOTFOUND);
    if (!strstr(e.msg, "no longer in the log"))
        fail_msg("message: %s", e.msg);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void test_files_matching_keys(void **state)
{
    struct fx *f = *state;
    /* 4 partitions (p = 0..3), each one file: ids p*100 .. p*100+99, name NULL
     * in partition 3 only */
    assert_int_equal(commit(f,
                            "SELECT range % 4 AS p, (range % 4) * 100 + range // 4 AS id, "
                            "CASE WHEN range % 4 = 3 THEN NULL ELSE 'n' || (range // 4) END AS name "
                            "FROM range(400)",
                            "p", false, true),
                     0);
    struct tbl_snapshot *s = NULL;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->nfiles, 4);
    struct sm_err e = SM_ERR_INIT;
    bool match[4];
    int pvals[4];
    size_t n;

#define MATCHING(keys_sql, col, keycol)                                                            \
    do {                                                                                           \
        char *cols[] = {(char *)col}, *kcols[] = {(char *)keycol};                                               \
        assert_int_equal(tbl_files_matching(f->db, s, s->files, s->nfiles, cols, kcols, 1,         \
                                            keys_sql, match, &e),                                  \
                         0);                                                                       \
        n = 0;                                                                                     \
        for (size_t i = 0; i < s->nfiles; i++)                                                     \
            if (match[i])                                                                          \
                pvals[n++] = s->files[i].partition_values[6] - '0'; /* {"p":"N"} */                \
        qsort(pvals, n, sizeof(int), cmp_int);                                                     \
    } while (0)

    /* by stats: ids 150 and 310 live in partitions 1 and 3 */
    MATCHING("(SELECT * FROM (VALUES (150), (310)) AS k(k))", "id", "k");
    assert_int_equal(n, 2);
    assert_int_equal(pvals[0], 1);
    assert_int_equal(pvals[1], 3);
    /* by partition value */
    MATCHING("(SELECT * FROM (VALUES (2)) AS k(k))", "p", "k");
    assert_int_equal(n, 1);
    assert_int_equal(pvals[0], 2);
    /* nothing can hold id 99999 */
    MATCHING("(SELECT * FROM (VALUES (99999)) AS k(k))", "id", "k");
    assert_int_equal(n, 0);
    /* a NULL key: only the file whose name column has NULLs */
    MATCHING("(SELECT CAST(NULL AS VARCHAR) AS k)", "name", "k");
    assert_int_equal(n, 1);
    assert_int_equal(pvals[0], 3);
    /* strings by range: 'n5' sorts inside every non-NULL file's min..max */
    MATCHING("(SELECT 'n5' AS k)", "name", "k");
    assert_int_equal(n, 3);
    /* a column the table lacks cannot narrow: every file */
    MATCHING("(SELECT 1 AS k)", "nope", "k");
    assert_int_equal(n, 4);
#undef MATCHING

    /* a file without stats always matches */
    free(s->files[0].stats);
    s->files[0].stats = NULL;
    char *cols[] = {(char *)"id"}, *kcols[] = {(char *)"k"};
    assert_int_equal(tbl_files_matching(f->db, s, s->files, s->nfiles, cols, kcols, 1,
                                        "(SELECT 99999 AS k)", match, &e),
                     0);
    assert_true(match[0]);
    assert_false(match[1] || match[2] || match[3]);
    tbl_snapshot_free(s);
}

static void test_files_holding_keys(void **state)
{
    struct fx *f = *state;
    /* two files whose id ranges interleave: {1, 1000} and {2, 1001} */
    assert_int_equal(commit(f, "SELECT * FROM (VALUES (1), (1000)) AS t(id)", NULL, false, true), 0);
    assert_int_equal(commit(f, "SELECT * FROM (VALUES (2), (1001)) AS t(id)", NULL, false, true), 1);
    struct tbl_snapshot *s = NULL;
    assert_int_equal(tbl_snapshot_open(f->loc, -1, &s, NULL), 0);
    assert_int_equal(s->nfiles, 2);
    char *cols[] = {(char *)"id"}, *kcols[] = {(char *)"k"};
    const char *keys = "(SELECT 1000 AS k)";
    bool match[2];
    struct sm_err e = SM_ERR_INIT;
    assert_int_equal(tbl_files_matching(f->db, s, s->files, 2, cols, kcols, 1, keys, match, &e), 0);
    assert_true(match[0] && match[1]); /* stats cannot tell */
    assert_int_equal(tbl_files_holding(f->db, s, s->files, 2, cols, kcols, 1, keys, match, &e), 0);
    assert_int_equal(match[0] + match[1], 1);
    int64_t hold = s->files[match[0] ? 0 : 1].num_records;
    assert_int_equal(hold, 2);
    /* the file that holds 1000 also holds 1, not 2 */
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "SELECT min(id) FROM (");
    tbl_files_view_sql(s, &s->files[match[0] ? 0 : 1], 1, &q);
    (void)sm_buf_adds(&q, ")");
    int64_t mn = 0;
    assert_int_equal(eng_query_i64(f->db, q.buf, &mn, NULL), 0);
    assert_int_equal(mn, 1);
    sm_buf_release(&q);
    tbl_snapshot_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_changes_between_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_matching_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_holding_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
