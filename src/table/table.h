/*
 * table — Delta Lake tables: log replay into a snapshot, writing data files
 * through the engine, and atomic put-if-absent commits. The log format smelt
 * writes is documented in docs/internals/delta.md; the protocol is
 * delta-io/delta PROTOCOL.md.
 *
 * Writing a table (one task = one commit):
 *
 *     struct tbl_snapshot *snap = NULL;
 *     tbl_snapshot_open(loc, -1, &snap, &err);        // SM_ENOTFOUND if new
 *     struct tbl_commit *c = tbl_commit_new("WRITE");
 *     tbl_write_select(db, loc, "SELECT ...", "day", c, &err);  // files + schema
 *     tbl_commit_remove_all(c, snap);                  // overwrite
 *     tbl_commit_set_txn(c, "smelt:silver.orders", 7);
 *     tbl_commit_write(c, loc, snap ? snap->version : -1, &version, &err);
 *     tbl_commit_free(c);
 *     tbl_snapshot_free(snap);
 *
 * Reading: tbl_snapshot_view_sql() gives a SELECT over the snapshot's files
 * that DuckDB runs (partition values come from the add actions).
 */
#ifndef SM_TABLE_H
#define SM_TABLE_H

#include "engine/engine.h"
#include "util/util.h"

struct tbl_column {
    char *name;
    char *delta_type; /* "long", "string", "decimal(10,2)", "timestamp_ntz", ... */
    char *sql_type;   /* the DuckDB type it reads back as */
    char *physical_name; /* name in the Parquet files (column mapping), else = name */
    char *read_sql;      /* a struct, list or map whose nested fields column mapping renames:
                            the SQL expression over physical_name giving the logical value */
    bool nullable;
};

struct tbl_file {
    char *path;       /* relative to the table root, decoded (not URL-encoded) */
    int64_t size;
    int64_t modification_time;
    char *partition_values; /* JSON object text, e.g. {"day":"2026-01-01"} */
    char *stats;            /* JSON text or NULL */
    int64_t num_records;    /* -1 when the add has no stats */
    char *deletion_vector;  /* descriptor JSON, or NULL */
    uint64_t *deleted_rows; /* decoded deletion vector: sorted row indexes */
    size_t ndeleted;
};

struct tbl_snapshot {
    char *location; /* absolute path of the table root */
    int64_t version;
    char *table_id;
    char *schema_string; /* metaData.schemaString as written */
    struct tbl_column *columns;
    size_t ncolumns;
    char **partition_columns;
    size_t npartition_columns;
    struct tbl_file *files; /* the live files at this version */
    size_t nfiles;
    int64_t num_records; /* sum of numRecords (exact when every add has stats) */
    int64_t checkpoint_version; /* replay started from this checkpoint, or -1 */
    char *column_mapping;       /* "name" | "id" | NULL */
    char *protocol_json;        /* the protocol action's value, as JSON text */
    char *metadata_json;        /* the metaData action's value, as JSON text */
    int64_t checkpoint_interval; /* delta.checkpointInterval, default 10 */
    char *commit_info;   /* commitInfo JSON of this version, or NULL */
    int64_t commit_timestamp;
    /* txn actions: appId -> highest version */
    char **txn_app_ids;
    int64_t *txn_versions;
    size_t ntxn;
};

/* Replay the log of the table at location up to version (-1 = latest).
 * SM_ENOTFOUND when there is no _delta_log or no such version. Caller frees
 * with tbl_snapshot_free(). */
int tbl_snapshot_open(const char *location, int64_t version, struct tbl_snapshot **out,
                      struct sm_err *err) SM_MUST_USE;
void tbl_snapshot_free(struct tbl_snapshot *s);
/* The txn version recorded for app_id, or -1. */
int64_t tbl_snapshot_txn(const struct tbl_snapshot *s, const char *app_id);
/* A string field of the snapshot version's commitInfo ("smelt.inputs"...),
 * or NULL. Borrowed until the snapshot is freed... returned malloc'd: caller
 * frees. */
char *tbl_snapshot_commit_field(const struct tbl_snapshot *s, const char *key);
/* Append to b a SELECT that reads the snapshot in DuckDB with the table's
 * columns in schema order. */
void tbl_snapshot_view_sql(const struct tbl_snapshot *s, struct sm_buf *b);

/* Read checkpoints through db (borrowed until tbl_use_engine(NULL)) rather
 * than through the private DuckDB instance this module otherwise opens on
 * first need: a short command saves opening a second database (about 10 ms).
 * Only while nothing else uses db's connection: it runs one query at a time. */
void tbl_use_engine(struct eng_db *db);
/* On this thread, until called with false: whatever would need DuckDB
 * (reading or writing a checkpoint) fails with SM_ECANCELLED instead, so
 * that tables can be opened while the engine is still starting. */
void tbl_without_engine(bool on);

/* Latest version number of the table, cheap (directory listing only), or -1
 * when there is no table. Counts commits and checkpoints. */
int64_t tbl_latest_version(const char *location);

/* One version of a table, as `smelt history` shows it. */
struct tbl_version_info {
    int64_t version;
    int64_t timestamp; /* commitInfo.timestamp, ms since the epoch (0 if absent) */
    char *operation;   /* commitInfo.operation or NULL */
    int64_t files_added, files_removed;
    int64_t rows_added;   /* sum of numRecords over adds (-1 when some add lacks stats) */
    int64_t rows_removed; /* from removes' stats or operationMetrics, -1 when unknown */
};
/* Every version still described by a JSON commit, oldest first. Free with
 * tbl_history_free(). */
int tbl_history(const char *location, struct tbl_version_info **out, size_t *n,
                struct sm_err *err) SM_MUST_USE;
void tbl_history_free(struct tbl_version_info *h, size_t n);
/* The latest version committed at or before ts_ms (commitInfo timestamps).
 * SM_ENOTFOUND when the table did not exist yet at ts_ms. */
int tbl_version_at(const char *location, int64_t ts_ms, int64_t *out,
                   struct sm_err *err) SM_MUST_USE;

/* Write a classic single-file Parquet checkpoint of snap at its version and
 * point _last_checkpoint at it. Commits call this every checkpoint_interval
 * versions; replay then starts there, so opening a table costs the same
 * whatever its age. */
int tbl_checkpoint_write(const struct tbl_snapshot *snap, struct sm_err *err) SM_MUST_USE;

/* --- writing ------------------------------------------------------------- */
struct tbl_commit;

/* operation is Delta's commitInfo.operation: "WRITE", "CREATE TABLE"... */
struct tbl_commit *tbl_commit_new(const char *operation);
void tbl_commit_free(struct tbl_commit *c);

/* Run select_sql and write its rows as Parquet data files under location
 * (hive-style directories when partition_by is non-NULL), adding one add
 * action per file with stats, and the table schema (metaData) derived from
 * the query's column types. Columns of types Delta lacks are cast to the
 * nearest Delta type. *out_rows gets the number of rows written. */
int tbl_write_select(struct eng_db *db, const char *location, const char *select_sql,
                     const char *partition_by, struct tbl_commit *c, int64_t *out_rows,
                     struct sm_err *err) SM_MUST_USE;
/* The same in two steps, for running the COPY on another connection
 * (eng_run_jobs): tbl_write_prepare() describes select_sql and builds the
 * COPY that writes its rows to one new data file under location
 * (tbl_write_sql(), tbl_write_path()); tbl_write_record() adds that file to
 * c from the COPY's result (its RETURN_STATS rows). A file that is not
 * recorded is not part of the table: remove it. Free with tbl_write_free(). */
struct tbl_write;
int tbl_write_prepare(struct eng_db *db, const char *location, const char *select_sql,
                      struct tbl_write **out, struct sm_err *err) SM_MUST_USE;
const char *tbl_write_sql(const struct tbl_write *w);
const char *tbl_write_path(const struct tbl_write *w);
int tbl_write_record(const struct tbl_write *w, struct tbl_commit *c, const struct eng_result *r,
                     int64_t *out_rows, struct sm_err *err) SM_MUST_USE;
void tbl_write_free(struct tbl_write *w);
/* Remove every live file of snap (an overwrite). snap may be NULL. */
void tbl_commit_remove_all(struct tbl_commit *c, const struct tbl_snapshot *snap);
/* Remove one live file / add an existing file back (RESTORE, OPTIMIZE). */
void tbl_commit_remove_file(struct tbl_commit *c, const struct tbl_file *f);
void tbl_commit_add_file(struct tbl_commit *c, const struct tbl_file *f);
/* Use snap's schema and partitioning for this commit's metaData. */
void tbl_commit_set_schema(struct tbl_commit *c, const struct tbl_snapshot *snap);
/* dataChange=false marks a rewrite that changes no rows (OPTIMIZE); call
 * before adding or removing files. */
void tbl_commit_set_data_change(struct tbl_commit *c, bool data_change);
/* Record a txn action (exactly-once marker for app_id). */
void tbl_commit_set_txn(struct tbl_commit *c, const char *app_id, int64_t version);
/* Add key: value (value is a string) to commitInfo. */
void tbl_commit_set_info(struct tbl_commit *c, const char *key, const char *value);
/* Counters for commitInfo.operationMetrics and the caller's summary. */
int64_t tbl_commit_rows_added(const struct tbl_commit *c);
size_t tbl_commit_files_added(const struct tbl_commit *c);
/* Write the commit as version read_version + 1 (0 for a new table),
 * atomically and only if that version does not exist yet. If another writer
 * got there first: SM_ECONFLICT. A commit that adds nothing, removes nothing
 * and has no metadata change is still written (callers skip empty work). */
int tbl_commit_write(struct tbl_commit *c, const char *location, int64_t read_version,
                     const struct tbl_snapshot *read_snap, int64_t *out_version,
                     struct sm_err *err) SM_MUST_USE;

/* --- changes (changes.c) --------------------------------------------------- */

/* What commits from_version+1 .. to_version changed: the files they added
 * and removed with dataChange=true (OPTIMIZE-style rewrites are left out).
 * Removed files are described by the add that created them and must still
 * exist (not vacuumed). from_version -1 means from the beginning.
 * SM_ENOTFOUND when a commit of the range or a removed file is gone: the
 * caller falls back to reading the whole table. */
struct tbl_changes {
    struct tbl_file *added;
    size_t nadded;
    struct tbl_file *removed;
    size_t nremoved;
    bool metadata_changed; /* a metaData action (schema change) in the range */
};
int tbl_changes_read(const char *location, int64_t from_version, int64_t to_version,
                     struct tbl_changes *out, struct sm_err *err) SM_MUST_USE;
void tbl_changes_release(struct tbl_changes *c);

/* Append to b a SELECT over just the given files, read with s's schema and
 * partitioning (files need not be live in s: changes, candidates). */
void tbl_files_view_sql(const struct tbl_snapshot *s, const struct tbl_file *files, size_t n,
                        struct sm_buf *b);

/* Which of the n files can hold a row whose columns cols[k] equal
 * key_cols[k] of some row of keys_rel (an SQL relation: a table name or a
 * parenthesized SELECT)? Partition values are compared exactly and min/max
 * stats as ranges, one key column at a time, without reading data files;
 * a file without usable stats for a column always matches. match[i] is
 * set for each file. */
int tbl_files_matching(struct eng_db *db, const struct tbl_snapshot *s, const struct tbl_file *files,
                       size_t n, char *const *cols, char *const *key_cols, size_t ncols,
                       const char *keys_rel, bool *match, struct sm_err *err) SM_MUST_USE;

/* How to compare a table's key column with a key column of keys_rel in a
 * join: "=" when no key column of keys_rel holds a NULL, else "IS NOT
 * DISTINCT FROM" (a NULL key matches a NULL). "=" lets DuckDB push the
 * join's keys into the Parquet scan as a filter, so a few keys read a few
 * row groups; with IS NOT DISTINCT FROM it reads every row of every
 * column. *out_op is a string constant. */
int tbl_key_match_op(struct eng_db *db, const char *keys_rel, char *const *key_cols, size_t ncols,
                     const char **out_op, struct sm_err *err) SM_MUST_USE;

/* Narrow match[] (as tbl_files_matching left it) to the files that hold a
 * key for certain, by reading just the key columns of the matched files
 * (stats cannot tell when two key ranges interleave, e.g. ids from two
 * systems in one file). Leaves match[] as it is when the files cannot be
 * read that way (deletion vectors, column mapping, a key that is a
 * partition column). */
int tbl_files_holding(struct eng_db *db, const struct tbl_snapshot *s, const struct tbl_file *files,
                      size_t n, char *const *cols, char *const *key_cols, size_t ncols,
                      const char *keys_rel, bool *match, struct sm_err *err) SM_MUST_USE;

/* --- file pruning (prune.c) ------------------------------------------------ */

/* A query's WHERE clause, reduced to what file pruning understands: a
 * conjunction of simple predicates on one table's columns. The caller (the
 * catalog, from DuckDB's parse tree) finds them; this module decides, from
 * each add action's partition values and column statistics, which data files
 * cannot hold a row for which all of them are true:
 *
 *     struct tbl_lit day = {TBL_LIT_DATE, "2026-01-30"};
 *     struct tbl_pred p = {.column = "day", .op = TBL_PRED_EQ, .args = &day, .nargs = 1};
 *     bool *keep = sm_calloc(snap->nfiles, sizeof(bool));
 *     for (size_t i = 0; i < snap->nfiles; i++)
 *         keep[i] = tbl_file_prune(snap, &snap->files[i], &p, 1) == TBL_PRUNE_KEEP;
 *     tbl_snapshot_view_sql_files(snap, keep, &sql);
 *
 * Pruning never changes a query's answer: whatever is unknown (no stats, a
 * type or literal it cannot compare exactly, a string max that may have been
 * truncated) keeps the file. */

/* A literal as the query wrote it. */
enum tbl_lit_kind {
    TBL_LIT_NULL,
    TBL_LIT_NUMBER,      /* an integer or decimal literal: text "-1.5" */
    TBL_LIT_STRING,      /* a string literal; DuckDB casts it to the column's type */
    TBL_LIT_DATE,        /* DATE '2026-01-30' */
    TBL_LIT_TIMESTAMP,   /* TIMESTAMP '2026-01-30 10:00:00' */
    TBL_LIT_TIMESTAMPTZ, /* TIMESTAMPTZ '2026-01-30 10:00:00+02' */
};

struct tbl_lit {
    enum tbl_lit_kind kind;
    char *text; /* NULL for TBL_LIT_NULL */
};

enum tbl_pred_op {
    TBL_PRED_EQ, /* column = args[0] */
    TBL_PRED_LT,
    TBL_PRED_LE,
    TBL_PRED_GT,
    TBL_PRED_GE,
    TBL_PRED_IN,       /* column IN (args[0], ...) */
    TBL_PRED_BETWEEN,  /* column BETWEEN args[0] AND args[1] */
    TBL_PRED_IS_NULL,  /* no args */
    TBL_PRED_NOT_NULL, /* no args */
};

struct tbl_pred {
    char *column; /* the table's (logical) column name, as in snap->columns */
    enum tbl_pred_op op;
    struct tbl_lit *args;
    size_t nargs;
};

/* Free the strings and args of n predicates and the array itself. */
void tbl_preds_free(struct tbl_pred *p, size_t n);
/* Append p as SQL text for people: day = DATE '2026-01-30', id IN (1, 2). */
void tbl_pred_format(const struct tbl_pred *p, struct sm_buf *b);

enum tbl_prune { TBL_PRUNE_KEEP, TBL_PRUNE_PARTITION, TBL_PRUNE_STATS };
/* Whether file f of s may hold a row matching every predicate (KEEP), or
 * cannot, by its partition values (PARTITION) or by its column statistics
 * (numRecords, minValues, maxValues, nullCount: STATS). */
enum tbl_prune tbl_file_prune(const struct tbl_snapshot *s, const struct tbl_file *f,
                              const struct tbl_pred *preds, size_t n);

/* TBL_CMP_UNKNOWN: the two cannot be ordered with certainty. */
#define TBL_CMP_UNKNOWN 2
/* Compare value, a value of a column of Delta type delta_type as the log
 * writes it (a partition value, or a stats min/max as JSON text: 5, 1.25,
 * "abc", "2026-01-30T10:00:00.000Z"), with lit, as DuckDB compares the
 * column with the literal: -1, 0, 1, or TBL_CMP_UNKNOWN (unsupported type,
 * unparsable text, a literal DuckDB would cast differently, or numbers too
 * close to tell apart after rounding). */
int tbl_value_cmp(const char *delta_type, const char *value, const struct tbl_lit *lit);

/* Parse "YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|+HH[:MM]|-HH[:MM]]" into
 * microseconds since 1970-01-01 (an offset is applied, giving UTC);
 * *has_offset (may be NULL) tells whether the text had one. False when s is
 * not such a timestamp, or has more than 6 fractional digits. */
bool tbl_parse_timestamp(const char *s, int64_t *out_us, bool *has_offset);

/* tbl_snapshot_view_sql() over the files i with keep[i] only (keep NULL:
 * all). With no file kept, the view has the table's columns and no rows. */
void tbl_snapshot_view_sql_files(const struct tbl_snapshot *s, const bool *keep, struct sm_buf *b);

/* --- maintenance (maintain.c) ---------------------------------------------- */

/* Make the table's content equal version `version` again, in one new commit
 * (operation RESTORE). */
int tbl_restore(const char *location, int64_t version, int64_t *out_version,
                struct sm_err *err) SM_MUST_USE;

struct tbl_vacuum_result {
    size_t files_deleted;
    int64_t bytes_deleted;
    size_t files_kept;
};
/* Delete data files no version within the last retain_hours references
 * (live files and files removed less than retain_hours ago are kept, as are
 * files younger than that, which a concurrent writer may be committing).
 * dry_run lists without deleting. Each deleted (or would-be deleted) path is
 * passed to on_file if non-NULL. */
int tbl_vacuum(const char *location, double retain_hours, bool dry_run,
               void (*on_file)(const char *path, void *ctx), void *ctx,
               struct tbl_vacuum_result *out, struct sm_err *err) SM_MUST_USE;

struct tbl_optimize_result {
    size_t files_removed, files_added;
    int64_t version; /* -1 when nothing needed compacting */
};
/* Bin-pack small files of each partition into files of about target_bytes,
 * one commit with dataChange=false (operation OPTIMIZE). */
int tbl_optimize(struct eng_db *db, const char *location, int64_t target_bytes,
                 struct tbl_optimize_result *out, struct sm_err *err) SM_MUST_USE;

#endif
