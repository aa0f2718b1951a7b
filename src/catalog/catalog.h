/*
 * catalog — which tables exist and how DuckDB sees them. The lake directory
 * is the truth (every <lake>/<zone>/<name>/_delta_log is a table); the
 * `tables` rows in state.db mirror it for listing and the API.
 *
 *     cat_attach_lake(db, lake, &err);      // views bronze.x, silver.y, ...
 *     cat_attach_table(db, "gold", "daily_sales", loc, 3, &snap, &err);  // as of v3
 *
 * For an ad-hoc query, cat_attach_query() attaches every table too, but the
 * view of each table the query names reads only the data files its WHERE
 * clause can match (file pruning, scan.c), and says what it did:
 *
 *     struct cat_query *q;
 *     cat_attach_query(db, lake, state_path, sql, &opts, &q, &err);
 *     // q->scans[i]: gold.daily_sales, 1 of 31 files, ...
 *     cat_query_free(q);
 */
#ifndef SM_CATALOG_H
#define SM_CATALOG_H

#include "engine/engine.h"
#include "state/state.h"
#include "table/table.h"
#include "util/util.h"

extern const char *const cat_zones[]; /* bronze, silver, gold, quarantine; NULL-terminated */

/* Location of zone.name in the lake. Caller frees. */
char *cat_location(const char *lake, const char *zone, const char *name);

/* Location in the lake of a qualified "zone.name" (which must contain a
 * dot). Caller frees. */
char *cat_location_of(const char *lake, const char *qualified);

/* Create (or replace) the view zone.name over the table at location as of
 * version (-1 = latest). If out_snap is non-NULL the snapshot is handed to
 * the caller (who frees it). */
int cat_attach_table(struct eng_db *db, const char *zone, const char *name, const char *location,
                     int64_t version, struct tbl_snapshot **out_snap,
                     struct sm_err *err) SM_MUST_USE;

/* Create (or replace) the view zone.name over snap's data files, only
 * those with keep[i] when keep is non-NULL. */
int cat_attach_snapshot(struct eng_db *db, const char *zone, const char *name,
                        const struct tbl_snapshot *snap, const bool *keep,
                        struct sm_err *err) SM_MUST_USE;

/* Attach every table found in the lake at its latest version. */
int cat_attach_lake(struct eng_db *db, const char *lake, struct sm_err *err) SM_MUST_USE;

/* Attach every table of the lake, then the external tables registered in
 * state.db by `smelt crawl` (if state_path exists). */
int cat_attach_all(struct eng_db *db, const char *lake, const char *state_path,
                   struct sm_err *err) SM_MUST_USE;

/* Resolve "zone.name" to a table location: the lake's own table, else a
 * registered external one. Caller frees *out. SM_ENOTFOUND with a hint. */
int cat_resolve(const char *lake, const char *state_path, const char *qualified, char **out,
                struct sm_err *err) SM_MUST_USE;

/* --- the tables an ad-hoc query reads (scan.c) ------------------------------ */

/* One table a query names, and what its view reads. */
struct cat_scan {
    char *name;     /* "zone.table" as the query first names it */
    char *location; /* the table's root */
    int64_t version;
    size_t files_total, files_scanned;
    size_t pruned_partition;          /* files skipped by their partition values */
    size_t pruned_stats;              /* ... by their column statistics */
    int64_t rows_total, rows_scanned; /* from numRecords; -1 when a file has none */
    int64_t bytes_total, bytes_scanned;
    /* per reference to the table in the query: the predicates used for
     * pruning, as SQL joined by " AND ", or NULL when there were none */
    char **filters;
    size_t nrefs;
    char *note; /* why the table is read whole after all, or NULL */
};

struct cat_query {
    struct cat_scan *scans; /* sorted by name */
    size_t nscans;
    /* DuckDB's reason when the SQL has no parse tree (only SELECT statements
     * have one): then no table is pruned. NULL otherwise. */
    char *unparsed;
    size_t nstatements; /* in the parse tree */
};

/* Tables opened before DuckDB is needed, e.g. on one thread while another
 * starts the engine (the Delta logs are read in the ~12 ms DuckDB takes to
 * open): each zone.name written in sql's text, found by a scan of its words
 * (strings and comments skipped) without a parse tree, so a guess that
 * cat_attach_query() checks. At most 16, at their latest versions; a table
 * whose log needs its checkpoint read (through DuckDB) is left out. Never
 * fails: whatever cannot be opened is opened again, or reported, later. */
struct cat_preopened;
struct cat_preopened *cat_preopen(const char *lake, const char *state_path, const char *sql);
void cat_preopened_free(struct cat_preopened *pre);

struct cat_query_opts {
    int64_t version; /* --as-of VERSION for the tables the query names, or -1 */
    int64_t ts_ms;   /* --as-of TIMESTAMP (ms since the epoch), or -1 */
    bool no_prune;   /* read every table whole */
    struct cat_preopened *pre; /* cat_preopen() of the same sql, or NULL: the
                                  snapshots the query uses are taken from it */
};

/* Attach every table (cat_attach_all()), the ones sql names as pruned
 * views: from the top-level AND of each SELECT's WHERE clause, DuckDB's parse
 * tree (json_serialize_sql) gives the simple predicates on a table's
 * columns, and only data files that may match them are read. With an as-of
 * option the named tables are read at that version, and a name that is not
 * a table, or SQL without a parse tree, is an error; without one, DuckDB
 * reports those when the query runs. *out (free with cat_query_free())
 * describes the named tables. */
int cat_attach_query(struct eng_db *db, const char *lake, const char *state_path, const char *sql,
                     const struct cat_query_opts *opts, struct cat_query **out,
                     struct sm_err *err) SM_MUST_USE;
void cat_query_free(struct cat_query *q);

/* Record snap as zone.name in state's catalog. */
int cat_record(struct st_db *st, const char *zone, const char *name,
               const struct tbl_snapshot *snap, struct sm_err *err) SM_MUST_USE;

#endif
