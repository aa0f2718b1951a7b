/*
 * history.c — `smelt history ZONE.NAME`: the versions of a Delta table, as
 * DESCRIBE HISTORY shows them in Delta Lake.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "engine/engine.h"
#include "project/project.h"
#include "table/table.h"

int cmd_history(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *name = NULL;
    enum cli_format fmt = CLI_FMT_AUTO;
    for (int i = 1; i < argc; i++) {
        int f = cli_format_option(argc, argv, &i, &fmt);
        if (f < 0)
            return CLI_EXIT_USAGE;
        if (f > 0)
            continue;
        if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        cli_usage(cli_find("history"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct tbl_version_info *h = NULL;
    size_t n = 0;
    char *loc = NULL, *stpath = NULL;
    struct eng_db *db = NULL;
    struct eng_result *r = NULL;
    struct sm_buf q = SM_BUF_INIT;
    int code = CLI_EXIT_OK;
    if (cli_load_project(ctx, &p, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    stpath = sm_path_join(p->state_dir, "state.db");
    if (cat_resolve(p->lake, stpath, name, &loc, &err) || tbl_history(loc, &h, &n, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    /* Build the rows as a VALUES list so output goes through the one printer. */
    (void)sm_buf_adds(&q, "SELECT * FROM (VALUES ");
    for (size_t i = 0; i < n; i++) {
        char iso[40];
        sm_iso8601(h[i].timestamp, iso, sizeof(iso));
        (void)sm_buf_addf(&q, "%s(%lld, CAST(", i ? ", " : "", (long long)h[i].version);
        (void)sm_buf_add_sql_str(&q, iso);
        (void)sm_buf_adds(&q, " AS TIMESTAMP), ");
        if (h[i].operation)
            (void)sm_buf_add_sql_str(&q, h[i].operation);
        else
            (void)sm_buf_adds(&q, "NULL");
        (void)sm_buf_addf(&q, ", %lld, %lld, ", (long long)h[i].files_added,
                          (long long)h[i].files_removed);
        if (h[i].rows_added >= 0)
            (void)sm_buf_addf(&q, "%lld, ", (long long)h[i].rows_added);
        else
            (void)sm_buf_adds(&q, "NULL, ");
        if (h[i].rows_removed >= 0)
            (void)sm_buf_addf(&q, "%lld)", (long long)h[i].rows_removed);
        else
            (void)sm_buf_adds(&q, "NULL)");
    }
    (void)sm_buf_adds(&q, ") t(version, \"timestamp\", operation, files_added, files_removed, "
                          "rows_added, rows_removed) ORDER BY version");
    if (eng_open(NULL, &db, &err) || eng_query(db, q.buf, &r, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    cli_print_result(r, fmt, stdout);
out:
    eng_result_free(r);
    eng_close(db);
    sm_buf_release(&q);
    tbl_history_free(h, n);
    free(loc);
    free(stpath);
    prj_free(p);
    return code;
}
