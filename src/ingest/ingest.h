/*
 * ingest — getting raw data in: landing files from a source folder (or the
 * pages of a REST API, see rest.c) into the landing zone exactly once, and
 * loading landed batches into the bronze Delta table, with unparseable lines
 * and unreadable files routed to the quarantine table of the source.
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

#include <stdatomic.h>

/* Live counters of a landing in progress, for a progress line that another
 * thread draws (orchestrate/). Updated as pages arrive. */
struct ing_progress {
    _Atomic int64_t pages;         /* REST pages received */
    _Atomic int64_t bytes;         /* bytes received */
    _Atomic int64_t parents_done;  /* child REST sources: parent records done */
    _Atomic int64_t parents_total; /* ... out of; 0 = not a child source */
};

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
    struct ing_progress *progress; /* optional, borrowed: updated while landing */
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

/* Check the name of an archive member (len bytes, not NUL-terminated):
 * refuse an empty or overlong name, an absolute path or drive letter, a
 * '..' segment ('/' or '\\' separated), control characters and invalid
 * UTF-8. 0, or SM_EINVALID saying why. See member.c. */
int ing_member_name_check(const char *name, size_t len, struct sm_err *err) SM_MUST_USE;
/* The name as shown in the lake: control bytes and invalid UTF-8 as '?',
 * at most 4096 bytes. Caller frees. */
char *ing_member_name_shown(const char *name, size_t len);

/* A new batch id, "20261121T132201Z-1a2b3c4d" for a landing at now_ms.
 * Caller frees. */
char *ing_batch_id_new(int64_t now_ms);

/* --- REST sources (rest.c) ----------------------------------------------------
 * ing_land() and ing_load_bronze() hand sources of kind rest to these, so
 * callers see one interface for every kind. */
struct tbl_snapshot;

/* Fetch the API page by page into the landing zone (one batch per run, one
 * landed file per new page), then advance the source's watermark. Pages
 * landed before an error stay landed; the watermark moves only when every
 * page landed. files_seen counts pages fetched, files_landed new ones. */
int ing_rest_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                  struct ing_stats *out, struct sm_err *err) SM_MUST_USE;
/* 0 when the landed page is JSON DuckDB can read; SM_EPARSE with the
 * reason otherwise (the page is then quarantined as a file): DuckDB's, or
 * the HTTP status of a child endpoint's answer that was not a success
 * (a 404 for one parent record). */
int ing_rest_check_page(struct eng_db *db, const struct st_landed *page,
                        struct sm_err *err) SM_MUST_USE;
/* Extract and type the records of pages (readable, in id order) into temp
 * tables of db: the bronze rows (ing_rest_select(b, src, "rows")) and the
 * quarantine rows, in the quarantine table's shape (... "rejects");
 * *out_rejected is their count. bronze is the table's current snapshot or
 * NULL. Drop the tables with ing_rest_unstage().
 *
 * *out_lazy says that the rows are a view that reads the pages when it is
 * read, with types DuckDB inferred from a sample of them: reading it can
 * then fail on a page whose values do not fit, and the caller should
 * unstage and stage again with general set, which reads and types every
 * record before returning. */
int ing_rest_stage(struct eng_db *db, const struct prj_project *p, const struct prj_source *src,
                   const struct tbl_snapshot *bronze, const struct st_landed **pages, size_t n,
                   const char *ingested_at, bool general, int64_t *out_rejected, bool *out_lazy,
                   struct sm_err *err) SM_MUST_USE;
void ing_rest_select(struct sm_buf *b, const struct prj_source *src, const char *what);
void ing_rest_unstage(struct eng_db *db, const struct prj_source *src);

#endif
