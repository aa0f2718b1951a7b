/*
 * catalog — which tables exist and how DuckDB sees them. The lake directory
 * is the truth (every <lake>/<zone>/<name>/_delta_log is a table); the
 * `tables` rows in state.db mirror it for listing and the API.
 *
 *     cat_attach_lake(db, lake, &err);      // views bronze.x, silver.y, ...
 *     cat_attach_table(db, "gold", "daily_sales", loc, 3, &snap, &err);  // as of v3
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

/* Record snap as zone.name in state's catalog. */
int cat_record(struct st_db *st, const char *zone, const char *name,
               const struct tbl_snapshot *snap, struct sm_err *err) SM_MUST_USE;

#endif
