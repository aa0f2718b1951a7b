/*
 * maintain.c — table maintenance on top of the log: RESTORE (a commit that
 * makes the live set equal an older version's), VACUUM (deleting files no
 * version inside the retention window needs) and OPTIMIZE (compacting small
 * files; dataChange=false so streaming readers skip it).
 */
#include "table.h"
#include "table_int.h"

#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>

static bool has_path(const struct tbl_snapshot *s, const struct tbl_file *f)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (!strcmp(s->files[i].path, f->path) &&
            !strcmp(sm_or(s->files[i].deletion_vector, ""), sm_or(f->deletion_vector, "")))
            return true;
    return false;
}

int tbl_restore(const char *location, int64_t version, int64_t *out_version, struct sm_err *err)
{
    struct tbl_snapshot *cur = NULL, *old = NULL;
    SM_TRY(tbl_snapshot_open(location, -1, &cur, err));
    int rc = tbl_snapshot_open(location, version, &old, err);
    if (rc) {
        tbl_snapshot_free(cur);
        return rc;
    }
    /* Every file the old version needs must still exist (VACUUM may have
     * deleted it): check before committing anything. */
    for (size_t i = 0; i < old->nfiles && !rc; i++) {
        char *p = sm_path_join(location, old->files[i].path);
        if (!has_path(cur, &old->files[i]) && !sm_path_exists(p))
            rc = sm_err_set(err, SM_ENOTFOUND,
                            "cannot restore version %lld: its file '%s' was deleted (by vacuum?)",
                            (long long)version, old->files[i].path);
        free(p);
    }
    struct tbl_commit *c = tbl_commit_new("RESTORE");
    for (size_t i = 0; i < cur->nfiles && !rc; i++)
        if (!has_path(old, &cur->files[i]))
            tbl_commit_remove_file(c, &cur->files[i]);
    for (size_t i = 0; i < old->nfiles && !rc; i++)
        if (!has_path(cur, &old->files[i]))
            tbl_commit_add_file(c, &old->files[i]);
    if (!rc) {
        tbl_commit_set_schema(c, old);
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)version);
        tbl_commit_set_info(c, "smelt.restoredVersion", v);
        rc = tbl_commit_write(c, location, cur->version, cur, out_version, err);
    }
    tbl_commit_free(c);
    tbl_snapshot_free(cur);
    tbl_snapshot_free(old);
    return rc;
}

/* Paths (decoded) of files removed at or after cutoff_ms, from every JSON
 * commit still in the log. */
static int recent_removes(const char *location, int64_t cutoff_ms, struct sm_map *keep,
                          struct sm_err *err)
{
    char *dir = sm_asprintf("%s/_delta_log", location);
    DIR *d = opendir(dir);
    int rc = 0;
    struct dirent *e;
    while (d && !rc && (e = readdir(d))) {
        if (!sm_ends_with(e->d_name, ".json") || strlen(e->d_name) != 25)
            continue;
        char *path = sm_path_join(dir, e->d_name);
        char *text = NULL;
        rc = sm_read_file(path, &text, NULL, err);
        free(path);
        for (char *line = text, *next; !rc && line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = 0;
            json_t *a = json_loads(line, 0, NULL);
            json_t *r = json_object_get(a, "remove");
            const char *p = json_string_value(json_object_get(r, "path"));
            json_t *ts = json_object_get(r, "deletionTimestamp");
            if (p && (!json_is_integer(ts) || json_integer_value(ts) >= cutoff_ms)) {
                char *dec = tbl_uri_decode(p);
                sm_map_put(keep, dec, (void *)1);
                free(dec);
            }
            json_decref(a);
        }
        free(text);
    }
    if (d)
        closedir(d);
    free(dir);
    return rc;
}

struct vac {
    const char *root;
    size_t rootlen;
    const struct sm_map *keep;
    int64_t cutoff_s;
    bool dry_run;
    void (*on_file)(const char *, void *);
    void *ctx;
    struct tbl_vacuum_result *out;
    struct sm_err *err;
};

static int vacuum_dir(struct vac *v, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return sm_err_set(v->err, SM_EIO, "cannot open '%s': %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        /* hidden and underscore entries (_delta_log, .crc files) are not data */
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        char *path = sm_path_join(dir, e->d_name);
        struct stat st;
        if (lstat(path, &st)) {
            free(path);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = vacuum_dir(v, path);
        } else if (S_ISREG(st.st_mode)) {
            const char *rel = path + v->rootlen + 1;
            if (sm_map_get(v->keep, rel) || st.st_mtime > v->cutoff_s) {
                v->out->files_kept++;
            } else {
                if (v->on_file)
                    v->on_file(rel, v->ctx);
                if (!v->dry_run && unlink(path))
                    rc = sm_err_set(v->err, SM_EIO, "cannot delete '%s': %s", path, strerror(errno));
                v->out->files_deleted++;
                v->out->bytes_deleted += st.st_size;
            }
        }
        free(path);
    }
    closedir(d);
    return rc;
}

int tbl_vacuum(const char *location, double retain_hours, bool dry_run,
               void (*on_file)(const char *path, void *ctx), void *ctx,
               struct tbl_vacuum_result *out, struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    struct tbl_snapshot *s;
    SM_TRY(tbl_snapshot_open(location, -1, &s, err));
    int64_t cutoff_ms = sm_now_ms() - (int64_t)(retain_hours * 3600e3);
    struct sm_map keep = SM_MAP_INIT;
    for (size_t i = 0; i < s->nfiles; i++)
        sm_map_put(&keep, s->files[i].path, (void *)1);
    int rc = recent_removes(location, cutoff_ms, &keep, err);
    if (!rc) {
        struct vac v = {location, strlen(location), &keep, cutoff_ms / 1000, dry_run,
                        on_file,  ctx,              out,   err};
        rc = vacuum_dir(&v, location);
    }
    sm_map_release(&keep);
    tbl_snapshot_free(s);
    return rc;
}

int tbl_optimize(struct eng_db *db, const char *location, int64_t target_bytes,
                 struct tbl_optimize_result *out, struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    out->version = -1;
    struct tbl_snapshot *s;
    SM_TRY(tbl_snapshot_open(location, -1, &s, err));
    int rc = 0;
    struct sm_buf parts = SM_BUF_INIT; /* the partition columns, comma-joined */
    for (size_t i = 0; i < s->npartition_columns; i++)
        (void)sm_buf_addf(&parts, "%s%s", i ? "," : "", s->partition_columns[i]);
    struct tbl_commit *c = tbl_commit_new("OPTIMIZE");
    tbl_commit_set_data_change(c, false);
    bool *done = sm_calloc(s->nfiles ? s->nfiles : 1, sizeof(bool));
    struct tbl_file *group = sm_calloc(s->nfiles ? s->nfiles : 1, sizeof(*group));
    struct sm_buf q = SM_BUF_INIT;
    /* One bin per partition: every file below half the target joins it. */
    for (size_t i = 0; i < s->nfiles && !rc; i++) {
        if (done[i] || s->files[i].size >= target_bytes / 2)
            continue;
        const char *pv = sm_or(s->files[i].partition_values, "{}");
        size_t n = 0;
        int64_t bytes = 0;
        for (size_t j = i; j < s->nfiles && bytes < target_bytes; j++) {
            if (done[j] || s->files[j].size >= target_bytes / 2 ||
                strcmp(sm_or(s->files[j].partition_values, "{}"), pv))
                continue;
            group[n++] = s->files[j];
            bytes += s->files[j].size;
            done[j] = true;
        }
        if (n < 2)
            continue;
        /* Read exactly these files (deletion vectors applied) and write one. */
        struct tbl_snapshot sub = *s;
        sub.files = group;
        sub.nfiles = n;
        sm_buf_reset(&q);
        tbl_snapshot_view_sql(&sub, &q);
        int64_t rows = 0;
        rc = tbl_write_select(db, location, q.buf, parts.len ? parts.buf : NULL, c, &rows, err);
        for (size_t k = 0; k < n && !rc; k++)
            tbl_commit_remove_file(c, &group[k]);
        out->files_removed += n;
    }
    if (!rc && out->files_removed) {
        /* a rewrite keeps the table's metadata exactly */
        tbl_commit_set_schema(c, s);
        out->files_added = tbl_commit_files_added(c);
        rc = tbl_commit_write(c, location, s->version, s, &out->version, err);
    }
    sm_buf_release(&q);
    sm_buf_release(&parts);
    free(group);
    free(done);
    tbl_commit_free(c);
    tbl_snapshot_free(s);
    return rc;
}
