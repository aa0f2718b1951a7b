/*
 * scan.c — attaching the tables an ad-hoc query reads, each as a view over
 * only the data files the query's predicates can match (file pruning).
 *
 * The predicates come from DuckDB's own parse tree (json_serialize_sql),
 * never from the SQL text. In every SELECT node, the base tables of the
 * FROM clause whose rows its WHERE clause filters before anything else can
 * see them are "candidates": tables joined by INNER or CROSS joins, the
 * preserved side of a LEFT or RIGHT join, the left side of SEMI, ANTI, ASOF
 * and LATERAL joins. Each conjunct of the top-level AND of WHERE that is a
 * simple predicate (column = literal, IN, <, <=, >, >=, BETWEEN, IS [NOT]
 * NULL) on a column of one candidate becomes a struct tbl_pred of that
 * reference; table/prune.c then decides file by file.
 *
 * A view is shared by every reference to its table, so it reads the union of
 * the files each reference needs, and one reference with no usable predicate
 * (the nullable side of an outer join, a FROM with no WHERE, a table with
 * TABLESAMPLE or renamed columns, a catalog-qualified name, ...) reads the
 * whole table. Columns bind as DuckDB binds them: a qualified column by the
 * reference's alias (or, without one, its table name); an unqualified one
 * to the single candidate that has it, and not at all in a FROM with USING
 * or NATURAL joins, where it may be the merged column. Where a reading is in
 * doubt the conjunct is ignored: pruning with fewer predicates reads more
 * files, never gives another answer.
 */
#include "catalog.h"
#include "catalog_int.h"

#include <jansson.h>
#include <math.h>
#include <strings.h>

struct qtable {
    char *key;         /* cat_key() */
    char *zone, *name; /* as first written in the query */
    char *location;
    struct tbl_snapshot *snap; /* NULL when not a table smelt reads */
};

struct qsel;

struct qref {
    size_t table;
    json_t *node;     /* the BASE_TABLE node (borrowed from the parse tree) */
    struct qsel *sel; /* the SELECT whose WHERE filters it first, or NULL */
    struct tbl_pred *preds;
    size_t npreds, apreds;
};

struct qsel {
    json_t *where;
    bool no_unqualified; /* USING or NATURAL joins in its FROM */
    size_t *cands;       /* indexes into walk.refs */
    size_t ncands, acands;
};

struct walk {
    size_t table_functions; /* read_parquet(), duckdb_tables(), query_table(), ... */
    struct qtable *tables;
    size_t ntables, atables;
    struct qref *refs;
    size_t nrefs, arefs;
    struct qsel **sels;
    size_t nsels, asels;
};

static const char *str_of(json_t *node, const char *key)
{
    return json_string_value(json_object_get(node, key));
}

static bool type_is(json_t *node, const char *type)
{
    const char *t = str_of(node, "type");
    return t && !strcmp(t, type);
}

static void add_ref(struct walk *w, json_t *node, struct qsel *sel)
{
    const char *schema = str_of(node, "schema_name");
    const char *table = str_of(node, "table_name");
    const char *catalog = str_of(node, "catalog_name");
    if (!schema || !*schema || !table)
        return; /* a CTE, or a table of DuckDB's own schema */
    json_t *sample = json_object_get(node, "sample");
    if ((catalog && *catalog) || (sample && !json_is_null(sample)) ||
        json_array_size(json_object_get(node, "column_name_alias")))
        sel = NULL;
    char *key = cat_key(schema, table);
    size_t t;
    for (t = 0; t < w->ntables; t++)
        if (!strcmp(w->tables[t].key, key))
            break;
    if (t == w->ntables) {
        SM_ALLOC_GROW(w->tables, w->ntables + 1, w->atables);
        w->tables[t] =
            (struct qtable){.key = key, .zone = sm_strdup(schema), .name = sm_strdup(table)};
        w->ntables++;
    } else {
        free(key);
    }
    SM_ALLOC_GROW(w->refs, w->nrefs + 1, w->arefs);
    w->refs[w->nrefs] = (struct qref){.table = t, .node = node, .sel = sel};
    if (sel) {
        SM_ALLOC_GROW(sel->cands, sel->ncands + 1, sel->acands);
        sel->cands[sel->ncands++] = w->nrefs;
    }
    w->nrefs++;
}

static void walk_node(json_t *node, struct walk *w);

/* A FROM item; cand: whether the enclosing SELECT's WHERE filters its rows
 * directly. */
static void walk_from(json_t *f, bool cand, struct qsel *s, struct walk *w)
{
    if (type_is(f, "BASE_TABLE")) {
        add_ref(w, f, cand ? s : NULL);
        return;
    }
    if (!type_is(f, "JOIN")) {
        walk_node(f, w); /* subqueries, table functions, ... */
        return;
    }
    const char *jt = sm_or(str_of(f, "join_type"), "");
    const char *rt = sm_or(str_of(f, "ref_type"), "");
    bool left = false, right = false;
    if (!strcmp(rt, "REGULAR") || !strcmp(rt, "CROSS") || !strcmp(rt, "NATURAL")) {
        left = !strcmp(jt, "INNER") || !strcmp(jt, "LEFT") || !strcmp(jt, "SEMI") ||
               !strcmp(jt, "ANTI");
        right = !strcmp(jt, "INNER") || !strcmp(jt, "RIGHT");
    } else if (!strcmp(rt, "ASOF") || !strcmp(rt, "DEPENDENT")) {
        /* the right side's match depends on all its rows: left only */
        left = !strcmp(jt, "INNER") || !strcmp(jt, "LEFT");
    }
    if (!strcmp(rt, "NATURAL") || json_array_size(json_object_get(f, "using_columns")))
        s->no_unqualified = true;
    walk_from(json_object_get(f, "left"), cand && left, s, w);
    walk_from(json_object_get(f, "right"), cand && right, s, w);
    walk_node(json_object_get(f, "condition"), w);
}

static void walk_select(json_t *node, struct walk *w)
{
    struct qsel *s = sm_calloc(1, sizeof(*s));
    SM_ALLOC_GROW(w->sels, w->nsels + 1, w->asels);
    w->sels[w->nsels++] = s;
    s->where = json_object_get(node, "where_clause");
    json_t *from = json_object_get(node, "from_table");
    /* USING SAMPLE draws from the FROM clause before WHERE filters: fewer
     * rows in would be another sample */
    json_t *sample = json_object_get(node, "sample");
    if (from)
        walk_from(from, !sample || json_is_null(sample), s, w);
    const char *key;
    json_t *v;
    json_object_foreach(node, key, v)
    {
        if (strcmp(key, "from_table"))
            walk_node(v, w);
    }
}

/* Every BASE_TABLE anywhere is a reference; SELECT nodes get their FROM
 * clause examined for candidates. */
static void walk_node(json_t *node, struct walk *w)
{
    if (json_is_object(node)) {
        if (type_is(node, "SELECT_NODE")) {
            walk_select(node, w);
            return;
        }
        if (type_is(node, "BASE_TABLE")) {
            add_ref(w, node, NULL);
            return;
        }
        if (type_is(node, "TABLE_FUNCTION"))
            w->table_functions++;
        const char *key;
        json_t *v;
        json_object_foreach(node, key, v) walk_node(v, w);
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) walk_node(v, w);
    }
}

/* --- predicates ---------------------------------------------------------------- */

/* A literal of the parse tree: a constant, or a string constant cast to a
 * date or timestamp (DATE '...', '...'::TIMESTAMP). */
static bool to_lit(json_t *e, struct tbl_lit *out)
{
    if (type_is(e, "OPERATOR_CAST")) {
        const char *to = str_of(json_object_get(e, "cast_type"), "id");
        json_t *child = json_object_get(e, "child");
        json_t *v = json_object_get(child, "value");
        if (json_is_true(json_object_get(e, "try_cast")) || !to ||
            !type_is(child, "VALUE_CONSTANT"))
            return false;
        if (json_is_true(json_object_get(v, "is_null"))) {
            *out = (struct tbl_lit){TBL_LIT_NULL, NULL};
            return true;
        }
        const char *from = str_of(json_object_get(v, "type"), "id");
        const char *text = str_of(v, "value");
        if (!from || strcmp(from, "VARCHAR") || !text)
            return false;
        enum tbl_lit_kind k;
        if (!strcmp(to, "DATE"))
            k = TBL_LIT_DATE;
        else if (!strcmp(to, "TIMESTAMP"))
            k = TBL_LIT_TIMESTAMP;
        else if (!strcmp(to, "TIMESTAMP WITH TIME ZONE"))
            k = TBL_LIT_TIMESTAMPTZ;
        else if (!strcmp(to, "VARCHAR"))
            k = TBL_LIT_STRING;
        else
            return false;
        *out = (struct tbl_lit){k, sm_strdup(text)};
        return true;
    }
    if (!type_is(e, "VALUE_CONSTANT"))
        return false;
    json_t *v = json_object_get(e, "value");
    if (json_is_true(json_object_get(v, "is_null"))) {
        *out = (struct tbl_lit){TBL_LIT_NULL, NULL};
        return true;
    }
    json_t *type = json_object_get(v, "type");
    const char *id = sm_or(str_of(type, "id"), "");
    json_t *val = json_object_get(v, "value");
    if (!strcmp(id, "VARCHAR") && json_is_string(val)) {
        *out = (struct tbl_lit){TBL_LIT_STRING, sm_strdup(json_string_value(val))};
        return true;
    }
    static const char *const ints[] = {"TINYINT",   "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
                                       "USMALLINT", "UINTEGER", "UBIGINT", NULL};
    bool is_int = false;
    for (size_t i = 0; ints[i]; i++)
        is_int |= !strcmp(id, ints[i]);
    /* numbers were decoded as doubles (the tree has values beyond int64) */
    if (!json_is_number(val) || (!is_int && strcmp(id, "DECIMAL")))
        return false;
    double d = json_number_value(val);
    if (!(fabs(d) < 9e18) || d != (double)(long long)d)
        return false;
    char *digits = sm_asprintf("%lld", (long long)d);
    json_t *ti = json_object_get(type, "type_info");
    long scale = is_int ? 0 : (long)json_number_value(json_object_get(ti, "scale"));
    if (scale <= 0) {
        *out = (struct tbl_lit){TBL_LIT_NUMBER, digits};
        return true;
    }
    /* DECIMAL(w, s): the unscaled value; put the point back */
    const char *mag = digits[0] == '-' ? digits + 1 : digits;
    size_t n = strlen(mag);
    struct sm_buf b = SM_BUF_INIT;
    if (digits[0] == '-')
        (void)sm_buf_addc(&b, '-');
    if ((long)n <= scale) {
        (void)sm_buf_adds(&b, "0.");
        for (long k = (long)n; k < scale; k++)
            (void)sm_buf_addc(&b, '0');
        (void)sm_buf_adds(&b, mag);
    } else {
        (void)sm_buf_add(&b, mag, n - (size_t)scale);
        (void)sm_buf_addc(&b, '.');
        (void)sm_buf_adds(&b, mag + n - (size_t)scale);
    }
    free(digits);
    *out = (struct tbl_lit){TBL_LIT_NUMBER, sm_buf_detach(&b)};
    return true;
}

static void lits_free(struct tbl_lit *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].text);
    free(l);
}

/* The shape of a simple predicate: *col gets the COLUMN_REF node. The
 * literals are converted into args (caller frees with lits_free). */
static bool simple_pred(json_t *e, json_t **col, enum tbl_pred_op *op, struct tbl_lit **args,
                        size_t *nargs)
{
    static const struct {
        const char *type;
        enum tbl_pred_op op, flipped;
    } cmps[] = {
        {"COMPARE_EQUAL", TBL_PRED_EQ, TBL_PRED_EQ},
        {"COMPARE_LESSTHAN", TBL_PRED_LT, TBL_PRED_GT},
        {"COMPARE_LESSTHANOREQUALTO", TBL_PRED_LE, TBL_PRED_GE},
        {"COMPARE_GREATERTHAN", TBL_PRED_GT, TBL_PRED_LT},
        {"COMPARE_GREATERTHANOREQUALTO", TBL_PRED_GE, TBL_PRED_LE},
    };
    const char *type = sm_or(str_of(e, "type"), "");
    json_t *lits[2];
    json_t *list = NULL;
    size_t n = 0;
    *col = NULL;
    for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++) {
        if (strcmp(type, cmps[i].type))
            continue;
        json_t *l = json_object_get(e, "left"), *r = json_object_get(e, "right");
        if (type_is(l, "COLUMN_REF")) {
            *col = l;
            lits[n++] = r;
            *op = cmps[i].op;
        } else if (type_is(r, "COLUMN_REF")) {
            *col = r;
            lits[n++] = l;
            *op = cmps[i].flipped;
        }
    }
    if (!strcmp(type, "COMPARE_BETWEEN")) {
        *col = json_object_get(e, "input");
        lits[n++] = json_object_get(e, "lower");
        lits[n++] = json_object_get(e, "upper");
        *op = TBL_PRED_BETWEEN;
    } else if (!strcmp(type, "COMPARE_IN")) {
        list = json_object_get(e, "children");
        *col = json_array_get(list, 0);
        *op = TBL_PRED_IN;
        if (json_array_size(list) < 2)
            return false;
    } else if (!strcmp(type, "OPERATOR_IS_NULL") || !strcmp(type, "OPERATOR_IS_NOT_NULL")) {
        *col = json_array_get(json_object_get(e, "children"), 0);
        *op = strcmp(type, "OPERATOR_IS_NULL") ? TBL_PRED_NOT_NULL : TBL_PRED_IS_NULL;
    }
    if (!*col || !type_is(*col, "COLUMN_REF"))
        return false;
    size_t total = list ? json_array_size(list) - 1 : n;
    struct tbl_lit *a = sm_calloc(total ? total : 1, sizeof(*a));
    for (size_t i = 0; i < total; i++) {
        if (!to_lit(list ? json_array_get(list, i + 1) : lits[i], &a[i])) {
            lits_free(a, i);
            return false;
        }
    }
    *args = a;
    *nargs = total;
    return true;
}

static const struct tbl_column *column_named(const struct tbl_snapshot *s, const char *name)
{
    for (size_t i = 0; s && i < s->ncolumns; i++)
        if (!strcasecmp(s->columns[i].name, name))
            return &s->columns[i];
    return NULL;
}

/* The name a reference is known by in its SELECT: its alias, else its
 * table name. */
static const char *binding_name(const struct qref *r)
{
    const char *alias = str_of(r->node, "alias");
    return alias && *alias ? alias : sm_or(str_of(r->node, "table_name"), "");
}

/* The column of reference ri that the COLUMN_REF col names, or NULL when it
 * names another one or the binding is in doubt. */
static const struct tbl_column *bind_column(const struct walk *w, size_t ri, json_t *col)
{
    const struct qref *r = &w->refs[ri];
    const struct qsel *s = r->sel;
    json_t *names = json_object_get(col, "column_names");
    size_t n = json_array_size(names);
    const char *part[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < n && i < 3; i++)
        if (!(part[i] = json_string_value(json_array_get(names, i))))
            return NULL;
    const struct tbl_snapshot *snap = w->tables[r->table].snap;
    if (n == 1) {
        if (s->no_unqualified)
            return NULL;
        const struct tbl_column *c = column_named(snap, part[0]);
        for (size_t k = 0; c && k < s->ncands; k++) {
            const struct qref *o = &w->refs[s->cands[k]];
            if (s->cands[k] != ri && column_named(w->tables[o->table].snap, part[0]))
                return NULL; /* ambiguous: DuckDB refuses the query anyway */
        }
        return c;
    }
    if (n == 2) {
        if (strcasecmp(part[0], binding_name(r)))
            return NULL;
        for (size_t k = 0; k < s->ncands; k++)
            if (s->cands[k] != ri && !strcasecmp(part[0], binding_name(&w->refs[s->cands[k]])))
                return NULL;
        return column_named(snap, part[1]);
    }
    if (n == 3) {
        const char *alias = str_of(r->node, "alias");
        if ((alias && *alias) || strcasecmp(part[0], sm_or(str_of(r->node, "schema_name"), "")) ||
            strcasecmp(part[1], sm_or(str_of(r->node, "table_name"), "")))
            return NULL;
        return column_named(snap, part[2]);
    }
    return NULL;
}

static void push_conjuncts(json_t *e, json_t ***out, size_t *n, size_t *alloc)
{
    if (!e || json_is_null(e))
        return;
    if (type_is(e, "CONJUNCTION_AND")) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(e, "children"), i, c) push_conjuncts(c, out, n, alloc);
        return;
    }
    SM_ALLOC_GROW(*out, *n + 1, *alloc);
    (*out)[(*n)++] = e;
}

/* Give every candidate reference of every SELECT the predicates of its
 * WHERE clause that are about its own columns. */
static void bind_predicates(struct walk *w)
{
    for (size_t si = 0; si < w->nsels; si++) {
        struct qsel *s = w->sels[si];
        json_t **conj = NULL;
        size_t nconj = 0, aconj = 0;
        push_conjuncts(s->where, &conj, &nconj, &aconj);
        for (size_t k = 0; k < s->ncands; k++) {
            size_t ri = s->cands[k];
            struct qref *r = &w->refs[ri];
            if (!w->tables[r->table].snap)
                continue;
            for (size_t c = 0; c < nconj; c++) {
                json_t *col;
                enum tbl_pred_op op = TBL_PRED_EQ;
                struct tbl_lit *args = NULL;
                size_t nargs = 0;
                if (!simple_pred(conj[c], &col, &op, &args, &nargs))
                    continue;
                const struct tbl_column *tc = bind_column(w, ri, col);
                if (!tc) {
                    lits_free(args, nargs);
                    continue;
                }
                SM_ALLOC_GROW(r->preds, r->npreds + 1, r->apreds);
                r->preds[r->npreds++] = (struct tbl_pred){
                    .column = sm_strdup(tc->name), .op = op, .args = args, .nargs = nargs};
            }
        }
        free(conj);
    }
}

/* --- attaching -------------------------------------------------------------------- */

static void walk_release(struct walk *w)
{
    for (size_t i = 0; i < w->ntables; i++) {
        free(w->tables[i].key);
        free(w->tables[i].zone);
        free(w->tables[i].name);
        free(w->tables[i].location);
        tbl_snapshot_free(w->tables[i].snap);
    }
    free(w->tables);
    for (size_t i = 0; i < w->nrefs; i++)
        tbl_preds_free(w->refs[i].preds, w->refs[i].npreds);
    free(w->refs);
    for (size_t i = 0; i < w->nsels; i++) {
        free(w->sels[i]->cands);
        free(w->sels[i]);
    }
    free(w->sels);
}

void cat_query_free(struct cat_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nscans; i++) {
        struct cat_scan *s = &q->scans[i];
        free(s->name);
        free(s->location);
        for (size_t k = 0; k < s->nrefs; k++)
            free(s->filters[k]);
        free(s->filters);
        free(s->note);
    }
    free(q->scans);
    free(q->unparsed);
    free(q);
}

/* Parse sql into w (tables, references, SELECTs). When there is no parse
 * tree, q->unparsed gets DuckDB's reason. *root keeps the tree alive (the
 * walk borrows its nodes). */
static int parse_query(struct eng_db *db, const char *sql, json_t **root, struct walk *w,
                       struct cat_query *q, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "SELECT json_serialize_sql(");
    (void)sm_buf_add_sql_str(&b, sql);
    (void)sm_buf_addc(&b, ')');
    char *js = NULL;
    int rc = eng_query_scalar(db, b.buf, &js, err);
    sm_buf_release(&b);
    if (rc)
        return rc;
    json_error_t je;
    /* DuckDB writes UINT64_MAX for unknown locations, beyond jansson's
     * integers: numbers are decoded as doubles */
    *root = json_loads(sm_or(js, ""), JSON_DECODE_INT_AS_REAL, &je);
    free(js);
    if (!*root)
        return sm_err_set(err, SM_EINTERNAL, "cannot read DuckDB's parse tree: %s", je.text);
    if (json_is_true(json_object_get(*root, "error"))) {
        q->unparsed = sm_strdup(sm_or(str_of(*root, "error_message"), "unknown parser error"));
        return 0;
    }
    q->nstatements = json_array_size(json_object_get(*root, "statements"));
    walk_node(json_object_get(*root, "statements"), w);
    return 0;
}

/* --- opening ahead ------------------------------------------------------------------ */

struct cat_preopened {
    struct preopen {
        char *zone, *name; /* as written */
        char *location;
        struct tbl_snapshot *snap; /* NULL once taken */
    } *t;
    size_t n;
};

enum { PREOPEN_MAX = 16 };

static bool ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The identifier at p, bare or "quoted" ("" inside is one quote), into out;
 * the end of it, or NULL when there is none (out is then unchanged). */
static const char *lex_ident(const char *p, struct sm_buf *out)
{
    if (*p == '"') {
        sm_buf_reset(out);
        for (p++; *p; p++) {
            if (*p == '"' && p[1] != '"')
                return p + 1;
            p += *p == '"';
            (void)sm_buf_addc(out, *p);
        }
        return NULL;
    }
    if (!ident_start((unsigned char)*p))
        return NULL;
    const char *b = p;
    while (ident_char((unsigned char)*p))
        p++;
    sm_buf_reset(out);
    (void)sm_buf_add(out, b, (size_t)(p - b));
    return p;
}

/* Past a string, comment, dollar-quoted text or number at p, or p. */
static const char *lex_skip(const char *p)
{
    if (*p == '\'') {
        for (p++; *p; p++)
            if (*p == '\'' && *++p != '\'')
                return p;
        return p;
    }
    if (p[0] == '-' && p[1] == '-')
        return p + strcspn(p, "\n");
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? e + 2 : p + strlen(p);
    }
    if (*p == '$') {
        const char *e = p + 1;
        while (ident_char((unsigned char)*e) && *e != '$')
            e++;
        if (*e != '$')
            return p + 1;
        size_t taglen = (size_t)(e + 1 - p);
        for (const char *q = e + 1; (q = strchr(q, '$')); q++)
            if (!strncmp(q, p, taglen))
                return q + taglen;
        return p + strlen(p);
    }
    if (*p >= '0' && *p <= '9') {
        while (ident_char((unsigned char)*p) || *p == '.')
            p++;
        return p;
    }
    return p;
}

size_t cat_guess_names(const char *sql, size_t max, char ***out)
{
    struct sm_buf a = SM_BUF_INIT, b = SM_BUF_INIT;
    char **names = NULL;
    size_t n = 0, alloc = 0;
    for (const char *p = sql; *p && n < max;) {
        const char *q = lex_skip(p);
        if (q != p) {
            p = q;
            continue;
        }
        q = lex_ident(p, &a);
        if (!q) {
            p++;
            continue;
        }
        p = q;
        if (*q != '.' || !(q = lex_ident(q + 1, &b)))
            continue;
        p = q;
        if (*q == '.') { /* catalog.zone.name, or table.struct.field */
            while (*p == '.' && (q = lex_ident(p + 1, &b)))
                p = q;
            continue;
        }
        size_t i;
        for (i = 0; i < n; i++)
            if (!strcmp(names[2 * i], a.buf) && !strcmp(names[2 * i + 1], b.buf))
                break;
        if (i < n || !*a.buf || !*b.buf)
            continue;
        SM_ALLOC_GROW(names, 2 * n + 2, alloc);
        names[2 * n] = sm_strdup(a.buf);
        names[2 * n + 1] = sm_strdup(b.buf);
        n++;
    }
    sm_buf_release(&a);
    sm_buf_release(&b);
    *out = names;
    return n;
}

struct cat_preopened *cat_preopen(const char *lake, const char *state_path, const char *sql)
{
    struct cat_preopened *pre = sm_calloc(1, sizeof(*pre));
    char **names;
    pre->n = cat_guess_names(sql, PREOPEN_MAX, &names);
    pre->t = sm_calloc(pre->n ? pre->n : 1, sizeof(*pre->t));
    for (size_t i = 0; i < pre->n; i++)
        pre->t[i] = (struct preopen){.zone = names[2 * i], .name = names[2 * i + 1]};
    free(names);
    tbl_without_engine(true);
    for (size_t i = 0; i < pre->n; i++) {
        struct preopen *t = &pre->t[i];
        struct sm_err e = SM_ERR_INIT;
        char *qname = sm_asprintf("%s.%s", t->zone, t->name);
        char *loc = NULL;
        if (!cat_resolve(lake, state_path, qname, &loc, &e) &&
            !tbl_snapshot_open(loc, -1, &t->snap, &e))
            t->location = loc;
        else
            free(loc);
        free(qname);
    }
    tbl_without_engine(false);
    return pre;
}

void cat_preopened_free(struct cat_preopened *pre)
{
    if (!pre)
        return;
    for (size_t i = 0; i < pre->n; i++) {
        free(pre->t[i].zone);
        free(pre->t[i].name);
        free(pre->t[i].location);
        tbl_snapshot_free(pre->t[i].snap);
    }
    free(pre->t);
    free(pre);
}

/* The snapshot opened ahead for zone.name as written, taken out of pre. */
static struct tbl_snapshot *preopened_take(struct cat_preopened *pre, const char *zone,
                                           const char *name, char **location)
{
    for (size_t i = 0; pre && i < pre->n; i++) {
        struct preopen *t = &pre->t[i];
        if (t->snap && !strcmp(t->zone, zone) && !strcmp(t->name, name)) {
            struct tbl_snapshot *s = t->snap;
            *location = t->location;
            t->snap = NULL;
            t->location = NULL;
            return s;
        }
    }
    return NULL;
}

/* Find each named table and open its snapshot (at the as-of version). A
 * name that is not a table is left to DuckDB, or an error with --as-of. */
static int open_tables(struct walk *w, const char *lake, const char *state_path,
                       const struct cat_query_opts *o, size_t *ahead, struct sm_err *err)
{
    bool as_of = o->version >= 0 || o->ts_ms >= 0;
    for (size_t i = 0; i < w->ntables; i++) {
        struct qtable *t = &w->tables[i];
        if (!as_of && (t->snap = preopened_take(o->pre, t->zone, t->name, &t->location))) {
            (*ahead)++;
            continue;
        }
        char *qname = sm_asprintf("%s.%s", t->zone, t->name);
        struct sm_err e = SM_ERR_INIT;
        int64_t v = o->version;
        int rc = cat_resolve(lake, state_path, qname, &t->location, &e);
        if (!rc && as_of && v < 0)
            rc = tbl_version_at(t->location, o->ts_ms, &v, &e);
        if (!rc)
            rc = tbl_snapshot_open(t->location, as_of ? v : -1, &t->snap, &e);
        free(qname);
        if (rc && as_of)
            return sm_err_set(err, rc, "%s", e.msg);
        /* without --as-of, cat_attach_all() warns about a broken table */
    }
    return 0;
}

static void fill_scan(struct cat_scan *sc, const struct qtable *t, const bool *keep,
                      const bool *by_part)
{
    const struct tbl_snapshot *s = t->snap;
    sc->name = sm_asprintf("%s.%s", t->zone, t->name);
    sc->location = sm_strdup(t->location);
    sc->version = s->version;
    sc->files_total = s->nfiles;
    for (size_t i = 0; i < s->nfiles; i++) {
        const struct tbl_file *f = &s->files[i];
        bool k = !keep || keep[i];
        int64_t rows = f->num_records < 0 ? -1 : f->num_records - (int64_t)f->ndeleted;
        sc->rows_total = sc->rows_total < 0 || rows < 0 ? -1 : sc->rows_total + rows;
        sc->bytes_total += f->size;
        if (k) {
            sc->files_scanned++;
            sc->rows_scanned = sc->rows_scanned < 0 || rows < 0 ? -1 : sc->rows_scanned + rows;
            sc->bytes_scanned += f->size;
        } else if (by_part[i]) {
            sc->pruned_partition++;
        } else {
            sc->pruned_stats++;
        }
    }
}

/* Decide which files of table ti to read, attach its view and describe it. */
static int attach_pruned(struct eng_db *db, struct walk *w, size_t ti,
                         const struct cat_query_opts *o, struct cat_scan *sc, struct sm_err *err)
{
    const struct qtable *t = &w->tables[ti];
    const struct tbl_snapshot *s = t->snap;
    bool whole = o->no_prune;
    for (size_t i = 0; i < w->nrefs; i++) {
        const struct qref *r = &w->refs[i];
        if (r->table != ti)
            continue;
        whole |= !r->npreds;
        struct sm_buf b = SM_BUF_INIT;
        for (size_t k = 0; k < r->npreds; k++) {
            if (k)
                (void)sm_buf_adds(&b, " AND ");
            tbl_pred_format(&r->preds[k], &b);
        }
        sc->filters = sm_realloc(sc->filters, (sc->nrefs + 1) * sizeof(char *));
        sc->filters[sc->nrefs++] = b.len ? sm_buf_detach(&b) : NULL;
        sm_buf_release(&b);
    }
    bool *keep = sm_calloc(s->nfiles ? s->nfiles : 1, sizeof(bool));
    bool *by_part = sm_calloc(s->nfiles ? s->nfiles : 1, sizeof(bool));
    bool pruned = false;
    for (size_t i = 0; i < s->nfiles; i++) {
        keep[i] = whole;
        for (size_t k = 0; k < w->nrefs && !keep[i]; k++) {
            const struct qref *r = &w->refs[k];
            if (r->table != ti)
                continue;
            enum tbl_prune why = tbl_file_prune(s, &s->files[i], r->preds, r->npreds);
            keep[i] = why == TBL_PRUNE_KEEP;
            by_part[i] |= why == TBL_PRUNE_PARTITION;
        }
        pruned |= !keep[i];
    }
    struct sm_err e = SM_ERR_INIT;
    int rc = cat_attach_snapshot(db, t->zone, t->name, s, pruned ? keep : NULL, &e);
    if (rc && pruned) {
        /* e.g. a column added later that none of the kept files has: the
         * whole table is still correct */
        sc->note = sm_asprintf("read whole: the view over the kept files failed: %s", e.msg);
        sm_err_clear(&e);
        pruned = false;
        rc = cat_attach_snapshot(db, t->zone, t->name, s, NULL, &e);
    }
    if (!rc)
        fill_scan(sc, t, pruned ? keep : NULL, by_part);
    else
        sm_err_set(err, rc, "%s", e.msg);
    free(keep);
    free(by_part);
    return rc;
}

static int cmp_scan(const void *a, const void *b)
{
    return strcmp(((const struct cat_scan *)a)->name, ((const struct cat_scan *)b)->name);
}

int cat_attach_query(struct eng_db *db, const char *lake, const char *state_path, const char *sql,
                     const struct cat_query_opts *opts, struct cat_query **out, struct sm_err *err)
{
    struct walk w = {0};
    json_t *root = NULL;
    struct cat_query *q = sm_calloc(1, sizeof(*q));
    struct sm_map skip = SM_MAP_INIT;
    bool as_of = opts->version >= 0 || opts->ts_ms >= 0;
    size_t ahead = 0;
    double t0 = sm_now();
    int rc = parse_query(db, sql, &root, &w, q, err);
    double t_parsed = sm_now();
    if (!rc && q->unparsed && as_of)
        rc = sm_err_set(err, SM_EINVALID, "--as-of needs SELECT statements: %s", q->unparsed);
    /* checkpoints are read through db, not a second DuckDB instance */
    tbl_use_engine(db);
    if (!rc)
        rc = open_tables(&w, lake, state_path, opts, &ahead, err);
    double t_opened = sm_now();
    if (!rc)
        bind_predicates(&w);
    /* The query can see no other table when it has a parse tree, calls no
     * table function (duckdb_tables(), query_table('gold.x'), ...) and every
     * name in it is a table of the lake: then only those are attached, and
     * the other tables' views (each read's Parquet metadata) are not made. */
    bool only_named = !rc && !q->unparsed && !w.table_functions;
    q->scans = sm_calloc(w.ntables ? w.ntables : 1, sizeof(*q->scans));
    for (size_t i = 0; i < w.ntables && !rc; i++) {
        if (!w.tables[i].snap) {
            only_named = false;
            continue;
        }
        struct sm_err e = SM_ERR_INIT;
        struct cat_scan *sc = &q->scans[q->nscans];
        if (!attach_pruned(db, &w, i, opts, sc, &e)) {
            q->nscans++;
        } else {
            free(sc->note);
            for (size_t k = 0; k < sc->nrefs; k++)
                free(sc->filters[k]);
            free(sc->filters);
            memset(sc, 0, sizeof(*sc));
            if (as_of)
                rc = sm_err_set(err, e.code, "%s", e.msg);
            else
                sm_warn("%s", e.msg); /* the query fails by the table's name */
            only_named = false;
        }
        sm_map_put(&skip, w.tables[i].key, (void *)1);
    }
    double t_views = sm_now();
    if (!rc && !only_named)
        rc = cat_attach_all_except(db, lake, state_path, &skip, err);
    sm_debug("query: parse tree %.1f ms, %zu table%s (%zu opened ahead) opened %.1f ms, pruned and "
             "attached %.1f ms, %s %.1f ms",
             (t_parsed - t0) * 1000, w.ntables, w.ntables == 1 ? "" : "s", ahead,
             (t_opened - t_parsed) * 1000, (t_views - t_opened) * 1000,
             only_named ? "no other table attached" : "other tables attached",
             (sm_now() - t_views) * 1000);
    tbl_use_engine(NULL);
    sm_map_release(&skip);
    walk_release(&w);
    json_decref(root);
    if (rc) {
        cat_query_free(q);
        return rc;
    }
    qsort(q->scans, q->nscans, sizeof(*q->scans), cmp_scan);
    *out = q;
    return 0;
}
