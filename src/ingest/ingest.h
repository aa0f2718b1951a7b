/*
 * ingest — getting raw data in: landing files from a source folder (or the
 * pages of a REST API, see rest.c) into the landing zone exactly once, and
 * loading landed batches into the bronze Delta table, with unparseable lines
 * and unreadable files routed to the quarantine table of the source.
 *
 *     struct ing_stats s = {0};
 *     ing_land(st, project, source, NULL, &s, &err);    // landing zone
 *     ing_load_bronze(db, st, project, source, ts, NULL, &s, &err);  // bronze + quarantine
 *
 *     struct ing_load_options rb = {.rebuild = true};    // bronze again, from landing alone
 *     ing_load_bronze(db, st, project, source, ts, &rb, &s, &err);
 *     ing_reprocess(st, project, source, "incoming/x/a.csv", &s, &err);  // land a file again
 *     ing_infer_columns(db, project, source, &cols, &n, &nfiles, &err);  // --infer
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
 * loaded), so a load that committed is never applied twice. How a load
 * reads, checks the schema and numbers lines is in load.c.
 */
#ifndef SM_INGEST_H
#define SM_INGEST_H

#include "engine/engine.h"
#include "project/project.h"
#include "state/state.h"
#include "util/util.h"

#include <stdatomic.h>

/* How far a task has got, for a progress line that another thread draws
 * (orchestrate/): written by the task from any of its threads. A landing
 * of files or a bronze load counts done out of total (0: not known yet) in
 * unit; a REST landing counts the pages and bytes received instead, and a
 * child REST source the parent records done. */
enum ing_progress_unit { ING_PROGRESS_BYTES, ING_PROGRESS_ROWS };
struct ing_progress {
    _Atomic int64_t done;
    _Atomic int64_t total;
    _Atomic int unit;              /* enum ing_progress_unit */
    _Atomic int64_t pages;         /* REST pages received */
    _Atomic int64_t bytes;         /* REST bytes received */
    _Atomic int64_t parents_done;  /* child REST sources: parent records done */
    _Atomic int64_t parents_total; /* ... out of; 0 = not a child source */
};

/* Zero every counter of pg and set its unit. */
void ing_progress_init(struct ing_progress *pg, enum ing_progress_unit unit);

struct ing_stats {
    struct ing_progress *progress; /* in: where to report progress, or NULL */
    int64_t files_seen;
    int64_t files_landed;
    int64_t bytes_landed;
    int64_t files_loaded;      /* bronze: landed files read */
    int64_t rows_in;           /* bronze: rows read (good + rejected) */
    int64_t rows_out;          /* bronze: rows appended */
    int64_t rows_quarantined;  /* bronze: lines + files sent to quarantine */
    int64_t files_quarantined; /* bronze: unreadable files (and members) quarantined */
    int64_t files_drifted;     /* bronze: files quarantined by schema_drift: quarantine */
    int64_t columns_added;     /* bronze: new columns (schema_drift: evolve) */
    bool committed;            /* bronze: a commit was written */
};

/* How ing_load_bronze() loads. */
struct ing_load_options {
    /* Replace bronze.<src> and quarantine.<src> with a reload of every file
     * (page) landed for src, one overwrite commit each, reading nothing but
     * the landing zone. Each batch keeps the _ingested_at (and
     * _quarantined_at) the tables had for it, so a rebuild of unchanged
     * files gives the same rows. */
    bool rebuild;
    /* The overlap the landing fed (not with rebuild), or NULL. */
    struct ing_overlap *overlap;
};

/*
 * Bronze while landing (overlap.c). The bronze load of a REST source can
 * start on the pages landed so far while later ones arrive, on a thread of
 * its own: start an overlap before the landing and hand it to ing_land(),
 * which gives it each page once the page is recorded, then to
 * ing_load_bronze(), which commits the data files it wrote, in its one
 * commit, when they hold exactly the pages it is to load, and otherwise
 * removes them and loads as it always does. Nobody else may use db from
 * ing_overlap_start() until ing_load_bronze() (or ing_overlap_free())
 * returns.
 *
 *     struct ing_overlap *ov = ing_overlap_start(db, project, source, ts);
 *     ing_land(st, project, source, ov, &s, &err);      // ov may be NULL
 *     struct ing_load_options lo = {.overlap = ov};
 *     ing_load_bronze(db, st, project, source, ts, &lo, &s, &err);
 *     ing_overlap_free(ov);
 */
struct ing_overlap;
/* NULL when the source's pages are not read while landing: not a REST
 * source, or one with declared columns or a parent (their records are
 * typed and checked record by record). ingested_at is the run's
 * timestamp, as for ing_load_bronze(); it is borrowed, like the rest. */
struct ing_overlap *ing_overlap_start(struct eng_db *db, const struct prj_project *p,
                                      const struct prj_source *src, const char *ingested_at);
/* Stop the thread and remove the data files no commit took. NULL is a
 * no-op. */
void ing_overlap_free(struct ing_overlap *ov);

/* Land new files of src, handing each to ov (may be NULL) once it is
 * recorded. SM_ENOTFOUND with a clear message when the source folder does
 * not exist. */
int ing_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
             struct ing_overlap *ov, struct ing_stats *out, struct sm_err *err) SM_MUST_USE;

/* Land the file at path once more for src, as a new batch, even though its
 * content (sha256) was landed before: its rows then load into bronze again,
 * beside the earlier ones. path is the file in the source's folder, or its
 * copy in the landing zone (for REST sources, a landed page). Relative paths
 * are taken from the current folder, then from the project folder. */
int ing_reprocess(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                  const char *path, struct ing_stats *out, struct sm_err *err) SM_MUST_USE;

/* Load landed files of src not yet in bronze. ingested_at is the run's
 * timestamp ("YYYY-MM-DD HH:MM:SS.fff"), stored in _ingested_at. opt may be
 * NULL (an incremental load). */
int ing_load_bronze(struct eng_db *db, struct st_db *st, const struct prj_project *p,
                    const struct prj_source *src, const char *ingested_at,
                    const struct ing_load_options *opt, struct ing_stats *out,
                    struct sm_err *err) SM_MUST_USE;

/* Columns of a files source as DuckDB finds them in the files of its
 * folder (at most 64 of them, read whole; compressed files and archive
 * members as a load reads them), in file order, with DuckDB types; nested
 * values (JSON objects and arrays) as VARCHAR, which keeps their JSON text.
 * *nfiles gets how many files were read. For CSV and TSV sources that set
 * no date_format (timestamp_format), *out_date_format (*out_timestamp_format)
 * gets the format DuckDB's sniffer found dates (timestamps) written in
 * when that is not ISO 8601, else NULL: the columns read as DATE
 * (TIMESTAMP) only with it. Free *out (names and types) with
 * ing_columns_free(), the formats with free(). */
int ing_infer_columns(struct eng_db *db, const struct prj_project *p, const struct prj_source *src,
                      struct prj_column **out, size_t *n, size_t *nfiles, char **out_date_format,
                      char **out_timestamp_format, struct sm_err *err) SM_MUST_USE;
void ing_columns_free(struct prj_column *cols, size_t n);

/* Locations of a source's tables: "<lake>/bronze/<src>", "<lake>/quarantine/<src>". */
char *ing_bronze_location(const struct prj_project *p, const char *src);
char *ing_quarantine_location(const struct prj_project *p, const char *src);

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

#endif
