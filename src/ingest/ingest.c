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
#include "ingest.h"

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
    bool ended = false, any = false;
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
        any = true;
        zs.next_in = in;
        zs.avail_in = (uInt)n;
        while (zs.avail_in) {
            if (ended) {
                /* Another gzip member may follow (concatenated .gz files). */
                if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
                    inflateReset(&zs);
                    ended = false;
                } else {
                    zs.avail_in = 0; /* trailing garbage, as gzip -t tolerates */
                    break;
                }
            }
            zs.next_out = outb;
            zs.avail_out = (uInt)outsz;
            zr = inflate(&zs, Z_NO_FLUSH);
            if (zr == Z_STREAM_END) {
                ended = true;
            } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
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
    inflateEnd(&zs);
    free(in);
    free(outb);
    close(fd);
    return rc;
}

/* --- bronze ------------------------------------------------------------------ */

struct bad_file {
    const struct st_landed *file;
    char *error;
};

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

/* The table function call that reads files with the source's options. */
static void add_reader(struct sm_buf *b, const struct prj_source *src,
                       const struct st_landed **files, size_t n, bool relaxed)
{
    static const char *fn[] = {[PRJ_FMT_CSV] = "read_csv",
                               [PRJ_FMT_NDJSON] = "read_json",
                               [PRJ_FMT_JSON] = "read_json",
                               [PRJ_FMT_PARQUET] = "read_parquet"};
    (void)sm_buf_addf(b, "%s([", fn[src->format]);
    for (size_t i = 0; i < n; i++) {
        if (i)
            (void)sm_buf_addc(b, ',');
        (void)sm_buf_add_sql_str(b, files[i]->landing_path);
    }
    (void)sm_buf_adds(b, "], filename=true");
    switch (src->format) {
    case PRJ_FMT_CSV:
        (void)sm_buf_adds(b, ", ");
        add_columns_struct(b, src);
        (void)sm_buf_addf(b, ", header=%s, auto_detect=false", src->header ? "true" : "false");
        add_opt(b, "delim", src->delimiter);
        add_opt(b, "quote", src->quote);
        add_opt(b, "escape", src->escape);
        add_opt(b, "nullstr", src->null_string);
        add_opt(b, "dateformat", src->date_format);
        add_opt(b, "timestampformat", src->timestamp_format);
        if (relaxed)
            (void)sm_buf_adds(b, ", strict_mode=false");
        (void)sm_buf_adds(b, ", store_rejects=true, rejects_table='smelt_rejects', "
                             "rejects_scan='smelt_reject_scans'");
        break;
    case PRJ_FMT_NDJSON:
    case PRJ_FMT_JSON:
        (void)sm_buf_addf(b, ", format='%s'",
                          src->format == PRJ_FMT_NDJSON ? "newline_delimited" : "array");
        if (src->ncolumns) {
            (void)sm_buf_adds(b, ", ");
            add_columns_struct(b, src);
        }
        add_opt(b, "dateformat", src->date_format);
        add_opt(b, "timestampformat", src->timestamp_format);
        break;
    case PRJ_FMT_PARQUET:
        break;
    }
    (void)sm_buf_adds(b, ")");
}

/* SELECT of the bronze rows of files: declared columns, then provenance. */
static void bronze_select_one(struct sm_buf *b, const struct prj_project *p,
                              const struct prj_source *src, const struct st_landed **files,
                              size_t n, const char *ingested_at, bool relaxed)
{
    if (!strcmp(src->kind, "rest")) { /* staged by ing_rest_stage() */
        ing_rest_select(b, src, "rows");
        return;
    }
    (void)sm_buf_adds(b, "SELECT ");
    if (!n) { /* no readable file: the declared schema, no rows */
        for (size_t i = 0; i < src->ncolumns; i++) {
            (void)sm_buf_addf(b, "CAST(NULL AS %s) AS ", src->columns[i].type);
            (void)sm_buf_add_sql_ident(b, src->columns[i].name);
            (void)sm_buf_adds(b, ", ");
        }
        (void)sm_buf_adds(b, "CAST(NULL AS VARCHAR) AS _batch_id, CAST(NULL AS VARCHAR) AS "
                             "_source_file, CAST(NULL AS TIMESTAMP) AS _ingested_at WHERE false");
        return;
    }
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
    } else {
        (void)sm_buf_adds(b, "* EXCLUDE (filename), ");
    }
    (void)sm_buf_addf(b,
                      "split_part(filename, '/', -2) AS _batch_id, "
                      "substr(filename, %zu) AS _source_file, "
                      "CAST('%s' AS TIMESTAMP) AS _ingested_at FROM ",
                      strlen(p->lake) + 2, ingested_at);
    add_reader(b, src, files, n, relaxed);
}

/* The bronze SELECT of files; those flagged in relaxed (may be NULL) are read
 * with DuckDB's strict mode off, in a scan of their own. */
static void bronze_select(struct sm_buf *b, const struct prj_project *p,
                          const struct prj_source *src, const struct st_landed **files, size_t n,
                          const char *ingested_at, const bool *relaxed)
{
    const struct st_landed **part[2];
    size_t np[2] = {0, 0};
    part[0] = sm_calloc(n ? n : 1, sizeof(*files));
    part[1] = sm_calloc(n ? n : 1, sizeof(*files));
    for (size_t i = 0; i < n; i++) {
        int k = relaxed && relaxed[i];
        part[k][np[k]++] = files[i];
    }
    if (!np[1])
        bronze_select_one(b, p, src, files, n, ingested_at, false);
    else if (!np[0])
        bronze_select_one(b, p, src, part[1], np[1], ingested_at, true);
    else {
        bronze_select_one(b, p, src, part[0], np[0], ingested_at, false);
        (void)sm_buf_adds(b, " UNION ALL ");
        bronze_select_one(b, p, src, part[1], np[1], ingested_at, true);
    }
    free(part[0]);
    free(part[1]);
}

static int probe_file(struct eng_db *db, const struct prj_project *p,
                      const struct prj_source *src, const char *ingested_at,
                      const struct st_landed *f, bool relaxed, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_probe AS ");
    bronze_select_one(&q, p, src, &f, 1, ingested_at, relaxed);
    (void)sm_buf_adds(&q, "; DROP TABLE smelt_probe");
    int rc = eng_exec(db, q.buf, err);
    sm_buf_release(&q);
    return rc;
}

/* Try to load each file alone (materialized, so every cast runs); move
 * those that fail to bad. A CSV that only DuckDB's strict mode refuses (e.g.
 * CRLF lines with a last line ending in LF, as many exports have) is read
 * with strict mode off and flagged in relaxed[]. */
static void split_unreadable(struct eng_db *db, const struct prj_project *p,
                             const struct prj_source *src, const char *ingested_at,
                             const struct st_landed **good, size_t *ngood, bool *relaxed,
                             struct bad_file *bad, size_t *nbad)
{
    size_t keep = 0;
    for (size_t i = 0; i < *ngood; i++) {
        struct sm_err e = SM_ERR_INIT;
        bool lax = false;
        int rc = probe_file(db, p, src, ingested_at, good[i], false, &e);
        if (rc && src->format == PRJ_FMT_CSV && strstr(e.msg, "strict_mode=false")) {
            struct sm_err e2 = SM_ERR_INIT;
            rc = probe_file(db, p, src, ingested_at, good[i], true, &e2);
            lax = !rc;
            if (lax)
                sm_warn("'%s' is not strict CSV (e.g. mixed line endings); read with DuckDB's "
                        "strict_mode off",
                        good[i]->landing_path);
        }
        if (rc) {
            bad[*nbad].file = good[i];
            bad[(*nbad)++].error = sm_strdup(e.msg);
        } else {
            relaxed[keep] = lax;
            good[keep++] = good[i];
        }
    }
    *ngood = keep;
}

static void quarantine_select(struct sm_buf *b, const struct prj_project *p, bool have_rejects,
                              const struct bad_file *bad, size_t nbad, const char *ingested_at)
{
    size_t skip = strlen(p->lake) + 2;
    (void)sm_buf_addf(b,
                      "SELECT CAST(NULL AS VARCHAR) AS _source_file, CAST(NULL AS BIGINT) AS line, "
                      "CAST(NULL AS VARCHAR) AS column_name, CAST(NULL AS VARCHAR) AS error_type, "
                      "CAST(NULL AS VARCHAR) AS raw, CAST(NULL AS VARCHAR) AS error, "
                      "CAST(NULL AS VARCHAR) AS _batch_id, "
                      "CAST('%s' AS TIMESTAMP) AS _quarantined_at WHERE false",
                      ingested_at);
    if (have_rejects)
        (void)sm_buf_addf(b,
                          " UNION ALL SELECT substr(s.file_path, %zu), CAST(e.line AS BIGINT), "
                          "e.column_name, CAST(e.error_type AS VARCHAR), e.csv_line, "
                          "e.error_message, split_part(s.file_path, '/', -2), "
                          "CAST('%s' AS TIMESTAMP) FROM smelt_rejects e JOIN smelt_reject_scans s "
                          "USING (scan_id, file_id)",
                          skip, ingested_at);
    for (size_t i = 0; i < nbad; i++) {
        (void)sm_buf_adds(b, " UNION ALL SELECT ");
        (void)sm_buf_add_sql_str(b, bad[i].file->landing_path + skip - 1);
        (void)sm_buf_adds(b, ", NULL, NULL, 'UNREADABLE FILE', NULL, ");
        (void)sm_buf_add_sql_str(b, bad[i].error);
        (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, bad[i].file->batch_id);
        (void)sm_buf_addf(b, ", CAST('%s' AS TIMESTAMP)", ingested_at);
    }
}

static int open_snapshot(const char *loc, struct tbl_snapshot **out, struct sm_err *err)
{
    *out = NULL;
    if (tbl_latest_version(loc) < 0)
        return 0;
    return tbl_snapshot_open(loc, -1, out, err);
}

int ing_load_bronze(struct eng_db *db, struct st_db *st, const struct prj_project *p,
                    const struct prj_source *src, const char *ingested_at, struct ing_stats *out,
                    struct sm_err *err)
{
    char *bloc = ing_bronze_location(p, src->name), *qloc = ing_quarantine_location(p, src->name);
    char *app = sm_asprintf("smelt:bronze.%s", src->name);
    struct tbl_snapshot *bsnap = NULL, *qsnap = NULL;
    struct st_landed *files = NULL;
    size_t nfiles = 0, ngood = 0, nbad = 0;
    const struct st_landed **good = NULL;
    struct bad_file *bad = NULL;
    bool *relaxed = NULL; /* per good file: read with strict mode off */
    struct tbl_commit *bc = NULL, *qc = NULL;
    struct sm_buf q = SM_BUF_INIT;
    bool rest = !strcmp(src->kind, "rest"), staged = false;
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

    /* Classify: unreadable compressed files go to quarantine whole. */
    good = sm_calloc(nfiles, sizeof(*good));
    bad = sm_calloc(nfiles, sizeof(*bad));
    relaxed = sm_calloc(nfiles, sizeof(bool));
    for (size_t i = 0; i < nfiles; i++) {
        struct sm_err e = SM_ERR_INIT;
        if (rest && ing_rest_check_page(db, &files[i], &e)) {
            bad[nbad].file = &files[i];
            bad[nbad++].error = sm_strdup(e.msg);
            continue;
        }
        if (files[i].size == 0)
            continue; /* an empty file has no rows; it stays in landing */
        if (sm_ends_with(files[i].landing_path, ".gz") && ing_check_gzip(files[i].landing_path, &e)) {
            bad[nbad].file = &files[i];
            bad[nbad++].error = sm_strdup(e.msg);
            continue;
        }
        good[ngood++] = &files[i];
    }

    bool have_rejects = false, lazy = false;
    if (bdone < maxid) {
        if (rest) {
            rc = ing_rest_stage(db, p, src, bsnap, good, ngood, ingested_at, false,
                                &out->rows_quarantined, &lazy, err);
            if (rc)
                goto out;
            staged = true;
        }
        bc = tbl_commit_new("WRITE");
        for (int attempt = 0; attempt < 2; attempt++) {
            struct sm_err e = SM_ERR_INIT;
            /* The reject tables of a failed attempt must not leak into this one. */
            if (src->format == PRJ_FMT_CSV) {
                rc = eng_exec(db, "DROP TABLE IF EXISTS smelt_rejects; "
                                  "DROP TABLE IF EXISTS smelt_reject_scans",
                              err);
                if (rc)
                    goto out;
            }
            sm_buf_reset(&q);
            bronze_select(&q, p, src, good, ngood, ingested_at, relaxed);
            int64_t rows = 0;
            rc = tbl_write_select(db, bloc, q.buf, NULL, bc, &rows, &e);
            if (!rc)
                break;
            if (lazy && rc != SM_ECANCELLED) {
                /* A page beyond DuckDB's sample does not fit the types it
                 * inferred: read every record instead. */
                sm_debug("bronze.%s: %s; reading the pages record by record", src->name, e.msg);
                ing_rest_unstage(db, src);
                tbl_commit_free(bc);
                bc = tbl_commit_new("WRITE");
                out->rows_quarantined = 0;
                rc = ing_rest_stage(db, p, src, bsnap, good, ngood, ingested_at, true,
                                    &out->rows_quarantined, &lazy, err);
                if (rc)
                    goto out;
                attempt--;
                continue;
            }
            if (attempt == 1 || !ngood || rc == SM_ECANCELLED || rest) {
                rc = sm_err_set(err, rc, "%s", e.msg);
                goto out;
            }
            /* Some file cannot be read at all: find it, quarantine it, retry the rest. */
            tbl_commit_free(bc);
            bc = tbl_commit_new("WRITE");
            split_unreadable(db, p, src, ingested_at, good, &ngood, relaxed, bad, &nbad);
            rc = 0;
        }
        out->rows_out = tbl_commit_rows_added(bc);
        have_rejects = src->format == PRJ_FMT_CSV && ngood;
        if (have_rejects) {
            int64_t nrej = 0;
            rc = eng_query_i64(db,
                               "SELECT count(*) FROM (SELECT DISTINCT scan_id, file_id, line "
                               "FROM smelt_rejects)",
                               &nrej, err);
            if (rc)
                goto out;
            out->rows_quarantined += nrej;
        }
        out->rows_in = out->rows_out + out->rows_quarantined;
    }
    out->rows_quarantined += (int64_t)nbad;
    out->files_quarantined = (int64_t)nbad;

    if (qdone < maxid) {
        qc = tbl_commit_new("WRITE");
        sm_buf_reset(&q);
        quarantine_select(&q, p, have_rejects, bad, nbad, ingested_at);
        if (staged) {
            (void)sm_buf_adds(&q, " UNION ALL ");
            ing_rest_select(&q, src, "rejects");
        }
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
    if (staged)
        ing_rest_unstage(db, src);
    for (size_t i = 0; i < nbad; i++)
        free(bad[i].error);
    free(bad);
    free(relaxed);
    free(good);
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
