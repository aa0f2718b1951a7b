/*
 * test_state.c — unit tests for the control plane (src/state/). Each test
 * gets a fresh directory under /tmp holding one state.db; what the public
 * API cannot show (rows in task_events, the journal mode, the migrations
 * table) is checked by opening the same file with sqlite3 directly.
 */
#include "state/state.h"

/* cmocka needs these before it, in this order. */
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
// clang-format on

#include <sqlite3.h>

struct fixture {
    char dir[64];
    char *path;
    struct st_db *db;
};

static int setup(void **state)
{
    struct fixture *f = sm_calloc(1, sizeof(*f));
    struct sm_err err = SM_ERR_INIT;
    snprintf(f->dir, sizeof(f->dir), "/tmp/smelt-test-state-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    f->path = sm_path_join(f->dir, "state.db");
    if (st_open(f->path, &f->db, &err)) {
        fprintf(stderr, "st_open: %s\n", err.msg);
        free(f->path);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    st_close(f->db);
    int rc = sm_rmtree(f->dir, NULL);
    free(f->path);
    free(f);
    return rc ? -1 : 0;
}

/* First column of the first row of sql, run on a separate connection. */
static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* As raw_int, for a text value; the caller frees. NULL for SQL NULL. */
static char *raw_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char *v = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    if (sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sm_strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* raw_exec on a database that may not exist yet. */
static void raw_exec_create(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void assert_iso8601(const char *s)
{
    assert_non_null(s);
    /* 2026-11-21T13:22:01.123Z */
    assert_int_equal(strlen(s), 24);
    assert_int_equal(s[4], '-');
    assert_int_equal(s[10], 'T');
    assert_int_equal(s[23], 'Z');
}

/* A landed-file description with borrowed strings; never released. */
static struct st_landed landed(const char *source, const char *path, int64_t size, int64_t mtime,
                               const char *sha)
{
    struct st_landed l = {0};
    l.source = (char *)source;
    l.orig_path = (char *)path;
    l.size = size;
    l.mtime = mtime;
    l.sha256 = (char *)sha;
    l.batch_id = (char *)"batch-1";
    l.landing_path = (char *)"/lake/landing/orders/batch-1/f.csv";
    return l;
}

static int64_t land(struct st_db *db, const char *source, const char *path, const char *sha,
                    bool done)
{
    struct sm_err err = SM_ERR_INIT;
    struct st_landed l = landed(source, path, 100, 1700000000, sha);
    assert_int_equal(st_landed_begin(db, &l, &err), 0);
    assert_true(l.id > 0);
    if (done)
        assert_int_equal(st_landed_done(db, l.id, &err), 0);
    return l.id;
}

static void test_migrations(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int v = st_schema_version(f->db);

    assert_true(v >= 1);
    assert_int_equal(raw_int(f->path, "SELECT max(version) FROM schema_migrations"), v);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"), v);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                      "AND name IN ('runs', 'tasks', 'task_events', "
                                      "'landed_files', 'tables')"),
                     5);
    char *mode = raw_text(f->path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    char *applied = raw_text(f->path, "SELECT applied_at FROM schema_migrations WHERE version = 1");
    assert_iso8601(applied);
    free(applied);

    /* Reopening applies nothing twice and keeps the data. */
    int64_t run;
    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    st_close(f->db);
    f->db = NULL;
    assert_int_equal(st_open(f->path, &f->db, &err), 0);
    assert_int_equal(st_schema_version(f->db), v);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM schema_migrations"), v);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs"), 1);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_db *db = NULL;

    raw_exec(f->path, "INSERT INTO schema_migrations VALUES (999, 'later')");
    assert_int_equal(st_open(f->path, &db, &err), SM_EDB);
    assert_null(db);
    assert_non_null(strstr(err.msg, "999"));
    assert_non_null(strstr(err.msg, "upgrade smelt"));
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_db *db = NULL;

    char *missing = sm_path_join(f->dir, "nope/state.db");
    assert_int_equal(st_open(missing, &db, &err), SM_EIO);
    assert_null(db);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "does not exist"));
    free(missing);

    /* A file that is not a database is unusable, not a schema problem. */
    char *junk = sm_path_join(f->dir, "junk.db");
    const char text[] = "this is not a sqlite database, just text long enough to have a header";
    sm_err_clear(&err);
    assert_int_equal(sm_write_file_atomic(junk, text, sizeof(text), &err), 0);
    assert_int_equal(st_open(junk, &db, &err), SM_EIO);
    assert_null(db);
    assert_non_null(strstr(err.msg, "junk.db"));
    assert_non_null(strstr(err.msg, "extended code 26"));
    free(junk);
}

static void test_run_task_lifecycle(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int64_t run, task, other;
    char sql[256];

    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "bronze.orders", &task, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "silver.orders", &other, &err), 0);
    assert_true(other > task);

    snprintf(sql, sizeof(sql), "SELECT state FROM tasks WHERE id = %lld", (long long)task);
    char *st = raw_text(f->path, sql);
    assert_string_equal(st, "pending");
    free(st);
    snprintf(sql, sizeof(sql), "SELECT started_at FROM tasks WHERE id = %lld", (long long)task);
    assert_null(raw_text(f->path, sql));

    assert_int_equal(st_task_set_state(f->db, task, "running", &err), 0);
    char *started = raw_text(f->path, sql);
    assert_iso8601(started);
    free(started);

    assert_int_equal(st_task_finish(f->db, task, "success", 10, 8, 2, 1.5, NULL, &err), 0);
    assert_int_equal(st_task_set_state(f->db, other, "skipped", &err), 0);
    assert_int_equal(st_run_finish(f->db, run, "success", &err), 0);
    assert_int_equal(err.code, 0);

    snprintf(sql, sizeof(sql),
             "SELECT rows_in * 10000 + rows_out * 100 + rows_quarantined FROM tasks "
             "WHERE id = %lld AND state = 'success' AND seconds = 1.5 AND error IS NULL "
             "AND finished_at IS NOT NULL",
             (long long)task);
    assert_int_equal(raw_int(f->path, sql), 100802);
    snprintf(sql, sizeof(sql),
             "SELECT group_concat(state, ',') FROM (SELECT state FROM task_events "
             "WHERE task_id = %lld ORDER BY id)",
             (long long)task);
    char *events = raw_text(f->path, sql);
    assert_string_equal(events, "pending,running,success");
    free(events);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM task_events WHERE task_id = %lld AND at LIKE '____-__-__T%%Z'",
             (long long)other);
    assert_int_equal(raw_int(f->path, sql), 2);
    /* Skipped without running: finished but never started. */
    snprintf(sql, sizeof(sql),
             "SELECT started_at IS NULL AND finished_at IS NOT NULL FROM tasks WHERE id = %lld",
             (long long)other);
    assert_int_equal(raw_int(f->path, sql), 1);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM runs WHERE id = %lld AND command = 'run' AND "
             "status = 'success' AND started_at <= finished_at",
             (long long)run);
    assert_int_equal(raw_int(f->path, sql), 1);
}

static void test_task_retry_and_failure(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int64_t run, task;
    char sql[256];

    assert_int_equal(st_run_start(f->db, "build", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "gold.daily", &task, &err), 0);
    assert_int_equal(st_task_set_state(f->db, task, "running", &err), 0);
    assert_int_equal(st_task_set_state(f->db, task, "failed", &err), 0);
    snprintf(sql, sizeof(sql), "SELECT finished_at FROM tasks WHERE id = %lld", (long long)task);
    char *finished = raw_text(f->path, sql);
    assert_iso8601(finished);
    free(finished);
    /* Age the first start so that keeping it is visible at ms resolution. */
    raw_exec(f->path, "UPDATE tasks SET started_at = '2000-01-01T00:00:00.000Z'");
    assert_int_equal(st_task_set_state(f->db, task, "running", &err), 0);

    /* The retry keeps the first start and clears the previous finish. */
    snprintf(sql, sizeof(sql), "SELECT started_at FROM tasks WHERE id = %lld", (long long)task);
    char *start = raw_text(f->path, sql);
    assert_string_equal(start, "2000-01-01T00:00:00.000Z");
    free(start);
    snprintf(sql, sizeof(sql), "SELECT finished_at FROM tasks WHERE id = %lld", (long long)task);
    assert_null(raw_text(f->path, sql));

    assert_int_equal(st_task_finish(f->db, task, "failed", 5, 0, 0, 0.25,
                                    "binder error: column 'x' not found", &err),
                     0);
    assert_int_equal(st_run_finish(f->db, run, "failed", &err), 0);
    snprintf(sql, sizeof(sql), "SELECT error FROM tasks WHERE id = %lld", (long long)task);
    char *msg = raw_text(f->path, sql);
    assert_string_equal(msg, "binder error: column 'x' not found");
    free(msg);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM task_events WHERE task_id = %lld",
             (long long)task);
    assert_int_equal(raw_int(f->path, sql), 5);
}

static void test_task_errors(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int64_t run, task = -7;

    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    assert_int_equal(st_task_set_state(f->db, 424242, "running", &err), SM_ENOTFOUND);
    assert_non_null(strstr(err.msg, "424242"));
    sm_err_clear(&err);
    assert_int_equal(st_task_add(f->db, run, "t", &task, &err), 0);
    assert_int_equal(st_task_set_state(f->db, task, "done", &err), SM_EINVALID);
    assert_non_null(strstr(err.msg, "'done'"));
    sm_err_clear(&err);
    assert_int_equal(st_task_finish(f->db, task, "running", 0, 0, 0, 0, NULL, &err), SM_EINVALID);
    sm_err_clear(&err);
    assert_int_equal(st_run_finish(f->db, run, "cancelled?", &err), SM_EINVALID);
    sm_err_clear(&err);
    assert_int_equal(st_run_finish(f->db, run + 1000, "success", &err), SM_ENOTFOUND);
    sm_err_clear(&err);

    /* Foreign keys are on: a task of a run that does not exist is refused,
     * and neither the task nor its pending event is left behind. */
    int64_t orphan = -7;
    assert_int_equal(st_task_add(f->db, run + 1000, "t", &orphan, &err), SM_EDB);
    assert_int_equal(orphan, -7);
    assert_non_null(strstr(err.msg, "cannot record task"));
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
    assert_non_null(strstr(err.msg, "extended code 787"));
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM tasks"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM task_events"), 1);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int64_t run, task;

    assert_int_equal(st_begin(f->db, &err), 0);
    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "a", &task, &err), 0);
    st_rollback(f->db);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM task_events"), 0);
    st_rollback(f->db); /* no transaction: a no-op */

    /* A failed write inside the caller's transaction undoes only itself. */
    assert_int_equal(st_begin(f->db, &err), 0);
    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run + 99, "bad", &task, &err), SM_EDB);
    sm_err_clear(&err);
    assert_int_equal(st_task_add(f->db, run, "good", &task, &err), 0);
    assert_int_equal(st_commit(f->db, &err), 0);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM tasks WHERE name = 'good'"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM task_events"), 1);

    /* Nested begin is refused; commit without begin is an error. */
    assert_int_equal(st_begin(f->db, &err), 0);
    assert_int_equal(st_begin(f->db, &err), SM_EDB);
    st_rollback(f->db);
    sm_err_clear(&err);
    assert_int_equal(st_commit(f->db, &err), SM_EDB);
    assert_non_null(strstr(err.msg, "commit"));
}

/* A write of several rows is all or nothing, alone or inside the caller's
 * transaction. A trigger makes the second row (the task event) fail after
 * the first (the task update) has been written. */
static void test_multi_row_write_atomic(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    int64_t run, task, kept;
    char sql[128];

    assert_int_equal(st_run_start(f->db, "run", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "t", &task, &err), 0);
    raw_exec(f->path, "CREATE TRIGGER fail_running BEFORE INSERT ON task_events "
                      "WHEN NEW.state = 'running' BEGIN SELECT RAISE(ABORT, 'injected'); END");
    snprintf(sql, sizeof(sql), "SELECT state FROM tasks WHERE id = %lld", (long long)task);

    assert_int_equal(st_task_set_state(f->db, task, "running", &err), SM_EDB);
    assert_non_null(strstr(err.msg, "injected"));
    char *st = raw_text(f->path, sql);
    assert_string_equal(st, "pending");
    free(st);

    sm_err_clear(&err);
    assert_int_equal(st_begin(f->db, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "kept", &kept, &err), 0);
    assert_int_equal(st_task_set_state(f->db, task, "running", &err), SM_EDB);
    sm_err_clear(&err);
    assert_int_equal(st_commit(f->db, &err), 0);
    st = raw_text(f->path, sql);
    assert_string_equal(st, "pending");
    free(st);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM tasks WHERE name = 'kept'"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM task_events"), 2);
}

static void test_landed_flow(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_landed *arr = NULL, got;
    size_t n = 99;
    bool found = false;

    struct st_landed l = landed("orders", "/in/orders_1.csv", 100, 1700000000, "aa11");
    assert_int_equal(st_landed_begin(f->db, &l, &err), 0);
    assert_true(l.id > 0);

    assert_int_equal(st_landed_pending(f->db, "orders", &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(arr[0].id, l.id);
    assert_string_equal(arr[0].status, "landing");
    st_landed_free_array(arr, n);
    assert_int_equal(st_landed_list(f->db, "orders", 0, &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_null(arr);

    assert_int_equal(st_landed_done(f->db, l.id, &err), 0);
    assert_int_equal(st_landed_pending(f->db, "orders", &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    st_landed_free_array(arr, n);
    assert_int_equal(st_landed_list(f->db, "orders", 0, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(arr[0].id, l.id);
    assert_string_equal(arr[0].source, "orders");
    assert_string_equal(arr[0].orig_path, "/in/orders_1.csv");
    assert_int_equal(arr[0].size, 100);
    assert_int_equal(arr[0].mtime, 1700000000);
    assert_string_equal(arr[0].sha256, "aa11");
    assert_string_equal(arr[0].batch_id, "batch-1");
    assert_string_equal(arr[0].landing_path, "/lake/landing/orders/batch-1/f.csv");
    assert_string_equal(arr[0].status, "landed");
    assert_iso8601(arr[0].received_at);
    st_landed_free_array(arr, n);

    assert_int_equal(st_landed_done(f->db, l.id + 50, &err), SM_ENOTFOUND);
    sm_err_clear(&err);

    /* find_stat: exact source+path+size+mtime only. */
    assert_int_equal(st_landed_find_stat(f->db, "orders", "/in/orders_1.csv", 100, 1700000000, &got,
                                         &found, &err),
                     0);
    assert_true(found);
    assert_int_equal(got.id, l.id);
    assert_string_equal(got.sha256, "aa11");
    st_landed_release(&got);
    assert_int_equal(st_landed_find_stat(f->db, "orders", "/in/orders_1.csv", 101, 1700000000, &got,
                                         &found, &err),
                     0);
    assert_false(found);
    assert_int_equal(st_landed_find_stat(f->db, "orders", "/in/orders_1.csv", 100, 1700000001, &got,
                                         &found, &err),
                     0);
    assert_false(found);
    assert_int_equal(st_landed_find_stat(f->db, "customers", "/in/orders_1.csv", 100, 1700000000,
                                         &got, &found, &err),
                     0);
    assert_false(found);
    st_landed_release(&got);

    /* find_hash: same bytes under another name is the same file. */
    assert_int_equal(st_landed_find_hash(f->db, "orders", "aa11", &got, &found, &err), 0);
    assert_true(found);
    assert_string_equal(got.orig_path, "/in/orders_1.csv");
    st_landed_release(&got);
    assert_int_equal(st_landed_find_hash(f->db, "orders", "bb22", &got, &found, &err), 0);
    assert_false(found);
    assert_int_equal(st_landed_find_hash(f->db, "customers", "aa11", &got, &found, &err), 0);
    assert_false(found);
    assert_int_equal(err.code, 0);
}

static void test_find_stat_newest_first(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_landed got;
    bool found = false;

    /* The file was rewritten with the same size and mtime (clock skew, cp
     * -p): both records match; the newest wins, whatever its status. */
    int64_t a = land(f->db, "orders", "/in/o.csv", "sha-a", true);
    int64_t b = land(f->db, "orders", "/in/o.csv", "sha-b", false);
    assert_true(b > a);
    assert_int_equal(
        st_landed_find_stat(f->db, "orders", "/in/o.csv", 100, 1700000000, &got, &found, &err), 0);
    assert_true(found);
    assert_int_equal(got.id, b);
    assert_string_equal(got.sha256, "sha-b");
    assert_string_equal(got.status, "landing");
    st_landed_release(&got);
}

static void test_landed_list_after_id(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_landed *arr = NULL;
    size_t n = 0;

    int64_t a = land(f->db, "orders", "/in/1.csv", "s1", true);
    int64_t c = land(f->db, "customers", "/in/c.csv", "s1", true);
    int64_t b = land(f->db, "orders", "/in/2.csv", "s2", true);
    int64_t p = land(f->db, "orders", "/in/3.csv", "s3", false);
    int64_t d = land(f->db, "orders", "/in/4.csv", "s4", true);
    assert_true(a < c && c < b && b < p && p < d);

    assert_int_equal(st_landed_list(f->db, "orders", 0, &arr, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(arr[0].id, a);
    assert_int_equal(arr[1].id, b);
    assert_int_equal(arr[2].id, d);
    st_landed_free_array(arr, n);

    assert_int_equal(st_landed_list(f->db, "orders", a, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(arr[0].id, b);
    assert_int_equal(arr[1].id, d);
    st_landed_free_array(arr, n);

    assert_int_equal(st_landed_list(f->db, "orders", d, &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    st_landed_free_array(arr, n);

    assert_int_equal(st_landed_list(f->db, "customers", 0, &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(arr[0].id, c);
    st_landed_free_array(arr, n);

    assert_int_equal(st_landed_pending(f->db, "orders", &arr, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(arr[0].id, p);
    assert_string_equal(arr[0].orig_path, "/in/3.csv");
    st_landed_free_array(arr, n);
    assert_int_equal(st_landed_pending(f->db, "customers", &arr, &n, &err), 0);
    assert_int_equal(n, 0);
    st_landed_free_array(arr, n);
}

static void test_landed_unique_hash(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;

    land(f->db, "orders", "/in/1.csv", "same", true);
    struct st_landed dup = landed("orders", "/in/renamed.csv", 100, 1700000000, "same");
    assert_int_equal(st_landed_begin(f->db, &dup, &err), SM_EDB);
    assert_int_equal(dup.id, 0);
    assert_non_null(strstr(err.msg, "state.db: cannot record landed file"));
    assert_non_null(strstr(err.msg, "UNIQUE"));
    assert_non_null(strstr(err.msg, "extended code 2067"));
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM landed_files"), 1);

    /* The same bytes from another source are another file. */
    sm_err_clear(&err);
    struct st_landed other = landed("returns", "/in/1.csv", 100, 1700000000, "same");
    assert_int_equal(st_landed_begin(f->db, &other, &err), 0);
    assert_true(other.id > 0);

    /* NOT NULL columns are enforced too. */
    struct st_landed bad = landed("orders", "/in/x.csv", 1, 1, NULL);
    assert_int_equal(st_landed_begin(f->db, &bad, &err), SM_EDB);
    assert_non_null(strstr(err.msg, "NOT NULL"));
}

/* A file landed again on purpose: a second row with the same bytes, marked
 * with the first one's id; content stays unique among the other rows. */
static void test_landed_again(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_landed got;
    bool found = false;

    int64_t first = land(f->db, "orders", "/in/1.csv", "same", true);
    struct st_landed again = landed("orders", "/in/1.csv", 100, 1700000000, "same");
    again.reprocess_of = first;
    assert_int_equal(st_landed_begin(f->db, &again, &err), 0);
    assert_true(again.id > first);
    assert_int_equal(st_landed_done(f->db, again.id, &err), 0);
    /* a third landing without the mark is still refused */
    struct st_landed dup = landed("orders", "/in/other.csv", 100, 1700000000, "same");
    assert_int_equal(st_landed_begin(f->db, &dup, &err), SM_EDB);
    sm_err_clear(&err);

    /* by content, the first landing answers */
    assert_int_equal(st_landed_find_hash(f->db, "orders", "same", &got, &found, &err), 0);
    assert_true(found);
    assert_int_equal(got.id, first);
    assert_int_equal(got.reprocess_of, 0);
    st_landed_release(&got);

    struct st_landed *arr = NULL;
    size_t n = 0;
    assert_int_equal(st_landed_list(f->db, "orders", 0, &arr, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(arr[0].reprocess_of, 0);
    assert_int_equal(arr[1].reprocess_of, first);
    st_landed_free_array(arr, n);
}

/* Migration 5 rebuilds landed_files: a database of schema 4 keeps its rows,
 * their ids and the AUTOINCREMENT counter (ids are never reused, even of a
 * row that is gone). */
static void test_migration_5(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    st_close(f->db);
    f->db = NULL;
    char *old = sm_path_join(f->dir, "v4.db");
    raw_exec_create(old,
                    "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at TEXT);"
                    "INSERT INTO schema_migrations VALUES (1, 'x'), (2, 'x'), (3, 'x'), (4, 'x');"
                    "CREATE TABLE landed_files ("
                    "  id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
                    "  orig_path TEXT NOT NULL, size INTEGER, mtime INTEGER, sha256 TEXT NOT NULL,"
                    "  batch_id TEXT NOT NULL, landing_path TEXT, status TEXT NOT NULL,"
                    "  received_at TEXT, UNIQUE(source, sha256));"
                    "CREATE INDEX landed_files_by_path ON landed_files(source, orig_path);"
                    "INSERT INTO landed_files VALUES (1, 'orders', '/in/a.csv', 1, 2, 'aa', 'b1',"
                    "  '/l/a.csv', 'landed', 't1'), (2, 'orders', '/in/b.csv', 3, 4, 'bb', 'b2',"
                    "  '/l/b.csv', 'landed', 't2'), (3, 'orders', '/in/c.csv', 5, 6, 'cc', 'b3',"
                    "  '/l/c.csv', 'landed', 't3');"
                    "DELETE FROM landed_files WHERE id = 3;");
    assert_int_equal(st_open(old, &f->db, &err), 0);
    assert_true(st_schema_version(f->db) >= 5);
    assert_int_equal(raw_int(old, "SELECT count(*) FROM landed_files WHERE reprocess_of IS NULL"),
                     2);
    char *b = raw_text(old, "SELECT orig_path || ',' || sha256 || ',' || received_at FROM "
                            "landed_files WHERE id = 2");
    assert_string_equal(b, "/in/b.csv,bb,t2");
    free(b);
    /* id 3 was used once: the next one is 4 */
    assert_int_equal(land(f->db, "orders", "/in/d.csv", "dd", true), 4);
    /* the unique index came with the table */
    struct st_landed dup = landed("orders", "/in/x.csv", 1, 1, "aa");
    assert_int_equal(st_landed_begin(f->db, &dup, &err), SM_EDB);
    free(old);
}

static void test_tables(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_table got, *arr = NULL;
    size_t n = 0;
    bool found = true;

    assert_int_equal(st_table_get(f->db, "silver", "orders", &got, &found, &err), 0);
    assert_false(found);
    assert_null(got.name);

    struct st_table t = {(char *)"silver",
                         (char *)"orders",
                         (char *)"/lake/silver/orders",
                         (char *)"{\"type\":\"struct\"}",
                         0,
                         10,
                         NULL};
    assert_int_equal(st_table_upsert(f->db, &t, &err), 0);
    assert_int_equal(st_table_get(f->db, "silver", "orders", &got, &found, &err), 0);
    assert_true(found);
    assert_string_equal(got.zone, "silver");
    assert_string_equal(got.name, "orders");
    assert_string_equal(got.location, "/lake/silver/orders");
    assert_string_equal(got.schema_json, "{\"type\":\"struct\"}");
    assert_int_equal(got.version, 0);
    assert_int_equal(got.row_count, 10);
    assert_iso8601(got.updated_at);

    /* Update in place: a new version and count; a NULL location or schema
     * keeps the recorded one; a stale updated_at is not written back. */
    raw_exec(f->path, "UPDATE tables SET updated_at = '2000-01-01T00:00:00.000Z'");
    struct st_table u = {
        (char *)"silver", (char *)"orders", NULL, NULL, 3, 42, (char *)"1999-01-01T00:00:00.000Z"};
    assert_int_equal(st_table_upsert(f->db, &u, &err), 0);
    st_table_release(&got);
    assert_int_equal(st_table_get(f->db, "silver", "orders", &got, &found, &err), 0);
    assert_true(found);
    assert_int_equal(got.version, 3);
    assert_int_equal(got.row_count, 42);
    assert_string_equal(got.location, "/lake/silver/orders");
    assert_string_equal(got.schema_json, "{\"type\":\"struct\"}");
    assert_true(strcmp(got.updated_at, "2000-01-01T00:00:00.000Z") > 0);
    st_table_release(&got);
    assert_null(got.zone);

    struct st_table s2 = {(char *)"silver",
                          (char *)"orders",
                          (char *)"/lake2/silver/orders",
                          (char *)"{}",
                          4,
                          43,
                          NULL};
    assert_int_equal(st_table_upsert(f->db, &s2, &err), 0);
    struct st_table g = {
        (char *)"gold", (char *)"daily", (char *)"/lake/gold/daily", NULL, 0, 1, NULL};
    struct st_table b = {
        (char *)"bronze", (char *)"orders", (char *)"/lake/bronze/orders", NULL, 7, 100, NULL};
    struct st_table a = {
        (char *)"bronze", (char *)"customers", (char *)"/lake/bronze/c", NULL, 1, 5, NULL};
    assert_int_equal(st_table_upsert(f->db, &g, &err), 0);
    assert_int_equal(st_table_upsert(f->db, &b, &err), 0);
    assert_int_equal(st_table_upsert(f->db, &a, &err), 0);

    assert_int_equal(st_table_list(f->db, &arr, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(arr[0].zone, "bronze");
    assert_string_equal(arr[0].name, "customers");
    assert_string_equal(arr[1].name, "orders");
    assert_int_equal(arr[1].version, 7);
    assert_string_equal(arr[2].zone, "silver");
    assert_string_equal(arr[2].location, "/lake2/silver/orders");
    assert_string_equal(arr[2].schema_json, "{}");
    assert_int_equal(arr[2].row_count, 43);
    assert_string_equal(arr[3].zone, "gold");
    assert_null(arr[3].schema_json);
    st_table_free_array(arr, n);

    struct st_table nameless = {(char *)"gold", NULL, NULL, NULL, 0, 0, NULL};
    assert_int_equal(st_table_upsert(f->db, &nameless, &err), SM_EINVALID);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM tables"), 4);
}

static void test_two_handles(void **state)
{
    struct fixture *f = *state;
    struct sm_err err = SM_ERR_INIT;
    struct st_db *other = NULL;
    struct st_landed got;
    bool found = false;
    int64_t run, task;

    assert_int_equal(st_open(f->path, &other, &err), 0);
    assert_int_equal(st_schema_version(other), st_schema_version(f->db));

    /* One handle writes inside a transaction; the other still reads the
     * last committed state meanwhile (WAL), then sees the commit. */
    assert_int_equal(st_begin(f->db, &err), 0);
    land(f->db, "orders", "/in/1.csv", "h1", true);
    assert_int_equal(st_landed_find_hash(other, "orders", "h1", &got, &found, &err), 0);
    assert_false(found);
    assert_int_equal(st_commit(f->db, &err), 0);
    assert_int_equal(st_landed_find_hash(other, "orders", "h1", &got, &found, &err), 0);
    assert_true(found);
    assert_string_equal(got.status, "landed");
    st_landed_release(&got);

    /* And the other way round, with multi-row writes from both. */
    assert_int_equal(st_run_start(other, "serve", &run, &err), 0);
    assert_int_equal(st_task_add(f->db, run, "bronze.orders", &task, &err), 0);
    assert_int_equal(st_task_set_state(other, task, "running", &err), 0);
    assert_int_equal(st_task_finish(f->db, task, "success", 1, 1, 0, 0.1, NULL, &err), 0);
    assert_int_equal(st_run_finish(other, run, "success", &err), 0);
    assert_int_equal(err.code, 0);
    st_close(other);

    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM task_events"), 3);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs WHERE status = 'success'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_task_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_retry_and_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_task_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_row_write_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_landed_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_stat_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_landed_list_after_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_landed_unique_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_landed_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
