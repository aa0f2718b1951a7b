/*
 * ingest — getting raw data in: landing files from a source folder into the
 * landing zone exactly once, and loading landed batches into the bronze
 * Delta table, with unparseable lines and unreadable files routed to the
 * quarantine table of the source.
 *
 *     struct ing_stats s = {0};
 *     ing_land(st, project, source, &s, &err);          // landing zone
 *     ing_load_bronze(db, st, project, source, ts, &s, &err);   // bronze + quarantine
 *
 * Landing protocol (crash-safe, see docs/lake.md):
 *   copy+hash to lake/landing/<src>/_incoming/<rand> ->
 *   known hash? drop the copy : record intent (state "landing") ->
 *   rename into lake/landing/<src>/<yyyy>/<mm>/<dd>/<batch_id>/<name> ->
 *   write _manifest.json -> mark "landed".
 * An intent left by a crash is finished on the next run.
 *
 * Bronze loads landed files in id order; the bronze commit carries a Delta
 * txn action (appId "smelt:bronze.<src>", version = highest landed-file id
 * loaded), so a load that committed is never applied twice.
 */
#ifndef SM_INGEST_H
#define SM_INGEST_H

#include "engine/engine.h"
#include "project/project.h"
#include "state/state.h"
#include "util/util.h"

struct ing_stats {
    int64_t files_seen;
    int64_t files_landed;
    int64_t bytes_landed;
    int64_t files_loaded;     /* bronze: landed files read */
    int64_t rows_in;          /* bronze: rows read (good + rejected) */
    int64_t rows_out;         /* bronze: rows appended */
    int64_t rows_quarantined; /* bronze: lines + files sent to quarantine */
    int64_t files_quarantined;
    bool committed;           /* bronze: a commit was written */
};

/* Land new files of src. SM_ENOTFOUND with a clear message when the source
 * folder does not exist. */
int ing_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
             struct ing_stats *out, struct sm_err *err) SM_MUST_USE;

/* Load landed files of src not yet in bronze. ingested_at is the run's
 * timestamp ("YYYY-MM-DD HH:MM:SS.fff"), stored in _ingested_at. */
int ing_load_bronze(struct eng_db *db, struct st_db *st, const struct prj_project *p,
                    const struct prj_source *src, const char *ingested_at, struct ing_stats *out,
                    struct sm_err *err) SM_MUST_USE;

/* Locations of a source's tables: "<lake>/bronze/<src>", "<lake>/quarantine/<src>". */
char *ing_bronze_location(const struct prj_project *p, const char *src);
char *ing_quarantine_location(const struct prj_project *p, const char *src);

/* Check that a gzip file is complete and uncorrupted (DuckDB reads a
 * truncated gzip stream without complaint). 0, or SM_EPARSE with why. */
int ing_check_gzip(const char *path, struct sm_err *err) SM_MUST_USE;

#endif
