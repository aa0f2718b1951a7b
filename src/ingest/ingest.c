/*
 * ingest.c — landing: files of a source folder copied into the landing zone
 * exactly once (and again on purpose, ing_reprocess()), and the integrity
 * check of gzip files. The bronze load is in load.c; REST sources are in
 * rest.c, to which ing_land() hands them over at the top.
 *
 * Invariants:
 *  - A file is landed at most once per source, identified by its SHA-256;
 *    the state row (intent, then "landed") is the record, the landing zone
 *    holds the bytes. A crash between the two is healed by ing_land().
 *  - Bronze and quarantine are loaded from the landing zone only, in
 *    landed-file id order. Each commit carries the txn marker of the highest
 *    id it covers; quarantine commits before bronze, so a crash between the
 *    two is finished on the next run without loading anything twice.
 *  - Nothing read is dropped: a line DuckDB cannot parse or cast lands in
 *    quarantine with file, line, raw text and error; a file it cannot read
 *    at all is quarantined as a file.
 */
#include "ingest_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "table/table.h"

char *ing_bronze_location(const struct prj_project *p, const char *src)
{
    return sm_asprintf("%s/bronze/%s", p->lake, src);
}

char *ing_quarantine_location(const struct prj_project *p, const char *src)
{
    return sm_asprintf("%s/quarantine/%s", p->lake, src);
}

/* --- landing ---------------------------------------------------------------- */

/* The 8 hex digits after the second are its milliseconds (3) and 5
 * random ones, so that batch ids sort in landing order, also within a
 * second (runs are fast enough now for two to land in one). */
char *ing_batch_id_new(int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    char *rnd = sm_random_hex(3);
    char *id = sm_asprintf("%s-%03x%.5s", ts, (unsigned)(now_ms % 1000), rnd);
    free(rnd);
    return id;
}

static int write_manifest(const struct st_landed *l, const char *name, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "{\n  \"source\": ");
    (void)sm_buf_add_json_str(&b, l->source);
    (void)sm_buf_adds(&b, ",\n  \"batch_id\": ");
    (void)sm_buf_add_json_str(&b, l->batch_id);
    (void)sm_buf_adds(&b, ",\n  \"original_path\": ");
    (void)sm_buf_add_json_str(&b, l->orig_path);
    (void)sm_buf_adds(&b, ",\n  \"file\": ");
    (void)sm_buf_add_json_str(&b, name);
    (void)sm_buf_addf(&b, ",\n  \"size\": %lld,\n  \"mtime\": %lld,\n  \"sha256\": \"%s\",\n",
                      (long long)l->size, (long long)l->mtime, l->sha256);
    (void)sm_buf_adds(&b, "  \"received_at\": ");
    (void)sm_buf_add_json_str(&b, l->received_at);
    if (l->reprocess_of)
        (void)sm_buf_addf(&b, ",\n  \"reprocess_of\": %lld", (long long)l->reprocess_of);
    (void)sm_buf_adds(&b, "\n}\n");
    char *dir = sm_strdup(l->landing_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    char *path = sm_path_join(dir, "_manifest.json");
    int rc = sm_write_file_atomic(path, b.buf, b.len, err);
    free(path);
    free(dir);
    sm_buf_release(&b);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Remove temporary files ("<name>.tmp-<random>") a crash left in dir. */
static void remove_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".tmp-"))
            continue;
        char *p = sm_path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
}

/* Finish landings a crash interrupted: the intent is in state; the bytes may
 * or may not have reached the landing path. */
static int heal_pending(struct st_db *st, const struct prj_source *src, struct sm_err *err)
{
    struct st_landed *pend = NULL;
    size_t n = 0;
    SM_TRY(st_landed_pending(st, src->name, &pend, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct st_landed *l = &pend[i];
        char *bdir = sm_strdup(l->landing_path);
        *strrchr(bdir, '/') = 0;
        remove_temp_files(bdir);
        free(bdir);
        if (!sm_path_exists(l->landing_path)) {
            char sha[SEC_SHA256_HEX];
            char *dir = sm_strdup(l->landing_path);
            *strrchr(dir, '/') = 0;
            rc = sm_mkdirs(dir, err);
            free(dir);
            if (!rc)
                rc = sto_copy_file(l->orig_path, l->landing_path, sha, NULL, err);
            if (!rc && strcmp(sha, l->sha256)) {
                unlink(l->landing_path);
                rc = sm_err_set(err, SM_ECONFLICT,
                                "'%s' changed while it was being landed; it will be landed again "
                                "as a new file once the intent is cleared",
                                l->orig_path);
            }
        }
        if (!rc)
            rc = write_manifest(l, base_name(l->landing_path), err);
        if (!rc)
            rc = st_landed_done(st, l->id, err);
    }
    st_landed_free_array(pend, n);
    return rc;
}

void ing_progress_init(struct ing_progress *pg, enum ing_progress_unit unit)
{
    atomic_init(&pg->done, 0);
    atomic_init(&pg->total, 0);
    atomic_init(&pg->unit, unit);
    atomic_init(&pg->pages, 0);
    atomic_init(&pg->bytes, 0);
    atomic_init(&pg->parents_done, 0);
    atomic_init(&pg->parents_total, 0);
}

static void count_bytes(void *ctx, int64_t n)
{
    struct ing_progress *pg = ctx;
    if (pg)
        atomic_fetch_add(&pg->done, n);
}

/* What land_copied() lands: a file of the source, or (again) a landed one. */
struct to_land {
    const char *path;      /* where the bytes are read from */
    const char *name;      /* file name in the landing zone */
    const char *orig_path; /* recorded as where the file was found */
    int64_t mtime;
    bool again; /* --reprocess: land even if the bytes were landed before */
    /* the copy in _incoming, made by copy_in() */
    char *tmp;
    char sha[SEC_SHA256_HEX];
    int64_t size;
    int rc;
    struct sm_err err;
};

/* Copy t's file into _incoming, hashing it on the way. Touches no state:
 * safe on any thread. */
static void copy_in(struct to_land *t, const char *incoming, struct ing_progress *pg)
{
    char *rnd = sm_random_hex(8);
    t->tmp = sm_asprintf("%s/%s", incoming, rnd);
    free(rnd);
    t->rc = sto_copy_file_progress(t->path, t->tmp, t->sha, &t->size, count_bytes, pg, &t->err);
}

/* With t copied in: unless its content is known (and this is not a
 * deliberate second landing), record the intent, rename it into a new
 * batch folder, write the manifest, mark it landed. The copy is gone
 * afterwards either way. */
static int land_copied(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                       struct to_land *t, struct ing_stats *out, struct sm_err *err)
{
    struct st_landed found = {0};
    bool hit = false;
    int rc = t->rc ? sm_err_set(err, t->rc, "%s", t->err.msg) : 0;
    if (!rc)
        rc = st_landed_find_hash(st, src->name, t->sha, &found, &hit, err);
    int64_t first = hit ? found.id : 0;
    st_landed_release(&found);
    if (rc || (hit && !t->again)) {
        unlink(t->tmp);
        return rc;
    }
    int64_t now = sm_now_ms();
    char received[40];
    sm_iso8601(now, received, sizeof(received));
    char day[16];
    time_t tt = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(day, sizeof(day), "%Y/%m/%d", &tm);
    struct st_landed l = {0};
    l.source = src->name;
    l.orig_path = (char *)t->orig_path;
    l.size = t->size;
    l.mtime = t->mtime;
    l.sha256 = t->sha;
    l.batch_id = ing_batch_id_new(now);
    l.reprocess_of = first;
    char *dir = sm_asprintf("%s/landing/%s/%s/%s", p->lake, src->name, day, l.batch_id);
    l.landing_path = sm_path_join(dir, t->name);
    l.status = (char *)"landing";
    l.received_at = received;
    rc = st_landed_begin(st, &l, err);
    if (!rc)
        rc = sm_mkdirs(dir, err);
    if (!rc && rename(t->tmp, l.landing_path))
        rc = sm_err_set(err, SM_EIO, "cannot move '%s' into the landing zone: %s", t->path,
                        strerror(errno));
    if (!rc)
        rc = write_manifest(&l, t->name, err);
    if (!rc)
        rc = st_landed_done(st, l.id, err);
    if (!rc) {
        out->files_landed++;
        out->bytes_landed += t->size;
    }
    unlink(t->tmp);
    free(dir);
    free(l.landing_path);
    free(l.batch_id);
    return rc;
}

static void to_land_release(struct to_land *t)
{
    free(t->tmp);
    t->tmp = NULL;
}

struct copy_ctx {
    struct to_land *t;
    const char *incoming;
    struct ing_progress *pg;
};

static void copy_one(size_t i, void *arg)
{
    struct copy_ctx *cc = arg;
    copy_in(&cc->t[i], cc->incoming, cc->pg);
}

/* Copy the files in on as many threads as the project's threads: one file
 * is hashed and written while another waits for the disk. */
static void copy_all(const struct prj_project *p, struct to_land *t, size_t n, const char *incoming,
                     struct ing_progress *pg)
{
    struct copy_ctx cc = {.t = t, .incoming = incoming, .pg = pg};
    long want = p->threads > 0 ? p->threads : sysconf(_SC_NPROCESSORS_ONLN);
    sm_parallel_for(n, want < 1 ? 1 : (size_t)want, copy_one, &cc);
}

/* The landing zone's working folder of src, emptied: it holds only copies
 * in flight, and the project lock means none is in flight now, so anything
 * there is a crashed run's leftover. */
static int reset_incoming(const struct prj_project *p, const struct prj_source *src, char **out,
                          struct sm_err *err)
{
    char *incoming = sm_asprintf("%s/landing/%s/_incoming", p->lake, src->name);
    int rc = sm_rmtree(incoming, err);
    if (!rc)
        rc = sm_mkdirs(incoming, err);
    if (rc)
        free(incoming);
    else
        *out = incoming;
    return rc;
}

int ing_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
             struct ing_overlap *ov, struct ing_stats *out, struct sm_err *err)
{
    if (!strcmp(src->kind, "rest"))
        return ing_rest_land(st, p, src, ov, out, err);
    struct sto_entry *ents = NULL;
    size_t n = 0;
    int rc = sto_list(src->path, src->glob, &ents, &n, NULL);
    if (rc == SM_ENOTFOUND)
        return sm_err_set(err, SM_ENOTFOUND,
                          "source '%s': folder '%s' does not exist; create it or fix 'path' in "
                          "sources/%s.yml",
                          src->name, src->path, src->name);
    if (rc)
        return sm_err_set(err, rc, "source '%s': cannot list folder '%s'", src->name, src->path);
    if (out->progress) {
        int64_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += ents[i].size;
        atomic_store(&out->progress->unit, ING_PROGRESS_BYTES);
        atomic_store(&out->progress->total, total);
    }
    char *incoming = NULL;
    struct to_land *todo = sm_calloc(n ? n : 1, sizeof(*todo));
    size_t ntodo = 0;
    rc = reset_incoming(p, src, &incoming, err);
    if (!rc)
        rc = heal_pending(st, src, err);
    out->files_seen += (int64_t)n;
    /* A file whose path, size and mtime were landed before is skipped
     * unread; the others are copied in (in parallel), then recorded one by
     * one in listing order. */
    for (size_t i = 0; i < n && !rc; i++) {
        struct st_landed found = {0};
        bool hit = false;
        rc = st_landed_find_stat(st, src->name, ents[i].path, ents[i].size, ents[i].mtime, &found,
                                 &hit, err);
        st_landed_release(&found);
        if (hit)
            count_bytes(out->progress, ents[i].size);
        else if (!rc)
            todo[ntodo++] = (struct to_land){.path = ents[i].path,
                                             .name = ents[i].name,
                                             .orig_path = ents[i].path,
                                             .mtime = ents[i].mtime};
    }
    if (!rc)
        copy_all(p, todo, ntodo, incoming, out->progress);
    for (size_t i = 0; i < ntodo; i++) {
        if (!rc)
            rc = land_copied(st, p, src, &todo[i], out, err);
        else if (todo[i].tmp)
            unlink(todo[i].tmp);
        to_land_release(&todo[i]);
    }
    if (rc)
        sm_err_prefix(err, rc, "source '%s'", src->name);
    free(todo);
    free(incoming);
    sto_entries_free(ents, n);
    return rc;
}

/* path made absolute and canonical: as given (from the current folder),
 * else from the project folder. NULL when neither exists. */
static char *find_path(const struct prj_project *p, const char *path)
{
    char *abs = realpath(path, NULL);
    if (!abs && path[0] != '/') {
        char *rel = sm_path_join(p->root, path);
        abs = realpath(rel, NULL);
        free(rel);
    }
    return abs;
}

/* Is path (canonical) inside dir (made canonical here)? *out_rel points into
 * path, after dir's '/'. */
static bool is_under(const char *path, const char *dir, const char **out_rel)
{
    char *d = realpath(dir, NULL);
    bool in = false;
    if (d) {
        size_t n = strlen(d);
        in = !strncmp(path, d, n) && path[n] == '/';
        if (in && out_rel)
            *out_rel = path + n + 1;
        free(d);
    }
    return in;
}

int ing_reprocess(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                  const char *path, struct ing_stats *out, struct sm_err *err)
{
    bool rest = !strcmp(src->kind, "rest");
    char *abs = find_path(p, path);
    if (!abs)
        return sm_err_set(err, SM_ENOTFOUND,
                          "source '%s': no file '%s' to reprocess (give its path in '%s' or in "
                          "the landing zone)",
                          src->name, path, rest ? p->lake : src->path);
    char *landing = sm_asprintf("%s/landing/%s", p->lake, src->name);
    struct st_landed *files = NULL;
    size_t nfiles = 0;
    const struct st_landed *was = NULL;
    const char *rel = NULL;
    struct stat sb;
    char *incoming = NULL;
    int rc = 0;
    if (stat(abs, &sb) || !S_ISREG(sb.st_mode)) {
        rc = sm_err_set(err, SM_EINVALID, "'%s' is not a file", path);
        goto out;
    }
    if (is_under(abs, landing, NULL)) {
        /* A landed copy: find its record for where it first came from. */
        if ((rc = st_landed_list(st, src->name, 0, &files, &nfiles, err)))
            goto out;
        for (size_t i = 0; i < nfiles && !was; i++) {
            char *lp = realpath(files[i].landing_path, NULL);
            if (lp && !strcmp(lp, abs))
                was = &files[i];
            free(lp);
        }
        if (!was) {
            rc = sm_err_set(err, SM_ENOTFOUND,
                            "'%s' is in the landing zone but state.db has no record of landing it",
                            path);
            goto out;
        }
    } else if (rest || !is_under(abs, src->path, &rel)) {
        rc = sm_err_set(err, SM_EINVALID,
                        rest ? "'%s' is not a landed page of this REST source (in '%s')"
                             : "'%s' is not in the source's folder '%s' nor in its landing zone",
                        path, rest ? landing : src->path);
        goto out;
    } else if (!sm_glob_match(src->glob, rel)) {
        rc = sm_err_set(err, SM_EINVALID, "'%s' does not match the source's glob '%s'", path,
                        src->glob);
        goto out;
    }
    if (out->progress) {
        atomic_store(&out->progress->unit, ING_PROGRESS_BYTES);
        atomic_fetch_add(&out->progress->total, (int64_t)sb.st_size);
    }
    if ((rc = reset_incoming(p, src, &incoming, err)))
        goto out;
    const char *slash = strrchr(abs, '/');
    struct to_land t = {.path = abs,
                        .name = slash + 1,
                        .orig_path = was ? was->orig_path : abs,
                        .mtime = was ? was->mtime : (int64_t)sb.st_mtime,
                        .again = true};
    out->files_seen++;
    copy_in(&t, incoming, out->progress);
    rc = land_copied(st, p, src, &t, out, err);
    to_land_release(&t);
out:
    if (rc)
        sm_err_prefix(err, rc, "source '%s'", src->name);
    free(incoming);
    st_landed_free_array(files, nfiles);
    free(landing);
    free(abs);
    return rc;
}
