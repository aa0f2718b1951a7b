/* version.c — `smelt version`. */
#include "cli.h"
#include "engine/engine.h"

int cmd_version(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)ctx;
    if (argc > 1 && !cli_wants_help(argc, argv)) {
        cli_usage(cli_find("version"), stderr);
        return CLI_EXIT_USAGE;
    }
    printf("smelt %s (duckdb %s)\n", SMELT_VERSION, eng_version());
    return CLI_EXIT_OK;
}
