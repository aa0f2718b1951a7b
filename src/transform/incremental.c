/*
 * incremental.c — materialized: incremental.
 *
 * The model's SELECT runs with its inputs narrowed, under their usual
 * names, to what changed upstream since the versions it consumed last:
 *
 *   append            every input shows only the rows of files committed
 *                     since then; the result is appended.
 *   merge             the keys (unique_key) that changed are collected from
 *   insert_overwrite  the files added and removed upstream since then (the
 *                     key columns are traced back to input columns by
 *                     lineage.c; for insert_overwrite the key is the
 *                     partition_by column). Each keyed input then shows every
 *                     row of those keys — new and old, so deduplication and
 *                     aggregation per key come out as a full rebuild would —
 *                     read only from the files whose partition values or
 *                     min/max stats can hold them. The target's rows of those
 *                     keys are replaced: the files that can hold them are
 *                     rewritten without them (copy-on-write), or, when the key
 *                     is the partition column, simply removed, and the new
 *                     rows added, in one commit.
 *
 * An input that does not carry the key (a lookup table) is read in full; if
 * it changed, the model is rebuilt in full, as it is when the definition
 * changed, when nothing was consumed yet, or when the changes cannot be
 * read (log cleaned up, files vacuumed). So the result always equals a full
 * rebuild, as long as each key's result depends only on that key's input
 * rows (true of per-key deduplication, GROUP BY key, window functions
 * PARTITION BY key; not of a rank over all keys — keep such models tables).
 */
#include "transform_int.h"

#include "table/table.h"

#define KEYS_TABLE "__smelt_keys"

void xf_result_release(struct xf_result *r)
{
    free(r->note);
    r->note = NULL;
}

char **xf_split_cols(const char *list, size_t *n)
{
    char **out = NULL;
    size_t alloc = 0;
    *n = 0;
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        SM_ALLOC_GROW(out, *n + 1, alloc);
        out[(*n)++] = sm_strndup(p, len);
        p += len;
        if (*p == ',')
            p++;
    }
    return out;
}

void xf_free_cols(char **cols, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cols[i]);
    free(cols);
}

static int replace_view(struct eng_db *db, const char *qualified, const char *select_sql,
                        struct sm_err *err)
{
    const char *dot = strchr(qualified, '.');
    struct sm_buf q = SM_BUF_INIT;
    char *zone = sm_strndup(qualified, (size_t)(dot - qualified));
    (void)sm_buf_adds(&q, "CREATE SCHEMA IF NOT EXISTS ");
    (void)sm_buf_add_sql_ident(&q, zone);
    (void)sm_buf_adds(&q, "; CREATE OR REPLACE VIEW ");
    (void)sm_buf_add_sql_ident(&q, zone);
    (void)sm_buf_addc(&q, '.');
    (void)sm_buf_add_sql_ident(&q, dot + 1);
    (void)sm_buf_adds(&q, " AS ");
    (void)sm_buf_adds(&q, select_sql);
    int rc = eng_exec(db, q.buf, err);
    sm_buf_release(&q);
    free(zone);
    return rc;
}

/* The join condition of rows `alias` (columns cols) with the keys table
 * (columns keys); op is tbl_key_match_op()'s, so NULL keys match NULL. */
static void add_key_join(struct sm_buf *b, const char *alias, char *const *cols, char *const *keys,
                         size_t n, const char *op)
{
    for (size_t k = 0; k < n; k++) {
        (void)sm_buf_adds(b, k ? " AND " : "");
        (void)sm_buf_addf(b, "%s.", alias);
        (void)sm_buf_add_sql_ident(b, cols[k]);
        (void)sm_buf_addf(b, " %s k.", op);
        (void)sm_buf_add_sql_ident(b, keys[k]);
    }
}

struct input_state {
    const struct xf_input *in;
    struct tbl_snapshot *snap; /* at in->to_version */
    struct tbl_changes ch;
    const struct xf_key_source *keysrc; /* NULL: does not carry the key */
    bool replaced;                      /* its view was narrowed */
};

struct build {
    struct eng_db *db;
    const struct prj_model *m;
    const char *location;
    struct input_state *ins;
    size_t nin;
    char **keys;
    size_t nkeys;
    const char *key_op; /* joins on the keys: tbl_key_match_op() */
    struct sm_err *err;
};

/* Put every narrowed input view back to the whole table. */
static void restore_views(struct build *b)
{
    for (size_t i = 0; i < b->nin; i++) {
        struct input_state *is = &b->ins[i];
        if (!is->replaced)
            continue;
        struct sm_buf v = SM_BUF_INIT;
        struct sm_err e = SM_ERR_INIT;
        tbl_snapshot_view_sql(is->snap, &v);
        if (replace_view(b->db, is->in->name, v.buf, &e))
            sm_warn("%s", e.msg);
        sm_buf_release(&v);
        is->replaced = false;
    }
    struct sm_err e = SM_ERR_INIT;
    if (eng_exec(b->db, "DROP TABLE IF EXISTS " KEYS_TABLE, &e))
        sm_warn("%s", e.msg);
}

/* Collect the changed keys into KEYS_TABLE; *count gets their number. */
static int collect_keys(struct build *b, int64_t *count)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE " KEYS_TABLE " AS SELECT DISTINCT * FROM (");
    bool any = false;
    for (size_t i = 0; i < b->nin; i++) {
        struct input_state *is = &b->ins[i];
        if (!is->keysrc || (!is->ch.nadded && !is->ch.nremoved))
            continue;
        /* rows of the files added and removed: their keys changed */
        for (int side = 0; side < 2; side++) {
            const struct tbl_file *files = side ? is->ch.removed : is->ch.added;
            size_t n = side ? is->ch.nremoved : is->ch.nadded;
            if (!n)
                continue;
            (void)sm_buf_adds(&q, any ? " UNION ALL SELECT " : "SELECT ");
            any = true;
            for (size_t k = 0; k < b->nkeys; k++) {
                (void)sm_buf_adds(&q, k ? ", " : "");
                (void)sm_buf_add_sql_ident(&q, is->keysrc->cols[k]);
                (void)sm_buf_adds(&q, " AS ");
                (void)sm_buf_add_sql_ident(&q, b->keys[k]);
            }
            (void)sm_buf_adds(&q, " FROM (");
            tbl_files_view_sql(is->snap, files, n, &q);
            (void)sm_buf_adds(&q, ")");
        }
    }
    if (!any) {
        sm_buf_release(&q);
        *count = 0;
        return 0;
    }
    (void)sm_buf_adds(&q, ")");
    int rc = eng_exec(b->db, q.buf, b->err);
    sm_buf_release(&q);
    if (!rc)
        rc = eng_query_i64(b->db, "SELECT count(*) FROM " KEYS_TABLE, count, b->err);
    return rc;
}

/* The files of snap that hold a changed key: those whose partition values
 * and stats can, narrowed by reading their key columns; cols[k] is the
 * table's column for keys[k]. */
static int candidates(struct build *b, const struct tbl_snapshot *snap, char *const *cols,
                      struct tbl_file **out, size_t *n)
{
    bool *match = sm_calloc(snap->nfiles ? snap->nfiles : 1, sizeof(bool));
    int rc = tbl_files_matching(b->db, snap, snap->files, snap->nfiles, cols, b->keys, b->nkeys,
                                KEYS_TABLE, match, b->err);
    if (!rc)
        rc = tbl_files_holding(b->db, snap, snap->files, snap->nfiles, cols, b->keys, b->nkeys,
                               KEYS_TABLE, match, b->err);
    *out = sm_calloc(snap->nfiles ? snap->nfiles : 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; !rc && i < snap->nfiles; i++)
        if (match[i])
            (*out)[(*n)++] = snap->files[i]; /* shallow: borrowed from snap */
    free(match);
    return rc;
}

/* Narrow each keyed input to the rows of the changed keys. */
static int narrow_keyed_inputs(struct build *b)
{
    for (size_t i = 0; i < b->nin; i++) {
        struct input_state *is = &b->ins[i];
        if (!is->keysrc)
            continue;
        struct tbl_file *files = NULL;
        size_t n = 0;
        SM_TRY(candidates(b, is->snap, is->keysrc->cols, &files, &n));
        struct sm_buf v = SM_BUF_INIT;
        (void)sm_buf_adds(&v, "SELECT u.* FROM (");
        tbl_files_view_sql(is->snap, files, n, &v);
        (void)sm_buf_adds(&v, ") AS u SEMI JOIN " KEYS_TABLE " AS k ON ");
        add_key_join(&v, "u", is->keysrc->cols, b->keys, b->nkeys, b->key_op);
        free(files);
        int rc = replace_view(b->db, is->in->name, v.buf, b->err);
        sm_buf_release(&v);
        if (rc)
            return rc;
        is->replaced = true;
    }
    return 0;
}

/* Append: each input shows only the rows of the files added since. */
static int narrow_to_new_rows(struct build *b)
{
    for (size_t i = 0; i < b->nin; i++) {
        struct input_state *is = &b->ins[i];
        struct sm_buf v = SM_BUF_INIT;
        tbl_files_view_sql(is->snap, is->ch.added, is->ch.nadded, &v);
        int rc = replace_view(b->db, is->in->name, v.buf, b->err);
        sm_buf_release(&v);
        if (rc)
            return rc;
        is->replaced = true;
    }
    return 0;
}

static bool same_cols(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb; j++)
            found |= !strcmp(a[i], b[j]);
        if (!found)
            return false;
    }
    return true;
}

static int commit_build(struct build *b, struct tbl_commit *c, struct tbl_snapshot *snap,
                        const char *select_sql, const struct xf_commit_info *ci,
                        struct xf_result *out)
{
    return xf_write_commit(b->db, b->m, b->location, select_sql, b->m->partition_by, c, snap, ci,
                           out, b->err);
}

static int build_keyed(struct build *b, struct tbl_snapshot *target, const struct xf_commit_info *ci,
                       struct xf_result *out)
{
    int64_t nchanged = 0;
    SM_TRY(collect_keys(b, &nchanged));
    if (!nchanged) {
        out->version = -1;
        out->note = sm_strdup("no key changed upstream");
        return 0;
    }
    SM_TRY(tbl_key_match_op(b->db, KEYS_TABLE, b->keys, b->nkeys, &b->key_op, b->err));
    SM_TRY(narrow_keyed_inputs(b));
    struct tbl_file *cands = NULL;
    size_t ncands = 0;
    int rc = candidates(b, target, b->keys, &cands, &ncands);
    bool whole_partitions =
        same_cols(b->keys, b->nkeys, target->partition_columns, target->npartition_columns);
    struct sm_buf q = SM_BUF_INIT;
    if (!rc && ncands && !whole_partitions) {
        /* copy-on-write: the candidate files' other rows are written again */
        (void)sm_buf_adds(&q, "SELECT t.* FROM (");
        tbl_files_view_sql(target, cands, ncands, &q);
        (void)sm_buf_adds(&q, ") AS t ANTI JOIN " KEYS_TABLE " AS k ON ");
        add_key_join(&q, "t", b->keys, b->keys, b->nkeys, b->key_op);
        (void)sm_buf_adds(&q, " UNION ALL BY NAME SELECT * FROM (");
        (void)sm_buf_adds(&q, b->m->sql);
        (void)sm_buf_adds(&q, "\n)");
    } else {
        (void)sm_buf_adds(&q, b->m->sql);
    }
    struct tbl_commit *c = tbl_commit_new("MERGE");
    for (size_t i = 0; !rc && i < ncands; i++)
        tbl_commit_remove_file(c, &cands[i]);
    if (!rc)
        rc = commit_build(b, c, target, q.buf, ci, out);
    if (!rc)
        out->note = sm_asprintf("%lld key%s changed: %zu of %zu files %s", (long long)nchanged,
                                nchanged == 1 ? "" : "s", ncands, target->nfiles,
                                whole_partitions ? "replaced" : "rewritten");
    tbl_commit_free(c);
    sm_buf_release(&q);
    free(cands);
    return rc;
}

static int build_append(struct build *b, struct tbl_snapshot *target,
                        const struct xf_commit_info *ci, struct xf_result *out)
{
    size_t nfiles = 0;
    for (size_t i = 0; i < b->nin; i++)
        nfiles += b->ins[i].ch.nadded;
    if (!nfiles) {
        out->version = -1;
        out->note = sm_strdup("no new rows upstream");
        return 0;
    }
    SM_TRY(narrow_to_new_rows(b));
    struct tbl_commit *c = tbl_commit_new("WRITE");
    int rc = commit_build(b, c, target, b->m->sql, ci, out);
    if (!rc)
        out->note = sm_asprintf("%lld new rows appended", (long long)out->rows_out);
    tbl_commit_free(c);
    return rc;
}

/* Why this run cannot be incremental, or NULL. Reads the changes. */
static char *why_full(struct build *b, const char *strategy, const char *forced)
{
    if (forced)
        return sm_strdup(forced);
    for (size_t i = 0; i < b->nin; i++) {
        struct input_state *is = &b->ins[i];
        const struct xf_input *in = is->in;
        if (in->from_version < 0)
            return sm_asprintf("%s not consumed before", in->name);
        if (in->from_version == in->to_version)
            continue;
        if (b->nkeys && !is->keysrc)
            return sm_asprintf("%s changed and does not carry the key", in->name);
        struct sm_err e = SM_ERR_INIT;
        if (tbl_changes_read(in->location, in->from_version, in->to_version, &is->ch, &e))
            return sm_asprintf("changes of %s unreadable: %s", in->name, e.msg);
        if (!strcmp(strategy, "append") && is->ch.nremoved)
            return sm_asprintf("%s had rows removed or rewritten", in->name);
    }
    return NULL;
}

int xf_build_incremental(struct eng_db *db, const struct prj_model *m, const char *location,
                         const struct xf_input *in, size_t nin, const char *full_reason,
                         const struct xf_commit_info *ci, struct xf_result *out,
                         struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *strategy = sm_or(m->incremental_strategy, "append");
    struct build b = {.db = db, .m = m, .location = location, .nin = nin, .err = err};
    struct xf_key_source *ks = NULL;
    size_t nks = 0;
    struct tbl_snapshot *target = NULL;
    char *why = NULL;
    int rc = 0;

    if (!strcmp(strategy, "merge"))
        b.keys = xf_split_cols(m->unique_key, &b.nkeys);
    else if (!strcmp(strategy, "insert_overwrite"))
        b.keys = xf_split_cols(m->partition_by, &b.nkeys);
    if (b.nkeys)
        rc = xf_key_lineage(db, m, b.keys, b.nkeys, &ks, &nks, err);
    b.ins = sm_calloc(nin ? nin : 1, sizeof(*b.ins));
    for (size_t i = 0; i < nin && !rc; i++) {
        b.ins[i].in = &in[i];
        for (size_t k = 0; k < nks; k++)
            if (!strcmp(ks[k].table, in[i].name))
                b.ins[i].keysrc = &ks[k];
        rc = tbl_snapshot_open(in[i].location, in[i].to_version, &b.ins[i].snap, err);
    }
    if (!rc && tbl_latest_version(location) >= 0)
        rc = tbl_snapshot_open(location, -1, &target, err);
    if (!rc)
        why = why_full(&b, strategy, target ? full_reason : "first build");
    if (!rc && why) {
        struct tbl_commit *c = tbl_commit_new(target ? "WRITE" : "CREATE TABLE AS SELECT");
        tbl_commit_remove_all(c, target);
        rc = commit_build(&b, c, target, m->sql, ci, out);
        tbl_commit_free(c);
        out->full = true;
        if (!rc)
            out->note = sm_asprintf("full rebuild: %s", why);
    } else if (!rc) {
        rc = b.nkeys ? build_keyed(&b, target, ci, out) : build_append(&b, target, ci, out);
    }
    restore_views(&b);
    for (size_t i = 0; i < nin; i++) {
        tbl_snapshot_free(b.ins[i].snap);
        tbl_changes_release(&b.ins[i].ch);
    }
    free(b.ins);
    free(why);
    tbl_snapshot_free(target);
    xf_key_sources_free(ks, nks, b.nkeys);
    xf_free_cols(b.keys, b.nkeys);
    return rc;
}
