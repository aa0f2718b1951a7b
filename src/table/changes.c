/*
 * changes.c — what changed in a table between two versions, and which
 * files can hold given keys: the two questions an incremental model asks.
 *
 * Changes are read from the JSON commits, as Delta streaming reads them:
 * add and remove actions with dataChange=true. Rewrites that change no rows
 * (OPTIMIZE, dataChange=false) are left out, so compaction never makes a
 * downstream model reprocess old rows. A file removed in the range is
 * described by the add that created it (in the snapshot at the start of the
 * range, or earlier in the range).
 *
 * Key matching never reads data files: partition values are compared for
 * equality and min/max stats as ranges, each key column on its own (a file
 * passes when every key column can hold one of the keys' values). That is a
 * superset of the files that hold a key, which is all a copy-on-write
 * rewrite needs; DuckDB does the typed comparisons.
 */
#include "table.h"
#include "table_int.h"

#include <sys/stat.h>

void tbl_changes_release(struct tbl_changes *c)
{
    for (size_t i = 0; i < c->nadded; i++)
        tbl_file_release(&c->added[i]);
    for (size_t i = 0; i < c->nremoved; i++)
        tbl_file_release(&c->removed[i]);
    free(c->added);
    free(c->removed);
    memset(c, 0, sizeof(*c));
}

static void copy_file(struct tbl_file *dst, const struct tbl_file *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->path = sm_strdup(src->path);
    dst->size = src->size;
    dst->modification_time = src->modification_time;
    dst->partition_values = src->partition_values ? sm_strdup(src->partition_values) : NULL;
    dst->stats = src->stats ? sm_strdup(src->stats) : NULL;
    dst->num_records = src->num_records;
    dst->deletion_vector = src->deletion_vector ? sm_strdup(src->deletion_vector) : NULL;
    if (src->ndeleted) {
        dst->deleted_rows = sm_calloc(src->ndeleted, sizeof(uint64_t));
        memcpy(dst->deleted_rows, src->deleted_rows, src->ndeleted * sizeof(uint64_t));
        dst->ndeleted = src->ndeleted;
    }
}

/* The file a remove action refers to: added earlier in the range, or live
 * at the start of it. */
static const struct tbl_file *find_file(const struct tbl_changes *c, const struct tbl_snapshot *base,
                                        const char *path)
{
    for (size_t i = c->nadded; i-- > 0;)
        if (!strcmp(c->added[i].path, path))
            return &c->added[i];
    for (size_t i = 0; base && i < base->nfiles; i++)
        if (!strcmp(base->files[i].path, path))
            return &base->files[i];
    return NULL;
}

struct commit_reader {
    const char *location;
    int64_t v;
    const struct tbl_snapshot *base;
    struct tbl_changes *c;
    size_t added_alloc, removed_alloc;
};

static int change_action(json_t *a, const char *path, size_t line, void *ctx, struct sm_err *err)
{
    struct commit_reader *cr = ctx;
    struct tbl_changes *c = cr->c;
    json_t *x;
    (void)path;
    (void)line;
    if ((x = json_object_get(a, "add")) && !json_is_false(json_object_get(x, "dataChange"))) {
        SM_ALLOC_GROW(c->added, c->nadded + 1, cr->added_alloc);
        memset(&c->added[c->nadded], 0, sizeof(c->added[0]));
        tbl_file_from_add(x, &c->added[c->nadded++]);
        if (c->added[c->nadded - 1].deletion_vector)
            return sm_err_set(err, SM_EINVALID,
                              "table '%s': version %lld adds a deletion vector; reading changes "
                              "of such tables is not supported",
                              cr->location, (long long)cr->v);
    } else if ((x = json_object_get(a, "remove")) &&
               !json_is_false(json_object_get(x, "dataChange"))) {
        char *p = tbl_uri_decode(sm_or(json_string_value(json_object_get(x, "path")), ""));
        const struct tbl_file *f = find_file(c, cr->base, p);
        int rc = 0;
        if (!f) {
            rc = sm_err_set(err, SM_ENOTFOUND,
                            "table '%s': version %lld removes '%s', which no earlier version adds",
                            cr->location, (long long)cr->v, p);
        } else {
            SM_ALLOC_GROW(c->removed, c->nremoved + 1, cr->removed_alloc);
            copy_file(&c->removed[c->nremoved++], f);
        }
        free(p);
        return rc;
    } else if (json_object_get(a, "metaData")) {
        c->metadata_changed = true;
    }
    return 0;
}

static int read_commit(struct commit_reader *cr, struct sm_err *err)
{
    char *path = sm_asprintf("%s/_delta_log/%020lld.json", cr->location, (long long)cr->v);
    struct stat st;
    int rc = stat(path, &st) ? sm_err_set(err, SM_ENOTFOUND,
                                          "table '%s': commit %lld is no longer in the log "
                                          "(cleaned up); the changes since an earlier version "
                                          "cannot be read",
                                          cr->location, (long long)cr->v)
                             : tbl_log_read_actions(path, change_action, cr, err);
    free(path);
    return rc;
}

int tbl_changes_read(const char *location, int64_t from_version, int64_t to_version,
                     struct tbl_changes *out, struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    if (to_version <= from_version)
        return 0;
    struct tbl_snapshot *base = NULL;
    if (from_version >= 0)
        SM_TRY(tbl_snapshot_open(location, from_version, &base, err));
    struct commit_reader cr = {.location = location, .base = base, .c = out};
    int rc = 0;
    for (cr.v = from_version + 1; cr.v <= to_version && !rc; cr.v++)
        rc = read_commit(&cr, err);
    /* Removed files are read back by the caller: they must still be there
     * (VACUUM deletes them only after the retention period). */
    for (size_t i = 0; i < out->nremoved && !rc; i++) {
        char *p = sm_path_join(location, out->removed[i].path);
        struct stat st;
        if (stat(p, &st))
            rc = sm_err_set(err, SM_ENOTFOUND,
                            "table '%s': file '%s' removed after version %lld is gone (vacuumed)",
                            location, out->removed[i].path, (long long)from_version);
        free(p);
    }
    tbl_snapshot_free(base);
    if (rc)
        tbl_changes_release(out);
    return rc;
}

void tbl_files_view_sql(const struct tbl_snapshot *s, const struct tbl_file *files, size_t n,
                        struct sm_buf *b)
{
    /* The view of a snapshot that holds just these files: a shallow copy
     * whose file list is swapped (nothing in it is freed). */
    struct tbl_snapshot view = *s;
    view.files = (struct tbl_file *)files;
    view.nfiles = n;
    tbl_snapshot_view_sql(&view, b);
}

/* A stats or partition value as an SQL literal of the column's type, or
 * NULL (unknown). */
static void add_bound(struct sm_buf *b, json_t *v, const char *sql_type)
{
    if (json_is_string(v)) {
        (void)sm_buf_adds(b, "TRY_CAST(");
        (void)sm_buf_add_sql_str(b, json_string_value(v));
        (void)sm_buf_addf(b, " AS %s)", sql_type);
    } else if (json_is_number(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        (void)sm_buf_adds(b, "TRY_CAST(");
        (void)sm_buf_add_sql_str(b, t);
        (void)sm_buf_addf(b, " AS %s)", sql_type);
        free(t);
    } else {
        (void)sm_buf_addf(b, "CAST(NULL AS %s)", sql_type);
    }
}

/* For one key column: the SQL selecting the indexes of the files that can
 * hold one of the keys' values of that column. A file without a bound for
 * the column (no stats, or one that does not cast to the column's type)
 * always can. */
static void column_matches_sql(const struct tbl_snapshot *s, const struct tbl_file *files, size_t n,
                               const struct tbl_column *col, const char *key_col,
                               const char *keys_rel, struct sm_buf *b)
{
    bool part = tbl_is_partition_col(s, col->name);
    const char *type = sm_or(col->sql_type, "VARCHAR");
    const char *pn = sm_or(col->physical_name, col->name);
    (void)sm_buf_adds(b, "WITH f(i, known, all_null, may_null, lo, hi) AS (VALUES ");
    for (size_t i = 0; i < n; i++) {
        const struct tbl_file *f = &files[i];
        json_t *j = NULL, *lo = NULL, *hi = NULL;
        bool known = false, may_null = true, all_null = false;
        if (part) {
            j = json_loads(sm_or(f->partition_values, "{}"), 0, NULL);
            json_t *v = json_object_get(j, pn);
            known = true;
            lo = hi = json_is_string(v) && *json_string_value(v) ? v : NULL;
            may_null = all_null = !lo;
        } else if (f->stats) {
            j = json_loads(f->stats, 0, NULL);
            lo = json_object_get(json_object_get(j, "minValues"), pn);
            hi = json_object_get(json_object_get(j, "maxValues"), pn);
            json_t *nc = json_object_get(json_object_get(j, "nullCount"), pn);
            json_t *nr = json_object_get(j, "numRecords");
            known = lo && hi && json_is_integer(nc);
            may_null = !json_is_integer(nc) || json_integer_value(nc) > 0;
            if (json_is_integer(nc) && json_is_integer(nr) &&
                json_integer_value(nc) == json_integer_value(nr)) {
                known = all_null = true; /* can hold NULL keys only */
                lo = hi = NULL;
            }
        }
        (void)sm_buf_addf(b, "%s(%zu, %s, %s, %s, ", i ? ", " : "", i, known ? "true" : "false",
                          all_null ? "true" : "false", may_null ? "true" : "false");
        add_bound(b, lo, type);
        (void)sm_buf_adds(b, ", ");
        add_bound(b, hi, type);
        (void)sm_buf_adds(b, ")");
        json_decref(j);
    }
    (void)sm_buf_adds(b, ") SELECT f.i FROM f WHERE NOT f.known OR "
                         "(NOT f.all_null AND (f.lo IS NULL OR f.hi IS NULL)) OR (f.may_null AND EXISTS "
                         "(SELECT 1 FROM ");
    (void)sm_buf_adds(b, keys_rel);
    (void)sm_buf_adds(b, " AS k WHERE k.");
    (void)sm_buf_add_sql_ident(b, key_col);
    (void)sm_buf_adds(b, " IS NULL)) UNION SELECT f.i FROM f JOIN (SELECT DISTINCT ");
    (void)sm_buf_add_sql_ident(b, key_col);
    (void)sm_buf_adds(b, " AS v FROM ");
    (void)sm_buf_adds(b, keys_rel);
    (void)sm_buf_adds(b, ") AS k ON k.v >= f.lo AND k.v <= f.hi");
}

int tbl_files_matching(struct eng_db *db, const struct tbl_snapshot *s, const struct tbl_file *files,
                       size_t n, char *const *cols, char *const *key_cols, size_t ncols,
                       const char *keys_rel, bool *match, struct sm_err *err)
{
    for (size_t i = 0; i < n; i++)
        match[i] = true;
    if (!n || !ncols)
        return 0;
    struct sm_buf b = SM_BUF_INIT;
    size_t used = 0;
    for (size_t k = 0; k < ncols; k++) {
        const struct tbl_column *col = tbl_find_column(s, cols[k]);
        if (!col)
            continue; /* not in the table: cannot narrow on it */
        (void)sm_buf_adds(&b, used++ ? " INTERSECT " : "");
        (void)sm_buf_addc(&b, '(');
        column_matches_sql(s, files, n, col, key_cols[k], keys_rel, &b);
        (void)sm_buf_addc(&b, ')');
    }
    if (!used) {
        sm_buf_release(&b);
        return 0;
    }
    struct eng_result *res = NULL;
    int rc = eng_query(db, b.buf, &res, err);
    sm_buf_release(&b);
    if (rc)
        return sm_err_prefix(err, rc, "table '%s': matching files to keys", s->location);
    for (size_t i = 0; i < n; i++)
        match[i] = false;
    for (size_t r = 0; r < eng_result_nrows(res); r++) {
        int64_t i = -1;
        const char *v = eng_result_str(res, 0, r);
        if (v && !sm_parse_i64(v, &i) && i >= 0 && (size_t)i < n)
            match[i] = true;
    }
    eng_result_free(res);
    return 0;
}

int tbl_key_match_op(struct eng_db *db, const char *keys_rel, char *const *key_cols, size_t ncols,
                     const char **out_op, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    int64_t nulls = 0;
    (void)sm_buf_adds(&q, "SELECT count(*) FROM ");
    (void)sm_buf_adds(&q, keys_rel);
    for (size_t k = 0; k < ncols; k++) {
        (void)sm_buf_adds(&q, k ? " OR " : " WHERE ");
        (void)sm_buf_add_sql_ident(&q, key_cols[k]);
        (void)sm_buf_adds(&q, " IS NULL");
    }
    int rc = ncols ? eng_query_i64(db, q.buf, &nulls, err) : 0;
    sm_buf_release(&q);
    *out_op = nulls ? "IS NOT DISTINCT FROM" : "=";
    return rc;
}

int tbl_files_holding(struct eng_db *db, const struct tbl_snapshot *s, const struct tbl_file *files,
                      size_t n, char *const *cols, char *const *key_cols, size_t ncols,
                      const char *keys_rel, bool *match, struct sm_err *err)
{
    /* Only plain files: no deletion vectors (a deleted row must not count),
     * no column mapping, every key column a data column of the files. */
    size_t nmatch = 0;
    for (size_t i = 0; i < n; i++) {
        if (files[i].ndeleted)
            return 0;
        nmatch += match[i];
    }
    if (nmatch < 2 || s->column_mapping || !ncols)
        return 0;
    for (size_t k = 0; k < ncols; k++)
        if (!tbl_find_column(s, cols[k]) || tbl_is_partition_col(s, cols[k]))
            return 0;
    const char *op = NULL;
    SM_TRY(tbl_key_match_op(db, keys_rel, key_cols, ncols, &op, err));
    struct sm_buf q = SM_BUF_INIT;
    struct sm_map idx = SM_MAP_INIT;
    (void)sm_buf_adds(&q, "SELECT DISTINCT t.filename FROM read_parquet([");
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match[i])
            continue;
        char *p = sm_path_join(s->location, files[i].path);
        (void)sm_buf_adds(&q, listed++ ? ", " : "");
        (void)sm_buf_add_sql_str(&q, p);
        sm_map_put(&idx, p, (void *)(uintptr_t)(i + 1));
        free(p);
    }
    (void)sm_buf_adds(&q, "], filename=true, union_by_name=true, hive_partitioning=false) AS t "
                          "SEMI JOIN ");
    (void)sm_buf_adds(&q, keys_rel);
    (void)sm_buf_adds(&q, " AS k ON ");
    for (size_t k = 0; k < ncols; k++) {
        (void)sm_buf_adds(&q, k ? " AND t." : "t.");
        (void)sm_buf_add_sql_ident(&q, cols[k]);
        (void)sm_buf_addf(&q, " %s k.", op);
        (void)sm_buf_add_sql_ident(&q, key_cols[k]);
    }
    struct eng_result *res = NULL;
    int rc = eng_query(db, q.buf, &res, err);
    sm_buf_release(&q);
    if (!rc) {
        bool *hold = sm_calloc(n, sizeof(bool));
        bool all_known = true;
        for (size_t r = 0; r < eng_result_nrows(res); r++) {
            uintptr_t i = (uintptr_t)sm_map_get(&idx, sm_or(eng_result_str(res, 0, r), ""));
            if (i)
                hold[i - 1] = true;
            else
                all_known = false; /* a name we did not list: keep the stats' answer */
        }
        if (all_known)
            for (size_t i = 0; i < n; i++)
                match[i] = match[i] && hold[i];
        free(hold);
        eng_result_free(res);
    } else {
        rc = sm_err_prefix(err, rc, "table '%s': finding the files that hold the keys",
                           s->location);
    }
    sm_map_release(&idx);
    return rc;
}
