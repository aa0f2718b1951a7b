/*
 * run.c — `smelt run`: load the project, plan, execute, print the summary.
 * Configuration errors stop before anything is touched (exit 2).
 */
#include "cli.h"
#include "orchestrate/orchestrate.h"

int cmd_run(int argc, char **argv, struct cli_ctx *ctx)
{
    struct orc_options opt = {0};
    enum cli_format fmt = CLI_FMT_AUTO;
    char **rebuild = sm_calloc((size_t)argc, sizeof(char *));
    size_t nrebuild = 0;
    bool rebuilding = false;
    int f, code;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--full-refresh")) {
            opt.full_refresh = true;
        } else if (!strcmp(argv[i], "--rebuild-bronze")) {
            rebuilding = true;
        } else if (rebuilding && argv[i][0] != '-') {
            rebuild[nrebuild++] = argv[i];
        } else if ((f = cli_format_option(argc, argv, &i, &fmt)) != 0) {
            if (f < 0) {
                free(rebuild);
                return CLI_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("run"), stderr);
            free(rebuild);
            return CLI_EXIT_USAGE;
        }
    }
    opt.rebuild = rebuild;
    opt.nrebuild = nrebuild;
    opt.rebuild_all = rebuilding && !nrebuild;
    code = cli_run_tasks(ctx, &opt, fmt, rebuild, nrebuild);
    free(rebuild);
    return code;
}
