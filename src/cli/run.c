/*
 * run.c — `smelt run`: load the project, plan, execute, print the summary.
 * Configuration errors stop before anything is touched (exit 2).
 */
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"

int cmd_run(int argc, char **argv, struct cli_ctx *ctx)
{
    struct orc_options opt = {0};
    enum cli_format fmt = CLI_FMT_AUTO;
    int f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--full-refresh")) {
            opt.full_refresh = true;
        } else if ((f = cli_format_option(argc, argv, &i, &fmt)) != 0) {
            if (f < 0)
                return CLI_EXIT_USAGE;
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("run"), stderr);
            return CLI_EXIT_USAGE;
        }
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct orc_plan *plan = NULL;
    struct orc_run run = {0};
    int code = CLI_EXIT_OK;
    if (cli_load_project(ctx, &p, &err) || orc_open_engine(p, &db, &err) ||
        orc_plan_build(p, db, &plan, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    /* Progress lines only when a person is watching and reading a table. */
    fmt = cli_resolve_format(fmt);
    opt.progress = fmt == CLI_FMT_TABLE && isatty(STDERR_FILENO);
    if (orc_run(p, plan, db, &opt, &run, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    orc_print_summary(&run, stdout,
                      fmt == CLI_FMT_JSON  ? ORC_FMT_JSON
                      : fmt == CLI_FMT_CSV ? ORC_FMT_CSV
                                           : ORC_FMT_TABLE);
    for (size_t i = 0; i < run.ntasks; i++)
        if (run.tasks[i].state == ORC_FAILED)
            fprintf(stderr, "smelt: error: %s: %s\n", run.tasks[i].name,
                    sm_or(run.tasks[i].note, "failed"));
    code = run.nfailed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
out:
    orc_run_release(&run);
    orc_plan_free(plan);
    eng_close(db);
    prj_free(p);
    return code;
}
