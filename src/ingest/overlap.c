/*
 * overlap.c — bronze while landing: the bronze load of a REST source
 * started on the pages landed so far, while later pages are still
 * arriving, so that DuckDB reads and writes on one core while the
 * landing receives on the other.
 *
 * The run starts one before the source lands (ing_overlap_start); the
 * landing hands it each page once the page is synced and recorded in
 * state.db (ing_overlap_add); a thread of its own reads the pages in
 * chunks, each chunk one COPY of its records into one new Parquet file
 * under bronze's folder, by rest.c's fast path with one plan made on the
 * first chunk. Nothing is committed here: ing_load_bronze() takes the
 * files into its one commit (ing_overlap_take) when the pages it is to
 * load are exactly the pages handed over, all written with that plan. In
 * any other case (pages of earlier runs still to load, a page the plan
 * does not fit, a value that does not fit its type, bronze changed) the
 * files are removed and the load reads every page as it would have.
 *
 * Invariants: only recorded pages are read, and the rows are those the
 * load itself would write (the same SELECT), provenance columns
 * included. A data file written here is part of the table only through
 * the load's commit: a crash leaves files no version names, which readers
 * never see and vacuum removes, and the rerun loads the pages again. db
 * is used by the thread alone from ing_overlap_start() until
 * ing_overlap_take() or ing_overlap_free() returns.
 */
#include "ingest_int.h"

#include <pthread.h>

#include "table/table.h"

/* A chunk waits for this many pages and bytes, so that files are not
 * tiny when the reading keeps up. While the landing goes on it takes at
 * most CHUNK_MAX_LANDING bytes: the chunk still being read when the
 * landing ends is read on one thread while the caller waits, so it must
 * be short (16 MB of JSON: about a tenth of a second). What is left then
 * is read in chunks of at most CHUNK_MAX_BYTES, files of bounded size. */
enum { CHUNK_MIN_PAGES = 32 };
#define CHUNK_MIN_BYTES ((int64_t)8 << 20)
#define CHUNK_MAX_LANDING ((int64_t)16 << 20)
#define CHUNK_MAX_BYTES ((int64_t)256 << 20)

struct ing_overlap {
    struct eng_db *db;
    const struct prj_source *src;
    char *bloc;
    struct tbl_snapshot *bronze; /* bronze when the overlap started, or NULL */
    struct ing_times times;
    size_t skip;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running;
    /* Under mu: the pages handed over, in order; how many of them the
     * thread has read, and the bytes of the others; whether the landing is
     * over. */
    struct st_landed **pages;
    size_t npages, alloc, nread;
    int64_t bytes_waiting;
    bool landed;
    bool ended; /* ing_overlap_end() was called */

    /* The thread's own until done. */
    char *threads; /* DuckDB's threads while the landing runs on a core of its own */
    bool failed;   /* the files are not usable: the load reads every page */
    bool planned;
    struct ing_rest_plan plan;
    struct tbl_commit *commit;
    char **files; /* written, to remove unless the load takes them */
    size_t nfiles, falloc;
};

/* Give up: the load reads every page itself. */
static void fail(struct ing_overlap *ov, const char *why)
{
    sm_debug("bronze.%s: not read while landing: %s", ov->src->name, why);
    ov->failed = true;
}

/* Read pages (recorded, in landing order) into one new data file. */
static void read_chunk(struct ing_overlap *ov, struct st_landed *const *pages, size_t n)
{
    const struct st_landed **good = sm_calloc(n ? n : 1, sizeof(*good));
    size_t ngood = 0;
    struct sm_buf q = SM_BUF_INIT;
    struct sm_err e = SM_ERR_INIT;
    struct tbl_write *w = NULL;
    struct eng_result *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (pages[i]->size) /* an empty page has no records, as for the load */
            good[ngood++] = pages[i];
    if (!ngood)
        goto out;
    if (!ov->planned) {
        if (!ing_rest_plan_init(ov->db, ov->src, ov->bronze, good, ngood, &ov->plan)) {
            fail(ov, "the fast path does not apply to the first pages");
            goto out;
        }
        ov->planned = true;
        if (ov->plan.fit) {
            fail(ov, "the pages do not fit bronze's columns as they are");
            goto out;
        }
    }
    for (size_t i = 0; i < ngood; i++)
        if (!ing_rest_plan_fits(&ov->plan, good[i])) {
            fail(ov, "a page has keys the first pages did not have");
            goto out;
        }
    ing_rest_plan_select(&q, &ov->plan, ov->src, good, ngood, ov->skip);
    if (ing_rest_pages_table(ov->db, ov->src, good, ngood, &ov->times, &e) ||
        tbl_write_prepare(ov->db, ov->bloc, q.buf, &w, &e)) {
        fail(ov, e.msg);
        goto out;
    }
    SM_ALLOC_GROW(ov->files, ov->nfiles + 1, ov->falloc);
    ov->files[ov->nfiles++] = sm_strdup(tbl_write_path(w));
    if (eng_query(ov->db, tbl_write_sql(w), &r, &e) || tbl_write_record(w, ov->commit, r, NULL, &e))
        fail(ov, e.msg); /* a value that does not fit the types of the first pages */
out:
    eng_result_free(r);
    tbl_write_free(w);
    sm_buf_release(&q);
    free(good);
}

/* While the landing goes on, DuckDB gets one thread (on), the one that
 * runs the query: the landing has the other core. With more, the query's
 * own thread also polls for its workers' tasks, and takes that core from
 * the landing. Then (off) it gets its threads back for the last pages. */
static void one_thread(struct ing_overlap *ov, bool on)
{
    if (on && !ov->threads) {
        if (eng_query_scalar(ov->db, "SELECT current_setting('threads')", &ov->threads, NULL) ||
            eng_exec(ov->db, "SET threads = 1", NULL))
            sm_debug("bronze.%s: cannot set DuckDB's threads to 1", ov->src->name);
    } else if (!on && ov->threads) {
        char *set = sm_asprintf("SET threads = %s", ov->threads);
        if (eng_exec(ov->db, set, NULL))
            sm_warn("cannot set DuckDB's threads back to %s", ov->threads);
        free(set);
        free(ov->threads);
        ov->threads = NULL;
    }
}

/* read_chunk(), timed for -v. */
static void read_timed(struct ing_overlap *ov, struct st_landed *const *pages, size_t n,
                       const char *when)
{
    double t0 = sm_now();
    read_chunk(ov, pages, n);
    sm_debug("bronze.%s: %zu pages read %s in %.3fs", ov->src->name, n, when, sm_now() - t0);
}

/* How many pages from nread on make the next chunk, and their bytes. */
static size_t next_chunk(const struct ing_overlap *ov, int64_t *out_bytes)
{
    size_t n = 0;
    int64_t bytes = 0;
    int64_t max = ov->landed ? CHUNK_MAX_BYTES : CHUNK_MAX_LANDING;
    while (ov->nread + n < ov->npages && (!n || bytes < max))
        bytes += ov->pages[ov->nread + n++]->size;
    *out_bytes = bytes;
    return n;
}

/* The thread, while the landing goes on: read the pages handed over, a
 * chunk at a time, with DuckDB on this thread alone. What is left when
 * the landing ends is read by ing_overlap_take(), with all of DuckDB's
 * threads. (A lower priority for this thread, so that the landing would
 * lose no time to it, made no difference that could be measured on two
 * cores, and it would starve the reading on a machine busy with other
 * work.) */
static void *overlap_main(void *arg)
{
    struct ing_overlap *ov = arg;
    one_thread(ov, true);
    pthread_mutex_lock(&ov->mu);
    while (!ov->landed) {
        if (ov->failed || ov->npages - ov->nread < CHUNK_MIN_PAGES ||
            ov->bytes_waiting < CHUNK_MIN_BYTES) {
            pthread_cond_wait(&ov->cv, &ov->mu);
            continue;
        }
        int64_t bytes;
        size_t n = next_chunk(ov, &bytes);
        /* ov->pages[nread..] stay put: ing_overlap_add() only appends
         * (the array of pointers may move, what they point to does not) */
        struct st_landed **chunk = sm_calloc(n, sizeof(*chunk));
        memcpy(chunk, ov->pages + ov->nread, n * sizeof(*chunk));
        pthread_mutex_unlock(&ov->mu);
        read_timed(ov, chunk, n, "while landing");
        free(chunk);
        pthread_mutex_lock(&ov->mu);
        ov->nread += n;
        ov->bytes_waiting -= bytes;
    }
    pthread_mutex_unlock(&ov->mu);
    return NULL;
}

struct ing_overlap *ing_overlap_start(struct eng_db *db, const struct prj_project *p,
                                      const struct prj_source *src, const char *ingested_at)
{
    if (strcmp(src->kind, "rest") || src->ncolumns || src->rest.parent)
        return NULL; /* read by the general path, or (a child) with its parent's columns */
    struct ing_overlap *ov = sm_calloc(1, sizeof(*ov));
    pthread_mutex_init(&ov->mu, NULL);
    pthread_cond_init(&ov->cv, NULL);
    ov->db = db;
    ov->src = src;
    ov->bloc = ing_bronze_location(p, src->name);
    ov->times.run = ingested_at; /* no rebuild: every batch gets the run's time */
    ov->skip = strlen(p->lake) + 2;
    ov->commit = tbl_commit_new("WRITE");
    struct sm_err e = SM_ERR_INIT;
    if (tbl_latest_version(ov->bloc) >= 0 && tbl_snapshot_open(ov->bloc, -1, &ov->bronze, &e)) {
        sm_debug("bronze.%s: not read while landing: %s", src->name, e.msg);
        ing_overlap_free(ov);
        return NULL;
    }
    ov->running = !pthread_create(&ov->thread, NULL, overlap_main, ov);
    if (!ov->running) {
        ing_overlap_free(ov);
        return NULL;
    }
    return ov;
}

void ing_overlap_add(struct ing_overlap *ov, const struct st_landed *page)
{
    if (!ov)
        return;
    struct st_landed *c = sm_calloc(1, sizeof(*c));
    c->id = page->id;
    c->size = page->size;
    c->orig_path = sm_strdup(page->orig_path);
    c->batch_id = sm_strdup(page->batch_id);
    c->landing_path = sm_strdup(page->landing_path);
    pthread_mutex_lock(&ov->mu);
    SM_ALLOC_GROW(ov->pages, ov->npages + 1, ov->alloc);
    ov->pages[ov->npages++] = c;
    ov->bytes_waiting += c->size;
    pthread_cond_signal(&ov->cv);
    pthread_mutex_unlock(&ov->mu);
}

/* Remove the files written (none of them is in a commit). */
static void remove_files(struct ing_overlap *ov)
{
    for (size_t i = 0; i < ov->nfiles; i++) {
        unlink(ov->files[i]);
        free(ov->files[i]);
    }
    ov->nfiles = 0;
}

/* End the landing and wait for the thread to end its chunk. */
static void finish(struct ing_overlap *ov)
{
    if (!ov->running)
        return;
    pthread_mutex_lock(&ov->mu);
    ov->landed = true;
    pthread_cond_broadcast(&ov->cv);
    pthread_mutex_unlock(&ov->mu);
    pthread_join(ov->thread, NULL);
    ov->running = false;
}

struct tbl_commit *ing_overlap_take(struct ing_overlap *ov, const struct tbl_snapshot *bronze,
                                    const struct st_landed *files, size_t n)
{
    if (!ov)
        return NULL;
    finish(ov);
    one_thread(ov, false);
    while (!ov->failed && ov->nread < ov->npages) {
        int64_t bytes;
        size_t n = next_chunk(ov, &bytes);
        read_timed(ov, ov->pages + ov->nread, n, "after the landing");
        ov->nread += n;
    }
    bool same = !ov->failed && ov->planned && n == ov->npages &&
                (bronze ? bronze->version : -1) == (ov->bronze ? ov->bronze->version : -1);
    for (size_t i = 0; same && i < n; i++)
        same = files[i].id == ov->pages[i]->id;
    if (!same) {
        if (!ov->failed && ov->planned)
            sm_debug("bronze.%s: the pages to load are not the pages read while landing",
                     ov->src->name);
        remove_files(ov);
        return NULL;
    }
    struct tbl_commit *c = ov->commit;
    ov->commit = NULL;
    for (size_t i = 0; i < ov->nfiles; i++)
        free(ov->files[i]);
    ov->nfiles = 0;
    return c;
}

void ing_overlap_end(struct ing_overlap *ov)
{
    if (!ov)
        return;
    finish(ov);
    one_thread(ov, false);
    if (!ov->ended && (ov->planned || ov->failed))
        ing_rest_unstage(ov->db, ov->src);
    ov->ended = true;
    remove_files(ov);
}

void ing_overlap_free(struct ing_overlap *ov)
{
    if (!ov)
        return;
    ing_overlap_end(ov);
    free(ov->files);
    for (size_t i = 0; i < ov->npages; i++) {
        st_landed_release(ov->pages[i]);
        free(ov->pages[i]);
    }
    free(ov->pages);
    if (ov->planned)
        ing_rest_plan_release(&ov->plan);
    tbl_commit_free(ov->commit);
    tbl_snapshot_free(ov->bronze);
    free(ov->bloc);
    pthread_mutex_destroy(&ov->mu);
    pthread_cond_destroy(&ov->cv);
    free(ov);
}
