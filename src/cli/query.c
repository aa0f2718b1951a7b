/*
 * query.c — `smelt query SQL`: any DuckDB SQL over the lake, tables named by
 * zone. Every table is attached as a view at its latest version; with
 * --as-of, the tables the query names are attached at that version instead.
 * The views of the tables the query names read only the data files its
 * WHERE clause can match (catalog/scan.c); --explain shows which, instead of
 * running the query.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"
#include "table/table.h"

#include <pthread.h>

static void print_rows(FILE *out, int64_t n)
{
    if (n < 0)
        fputs("?", out);
    else
        fprintf(out, "%lld", (long long)n);
}

static void explain_text(const struct cat_query *q, const char *plan, FILE *out)
{
    if (q->unparsed)
        fprintf(out, "no file pruning: DuckDB has no parse tree for this SQL (%s)\n", q->unparsed);
    if (!q->unparsed && !q->nscans)
        fprintf(out, "the query reads no table of the lake\n");
    for (size_t i = 0; i < q->nscans; i++) {
        const struct cat_scan *s = &q->scans[i];
        char b1[32], b2[32];
        sm_fmt_bytes(b1, sizeof(b1), s->bytes_scanned);
        sm_fmt_bytes(b2, sizeof(b2), s->bytes_total);
        fprintf(out, "%s (version %lld): %zu of %zu files, ", s->name, (long long)s->version,
                s->files_scanned, s->files_total);
        print_rows(out, s->rows_scanned);
        fputs(" of ", out);
        print_rows(out, s->rows_total);
        fprintf(out, " rows, %s of %s\n", b1, b2);
        fprintf(out, "  skipped  %zu file%s by partition values, %zu by column statistics\n",
                s->pruned_partition, s->pruned_partition == 1 ? "" : "s", s->pruned_stats);
        for (size_t k = 0; k < s->nrefs; k++)
            fprintf(out, "  where    %s\n",
                    s->filters[k] ? s->filters[k] : "(no predicate on its columns: every file)");
        if (s->note)
            fprintf(out, "  note     %s\n", s->note);
    }
    if (plan)
        fprintf(out, "\nDuckDB's plan:\n%s\n", plan);
}

static void csv_cell(struct sm_buf *b, const char *s)
{
    if (!s)
        return;
    (void)sm_buf_addc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            (void)sm_buf_addc(b, '"');
        (void)sm_buf_addc(b, *s);
    }
    (void)sm_buf_addc(b, '"');
}

static void add_count(struct sm_buf *b, int64_t n, const char *null)
{
    if (n < 0)
        (void)sm_buf_adds(b, null);
    else
        (void)sm_buf_addf(b, "%lld", (long long)n);
}

static void explain_csv(const struct cat_query *q, FILE *out)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "table,version,files_scanned,files_total,pruned_by_partition,"
                          "pruned_by_stats,rows_scanned,rows_total,bytes_scanned,bytes_total,"
                          "filters,note\n");
    for (size_t i = 0; i < q->nscans; i++) {
        const struct cat_scan *s = &q->scans[i];
        struct sm_buf f = SM_BUF_INIT;
        for (size_t k = 0; k < s->nrefs; k++)
            (void)sm_buf_addf(&f, "%s%s", k ? " | " : "", sm_or(s->filters[k], "-"));
        csv_cell(&b, s->name);
        (void)sm_buf_addf(&b, ",%lld,%zu,%zu,%zu,%zu,", (long long)s->version, s->files_scanned,
                          s->files_total, s->pruned_partition, s->pruned_stats);
        add_count(&b, s->rows_scanned, "");
        (void)sm_buf_addc(&b, ',');
        add_count(&b, s->rows_total, "");
        (void)sm_buf_addf(&b, ",%lld,%lld,", (long long)s->bytes_scanned,
                          (long long)s->bytes_total);
        csv_cell(&b, f.buf);
        (void)sm_buf_addc(&b, ',');
        csv_cell(&b, s->note);
        (void)sm_buf_addc(&b, '\n');
        sm_buf_release(&f);
    }
    fputs(b.buf, out);
    sm_buf_release(&b);
}

static void json_str_or_null(struct sm_buf *b, const char *s)
{
    if (s)
        (void)sm_buf_add_json_str(b, s);
    else
        (void)sm_buf_adds(b, "null");
}

static void explain_json(const struct cat_query *q, const char *plan, FILE *out)
{
    struct sm_buf b = SM_BUF_INIT;
    (void)sm_buf_adds(&b, "{\"tables\":[");
    for (size_t i = 0; i < q->nscans; i++) {
        const struct cat_scan *s = &q->scans[i];
        (void)sm_buf_adds(&b, i ? ",\n{\"table\":" : "\n{\"table\":");
        (void)sm_buf_add_json_str(&b, s->name);
        (void)sm_buf_adds(&b, ",\"location\":");
        (void)sm_buf_add_json_str(&b, s->location);
        (void)sm_buf_addf(&b,
                          ",\"version\":%lld,\"files_scanned\":%zu,\"files_total\":%zu,"
                          "\"pruned_by_partition\":%zu,\"pruned_by_stats\":%zu,\"rows_scanned\":",
                          (long long)s->version, s->files_scanned, s->files_total,
                          s->pruned_partition, s->pruned_stats);
        add_count(&b, s->rows_scanned, "null");
        (void)sm_buf_adds(&b, ",\"rows_total\":");
        add_count(&b, s->rows_total, "null");
        (void)sm_buf_addf(&b, ",\"bytes_scanned\":%lld,\"bytes_total\":%lld,\"filters\":[",
                          (long long)s->bytes_scanned, (long long)s->bytes_total);
        for (size_t k = 0; k < s->nrefs; k++) {
            if (k)
                (void)sm_buf_addc(&b, ',');
            json_str_or_null(&b, s->filters[k]);
        }
        (void)sm_buf_adds(&b, "],\"note\":");
        json_str_or_null(&b, s->note);
        (void)sm_buf_addc(&b, '}');
    }
    (void)sm_buf_adds(&b, "],\n\"unparsed\":");
    json_str_or_null(&b, q->unparsed);
    (void)sm_buf_adds(&b, ",\n\"plan\":");
    json_str_or_null(&b, plan);
    (void)sm_buf_adds(&b, "}\n");
    fputs(b.buf, out);
    sm_buf_release(&b);
}

/* DuckDB's physical plan of sql, or NULL. Only for one statement: EXPLAIN
 * covers the first one, and the rest would run. */
static char *duckdb_plan(struct eng_db *db, const struct cat_query *q, const char *sql)
{
    if (q->unparsed || q->nstatements != 1)
        return NULL;
    struct eng_result *r = NULL;
    char *q_sql = sm_asprintf("EXPLAIN %s", sql);
    int rc = eng_query(db, q_sql, &r, NULL);
    free(q_sql);
    if (rc)
        return NULL;
    struct sm_buf b = SM_BUF_INIT;
    int col = eng_result_colidx(r, "explain_value");
    for (size_t i = 0; col >= 0 && i < eng_result_nrows(r); i++)
        (void)sm_buf_adds(&b, sm_or(eng_result_str(r, (size_t)col, i), ""));
    eng_result_free(r);
    while (b.len && b.buf[b.len - 1] == '\n')
        b.buf[--b.len] = 0;
    return b.len ? sm_buf_detach(&b) : (sm_buf_release(&b), NULL);
}

struct preopen_job {
    const struct prj_project *p;
    const char *sql, *state_path;
    struct cat_preopened *pre;
};

static void *preopen_tables(void *arg)
{
    struct preopen_job *j = arg;
    j->pre = cat_preopen(j->p->lake, j->state_path, j->sql);
    return NULL;
}

/* Read the Delta logs of the tables sql seems to name on a second thread
 * while this one opens DuckDB (a third of the time smelt adds to DuckDB's
 * own for a one-table query). With --as-of, the tables are opened later at
 * that version. */
static int open_engine_and_tables(const struct prj_project *p, const char *sql,
                                  const char *state_path, struct cat_query_opts *opts,
                                  struct eng_db **db, struct sm_err *err)
{
    struct preopen_job j = {.p = p, .sql = sql, .state_path = state_path};
    pthread_t th;
    bool as_of = opts->version >= 0 || opts->ts_ms >= 0;
    bool started = !as_of && !pthread_create(&th, NULL, preopen_tables, &j);
    int rc = orc_open_engine(p, db, err);
    if (started) {
        pthread_join(th, NULL);
        opts->pre = j.pre;
    }
    return rc;
}

int cmd_query(int argc, char **argv, struct cli_ctx *ctx)
{
    enum cli_format fmt = CLI_FMT_AUTO;
    const char *sql = NULL;
    int64_t as_of = -1, as_of_ts = -1;
    bool explain = false, no_prune = false;
    for (int i = 1; i < argc; i++) {
        int f = cli_format_option(argc, argv, &i, &fmt);
        if (f < 0)
            return CLI_EXIT_USAGE;
        if (f > 0)
            continue;
        if (!strcmp(argv[i], "--as-of") && i + 1 < argc) {
            const char *v = argv[++i];
            int64_t us;
            if (!sm_parse_i64(v, &as_of) && as_of >= 0) {
                as_of_ts = -1;
            } else if (tbl_parse_timestamp(v, &us, NULL)) {
                as_of = -1;
                as_of_ts = us / 1000;
            } else {
                fprintf(stderr,
                        "smelt: error: --as-of takes a version (0, 1, ...) or a UTC timestamp "
                        "(2026-11-21 13:00:00), got '%s'\n",
                        v);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--explain")) {
            explain = true;
        } else if (!strcmp(argv[i], "--no-prune")) {
            no_prune = true;
        } else if (!sql && (argv[i][0] != '-' || !argv[i][1])) {
            sql = argv[i];
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("query"), stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!sql) {
        cli_usage(cli_find("query"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct eng_result *r = NULL;
    struct cat_query *cq = NULL;
    int code = CLI_EXIT_OK;
    char *stpath = NULL;
    struct cat_query_opts opts = {.version = as_of, .ts_ms = as_of_ts, .no_prune = no_prune};
    if (cli_load_project(ctx, &p, &err) ||
        open_engine_and_tables(p, sql, (stpath = sm_path_join(p->state_dir, "state.db")), &opts,
                               &db, &err) ||
        cat_attach_query(db, p->lake, stpath, sql, &opts, &cq, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if (explain) {
        char *plan = duckdb_plan(db, cq, sql);
        fmt = cli_resolve_format(fmt);
        if (fmt == CLI_FMT_JSON)
            explain_json(cq, plan, stdout);
        else if (fmt == CLI_FMT_CSV)
            explain_csv(cq, stdout);
        else
            explain_text(cq, plan, stdout);
        free(plan);
        goto out;
    }
    if (eng_query(db, sql, &r, &err)) {
        fprintf(stderr, "smelt: error: %s\n", err.msg);
        code = CLI_EXIT_FAILED;
        goto out;
    }
    cli_print_result(r, fmt, stdout);
out:
    free(stpath);
    cat_preopened_free(opts.pre);
    cat_query_free(cq);
    eng_result_free(r);
    eng_close(db);
    prj_free(p);
    return code;
}
