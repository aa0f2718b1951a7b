/*
 * lineage.c — which input column each key column of a model comes from.
 *
 * An incremental model recomputes only the keys that changed upstream; to
 * know which input rows belong to a key, smelt follows each key column of
 * the model's result back through DuckDB's parse tree: a select-list entry
 * named like the key (by alias, or a plain column reference), through
 * subqueries, CTEs and both sides of UNIONs, down to a column of a table.
 * A key that is computed (an expression) or ambiguous (an unqualified
 * column over a join) cannot be followed: that is a configuration error
 * naming the key, since recomputing by key would then be wrong.
 */
#include "transform_int.h"

struct trace {
    const struct prj_model *m;
    json_t *ctes; /* name -> CTE query node, from every enclosing scope */
    char *why;    /* the first reason a column could not be followed */
};

struct origin {
    char *table; /* "zone.name" */
    char *col;
};

struct origins {
    struct origin *items;
    size_t n, alloc;
};

static void origins_release(struct origins *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->items[i].table);
        free(o->items[i].col);
    }
    free(o->items);
    memset(o, 0, sizeof(*o));
}

static int fail(struct trace *t, const char *fmt, const char *a, const char *b)
{
    if (!t->why)
        t->why = sm_asprintf(fmt, a, b);
    return -1;
}

static int trace_node(struct trace *t, json_t *node, const char *col, struct origins *out);

static void add_ctes(struct trace *t, json_t *node)
{
    json_t *map = json_object_get(json_object_get(node, "cte_map"), "map");
    size_t i;
    json_t *e;
    json_array_foreach(map, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "key"));
        json_t *q = json_object_get(json_object_get(json_object_get(e, "value"), "query"), "node");
        if (k && q)
            json_object_set(t->ctes, k, q);
    }
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* The name a table reference is known by in its query. */
static const char *ref_name(json_t *ref)
{
    const char *a = str(ref, "alias");
    if (a)
        return a;
    return str(ref, "table_name");
}

/* Follow column col of the FROM item ref; qualifier is the table alias it
 * was named with, or NULL. Returns 1 when ref did not match the qualifier. */
static int resolve(struct trace *t, json_t *ref, const char *qualifier, const char *col,
                   struct origins *out)
{
    const char *type = str(ref, "type");
    if (!type)
        return fail(t, "column '%s%s' comes from an unsupported FROM item", col, "");
    if (!strcmp(type, "JOIN")) {
        if (!qualifier)
            return fail(t,
                        "column '%s' is not qualified and the model reads a join: write it as "
                        "alias.%s",
                        col, col);
        int r = resolve(t, json_object_get(ref, "left"), qualifier, col, out);
        if (r == 1)
            r = resolve(t, json_object_get(ref, "right"), qualifier, col, out);
        return r;
    }
    const char *name = ref_name(ref);
    if (qualifier && (!name || strcmp(qualifier, name)))
        return 1;
    if (!strcmp(type, "SUBQUERY"))
        return trace_node(t, json_object_get(json_object_get(ref, "subquery"), "node"), col, out);
    if (!strcmp(type, "BASE_TABLE")) {
        const char *schema = str(ref, "schema_name");
        const char *table = str(ref, "table_name");
        json_t *cte = !schema && table ? json_object_get(t->ctes, table) : NULL;
        if (cte)
            return trace_node(t, cte, col, out);
        if (!schema || !table)
            return fail(t, "column '%s' comes from '%s', which is not a zone.table", col,
                        sm_or(table, "?"));
        SM_ALLOC_GROW(out->items, out->n + 1, out->alloc);
        out->items[out->n].table = sm_asprintf("%s.%s", schema, table);
        out->items[out->n++].col = sm_strdup(col);
        return 0;
    }
    return fail(t, "column '%s' comes from a %s, which smelt cannot follow", col, type);
}

static bool in_list(json_t *list, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(e);
        if (!s) {
            /* newer DuckDB: {"exclude_column": ...} or a qualified name */
            json_t *names = json_object_get(e, "column_names");
            s = json_string_value(json_array_get(names, json_array_size(names) - 1));
        }
        if (s && !strcasecmp(s, name))
            return true;
    }
    return false;
}

static int trace_select(struct trace *t, json_t *node, const char *col, struct origins *out)
{
    json_t *list = json_object_get(node, "select_list");
    json_t *from = json_object_get(node, "from_table");
    size_t i;
    json_t *e;
    json_t *star = NULL;
    json_array_foreach(list, i, e)
    {
        const char *cls = str(e, "class");
        const char *alias = str(e, "alias");
        if (cls && !strcmp(cls, "STAR") && !alias) {
            if (!star)
                star = e;
            continue;
        }
        json_t *names = json_object_get(e, "column_names");
        size_t nn = json_array_size(names);
        const char *last = nn ? json_string_value(json_array_get(names, nn - 1)) : NULL;
        const char *shown = alias ? alias : cls && !strcmp(cls, "COLUMN_REF") ? last : NULL;
        if (!shown || strcasecmp(shown, col))
            continue;
        if (!cls || strcmp(cls, "COLUMN_REF") || nn < 1 || nn > 2)
            return fail(t, "key '%s' is computed by an expression in %s; select it as a column of "
                           "an input",
                        col, t->m->sql_file);
        const char *q = nn == 2 ? json_string_value(json_array_get(names, 0)) : NULL;
        int r = resolve(t, from, q, last, out);
        return r == 1 ? fail(t, "column '%s' names a table alias '%s' not in FROM", last, q) : r;
    }
    if (star) {
        const char *rel = str(star, "relation_name");
        json_t *rep = json_object_get(star, "replace_list");
        if (in_list(json_object_get(star, "exclude_list"), col))
            return fail(t, "key '%s' is excluded from '*'%s", col, "");
        if (json_is_object(rep) ? json_object_get(rep, col) != NULL : in_list(rep, col))
            return fail(t, "key '%s' is replaced by an expression in '* REPLACE'%s", col, "");
        if (!rel && from && str(from, "type") && !strcmp(str(from, "type"), "JOIN"))
            return fail(t, "key '%s' comes from '*' over a join: select it as alias.%s", col, col);
        int r = resolve(t, from, rel, col, out);
        return r == 1 ? fail(t, "'%s.*' names a table alias not in FROM%s", rel, "") : r;
    }
    return fail(t, "the model's result has no column '%s'%s", col, "");
}

static int trace_node(struct trace *t, json_t *node, const char *col, struct origins *out)
{
    add_ctes(t, node);
    const char *type = str(node, "type");
    if (type && !strcmp(type, "SELECT_NODE"))
        return trace_select(t, node, col, out);
    if (type && !strcmp(type, "SET_OPERATION_NODE")) {
        const char *op = sm_or(str(node, "setop_type"), "");
        if (strcmp(op, "UNION") && strcmp(op, "UNION_BY_NAME"))
            return fail(t, "key '%s' comes through a %s, which smelt cannot follow", col, op);
        if (trace_node(t, json_object_get(node, "left"), col, out))
            return -1;
        return trace_node(t, json_object_get(node, "right"), col, out);
    }
    if (type && !strcmp(type, "RECURSIVE_CTE_NODE"))
        return fail(t, "key '%s' comes from a recursive CTE%s", col, "");
    return fail(t, "key '%s' comes from a %s, which smelt cannot follow", col, sm_or(type, "?"));
}

void xf_key_sources_free(struct xf_key_source *s, size_t n, size_t nkeys)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].table);
        for (size_t k = 0; k < nkeys; k++)
            free(s[i].cols[k]);
        free(s[i].cols);
    }
    free(s);
}

int xf_key_lineage(struct eng_db *db, const struct prj_model *m, char *const *keys, size_t nkeys,
                   struct xf_key_source **out, size_t *n, struct sm_err *err)
{
    json_t *root = NULL;
    SM_TRY(xf_parse(db, m, &root, err));
    json_t *node = json_object_get(json_array_get(json_object_get(root, "statements"), 0), "node");
    struct origins *per_key = sm_calloc(nkeys ? nkeys : 1, sizeof(*per_key));
    struct trace t = {.m = m};
    int rc = 0;
    for (size_t k = 0; k < nkeys && !rc; k++) {
        json_decref(t.ctes);
        t.ctes = json_object();
        if (trace_node(&t, node, keys[k], &per_key[k]))
            rc = sm_err_set(err, SM_ECONFIG,
                            "%s: cannot tell which input column key '%s' comes from: %s; an "
                            "incremental model recomputes the keys that changed upstream, so each "
                            "key must be a column of an input (or use materialized: table)",
                            m->sql_file, keys[k], t.why);
    }
    /* Group by input table: each table that provides the first key must
     * provide every key. */
    struct xf_key_source *src = NULL;
    size_t ns = 0, alloc = 0;
    for (size_t i = 0; !rc && nkeys && i < per_key[0].n; i++) {
        const char *table = per_key[0].items[i].table;
        bool seen = false;
        for (size_t s = 0; s < ns; s++)
            seen |= !strcmp(src[s].table, table);
        if (seen)
            continue;
        SM_ALLOC_GROW(src, ns + 1, alloc);
        struct xf_key_source *ks = &src[ns++];
        ks->table = sm_strdup(table);
        ks->cols = sm_calloc(nkeys, sizeof(char *));
        for (size_t k = 0; k < nkeys && !rc; k++) {
            for (size_t j = 0; j < per_key[k].n && !ks->cols[k]; j++)
                if (!strcmp(per_key[k].items[j].table, table))
                    ks->cols[k] = sm_strdup(per_key[k].items[j].col);
            if (!ks->cols[k])
                rc = sm_err_set(err, SM_ECONFIG,
                                "%s: keys '%s' and '%s' come from different inputs (%s and "
                                "another); an incremental model's keys must come from the same "
                                "input",
                                m->sql_file, keys[0], keys[k], table);
        }
    }
    for (size_t k = 1; k < nkeys && !rc; k++)
        for (size_t j = 0; j < per_key[k].n && !rc; j++) {
            bool found = false;
            for (size_t s = 0; s < ns; s++)
                found |= !strcmp(src[s].table, per_key[k].items[j].table);
            if (!found)
                rc = sm_err_set(err, SM_ECONFIG,
                                "%s: key '%s' also comes from %s, which does not provide '%s'",
                                m->sql_file, keys[k], per_key[k].items[j].table, keys[0]);
        }
    for (size_t k = 0; k < nkeys; k++)
        origins_release(&per_key[k]);
    free(per_key);
    free(t.why);
    json_decref(t.ctes);
    json_decref(root);
    if (rc) {
        xf_key_sources_free(src, ns, nkeys);
        return rc;
    }
    *out = src;
    *n = ns;
    return 0;
}
