/*
 * transform.c — model compilation and materialization.
 *
 * Dependencies come from DuckDB's parse tree, never from pattern matching on
 * SQL text: json_serialize_sql() turns the model into JSON in which every
 * table reference is a BASE_TABLE node with schema_name, table_name and
 * query_location (a byte offset, which gives the line for error messages).
 * CTE names are collected from cte_map so that `WITH x AS (...) FROM x` is not
 * mistaken for a table.
 */
#include "transform.h"
#include "transform_int.h"

#include "table/table.h"

void xf_refs_free(struct xf_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(refs[i].name);
    free(refs);
}

int xf_line_of(const char *text, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

/* Line of the first token after leading blanks and comments. */
static int first_token_line(const char *sql)
{
    const char *p = sql;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            break;
        }
    }
    return xf_line_of(sql, (size_t)(p - sql));
}

struct walk {
    const struct prj_model *m;
    bool any_schema; /* ad-hoc queries: any schema, unqualified names allowed */
    struct sm_map ctes;
    struct xf_ref *refs;
    size_t nrefs, alloc;
    struct sm_err *err;
    int rc;
};

static void collect_ctes(json_t *node, struct walk *w)
{
    if (json_is_object(node)) {
        json_t *cm = json_object_get(node, "cte_map");
        json_t *map = cm ? json_object_get(cm, "map") : NULL;
        size_t i;
        json_t *e;
        json_array_foreach(map, i, e)
        {
            const char *k = json_string_value(json_object_get(e, "key"));
            if (k)
                sm_map_put(&w->ctes, k, (void *)1);
        }
        const char *key;
        json_t *v;
        json_object_foreach(node, key, v) collect_ctes(v, w);
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) collect_ctes(v, w);
    }
}

static void add_ref(struct walk *w, const char *zone, const char *name, int line)
{
    char *ref = sm_asprintf("%s.%s", zone, name);
    for (size_t i = 0; i < w->nrefs; i++) {
        if (!strcmp(w->refs[i].name, ref)) {
            if (line < w->refs[i].line)
                w->refs[i].line = line;
            free(ref);
            return;
        }
    }
    SM_ALLOC_GROW(w->refs, w->nrefs + 1, w->alloc);
    w->refs[w->nrefs].name = ref;
    w->refs[w->nrefs++].line = line;
}

static bool is_zone(const char *s)
{
    return !strcmp(s, "bronze") || !strcmp(s, "silver") || !strcmp(s, "gold") ||
           !strcmp(s, "quarantine");
}

static void walk_tables(json_t *node, struct walk *w)
{
    if (w->rc)
        return;
    if (json_is_object(node)) {
        const char *type = json_string_value(json_object_get(node, "type"));
        if (type && !strcmp(type, "BASE_TABLE")) {
            const char *schema = json_string_value(json_object_get(node, "schema_name"));
            const char *table = json_string_value(json_object_get(node, "table_name"));
            const char *catalog = json_string_value(json_object_get(node, "catalog_name"));
            /* query_location is UINT64_MAX when unknown; parsed as a real (see below) */
            double loc = json_number_value(json_object_get(node, "query_location"));
            int line = loc >= 0 && loc < 1e12 ? xf_line_of(w->m->sql, (size_t)loc) : 1;
            schema = sm_or(schema, "");
            table = sm_or(table, "");
            if (catalog && *catalog) {
                w->rc = sm_err_set(w->err, SM_ECONFIG,
                                   "%s:%d: table '%s.%s.%s' has a catalog part; name tables as "
                                   "zone.table, e.g. bronze.orders",
                                   w->m->sql_file, line, catalog, schema, table);
            } else if (!*schema) {
                if (!w->any_schema && !sm_map_get(&w->ctes, table))
                    w->rc = sm_err_set(w->err, SM_ECONFIG,
                                       "%s:%d: table '%s' has no zone; name it bronze.%s, "
                                       "silver.%s or gold.%s",
                                       w->m->sql_file, line, table, table, table, table);
            } else if (!w->any_schema && !is_zone(schema)) {
                w->rc = sm_err_set(w->err, SM_ECONFIG,
                                   "%s:%d: '%s.%s' is not in a zone: the zones are bronze, "
                                   "silver, gold and quarantine",
                                   w->m->sql_file, line, schema, table);
            } else {
                add_ref(w, schema, table, line);
            }
            return;
        }
        const char *key;
        json_t *v;
        json_object_foreach(node, key, v) walk_tables(v, w);
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) walk_tables(v, w);
    }
}

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const struct xf_ref *)a)->name, ((const struct xf_ref *)b)->name);
}

int xf_parse(struct eng_db *db, const struct prj_model *m, json_t **out, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "SELECT json_serialize_sql(");
    (void)sm_buf_add_sql_str(&q, m->sql);
    (void)sm_buf_adds(&q, ")");
    char *js = NULL;
    int rc = eng_query_scalar(db, q.buf, &js, err);
    sm_buf_release(&q);
    if (rc)
        return sm_err_prefix(err, SM_ECONFIG, "%s", m->sql_file);
    json_error_t je;
    /* DuckDB writes UINT64_MAX for unknown locations, beyond jansson's
     * integers; decode numbers as reals. */
    json_t *root = json_loads(js ? js : "", JSON_DECODE_INT_AS_REAL, &je);
    free(js);
    if (!root)
        return sm_err_set(err, SM_EINTERNAL, "%s: cannot read parser output: %s", m->sql_file,
                          je.text);
    if (json_is_true(json_object_get(root, "error"))) {
        const char *msg = json_string_value(json_object_get(root, "error_message"));
        const char *pos = json_string_value(json_object_get(root, "position"));
        int64_t off = 0;
        int line = pos && !sm_parse_i64(pos, &off) ? xf_line_of(m->sql, (size_t)off) : 1;
        if (msg && strstr(msg, "Only SELECT"))
            rc = sm_err_set(err, SM_ECONFIG,
                            "%s:%d: a model must be one SELECT statement (no DDL or DML)",
                            m->sql_file, first_token_line(m->sql));
        else
            rc = sm_err_set(err, SM_ECONFIG, "%s:%d: SQL does not parse: %s", m->sql_file, line,
                            sm_or(msg, "unknown parser error"));
        json_decref(root);
        return rc;
    }
    json_t *stmts = json_object_get(root, "statements");
    if (json_array_size(stmts) != 1) {
        rc = sm_err_set(err, SM_ECONFIG,
                        "%s:1: a model must be exactly one SELECT statement, found %zu",
                        m->sql_file, json_array_size(stmts));
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

static int sql_refs(struct eng_db *db, const struct prj_model *m, bool any_schema,
                    struct xf_ref **out, size_t *n, struct sm_err *err)
{
    json_t *root = NULL;
    SM_TRY(xf_parse(db, m, &root, err));
    json_t *stmts = json_object_get(root, "statements");
    struct walk w = {.m = m, .any_schema = any_schema, .ctes = SM_MAP_INIT, .err = err};
    collect_ctes(stmts, &w);
    walk_tables(stmts, &w);
    json_decref(root);
    sm_map_release(&w.ctes);
    if (w.rc) {
        xf_refs_free(w.refs, w.nrefs);
        return w.rc;
    }
    if (w.nrefs)
        qsort(w.refs, w.nrefs, sizeof(*w.refs), cmp_ref);
    *out = w.refs;
    *n = w.nrefs;
    return 0;
}

int xf_model_refs(struct eng_db *db, const struct prj_model *m, struct xf_ref **out, size_t *n,
                  struct sm_err *err)
{
    return sql_refs(db, m, false, out, n, err);
}

int xf_query_refs(struct eng_db *db, const char *sql, struct xf_ref **out, size_t *n,
                  struct sm_err *err)
{
    struct prj_model q = {.sql_file = (char *)"query", .sql = (char *)sql};
    return sql_refs(db, &q, true, out, n, err);
}

int xf_write_commit(struct eng_db *db, const struct prj_model *m, const char *location,
                    const char *select_sql, const char *partition_by, struct tbl_commit *c,
                    const struct tbl_snapshot *snap, const struct xf_commit_info *ci,
                    struct xf_result *out, struct sm_err *err)
{
    int64_t rows = 0;
    SM_TRY(tbl_write_select(db, location, select_sql, partition_by, c, &rows, err));
    tbl_commit_set_info(c, "smelt.model", m->sql_file);
    tbl_commit_set_info(c, "smelt.inputs", ci->inputs);
    tbl_commit_set_info(c, "smelt.fingerprint", ci->fingerprint);
    if (ci->txn_app)
        tbl_commit_set_txn(c, ci->txn_app, ci->txn_version);
    SM_TRY(tbl_commit_write(c, location, snap ? snap->version : -1, snap, &out->version, err));
    out->rows_out = rows;
    return 0;
}

int xf_build(struct eng_db *db, const struct prj_model *m, const char *location,
             const struct xf_commit_info *ci, struct xf_result *out, struct sm_err *err)
{
    struct tbl_snapshot *snap = NULL;
    memset(out, 0, sizeof(*out));
    if (tbl_latest_version(location) >= 0)
        SM_TRY(tbl_snapshot_open(location, -1, &snap, err));
    struct tbl_commit *c = tbl_commit_new(snap ? "WRITE" : "CREATE TABLE AS SELECT");
    tbl_commit_remove_all(c, snap);
    int rc = xf_write_commit(db, m, location, m->sql, m->partition_by, c, snap, ci, out, err);
    tbl_commit_free(c);
    tbl_snapshot_free(snap);
    return rc;
}
