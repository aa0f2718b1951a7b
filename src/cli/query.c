/*
 * query.c — `smelt query SQL`: any DuckDB SQL over the lake, tables named by
 * zone. Every table is attached as a view at its latest version; with
 * --as-of, the tables the query names are attached at that version instead.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"
#include "transform/transform.h"

/* Attach the tables sql names at version. */
static int attach_as_of(struct eng_db *db, const struct prj_project *p, const char *sql,
                        int64_t version, struct sm_err *err)
{
    struct prj_model q = {.zone = (char *)"query", .name = (char *)"query",
                          .sql_file = (char *)"query", .sql = (char *)sql};
    struct xf_ref *refs = NULL;
    size_t n = 0;
    SM_TRY(xf_model_refs(db, &q, &refs, &n, err));
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *dot = strchr(refs[i].name, '.');
        char *zone = sm_strndup(refs[i].name, (size_t)(dot - refs[i].name));
        char *loc = cat_location(p->lake, zone, dot + 1);
        rc = cat_attach_table(db, zone, dot + 1, loc, version, NULL, err);
        free(loc);
        free(zone);
    }
    xf_refs_free(refs, n);
    return rc;
}

int cmd_query(int argc, char **argv, struct cli_ctx *ctx)
{
    enum cli_format fmt = CLI_FMT_AUTO;
    const char *sql = NULL;
    int64_t as_of = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if (!cli_parse_format(argv[++i], &fmt)) {
                fprintf(stderr, "smelt: error: unknown format '%s': use table, csv or json\n",
                        argv[i]);
                return CLI_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--as-of") && i + 1 < argc) {
            if (sm_parse_i64(argv[++i], &as_of) || as_of < 0) {
                fprintf(stderr, "smelt: error: --as-of takes a table version (0, 1, ...), got '%s'\n",
                        argv[i]);
                return CLI_EXIT_USAGE;
            }
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
    int code = CLI_EXIT_OK;
    if (prj_load(ctx->dir, &p, &err) || orc_open_engine(p, &db, &err) ||
        cat_attach_lake(db, p->lake, &err) ||
        (as_of >= 0 && attach_as_of(db, p, sql, as_of, &err))) {
        code = cli_fail(&err);
        goto out;
    }
    if (eng_query(db, sql, &r, &err)) {
        fprintf(stderr, "smelt: error: %s\n", err.msg);
        code = CLI_EXIT_FAILED;
        goto out;
    }
    cli_print_result(r, fmt, stdout);
out:
    eng_result_free(r);
    eng_close(db);
    prj_free(p);
    return code;
}
