/*
 * test_engine.c — unit tests of engine/'s jobs: SQL run on connections of
 * their own, several at once (eng_run_jobs), as the bronze load uses them.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "engine/engine.h"

static int setup(void **state)
{
    struct eng_config cfg = {.threads = 2};
    struct eng_db *db = NULL;
    if (eng_open(&cfg, &db, NULL))
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    eng_close(*state);
    return 0;
}

/* Each job's statements run in order on one connection and every result
 * comes back; the jobs see the database's tables. */
static void test_jobs_results(void **state)
{
    struct eng_db *db = *state;
    struct sm_err err = SM_ERR_INIT;
    assert_int_equal(eng_exec(db, "CREATE TABLE t AS SELECT range AS i FROM range(1000)", &err), 0);
    const char *a[] = {"CREATE TEMP TABLE x AS SELECT sum(i) AS s FROM t WHERE i % 2 = 0",
                       "SELECT s FROM x"};
    const char *b[] = {"CREATE TEMP TABLE x AS SELECT sum(i) AS s FROM t WHERE i % 2 = 1",
                       "SELECT s FROM x"};
    const char *c[] = {"SELECT count(*) FROM t"};
    struct eng_job jobs[3] = {{.sql = a, .nsql = 2}, {.sql = b, .nsql = 2}, {.sql = c, .nsql = 1}};
    assert_int_equal(eng_run_jobs(db, jobs, 3, 2), 0);
    /* temporary tables are the connection's own: both jobs made their x */
    assert_string_equal(eng_result_str(jobs[0].results[1], 0, 0), "249500");
    assert_string_equal(eng_result_str(jobs[1].results[1], 0, 0), "250000");
    assert_string_equal(eng_result_str(jobs[2].results[0], 0, 0), "1000");
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(jobs[i].rc, 0);
        eng_job_release(&jobs[i]);
    }
    /* and the main connection does not see them */
    assert_int_not_equal(eng_exec(db, "SELECT * FROM x", NULL), 0);
}

/* A failing statement ends its job with DuckDB's error; the others run. */
static void test_jobs_failure(void **state)
{
    struct eng_db *db = *state;
    const char *bad[] = {"SELECT * FROM nowhere", "SELECT 1"};
    const char *good[] = {"SELECT 42"};
    struct eng_job jobs[2] = {{.sql = bad, .nsql = 2}, {.sql = good, .nsql = 1}};
    assert_int_equal(eng_run_jobs(db, jobs, 2, 4), SM_EENGINE);
    assert_int_equal(jobs[0].rc, SM_EENGINE);
    assert_non_null(strstr(jobs[0].err.msg, "nowhere"));
    assert_null(jobs[0].results[1]);
    assert_int_equal(jobs[1].rc, 0);
    assert_string_equal(eng_result_str(jobs[1].results[0], 0, 0), "42");
    eng_job_release(&jobs[0]);
    eng_job_release(&jobs[1]);
    /* nothing to do is fine */
    assert_int_equal(eng_run_jobs(db, NULL, 0, 2), 0);
}

/* Progress tracking: off on the connections of a new database (smelt
 * relies on DuckDB's default and runs no SET), on for jobs once asked. */
static void test_progress_setting(void **state)
{
    struct eng_db *db = *state;
    const char *q[] = {"SELECT current_setting('enable_progress_bar')"};
    char *v = NULL;
    assert_int_equal(eng_query_scalar(db, q[0], &v, NULL), 0);
    assert_string_equal(v, "false");
    free(v);
    struct eng_job off = {.sql = q, .nsql = 1};
    assert_int_equal(eng_run_jobs(db, &off, 1, 1), 0);
    assert_string_equal(eng_result_str(off.results[0], 0, 0), "false");
    eng_job_release(&off);
    eng_track_progress(db, true);
    struct eng_job on = {.sql = q, .nsql = 1};
    assert_int_equal(eng_run_jobs(db, &on, 1, 1), 0);
    assert_string_equal(eng_result_str(on.results[0], 0, 0), "true");
    eng_job_release(&on);
    assert_int_equal(eng_query_scalar(db, q[0], &v, NULL), 0);
    assert_string_equal(v, "true");
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_progress_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
