/*
 * engine — the only module that talks to DuckDB (the data plane). It opens an
 * in-process database, runs SQL, and hands results back as plain C values, so
 * that no other module includes duckdb.h.
 *
 *     struct eng_db *db;
 *     struct eng_config cfg = {.memory_limit = "4GB", .threads = 2};
 *     if (eng_open(&cfg, &db, &err)) ...
 *     struct eng_result *r;
 *     if (eng_query(db, "SELECT 42 AS x", &r, &err)) ...
 *     printf("%s\n", eng_result_str(r, 0, 0));    // "42"
 *     eng_result_free(r);
 *     eng_close(db);
 *
 * Results are materialized as strings: every cell is its VARCHAR rendering
 * (NULL is a NULL pointer); MAP, STRUCT and LIST cells are rendered as JSON
 * text, so RETURN_STATS of COPY can be read (duckdb_value_varchar would give
 * NULL for them).
 */
#ifndef SM_ENGINE_H
#define SM_ENGINE_H

#include "util/util.h"

struct eng_db;
struct eng_result;

struct eng_config {
    const char *memory_limit;   /* e.g. "4GB"; NULL = DuckDB default */
    int threads;                /* 0 = DuckDB default */
    const char *temp_directory; /* NULL = DuckDB default */
};

/* Open an in-memory database with one connection. Free with eng_close(). */
int eng_open(const struct eng_config *cfg, struct eng_db **out, struct sm_err *err) SM_MUST_USE;
void eng_close(struct eng_db *db);

/* Run SQL that returns nothing of interest. DuckDB's error text is kept. */
int eng_exec(struct eng_db *db, const char *sql, struct sm_err *err) SM_MUST_USE;
int eng_execf(struct eng_db *db, struct sm_err *err, const char *fmt, ...) SM_PRINTF(3, 4);

/* Run SQL and materialize its result. The caller frees *out with
 * eng_result_free(). */
int eng_query(struct eng_db *db, const char *sql, struct eng_result **out,
              struct sm_err *err) SM_MUST_USE;

/* Run SQL that yields one row with one column; *out is a new string (NULL for
 * a SQL NULL). Errors when there is not exactly one row. */
int eng_query_scalar(struct eng_db *db, const char *sql, char **out, struct sm_err *err) SM_MUST_USE;
/* Same for an integer value. */
int eng_query_i64(struct eng_db *db, const char *sql, int64_t *out, struct sm_err *err) SM_MUST_USE;

/* DuckDB's memory_limit in bytes, as DuckDB reads the setting; 0 when it
 * cannot be told. */
int64_t eng_memory_limit(struct eng_db *db);

size_t eng_result_nrows(const struct eng_result *r);
size_t eng_result_ncols(const struct eng_result *r);
const char *eng_result_colname(const struct eng_result *r, size_t col);
/* SQL type name of a column, e.g. "BIGINT", "DECIMAL(12,2)". */
const char *eng_result_coltype(const struct eng_result *r, size_t col);
/* True when the column type is numeric (for right alignment, JSON output). */
bool eng_result_col_is_numeric(const struct eng_result *r, size_t col);
/* Borrowed cell text, NULL for SQL NULL. */
const char *eng_result_str(const struct eng_result *r, size_t col, size_t row);
/* Index of the column named name, or -1. */
int eng_result_colidx(const struct eng_result *r, const char *name);
void eng_result_free(struct eng_result *r);

/*
 * Jobs: SQL run on connections of their own, several at once, for work that
 * DuckDB itself would run on one thread (a streaming row_number() keeps its
 * scan on one thread, so two of them in one query do not run side by side).
 * Every connection sees the database's tables but not the temporary tables
 * of the others (nor of the main connection).
 *
 *     struct eng_job jobs[2] = {{.sql = a, .nsql = 2}, {.sql = b, .nsql = 2}};
 *     eng_run_jobs(db, jobs, 2, threads);
 *     ... jobs[i].results[k] is statement k's result; jobs[i].err why it failed
 *     eng_job_release(&jobs[0]); eng_job_release(&jobs[1]);
 */
struct eng_job {
    const char *const *sql; /* in: statements run in order; a failure ends the job */
    size_t nsql;
    struct eng_result **results; /* out: one per statement (NULL when not run) */
    int rc;                      /* out: 0, or why the job failed (err) */
    struct sm_err err;
};
/* Run n jobs on at most nconn connections at once, each job on one
 * connection, and wait for all of them. Returns the first failed job's rc
 * (each job keeps its own rc and err). Free each job's results with
 * eng_job_release(). eng_interrupt() stops them; eng_progress() reports
 * their average progress while they run. */
int eng_run_jobs(struct eng_db *db, struct eng_job *jobs, size_t n, int nconn);
void eng_job_release(struct eng_job *j);

/* Stop the running query (from another thread or a signal handler). */
void eng_interrupt(struct eng_db *db);
/* Percentage done of the running query, or -1: only while
 * eng_track_progress() is on (it is off when the database is opened), as
 * tracking costs DuckDB some work all along each query. */
double eng_progress(struct eng_db *db);
void eng_track_progress(struct eng_db *db, bool on);

/* DuckDB's library version string. */
const char *eng_version(void);

#endif
