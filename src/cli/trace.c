/*
 * trace.c — `smelt trace ZONE.TABLE WHERE`: where rows came from. A bronze
 * (or quarantine) row carries its provenance: the landed file or page, its
 * line, batch and load time; state.db adds when the file was received and
 * its SHA-256. A silver or gold row has none, so it is followed back
 * through its model's unique_key: the key columns are traced through the
 * model's SQL to the input columns they come from (transform's key
 * lineage), the inputs' rows with the same key values are selected, and so
 * on down to bronze. Each hop is a SQL condition on the next table:
 *
 *     gold.x WHERE c              ->  silver.y WHERE (k) IN (SELECT k FROM gold.x WHERE c)
 *                                 ->  bronze.z WHERE (k') IN (SELECT k' FROM silver.y WHERE ...)
 *
 * so DuckDB does the whole walk in one query per bronze table reached.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "engine/engine.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"
#include "state/state.h"
#include "table/table.h"
#include "transform/transform.h"

#include <strings.h>

enum { MAX_HOPS = 8 };

/* A table reached, with the condition its traced rows meet. */
struct hop {
    char *table; /* "bronze.orders" */
    char *where; /* SQL condition on its columns */
    char **keys; /* the columns identifying the traced rows ("row"), or NULL: all */
    size_t nkeys;
    char *via; /* how it was reached: "silver.orders (order_id, line_no)" */
};

struct tracer {
    const struct prj_project *p;
    struct eng_db *db;
    struct hop *hops; /* the bronze/quarantine tables reached */
    size_t nhops, alloc;
    struct sm_buf notes; /* what could not be followed, one line each */
};

static void hop_release(struct hop *h)
{
    free(h->table);
    free(h->where);
    for (size_t i = 0; i < h->nkeys; i++)
        free(h->keys[i]);
    free(h->keys);
    free(h->via);
}

static char **split_keys(const char *s, size_t *n)
{
    char **v = NULL;
    *n = 0;
    for (const char *p = s; p && *p;) {
        size_t len = strcspn(p, ",");
        v = sm_realloc(v, (*n + 1) * sizeof(char *));
        v[(*n)++] = sm_strndup(p, len);
        p += len + (p[len] == ',');
    }
    return v;
}

static bool is_raw_zone(const char *table)
{
    return sm_starts_with(table, "bronze.") || sm_starts_with(table, "quarantine.");
}

static void note(struct tracer *t, const char *fmt, ...) SM_PRINTF(2, 3);
static void note(struct tracer *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)sm_buf_adds(&t->notes, "smelt: note: ");
    (void)sm_buf_vaddf(&t->notes, fmt, ap);
    va_end(ap);
    (void)sm_buf_addc(&t->notes, '\n');
}

/* Follow table's rows meeting where to bronze, adding a hop for every raw
 * table reached. keys: the columns that identify them (NULL at the top). */
static int follow(struct tracer *t, const char *table, const char *where, char **keys, size_t nkeys,
                  const char *via, int depth, struct sm_err *err)
{
    if (is_raw_zone(table)) {
        SM_ALLOC_GROW(t->hops, t->nhops + 1, t->alloc);
        struct hop *h = &t->hops[t->nhops++];
        memset(h, 0, sizeof(*h));
        h->table = sm_strdup(table);
        h->where = sm_strdup(where);
        h->via = via ? sm_strdup(via) : NULL;
        h->keys = sm_calloc(nkeys ? nkeys : 1, sizeof(char *));
        for (size_t i = 0; i < nkeys; i++)
            h->keys[i] = sm_strdup(keys[i]);
        h->nkeys = nkeys;
        return 0;
    }
    const char *dot = strchr(table, '.');
    char *zone = sm_strndup(table, (size_t)(dot - table));
    const struct prj_model *m = prj_find_model(t->p, zone, dot + 1);
    free(zone);
    if (!m) {
        note(t,
             "%s is not a model of this project (a registered external table?): it has no "
             "provenance to follow",
             table);
        return 0;
    }
    if (depth >= MAX_HOPS) {
        note(t, "%s: stopped following after %d models", table, MAX_HOPS);
        return 0;
    }
    if (!m->unique_key) {
        note(t,
             "%s cannot be traced: its model has no unique_key, so its rows cannot be matched "
             "to its inputs' (%s); set unique_key in %s, or trace its inputs directly",
             table, m->sql_file, m->yml_file ? m->yml_file : "a .yml beside the model");
        return 0;
    }
    size_t nk = 0;
    char **mk = split_keys(m->unique_key, &nk);
    struct xf_key_source *srcs = NULL;
    size_t ns = 0;
    struct sm_err e = SM_ERR_INIT;
    int rc = 0;
    if (xf_key_lineage(t->db, m, mk, nk, &srcs, &ns, &e)) {
        note(t, "%s cannot be traced: %s", table, e.msg);
    } else if (!ns) {
        note(t, "%s cannot be traced: no input of %s carries its unique_key (%s)", table,
             m->sql_file, m->unique_key);
    }
    for (size_t i = 0; i < ns && !rc; i++) {
        /* the input's rows whose key columns hold a traced row's key */
        struct sm_buf w = SM_BUF_INIT, v = SM_BUF_INIT;
        (void)sm_buf_adds(&w, "(");
        for (size_t k = 0; k < nk; k++) {
            (void)sm_buf_adds(&w, k ? ", " : "");
            (void)sm_buf_add_sql_ident(&w, srcs[i].cols[k]);
        }
        (void)sm_buf_adds(&w, ") IN (SELECT ");
        for (size_t k = 0; k < nk; k++) {
            (void)sm_buf_adds(&w, k ? ", " : "");
            (void)sm_buf_add_sql_ident(&w, mk[k]);
        }
        (void)sm_buf_addf(&w, " FROM %s WHERE %s)", table, where);
        if (via)
            (void)sm_buf_addf(&v, "%s -> ", via);
        (void)sm_buf_addf(&v, "%s (unique_key ", table);
        for (size_t k = 0; k < nk; k++)
            (void)sm_buf_addf(&v, "%s%s", k ? ", " : "", mk[k]);
        (void)sm_buf_adds(&v, ")");
        rc = follow(t, srcs[i].table, w.buf, srcs[i].cols, nk, v.buf, depth + 1, err);
        sm_buf_release(&w);
        sm_buf_release(&v);
    }
    xf_key_sources_free(srcs, ns, nk);
    for (size_t k = 0; k < nk; k++)
        free(mk[k]);
    free(mk);
    return rc;
}

/* smelt_landed(id, path, received_at, sha256, reprocess_of): what
 * state.db knows of every landed file, path relative to the lake as in
 * _source_file; reprocess_of is the id of the earlier landing of the same
 * bytes (smelt ingest --reprocess). */
static int landed_table(struct tracer *t, bool *out_state, struct sm_err *err)
{
    char *stpath = sm_path_join(t->p->state_dir, "state.db");
    struct st_db *st = NULL;
    struct sm_buf q = SM_BUF_INIT;
    size_t skip = strlen(t->p->lake) + 1, n = 0;
    int rc = 0;
    *out_state = sm_path_exists(stpath);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE smelt_landed (id BIGINT, path VARCHAR, "
                          "received_at VARCHAR, sha256 VARCHAR, reprocess_of BIGINT)");
    if (*out_state && !(rc = st_open(stpath, &st, err))) {
        for (size_t s = 0; s < t->p->nsources && !rc; s++) {
            struct st_landed *files = NULL;
            size_t nf = 0;
            rc = st_landed_list(st, t->p->sources[s].name, 0, &files, &nf, err);
            for (size_t i = 0; i < nf; i++) {
                const char *lp = files[i].landing_path;
                (void)sm_buf_adds(&q, n++ ? ", (" : "; INSERT INTO smelt_landed VALUES (");
                (void)sm_buf_addf(&q, "%lld, ", (long long)files[i].id);
                (void)sm_buf_add_sql_str(&q, strlen(lp) > skip ? lp + skip : lp);
                (void)sm_buf_adds(&q, ", ");
                (void)sm_buf_add_sql_str(&q, sm_or(files[i].received_at, ""));
                (void)sm_buf_adds(&q, ", ");
                (void)sm_buf_add_sql_str(&q, sm_or(files[i].sha256, ""));
                if (files[i].reprocess_of)
                    (void)sm_buf_addf(&q, ", %lld)", (long long)files[i].reprocess_of);
                else
                    (void)sm_buf_adds(&q, ", NULL)");
            }
            st_landed_free_array(files, nf);
        }
        st_close(st);
    }
    if (!rc)
        rc = eng_exec(t->db, q.buf, err);
    sm_buf_release(&q);
    free(stpath);
    return rc;
}

static bool has_column(const struct tbl_snapshot *s, const char *name)
{
    for (size_t i = 0; s && i < s->ncolumns; i++)
        if (!strcmp(s->columns[i].name, name))
            return true;
    return false;
}

static bool is_provenance(const char *name)
{
    return name[0] == '_' || !strcmp(name, "line") || !strcmp(name, "column_name") ||
           !strcmp(name, "error_type") || !strcmp(name, "raw") || !strcmp(name, "error");
}

/* One SELECT of the output over hop h's table. */
static int hop_select(struct tracer *t, const struct hop *h, bool url, struct sm_buf *b,
                      struct sm_err *err)
{
    char *loc = cat_location_of(t->p->lake, h->table);
    struct tbl_snapshot *s = NULL;
    int rc = tbl_snapshot_open(loc, -1, &s, err);
    free(loc);
    if (rc) {
        if (rc == SM_ENOTFOUND) {
            sm_err_clear(err);
            note(t, "%s does not exist yet: nothing loaded", h->table);
            return 0;
        }
        return rc;
    }
    bool quarantine = sm_starts_with(h->table, "quarantine.");
    (void)sm_buf_adds(b, b->len ? " UNION ALL SELECT " : "SELECT ");
    (void)sm_buf_add_sql_str(b, h->table);
    (void)sm_buf_adds(b, " AS \"table\", ");
    if (quarantine && !h->nkeys)
        (void)sm_buf_adds(b, "t.raw AS row");
    else
        (void)sm_buf_adds(b, "concat_ws(', ', CAST(NULL AS VARCHAR)");
    for (size_t i = 0; !(quarantine && !h->nkeys) && i < (h->nkeys ? h->nkeys : s->ncolumns); i++) {
        const char *c = h->nkeys ? h->keys[i] : s->columns[i].name;
        if (!h->nkeys && is_provenance(c))
            continue;
        struct sm_buf lit = SM_BUF_INIT, id = SM_BUF_INIT;
        (void)sm_buf_addf(&lit, "%s=", c);
        (void)sm_buf_add_sql_ident(&id, c);
        (void)sm_buf_adds(b, ", ");
        (void)sm_buf_add_sql_str(b, lit.buf);
        (void)sm_buf_addf(b, " || coalesce(CAST(t.%s AS VARCHAR), 'NULL')", id.buf);
        sm_buf_release(&lit);
        sm_buf_release(&id);
    }
    if (!(quarantine && !h->nkeys))
        (void)sm_buf_adds(b, ") AS row");
    (void)sm_buf_adds(b, ", t._source_file");
    if (url)
        (void)sm_buf_adds(b, has_column(s, "_source_url") ? ", t._source_url"
                                                          : ", CAST(NULL AS VARCHAR)");
    (void)sm_buf_addf(b,
                      ", CAST(t.%s AS BIGINT) AS _source_line, t._batch_id, t.%s AS "
                      "_ingested_at, l.received_at, l.sha256, (SELECT e.path FROM smelt_landed e "
                      "WHERE e.id = l.reprocess_of) AS reprocess_of",
                      quarantine ? "line" : "_source_line",
                      quarantine ? "_quarantined_at" : "_ingested_at");
    /* The WHERE is the user's, over the table's own columns: applied
     * before the join, so smelt_landed's names cannot clash with them. */
    (void)sm_buf_addf(b,
                      " FROM (SELECT * FROM %s WHERE %s) t LEFT JOIN smelt_landed l ON l.path = "
                      "split_part(t._source_file, '!', 1)",
                      h->table, h->where);
    tbl_snapshot_free(s);
    return 0;
}

int cmd_trace(int argc, char **argv, struct cli_ctx *ctx)
{
    enum cli_format fmt = CLI_FMT_AUTO;
    const char *table = NULL, *where = NULL;
    for (int i = 1; i < argc; i++) {
        int f = cli_format_option(argc, argv, &i, &fmt);
        if (f < 0)
            return CLI_EXIT_USAGE;
        if (f > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("trace"), stderr);
            return CLI_EXIT_USAGE;
        }
        if (!table)
            table = argv[i];
        else if (!where)
            where = argv[i];
        else {
            fprintf(stderr, "smelt: error: unexpected argument '%s' (quote the condition)\n",
                    argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    const char *dot = table ? strchr(table, '.') : NULL;
    if (!table || !where || !dot || dot == table || !dot[1]) {
        cli_usage(cli_find("trace"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct tracer t = {.notes = SM_BUF_INIT};
    struct sm_buf q = SM_BUF_INIT;
    struct eng_result *r = NULL;
    char *stpath = NULL, *cond = sm_asprintf("(%s)", where);
    int code = CLI_EXIT_OK;
    bool state = false, url = false;
    if (cli_load_project(ctx, &p, &err) || orc_open_engine(p, &t.db, &err) ||
        cat_attach_all(t.db, p->lake, (stpath = sm_path_join(p->state_dir, "state.db")), &err)) {
        code = cli_fail(&err);
        goto out;
    }
    t.p = p;
    /* The table must exist, and the condition must hold on it. */
    char *probe = sm_asprintf("SELECT count(*) FROM %s WHERE %s", table, cond);
    int64_t nrows = 0;
    int rc = eng_query_i64(t.db, probe, &nrows, &err);
    free(probe);
    if (rc) {
        fprintf(stderr, "smelt: error: %s\n", err.msg);
        code = CLI_EXIT_FAILED;
        goto out;
    }
    if (!nrows) {
        fprintf(stderr, "smelt: no row of %s matches %s\n", table, where);
        code = CLI_EXIT_FAILED;
        goto out;
    }
    if ((rc = follow(&t, table, cond, NULL, 0, NULL, 0, &err)) ||
        (rc = landed_table(&t, &state, &err))) {
        code = cli_fail(&err);
        goto out;
    }
    for (size_t i = 0; i < t.nhops; i++) {
        const char *name = strchr(t.hops[i].table, '.') + 1;
        const struct prj_source *s = prj_find_source(p, name);
        url |= s && !strcmp(s->kind, "rest");
    }
    for (size_t i = 0; i < t.nhops && !rc; i++)
        rc = hop_select(&t, &t.hops[i], url, &q, &err);
    if (rc) {
        code = cli_fail(&err);
        goto out;
    }
    if (q.len) {
        (void)sm_buf_adds(&q, " ORDER BY \"table\", _source_file, _source_line");
        if (eng_query(t.db, q.buf, &r, &err)) {
            fprintf(stderr, "smelt: error: %s\n", err.msg);
            code = CLI_EXIT_FAILED;
            goto out;
        }
    }
    if (r)
        cli_print_result(r, fmt, stdout);
    if (!state)
        fprintf(stderr, "smelt: note: no .smelt/state.db: received_at and sha256 are unknown\n");
    for (size_t i = 0; i < t.nhops; i++)
        if (t.hops[i].via)
            fprintf(stderr, "smelt: note: %s reached through %s\n", t.hops[i].table, t.hops[i].via);
    if (t.notes.len)
        fprintf(stderr, "%s", t.notes.buf);
    if (!r || !eng_result_nrows(r)) {
        fprintf(stderr, "smelt: the %lld matching row%s of %s could not be traced to bronze\n",
                (long long)nrows, nrows == 1 ? "" : "s", table);
        code = CLI_EXIT_FAILED;
    }
out:
    eng_result_free(r);
    for (size_t i = 0; i < t.nhops; i++)
        hop_release(&t.hops[i]);
    free(t.hops);
    sm_buf_release(&t.notes);
    sm_buf_release(&q);
    eng_close(t.db);
    prj_free(p);
    free(stpath);
    free(cond);
    return code;
}
