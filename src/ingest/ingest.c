/*
 * ingest.c — file sources: landing and the bronze load. REST sources are in
 * rest.c; ing_land() and ing_load_bronze() hand them over at the top and at
 * the steps where reading pages differs from reading files.
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
#include <zlib.h>

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

char *ing_batch_id_new(int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    char *rnd = sm_random_hex(4);
    char *id = sm_asprintf("%s-%s", ts, rnd);
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

static int land_one(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
                    const struct sto_entry *e, const char *incoming, struct ing_stats *out,
                    struct sm_err *err)
{
    struct st_landed found = {0};
    bool hit = false;
    SM_TRY(st_landed_find_stat(st, src->name, e->path, e->size, e->mtime, &found, &hit, err));
    st_landed_release(&found);
    if (hit)
        return 0;

    /* Copy and hash in one read; the copy is dropped if the content is known. */
    char *rnd = sm_random_hex(8);
    char *tmp = sm_asprintf("%s/%s", incoming, rnd);
    free(rnd);
    char sha[SEC_SHA256_HEX];
    int64_t size = 0;
    int rc = sto_copy_file(e->path, tmp, sha, &size, err);
    if (rc)
        goto out;
    rc = st_landed_find_hash(st, src->name, sha, &found, &hit, err);
    st_landed_release(&found);
    if (rc || hit) {
        unlink(tmp);
        goto out;
    }
    int64_t now = sm_now_ms();
    char received[40];
    sm_iso8601(now, received, sizeof(received));
    char day[16];
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y/%m/%d", &tm);
    struct st_landed l = {0};
    l.source = src->name;
    l.orig_path = e->path;
    l.size = size;
    l.mtime = e->mtime;
    l.sha256 = sha;
    l.batch_id = ing_batch_id_new(now);
    char *dir = sm_asprintf("%s/landing/%s/%s/%s", p->lake, src->name, day, l.batch_id);
    l.landing_path = sm_path_join(dir, e->name);
    l.status = (char *)"landing";
    l.received_at = received;
    rc = st_landed_begin(st, &l, err);
    if (!rc)
        rc = sm_mkdirs(dir, err);
    if (!rc && rename(tmp, l.landing_path))
        rc = sm_err_set(err, SM_EIO, "cannot move '%s' into the landing zone: %s", e->path,
                        strerror(errno));
    if (!rc)
        rc = write_manifest(&l, e->name, err);
    if (!rc)
        rc = st_landed_done(st, l.id, err);
    if (!rc) {
        out->files_landed++;
        out->bytes_landed += size;
    }
    unlink(tmp);
    free(dir);
    free(l.landing_path);
    free(l.batch_id);
out:
    free(tmp);
    return rc;
}

int ing_land(struct st_db *st, const struct prj_project *p, const struct prj_source *src,
             struct ing_stats *out, struct sm_err *err)
{
    if (!strcmp(src->kind, "rest"))
        return ing_rest_land(st, p, src, out, err);
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
    /* _incoming holds only copies in flight; the project lock means none is
     * in flight now, so anything there is a crashed run's leftover. */
    char *incoming = sm_asprintf("%s/landing/%s/_incoming", p->lake, src->name);
    rc = sm_rmtree(incoming, err);
    if (!rc)
        rc = sm_mkdirs(incoming, err);
    if (!rc)
        rc = heal_pending(st, src, err);
    out->files_seen += (int64_t)n;
    for (size_t i = 0; i < n && !rc; i++)
        rc = land_one(st, p, src, &ents[i], incoming, out, err);
    if (rc)
        sm_err_prefix(err, rc, "source '%s'", src->name);
    free(incoming);
    sto_entries_free(ents, n);
    return rc;
}

/* --- file checks --------------------------------------------------------------- */

int ing_check_gzip(const char *path, struct sm_err *err)
{
    return ing_check_gzip_lines(path, NULL, err);
}

/* zlib rather than libarchive for gzip: this runs over every .gz file of
 * every load, and zlib's inflate is the faster of the two. */
int ing_check_gzip_lines(const char *path, struct ing_lines *lines, struct sm_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        close(fd);
        return sm_err_set(err, SM_EINTERNAL, "zlib init failed");
    }
    size_t insz = 1 << 18, outsz = 1 << 18;
    unsigned char *in = sm_malloc(insz), *outb = sm_malloc(outsz);
    int rc = 0, zr = Z_OK;
    bool ended = false, any = false, garbage = false;
    for (;;) {
        ssize_t n = read(fd, in, insz);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sm_err_set(err, SM_EIO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (garbage)
            continue;
        any = true;
        zs.next_in = in;
        zs.avail_in = (uInt)n;
        /* Until the input is used up and inflate has no more output held back. */
        while (zs.avail_in || (!ended && zs.avail_out == 0)) {
            if (ended) {
                /* Another gzip member may follow (concatenated .gz files). */
                if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
                    inflateReset(&zs);
                    ended = false;
                } else {
                    garbage = true; /* trailing garbage, as gzip -t tolerates */
                    zs.avail_in = 0;
                    break;
                }
            }
            zs.next_out = outb;
            zs.avail_out = (uInt)outsz;
            zr = inflate(&zs, Z_NO_FLUSH);
            if (lines)
                ing_lines_feed(lines, (const char *)outb, outsz - zs.avail_out);
            if (zr == Z_STREAM_END) {
                ended = true;
            } else if (zr == Z_BUF_ERROR) {
                break; /* no progress possible: needs more input */
            } else if (zr != Z_OK) {
                rc = sm_err_set(err, SM_EPARSE, "corrupt gzip data at byte %lu: %s",
                                (unsigned long)zs.total_in, zs.msg ? zs.msg : "invalid stream");
                break;
            }
        }
        if (rc)
            break;
    }
    if (!rc && any && !ended)
        rc = sm_err_set(err, SM_EPARSE,
                        "truncated gzip file: the compressed stream ends after %lu bytes without "
                        "its end marker",
                        (unsigned long)zs.total_in);
    if (!rc && lines)
        ing_lines_finish(lines);
    inflateEnd(&zs);
    free(in);
    free(outb);
    close(fd);
    return rc;
}

/* --- bronze: what is read ------------------------------------------------------ */

/* A unit is one thing DuckDB reads: a landed file in place, its
 * decompressed copy, or an archive member extracted to a temporary file. */
struct unit {
    const struct st_landed *file; /* the landed file it comes from */
    char *read_path;              /* what DuckDB opens */
    char *source_file;            /* _source_file: relative to the lake, "...!member" */
    bool plain;                   /* read_path is uncompressed whatever its name */
    bool relaxed;                 /* CSV: read with strict mode off */
    bool by_line;                 /* NDJSON: read line by line (some line is bad) */
    bool have_lines;              /* lines below were counted */
    struct ing_lines lines;
    /* set after staging */
    bool staged;
    int64_t first_rowid; /* rowid of the unit's first row in its stage table */
};

/* Something read that is quarantined whole: a file, a member, an archive. */
struct bad {
    char *source_file;
    const char *batch_id;
    char *error;
};

struct load {
    struct eng_db *db;
    const struct prj_project *p;
    const struct prj_source *src;
    const char *ingested_at;
    size_t skip; /* strlen(lake) + 2: SQL substr() start of the lake-relative path */
    char *tmpdir;
    struct unit *u;
    size_t nu, ualloc;
    struct bad *bad;
    size_t nbad, badalloc;
    bool staged, by_line_staged;
};

static bool line_oriented(const struct prj_source *src)
{
    return src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV ||
           src->format == PRJ_FMT_NDJSON;
}

static bool csv_like(const struct prj_source *src)
{
    return src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV;
}

static void add_bad(struct load *ld, char *source_file, const char *batch_id, const char *error)
{
    SM_ALLOC_GROW(ld->bad, ld->nbad + 1, ld->badalloc);
    struct bad *b = &ld->bad[ld->nbad++];
    b->source_file = source_file;
    b->batch_id = batch_id;
    b->error = sm_strdup(error);
}

static struct unit *add_unit(struct load *ld, const struct st_landed *f, char *read_path,
                             char *source_file, bool plain)
{
    SM_ALLOC_GROW(ld->u, ld->nu + 1, ld->ualloc);
    struct unit *u = &ld->u[ld->nu++];
    memset(u, 0, sizeof(*u));
    u->file = f;
    u->read_path = read_path;
    u->source_file = source_file;
    u->plain = plain;
    u->lines.ws_blank = ld->src->format == PRJ_FMT_NDJSON;
    return u;
}

/* Archive members are taken by their extension, after any compression one. */
static bool member_fits(const struct prj_source *src, const char *name)
{
    static const char *const ext[][4] = {
        [PRJ_FMT_CSV] = {".csv", ".txt", NULL},
        [PRJ_FMT_TSV] = {".tsv", ".tab", ".txt", NULL},
        [PRJ_FMT_NDJSON] = {".ndjson", ".jsonl", ".json", NULL},
        [PRJ_FMT_JSON] = {".json", NULL},
        [PRJ_FMT_PARQUET] = {".parquet", ".pq", NULL},
    };
    size_t cut = 0;
    (void)ing_comp_of(name, &cut);
    size_t n = strlen(name) - cut;
    for (size_t i = 0; ext[src->format][i]; i++) {
        size_t k = strlen(ext[src->format][i]);
        if (n > k && !strncasecmp(name + n - k, ext[src->format][i], k))
            return true;
    }
    return false;
}

/* Turn the landed file f into units (or quarantined things). */
static int prepare_file(struct load *ld, const struct st_landed *f, size_t idx, struct sm_err *err)
{
    const char *rel = f->landing_path + ld->skip - 1;
    bool lines = line_oriented(ld->src);
    struct sm_err e = SM_ERR_INIT;
    if (ing_is_archive(f->landing_path)) {
        struct ing_member *ms = NULL;
        size_t nm = 0;
        char *dir = sm_asprintf("%s/a%zu", ld->tmpdir, idx);
        int rc = sm_mkdirs(dir, err);
        if (!rc && ing_archive_extract(f->landing_path, dir, ld->src, member_fits,
                                       ld->src->format == PRJ_FMT_NDJSON, &ms, &nm, &e))
            rc = -1;
        free(dir);
        if (rc > 0)
            return rc;
        if (rc) {
            if (e.code != SM_EPARSE)
                return sm_err_set(err, e.code, "%s", e.msg);
            add_bad(ld, sm_strdup(rel), f->batch_id, e.msg);
            return 0;
        }
        for (size_t i = 0; i < nm; i++) {
            char *sf = sm_asprintf("%s!%s", rel, ms[i].name);
            if (ms[i].refused) {
                add_bad(ld, sf, f->batch_id, ms[i].refused);
                continue;
            }
            struct unit *u = add_unit(ld, f, ms[i].path, sf, true);
            ms[i].path = NULL;
            u->lines = ms[i].lines;
            u->have_lines = lines;
            memset(&ms[i].lines, 0, sizeof(ms[i].lines));
        }
        ing_members_free(ms, nm);
        return 0;
    }
    enum ing_comp comp = ing_comp_of(f->landing_path, NULL);
    struct ing_lines li = {.ws_blank = ld->src->format == PRJ_FMT_NDJSON};
    char *tmp = NULL;
    int rc = 0;
    switch (comp) {
    case ING_COMP_GZIP:
        rc = ing_check_gzip_lines(f->landing_path, lines ? &li : NULL, &e);
        break;
    case ING_COMP_BZIP2:
    case ING_COMP_XZ: /* DuckDB cannot read these: a plain copy */
        tmp = sm_asprintf("%s/f%zu", ld->tmpdir, idx);
        rc = ing_unpack(f->landing_path, comp, tmp, lines ? &li : NULL, &e);
        break;
    case ING_COMP_ZSTD: /* DuckDB reads it, but a cut stream without complaint */
    case ING_COMP_NONE:
        if (comp != ING_COMP_NONE || lines)
            rc = ing_unpack(f->landing_path, comp, NULL, lines ? &li : NULL, &e);
        break;
    }
    if (rc) {
        ing_lines_release(&li);
        free(tmp);
        if (e.code != SM_EPARSE)
            return sm_err_set(err, e.code, "%s", e.msg);
        add_bad(ld, sm_strdup(rel), f->batch_id, e.msg);
        return 0;
    }
    struct unit *u = add_unit(ld, f, tmp ? tmp : sm_strdup(f->landing_path), sm_strdup(rel),
                              tmp != NULL);
    u->lines = li;
    u->have_lines = lines;
    return 0;
}

/* --- bronze: reading ------------------------------------------------------------- */

static void add_columns_struct(struct sm_buf *b, const struct prj_source *src)
{
    (void)sm_buf_adds(b, "columns={");
    for (size_t i = 0; i < src->ncolumns; i++) {
        if (i)
            (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, src->columns[i].name);
        (void)sm_buf_adds(b, ": ");
        (void)sm_buf_add_sql_str(b, src->columns[i].type);
    }
    (void)sm_buf_adds(b, "}");
}

static void add_opt(struct sm_buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    (void)sm_buf_addf(b, ", %s=", key);
    (void)sm_buf_add_sql_str(b, v);
}

static void add_paths(struct sm_buf *b, struct unit **us, size_t n)
{
    (void)sm_buf_adds(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            (void)sm_buf_addc(b, ',');
        (void)sm_buf_add_sql_str(b, us[i]->read_path);
    }
    (void)sm_buf_adds(b, "]");
}

/* "SELECT <columns>, filename FROM <reader>(units...)": the rows of units as
 * the source's options say, all of one kind (plain, relaxed). */
static void add_scan(struct sm_buf *b, const struct prj_source *src, struct unit **us, size_t n)
{
    bool plain = us[0]->plain, relaxed = us[0]->relaxed;
    (void)sm_buf_adds(b, "SELECT ");
    if (src->ncolumns) {
        for (size_t i = 0; i < src->ncolumns; i++) {
            const struct prj_column *c = &src->columns[i];
            if (src->format == PRJ_FMT_PARQUET) {
                (void)sm_buf_adds(b, "CAST(");
                (void)sm_buf_add_sql_ident(b, c->name);
                (void)sm_buf_addf(b, " AS %s) AS ", c->type);
            }
            (void)sm_buf_add_sql_ident(b, c->name);
            (void)sm_buf_adds(b, ", ");
        }
        (void)sm_buf_adds(b, "filename FROM ");
    } else {
        (void)sm_buf_adds(b, "* FROM ");
    }
    switch (src->format) {
    case PRJ_FMT_CSV:
    case PRJ_FMT_TSV:
        (void)sm_buf_adds(b, "read_csv(");
        add_paths(b, us, n);
        (void)sm_buf_adds(b, ", filename=true, ");
        add_columns_struct(b, src);
        (void)sm_buf_addf(b, ", header=%s, auto_detect=false", src->header ? "true" : "false");
        add_opt(b, "delim", src->delimiter);
        add_opt(b, "quote", src->quote);
        add_opt(b, "escape", src->escape);
        if (src->null_strings.n) {
            (void)sm_buf_adds(b, ", nullstr=[");
            for (size_t i = 0; i < src->null_strings.n; i++) {
                if (i)
                    (void)sm_buf_addc(b, ',');
                (void)sm_buf_add_sql_str(b, src->null_strings.v[i]);
            }
            (void)sm_buf_adds(b, "]");
        }
        add_opt(b, "dateformat", src->date_format);
        add_opt(b, "timestampformat", src->timestamp_format);
        if (plain)
            (void)sm_buf_adds(b, ", compression='none'");
        if (relaxed)
            (void)sm_buf_adds(b, ", strict_mode=false");
        (void)sm_buf_adds(b, ", store_rejects=true, rejects_table='smelt_rejects', "
                             "rejects_scan='smelt_reject_scans'");
        break;
    case PRJ_FMT_NDJSON:
    case PRJ_FMT_JSON:
        (void)sm_buf_adds(b, "read_json(");
        add_paths(b, us, n);
        (void)sm_buf_addf(b, ", filename=true, format='%s'",
                          src->format == PRJ_FMT_NDJSON ? "newline_delimited" : "array");
        if (src->ncolumns) {
            (void)sm_buf_adds(b, ", ");
            add_columns_struct(b, src);
        }
        add_opt(b, "dateformat", src->date_format);
        add_opt(b, "timestampformat", src->timestamp_format);
        if (plain)
            (void)sm_buf_adds(b, ", compression='none'");
        break;
    case PRJ_FMT_PARQUET:
        (void)sm_buf_adds(b, "read_parquet(");
        add_paths(b, us, n);
        (void)sm_buf_adds(b, ", filename=true");
        break;
    }
    (void)sm_buf_adds(b, ")");
}

/* The stage query: one scan per kind of unit (plain or not, relaxed or not),
 * in unit order within each scan. Units read by line are left out. */
static void stage_select(struct sm_buf *b, const struct load *ld)
{
    struct unit **part = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*part));
    bool first = true;
    for (int kind = 0; kind < 4; kind++) {
        size_t n = 0;
        for (size_t i = 0; i < ld->nu; i++) {
            struct unit *u = &ld->u[i];
            if (!u->by_line && (int)u->plain * 2 + (int)u->relaxed == kind)
                part[n++] = u;
        }
        if (!n)
            continue;
        if (!first)
            (void)sm_buf_adds(b, " UNION ALL BY NAME ");
        first = false;
        add_scan(b, ld->src, part, n);
    }
    free(part);
}

static size_t count_staged(const struct load *ld)
{
    size_t n = 0;
    for (size_t i = 0; i < ld->nu; i++)
        n += !ld->u[i].by_line;
    return n;
}

static int drop_rejects(struct eng_db *db, struct sm_err *err)
{
    return eng_exec(db,
                    "DROP TABLE IF EXISTS smelt_rejects; DROP TABLE IF EXISTS smelt_reject_scans; "
                    "DROP TABLE IF EXISTS smelt_ndrejects; DROP TABLE IF EXISTS smelt_ndreject_scans",
                    err);
}

/* Read unit u alone, every value cast, and throw the result away. */
static int probe_unit(struct load *ld, struct unit *u, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_probe AS ");
    add_scan(&q, ld->src, &u, 1);
    (void)sm_buf_adds(&q, "; DROP TABLE smelt_probe");
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

/* Staging failed: some unit cannot be read as a whole. Try each alone. A
 * CSV that only DuckDB's strict mode refuses (e.g. CRLF lines with a last
 * line ending in LF) is read with strict mode off; an NDJSON file with a
 * bad line is read line by line; anything else is quarantined whole. */
static void split_unreadable(struct load *ld)
{
    size_t keep = 0;
    for (size_t i = 0; i < ld->nu; i++) {
        struct unit *u = &ld->u[i];
        struct sm_err e = SM_ERR_INIT;
        int rc = u->by_line ? 0 : probe_unit(ld, u, &e);
        if (rc && csv_like(ld->src) && strstr(e.msg, "strict_mode=false")) {
            struct sm_err e2 = SM_ERR_INIT;
            u->relaxed = true;
            rc = probe_unit(ld, u, &e2);
            if (!rc)
                sm_warn("'%s' is not strict CSV (e.g. mixed line endings); read with DuckDB's "
                        "strict_mode off",
                        u->source_file);
        }
        if (rc && ld->src->format == PRJ_FMT_NDJSON) {
            u->by_line = true;
            rc = 0;
        }
        if (rc) {
            add_bad(ld, u->source_file, u->file->batch_id, e.msg);
            u->source_file = NULL;
            free(u->read_path);
            ing_lines_release(&u->lines);
            continue;
        }
        ld->u[keep++] = *u;
    }
    ld->nu = keep;
}

/* Stage the units into smelt_stage (and, for NDJSON files with bad lines,
 * their lines into smelt_ndlines). */
static int stage(struct load *ld, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        struct sm_err e = SM_ERR_INIT;
        if ((rc = drop_rejects(ld->db, err)))
            goto out;
        if (!count_staged(ld))
            break;
        sm_buf_reset(&q);
        (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_stage AS ");
        stage_select(&q, ld);
        rc = eng_exec(ld->db, q.buf, &e);
        if (!rc) {
            ld->staged = true;
            break;
        }
        if (attempt == 1 || rc == SM_ECANCELLED) {
            rc = sm_err_set(err, rc, "%s", e.msg);
            goto out;
        }
        split_unreadable(ld);
        rc = 0;
    }
    /* Lines of NDJSON files that did not read whole: one VARCHAR per line,
     * no quoting, no separator DuckDB would find in text. */
    if (rc)
        goto out;
    struct unit **part = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*part));
    sm_buf_reset(&q);
    for (int plain = 0; plain < 2; plain++) {
        size_t n = 0;
        for (size_t i = 0; i < ld->nu; i++)
            if (ld->u[i].by_line && ld->u[i].plain == plain)
                part[n++] = &ld->u[i];
        if (!n)
            continue;
        (void)sm_buf_adds(&q, q.len ? " UNION ALL " : "CREATE OR REPLACE TEMP TABLE smelt_ndlines AS ");
        (void)sm_buf_adds(&q, "SELECT l, filename FROM read_csv(");
        add_paths(&q, part, n);
        (void)sm_buf_addf(&q,
                          ", filename=true, columns={'l': 'VARCHAR'}, header=false, "
                          "auto_detect=false, delim=chr(1), quote='', escape='', "
                          "strict_mode=false, max_line_size=67108864%s, store_rejects=true, "
                          "rejects_table='smelt_ndrejects', rejects_scan='smelt_ndreject_scans')",
                          plain ? ", compression='none'" : "");
    }
    free(part);
    if (q.len) {
        rc = eng_exec(ld->db, q.buf, err);
        ld->by_line_staged = !rc;
    }
out:
    sm_buf_release(&q);
    return rc;
}

/* --- bronze: lines ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Per unit: the lines that are not rows (rejected lines, and blank lines
 * where DuckDB skips them), from which a row's position gives its line. */
struct line_gaps {
    int64_t *v;
    size_t n, alloc;
};

static void gaps_add(struct line_gaps *g, int64_t line)
{
    SM_ALLOC_GROW(g->v, g->n + 1, g->alloc);
    g->v[g->n++] = line;
}

/* Read "filename, number" rows of sql into per-unit values: rejected lines
 * into gaps[unit] when gaps is given, otherwise each unit's first row id. */
static int read_per_unit(struct load *ld, const struct sm_map *by_path, const char *sql,
                         struct line_gaps *gaps, struct sm_err *err)
{
    struct eng_result *r = NULL;
    SM_TRY(eng_query(ld->db, sql, &r, err));
    for (size_t i = 0; i < eng_result_nrows(r); i++) {
        const char *fn = eng_result_str(r, 0, i), *v = eng_result_str(r, 1, i);
        struct unit *u = fn ? sm_map_get(by_path, fn) : NULL;
        int64_t x;
        if (!u || !v || sm_parse_i64(v, &x))
            continue;
        if (gaps) {
            gaps_add(&gaps[u - ld->u], x);
        } else {
            u->staged = true;
            u->first_rowid = x;
        }
    }
    eng_result_free(r);
    return 0;
}

static void add_values_str(struct sm_buf *b, const char *s)
{
    if (s)
        (void)sm_buf_add_sql_str(b, s);
    else
        (void)sm_buf_adds(b, "NULL");
}

/*
 * smelt_units(filename, source_file, batch_id, base, thr): how each unit's
 * rows get their provenance. DuckDB keeps a staged table's rows in scan
 * order, so a unit's k-th row (k from 1) has rowid first + k - 1; the row is
 * on line k + H (header lines) plus one for every gap line before it. With
 * the gaps n_1 < n_2 < ... (lines past the header), the k-th row comes after
 * gap i exactly when n_i - H - i < k, so
 *     line = rowid + base + #{ i : thr_i < rowid },
 *     base = 1 + H - first,  thr_i = n_i - H - i + first - 1.
 * Formats without lines (json, parquet) get base NULL, hence line NULL.
 */
static int build_units(struct load *ld, struct sm_err *err)
{
    struct sm_map by_path = SM_MAP_INIT;
    struct line_gaps *gaps = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*gaps));
    struct sm_buf q = SM_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < ld->nu; i++)
        sm_map_put(&by_path, ld->u[i].read_path, &ld->u[i]);
    if (ld->staged)
        rc = read_per_unit(ld, &by_path,
                           "SELECT filename, min(rowid) FROM smelt_stage GROUP BY filename", NULL,
                           err);
    if (!rc && ld->by_line_staged)
        rc = read_per_unit(ld, &by_path,
                           "SELECT filename, min(rowid) FROM smelt_ndlines GROUP BY filename",
                           NULL, err);
    if (!rc && ld->staged && csv_like(ld->src))
        rc = read_per_unit(ld, &by_path,
                           "SELECT s.file_path, e.line FROM smelt_rejects e JOIN "
                           "smelt_reject_scans s USING (scan_id, file_id) GROUP BY ALL",
                           gaps, err);
    if (!rc && ld->by_line_staged)
        rc = read_per_unit(ld, &by_path,
                           "SELECT s.file_path, e.line FROM smelt_ndrejects e JOIN "
                           "smelt_ndreject_scans s USING (scan_id, file_id) GROUP BY ALL",
                           gaps, err);
    if (rc)
        goto out;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_units (filename VARCHAR, "
                          "source_file VARCHAR, batch_id VARCHAR, base BIGINT, thr BIGINT[])");
    for (size_t i = 0; i < ld->nu; i++) {
        struct unit *u = &ld->u[i];
        struct line_gaps *g = &gaps[i];
        /* CSV skips blank lines (a one-column CSV reads them as NULL rows);
         * read_json skips whitespace-only lines; the line reader keeps them. */
        bool blanks_skipped =
            (csv_like(ld->src) && ld->src->ncolumns > 1) ||
            (ld->src->format == PRJ_FMT_NDJSON && !u->by_line);
        if (u->have_lines && blanks_skipped)
            for (size_t k = 0; k < u->lines.nblank; k++)
                gaps_add(g, u->lines.blank[k]);
        int64_t h = csv_like(ld->src) && ld->src->header ? 1 : 0;
        (void)sm_buf_adds(&q, i ? ", (" : "; INSERT INTO smelt_units VALUES (");
        add_values_str(&q, u->read_path);
        (void)sm_buf_adds(&q, ", ");
        add_values_str(&q, u->source_file);
        (void)sm_buf_adds(&q, ", ");
        add_values_str(&q, u->file->batch_id);
        if (!u->have_lines || !u->staged) {
            (void)sm_buf_adds(&q, ", NULL, NULL)");
            continue;
        }
        (void)sm_buf_addf(&q, ", %lld, ", (long long)(1 + h - u->first_rowid));
        if (g->n)
            qsort(g->v, g->n, sizeof(*g->v), cmp_i64);
        size_t rank = 0;
        int64_t prev = -1;
        for (size_t k = 0; k < g->n; k++) {
            if (g->v[k] <= h || g->v[k] == prev)
                continue;
            prev = g->v[k];
            rank++;
            (void)sm_buf_addf(&q, "%s%lld", rank == 1 ? "[" : ", ",
                              (long long)(g->v[k] - h - (int64_t)rank + u->first_rowid - 1));
        }
        (void)sm_buf_adds(&q, rank ? "])" : "NULL)");
    }
    rc = eng_exec(ld->db, q.buf, err);
out:
    for (size_t i = 0; i < ld->nu; i++)
        free(gaps[i].v);
    free(gaps);
    sm_map_release(&by_path);
    sm_buf_release(&q);
    return rc;
}

/* The _source_line of row s (in a table joined as s with smelt_units u). */
static void add_line_expr(struct sm_buf *b)
{
    (void)sm_buf_adds(b, "CAST(s.rowid + u.base + CASE WHEN u.thr IS NULL THEN 0 ELSE "
                         "len(list_filter(u.thr, t -> t < s.rowid)) END AS BIGINT)");
}

/* --- bronze: NDJSON lines ------------------------------------------------------------- */

/* The columns by-line NDJSON rows get: the declared ones, else those of the
 * whole files staged beside them, else what read_json infers from the
 * files, bad lines skipped. *out borrows nothing; free names and types. */
static int nd_columns(struct load *ld, struct prj_column **out, size_t *out_n, struct sm_err *err)
{
    *out = NULL;
    *out_n = 0;
    if (ld->src->ncolumns) {
        *out = sm_calloc(ld->src->ncolumns, sizeof(**out));
        for (size_t i = 0; i < ld->src->ncolumns; i++) {
            (*out)[i].name = sm_strdup(ld->src->columns[i].name);
            (*out)[i].type = sm_strdup(ld->src->columns[i].type);
        }
        *out_n = ld->src->ncolumns;
        return 0;
    }
    struct sm_buf q = SM_BUF_INIT;
    if (ld->staged) {
        (void)sm_buf_adds(&q, "DESCRIBE SELECT * EXCLUDE (filename) FROM smelt_stage");
    } else {
        struct unit **part = sm_calloc(ld->nu ? ld->nu : 1, sizeof(*part));
        size_t n = 0;
        for (size_t i = 0; i < ld->nu; i++)
            if (ld->u[i].by_line && !ld->u[i].plain)
                part[n++] = &ld->u[i];
        (void)sm_buf_adds(&q, "DESCRIBE SELECT * FROM read_json(");
        if (n) {
            add_paths(&q, part, n);
        } else { /* all plain: read them so */
            for (size_t i = 0; i < ld->nu; i++)
                if (ld->u[i].by_line)
                    part[n++] = &ld->u[i];
            add_paths(&q, part, n);
            (void)sm_buf_adds(&q, ", compression='none'");
        }
        (void)sm_buf_adds(&q, ", format='newline_delimited', ignore_errors=true)");
        free(part);
    }
    struct eng_result *r = NULL;
    struct sm_err e = SM_ERR_INIT;
    int rc = eng_query(ld->db, q.buf, &r, &e);
    sm_buf_release(&q);
    if (rc == SM_ECANCELLED)
        return sm_err_set(err, rc, "%s", e.msg);
    if (rc) { /* nothing readable at all: every line goes to quarantine */
        sm_debug("no columns inferred for '%s': %s", ld->src->name, e.msg);
        return 0;
    }
    size_t n = eng_result_nrows(r);
    *out = sm_calloc(n ? n : 1, sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        (*out)[*out_n].name = sm_strdup(sm_or(eng_result_str(r, 0, i), ""));
        (*out)[*out_n].type = sm_strdup(sm_or(eng_result_str(r, 1, i), "VARCHAR"));
        (*out_n)++;
    }
    eng_result_free(r);
    return 0;
}

static void free_columns(struct prj_column *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].name);
        free(c[i].type);
    }
    free(c);
}

/* '$."name"' for a top-level key. */
static void add_key_path(struct sm_buf *b, const char *name)
{
    char *path = sm_asprintf("$.\"%s\"", name);
    (void)sm_buf_add_sql_str(b, path);
    free(path);
}

static bool is_nested(const char *t)
{
    return strchr(t, '[') || strcasestr(t, "STRUCT") || strcasestr(t, "MAP") ||
           strcasestr(t, "UNION") || !strcasecmp(t, "JSON");
}

/*
 * smelt_ndj: one row per non-blank line of the NDJSON units read by line,
 * with its provenance and line, whether it is valid JSON (ok) and an object
 * (obj), each column's JSON value (j<i>), typed value and whether that
 * value failed its cast (bad<i>). Good rows and quarantined lines are both
 * selected from it.
 */
static int nd_type(struct load *ld, const struct prj_column *cols, size_t ncols,
                   struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_ndv AS SELECT u.source_file, "
                          "u.batch_id, ");
    add_line_expr(&q);
    (void)sm_buf_adds(&q, " AS line, s.l AS raw, json_valid(s.l) AS ok FROM smelt_ndlines s JOIN "
                          "smelt_units u ON s.filename = u.filename WHERE s.l IS NOT NULL AND "
                          "trim(s.l, ' ' || chr(9) || chr(13)) <> ''; "
                          "CREATE OR REPLACE TEMP TABLE smelt_ndj AS SELECT *, ok AND "
                          "json_type(CASE WHEN ok THEN raw END) = 'OBJECT' AS obj");
    for (size_t i = 0; i < ncols; i++) {
        (void)sm_buf_addf(&q, ", CASE WHEN ok AND json_type(CASE WHEN ok THEN raw END) = "
                              "'OBJECT' THEN json_extract(raw, ");
        add_key_path(&q, cols[i].name);
        (void)sm_buf_addf(&q, ") END AS j%zu", i);
    }
    (void)sm_buf_adds(&q, " FROM smelt_ndv; CREATE OR REPLACE TEMP TABLE smelt_ndt AS SELECT *");
    for (size_t i = 0; i < ncols; i++) {
        if (is_nested(cols[i].type))
            (void)sm_buf_addf(&q, ", TRY_CAST(j%zu AS %s) AS v%zu", i, cols[i].type, i);
        else
            (void)sm_buf_addf(&q, ", TRY_CAST(json_extract_string(j%zu, '$') AS %s) AS v%zu", i,
                              cols[i].type, i);
    }
    (void)sm_buf_adds(&q, " FROM smelt_ndj; CREATE OR REPLACE TEMP TABLE smelt_ndx AS SELECT *");
    for (size_t i = 0; i < ncols; i++)
        (void)sm_buf_addf(&q, ", (j%zu IS NOT NULL AND json_type(j%zu) <> 'NULL' AND v%zu IS NULL) "
                              "AS bad%zu",
                          i, i, i, i);
    (void)sm_buf_adds(&q, " FROM smelt_ndt");
    int rc = eng_exec(ld->db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

static void add_any_nd_bad(struct sm_buf *b, size_t ncols)
{
    (void)sm_buf_adds(b, "(false");
    for (size_t i = 0; i < ncols; i++)
        (void)sm_buf_addf(b, " OR bad%zu", i);
    (void)sm_buf_adds(b, ")");
}

static void nd_rows_select(struct sm_buf *b, const struct load *ld, const struct prj_column *cols,
                           size_t ncols)
{
    (void)sm_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < ncols; i++) {
        (void)sm_buf_addf(b, "v%zu AS ", i);
        (void)sm_buf_add_sql_ident(b, cols[i].name);
        (void)sm_buf_adds(b, ", ");
    }
    (void)sm_buf_addf(b,
                      "batch_id AS _batch_id, source_file AS _source_file, CAST('%s' AS "
                      "TIMESTAMP) AS _ingested_at, line AS _source_line FROM smelt_ndx WHERE obj "
                      "AND NOT ",
                      ld->ingested_at);
    add_any_nd_bad(b, ncols);
}

static void nd_quarantine_select(struct sm_buf *b, const struct load *ld,
                                 const struct prj_column *cols, size_t ncols)
{
    (void)sm_buf_adds(b, "SELECT source_file, line, CASE");
    for (size_t i = 0; i < ncols; i++) {
        (void)sm_buf_addf(b, " WHEN bad%zu THEN ", i);
        (void)sm_buf_add_sql_str(b, cols[i].name);
    }
    (void)sm_buf_adds(b, " END, CASE WHEN NOT ok THEN 'INVALID JSON' WHEN NOT obj THEN 'NOT AN "
                         "OBJECT' ELSE 'CAST' END, raw, CASE WHEN NOT ok THEN 'the line is not "
                         "valid JSON' WHEN NOT obj THEN 'the line is JSON but not an object: ' || "
                         "lower(json_type(CASE WHEN ok THEN raw END)) ELSE concat_ws('; '");
    for (size_t i = 0; i < ncols; i++) {
        struct sm_buf msg = SM_BUF_INIT;
        (void)sm_buf_addf(&msg, " to %s for column '%s'", cols[i].type, cols[i].name);
        (void)sm_buf_addf(b, ", CASE WHEN bad%zu THEN 'cannot cast ' || CAST(j%zu AS VARCHAR) || ",
                          i, i);
        (void)sm_buf_add_sql_str(b, msg.buf);
        (void)sm_buf_adds(b, " END");
        sm_buf_release(&msg);
    }
    (void)sm_buf_addf(b,
                      ") END, batch_id, CAST('%s' AS TIMESTAMP) FROM smelt_ndx WHERE NOT obj OR ",
                      ld->ingested_at);
    add_any_nd_bad(b, ncols);
}

/* --- bronze: the tables ------------------------------------------------------------- */

/* Provenance columns of a bronze table of files, in this order. */
static void add_empty_provenance(struct sm_buf *b)
{
    (void)sm_buf_adds(b, "CAST(NULL AS VARCHAR) AS _batch_id, CAST(NULL AS VARCHAR) AS "
                         "_source_file, CAST(NULL AS TIMESTAMP) AS _ingested_at, CAST(NULL AS "
                         "BIGINT) AS _source_line");
}

static void files_bronze_select(struct sm_buf *b, const struct load *ld,
                                const struct prj_column *ndcols, size_t nndcols)
{
    const struct prj_source *src = ld->src;
    bool any = false;
    if (ld->staged) {
        (void)sm_buf_adds(b, "SELECT ");
        if (src->ncolumns) {
            for (size_t i = 0; i < src->ncolumns; i++) {
                (void)sm_buf_adds(b, "s.");
                (void)sm_buf_add_sql_ident(b, src->columns[i].name);
                (void)sm_buf_adds(b, ", ");
            }
        } else {
            (void)sm_buf_adds(b, "s.* EXCLUDE (filename), ");
        }
        (void)sm_buf_addf(b,
                          "u.batch_id AS _batch_id, u.source_file AS _source_file, CAST('%s' AS "
                          "TIMESTAMP) AS _ingested_at, ",
                          ld->ingested_at);
        add_line_expr(b);
        (void)sm_buf_adds(b, " AS _source_line FROM smelt_stage s JOIN smelt_units u ON "
                             "s.filename = u.filename");
        any = true;
    }
    if (ld->by_line_staged) {
        if (any)
            (void)sm_buf_adds(b, " UNION ALL BY NAME ");
        nd_rows_select(b, ld, ndcols, nndcols);
        any = true;
    }
    if (any)
        return;
    /* Nothing readable: the declared schema, no rows, so the table exists. */
    (void)sm_buf_adds(b, "SELECT ");
    for (size_t i = 0; i < src->ncolumns; i++) {
        (void)sm_buf_addf(b, "CAST(NULL AS %s) AS ", src->columns[i].type);
        (void)sm_buf_add_sql_ident(b, src->columns[i].name);
        (void)sm_buf_adds(b, ", ");
    }
    add_empty_provenance(b);
    (void)sm_buf_adds(b, " WHERE false");
}

/* The quarantine table's columns, with no rows: the first part of every
 * quarantine SELECT. */
static void quarantine_head(struct sm_buf *b, const char *ingested_at)
{
    (void)sm_buf_addf(b,
                      "SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS line, "
                      "CAST(NULL AS VARCHAR) AS column_name, CAST(NULL AS VARCHAR) AS error_type, "
                      "CAST(NULL AS VARCHAR) AS raw, CAST(NULL AS VARCHAR) AS error, "
                      "CAST(NULL AS VARCHAR) AS _batch_id, "
                      "CAST('%s' AS TIMESTAMP) AS _quarantined_at WHERE false",
                      ingested_at);
}

static void add_bad_rows(struct sm_buf *b, const struct bad *bad, size_t nbad,
                         const char *ingested_at)
{
    for (size_t i = 0; i < nbad; i++) {
        (void)sm_buf_adds(b, " UNION ALL SELECT ");
        (void)sm_buf_add_sql_str(b, bad[i].source_file);
        (void)sm_buf_adds(b, ", NULL, NULL, 'UNREADABLE FILE', NULL, ");
        (void)sm_buf_add_sql_str(b, bad[i].error);
        (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, bad[i].batch_id);
        (void)sm_buf_addf(b, ", CAST('%s' AS TIMESTAMP)", ingested_at);
    }
}

static void files_quarantine_select(struct sm_buf *b, const struct load *ld,
                                    const struct prj_column *ndcols, size_t nndcols)
{
    static const char *const rejects[][2] = {{"smelt_rejects", "smelt_reject_scans"},
                                             {"smelt_ndrejects", "smelt_ndreject_scans"}};
    quarantine_head(b, ld->ingested_at);
    for (int k = 0; k < 2; k++) {
        if (k == 0 ? !(ld->staged && csv_like(ld->src)) : !ld->by_line_staged)
            continue;
        (void)sm_buf_addf(b,
                          " UNION ALL SELECT u.source_file, CAST(e.line AS BIGINT), "
                          "e.column_name, CAST(e.error_type AS VARCHAR), e.csv_line, "
                          "e.error_message, u.batch_id, CAST('%s' AS TIMESTAMP) FROM %s e JOIN %s "
                          "s USING (scan_id, file_id) JOIN smelt_units u ON u.filename = "
                          "s.file_path",
                          ld->ingested_at, rejects[k][0], rejects[k][1]);
    }
    if (ld->by_line_staged) {
        (void)sm_buf_adds(b, " UNION ALL ");
        nd_quarantine_select(b, ld, ndcols, nndcols);
    }
    add_bad_rows(b, ld->bad, ld->nbad, ld->ingested_at);
}

/* Lines quarantined (not whole files): rejected lines counted once each. */
static int count_bad_lines(const struct load *ld, size_t nndcols, int64_t *out, struct sm_err *err)
{
    *out = 0;
    int64_t n = 0;
    if (ld->staged && csv_like(ld->src)) {
        SM_TRY(eng_query_i64(ld->db,
                             "SELECT count(*) FROM (SELECT DISTINCT scan_id, file_id, line "
                             "FROM smelt_rejects)",
                             &n, err));
        *out += n;
    }
    if (ld->by_line_staged) {
        SM_TRY(eng_query_i64(ld->db,
                             "SELECT count(*) FROM (SELECT DISTINCT scan_id, file_id, line "
                             "FROM smelt_ndrejects)",
                             &n, err));
        *out += n;
        struct sm_buf q = SM_BUF_INIT;
        (void)sm_buf_adds(&q, "SELECT count(*) FROM smelt_ndx WHERE NOT obj OR ");
        add_any_nd_bad(&q, nndcols);
        int rc = eng_query_i64(ld->db, q.buf, &n, err);
        sm_buf_release(&q);
        SM_TRY(rc);
        *out += n;
    }
    return 0;
}

static void load_release(struct load *ld)
{
    static const char *const tmp[] = {"smelt_stage", "smelt_units", "smelt_ndlines", "smelt_ndv",
                                      "smelt_ndj",   "smelt_ndt",   "smelt_ndx"};
    for (size_t i = 0; i < sizeof(tmp) / sizeof(tmp[0]); i++) {
        char *q = sm_asprintf("DROP TABLE IF EXISTS %s", tmp[i]);
        if (eng_exec(ld->db, q, NULL))
            sm_debug("cannot drop the temporary table '%s'", tmp[i]);
        free(q);
    }
    for (size_t i = 0; i < ld->nu; i++) {
        free(ld->u[i].read_path);
        free(ld->u[i].source_file);
        ing_lines_release(&ld->u[i].lines);
    }
    free(ld->u);
    for (size_t i = 0; i < ld->nbad; i++) {
        free(ld->bad[i].source_file);
        free(ld->bad[i].error);
    }
    free(ld->bad);
    if (ld->tmpdir && sm_rmtree(ld->tmpdir, NULL))
        sm_warn("cannot remove the temporary folder '%s'", ld->tmpdir);
    free(ld->tmpdir);
}

/* --- bronze: loading --------------------------------------------------------------- */

static int open_snapshot(const char *loc, struct tbl_snapshot **out, struct sm_err *err)
{
    *out = NULL;
    if (tbl_latest_version(loc) < 0)
        return 0;
    return tbl_snapshot_open(loc, -1, out, err);
}

/* REST pages: each readable page's records are staged by rest.c; a page
 * that is not JSON is quarantined whole. */
static int rest_write(struct load *ld, struct st_landed *files, size_t nfiles,
                      const struct tbl_snapshot *bsnap, bool write_bronze, const char *bloc,
                      struct tbl_commit **bc, struct sm_buf *quarantine, bool *staged,
                      struct ing_stats *out, struct sm_err *err)
{
    const struct st_landed **good = sm_calloc(nfiles ? nfiles : 1, sizeof(*good));
    size_t ngood = 0;
    int rc = 0;
    for (size_t i = 0; i < nfiles; i++) {
        struct sm_err e = SM_ERR_INIT;
        if (files[i].size == 0)
            continue;
        if (ing_rest_check_page(ld->db, &files[i], &e)) {
            add_bad(ld, sm_strdup(files[i].landing_path + ld->skip - 1), files[i].batch_id, e.msg);
            continue;
        }
        good[ngood++] = &files[i];
    }
    if (write_bronze) {
        bool lazy = false;
        rc = ing_rest_stage(ld->db, ld->p, ld->src, bsnap, good, ngood, ld->ingested_at, false,
                            &out->rows_quarantined, &lazy, err);
        *staged = !rc;
        while (!rc) {
            struct sm_err e = SM_ERR_INIT;
            struct sm_buf q = SM_BUF_INIT;
            ing_rest_select(&q, ld->src, "rows");
            rc = tbl_write_select(ld->db, bloc, q.buf, NULL, *bc, NULL, &e);
            sm_buf_release(&q);
            if (!rc || !lazy || rc == SM_ECANCELLED) {
                if (rc)
                    sm_err_set(err, rc, "%s", e.msg);
                break;
            }
            /* A page beyond DuckDB's sample does not fit the types it
             * inferred: read every record instead. */
            sm_debug("bronze.%s: %s; reading the pages record by record", ld->src->name, e.msg);
            ing_rest_unstage(ld->db, ld->src);
            tbl_commit_free(*bc);
            *bc = tbl_commit_new("WRITE");
            out->rows_quarantined = 0;
            rc = ing_rest_stage(ld->db, ld->p, ld->src, bsnap, good, ngood, ld->ingested_at, true,
                                &out->rows_quarantined, &lazy, err);
            *staged = !rc;
        }
        if (!rc) {
            out->rows_out = tbl_commit_rows_added(*bc);
            out->rows_in = out->rows_out + out->rows_quarantined;
        }
    }
    quarantine_head(quarantine, ld->ingested_at);
    add_bad_rows(quarantine, ld->bad, ld->nbad, ld->ingested_at);
    if (*staged) {
        (void)sm_buf_adds(quarantine, " UNION ALL ");
        ing_rest_select(quarantine, ld->src, "rejects");
    }
    free(good);
    return rc;
}

/* Files: units read into temporary tables, then bronze written from them. */
static int files_write(struct load *ld, struct st_landed *files, size_t nfiles, bool write_bronze,
                       const char *bloc, struct tbl_commit *bc, struct sm_buf *quarantine,
                       struct ing_stats *out, struct sm_err *err)
{
    struct prj_column *ndcols = NULL;
    size_t nndcols = 0;
    struct sm_buf q = SM_BUF_INIT;
    ld->tmpdir = sm_asprintf("%s/ingest-%s", ld->p->temp_directory, ld->src->name);
    int rc = sm_rmtree(ld->tmpdir, err);
    if (!rc)
        rc = sm_mkdirs(ld->tmpdir, err);
    for (size_t i = 0; i < nfiles && !rc; i++)
        if (files[i].size > 0) /* an empty file has no rows; it stays in landing */
            rc = prepare_file(ld, &files[i], i, err);
    if (!rc && write_bronze)
        rc = stage(ld, err);
    if (!rc && write_bronze)
        rc = build_units(ld, err);
    if (!rc && ld->by_line_staged) {
        rc = nd_columns(ld, &ndcols, &nndcols, err);
        if (!rc)
            rc = nd_type(ld, ndcols, nndcols, err);
    }
    if (!rc && write_bronze) {
        files_bronze_select(&q, ld, ndcols, nndcols);
        rc = tbl_write_select(ld->db, bloc, q.buf, NULL, bc, NULL, err);
    }
    int64_t nlines = 0;
    if (!rc && write_bronze)
        rc = count_bad_lines(ld, nndcols, &nlines, err);
    if (!rc && write_bronze) {
        out->rows_out = tbl_commit_rows_added(bc);
        out->rows_quarantined += nlines;
        out->rows_in = out->rows_out + out->rows_quarantined;
    }
    if (!rc)
        files_quarantine_select(quarantine, ld, ndcols, nndcols);
    free_columns(ndcols, nndcols);
    sm_buf_release(&q);
    return rc;
}

int ing_load_bronze(struct eng_db *db, struct st_db *st, const struct prj_project *p,
                    const struct prj_source *src, const char *ingested_at, struct ing_stats *out,
                    struct sm_err *err)
{
    char *bloc = ing_bronze_location(p, src->name), *qloc = ing_quarantine_location(p, src->name);
    char *app = sm_asprintf("smelt:bronze.%s", src->name);
    struct tbl_snapshot *bsnap = NULL, *qsnap = NULL;
    struct st_landed *files = NULL;
    size_t nfiles = 0;
    struct tbl_commit *bc = NULL, *qc = NULL;
    struct sm_buf q = SM_BUF_INIT;
    struct load ld = {.db = db, .p = p, .src = src, .ingested_at = ingested_at,
                      .skip = strlen(p->lake) + 2};
    bool rest = !strcmp(src->kind, "rest"), rest_staged = false;
    int rc = open_snapshot(bloc, &bsnap, err);
    if (!rc)
        rc = open_snapshot(qloc, &qsnap, err);
    if (rc)
        goto out;
    int64_t bdone = tbl_snapshot_txn(bsnap, app), qdone = tbl_snapshot_txn(qsnap, app);
    rc = st_landed_list(st, src->name, bdone < qdone ? bdone : qdone, &files, &nfiles, err);
    if (rc || !nfiles)
        goto out;
    /* A crash between the quarantine and the bronze commit left quarantine
     * ahead: finish exactly that batch first, so its rejects are not
     * quarantined twice; newer files wait for the next run. */
    if (qdone > bdone) {
        while (nfiles > 0 && files[nfiles - 1].id > qdone) {
            st_landed_release(&files[nfiles - 1]);
            nfiles--;
        }
    }
    if (!nfiles)
        goto out;
    int64_t maxid = files[nfiles - 1].id;
    out->files_loaded = (int64_t)nfiles;
    bool write_bronze = bdone < maxid;
    if (write_bronze)
        bc = tbl_commit_new("WRITE");
    if (rest)
        rc = rest_write(&ld, files, nfiles, bsnap, write_bronze, bloc, &bc, &q, &rest_staged, out,
                        err);
    else
        rc = files_write(&ld, files, nfiles, write_bronze, bloc, bc, &q, out, err);
    if (rc)
        goto out;
    out->rows_quarantined += (int64_t)ld.nbad;
    out->files_quarantined = (int64_t)ld.nbad;

    if (qdone < maxid) {
        qc = tbl_commit_new("WRITE");
        rc = tbl_write_select(db, qloc, q.buf, NULL, qc, NULL, err);
        tbl_commit_set_txn(qc, app, maxid);
        if (!rc)
            rc = tbl_commit_write(qc, qloc, qsnap ? qsnap->version : -1, qsnap, NULL, err);
        if (rc)
            goto out;
    }
    if (bc) {
        tbl_commit_set_txn(bc, app, maxid);
        rc = tbl_commit_write(bc, bloc, bsnap ? bsnap->version : -1, bsnap, NULL, err);
        if (!rc)
            out->committed = true;
    }
out:
    if (rest_staged)
        ing_rest_unstage(db, src);
    load_release(&ld);
    st_landed_free_array(files, nfiles);
    tbl_commit_free(bc);
    tbl_commit_free(qc);
    tbl_snapshot_free(bsnap);
    tbl_snapshot_free(qsnap);
    sm_buf_release(&q);
    free(app);
    free(bloc);
    free(qloc);
    return rc;
}
