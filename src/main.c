/*
 * main.c — global flags and dispatch to the command table (cli/commands.c).
 */
#include "cli/cli.h"

static void print_help(FILE *to)
{
    fprintf(to, "usage: smelt [-C DIR] [-v|-q] COMMAND [ARGS]\n\n"
                "smelt is a medallion lakehouse in one program: it lands raw files, refines\n"
                "them bronze -> silver -> gold as Delta Lake tables and answers SQL over them.\n\n"
                "commands:\n");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(to, "  %-10s %s\n", c->name, c->summary);
    fprintf(to, "\nglobal options:\n"
                "  -C DIR        run as if started in DIR (the project directory)\n"
                "  -v, --verbose more messages on stderr\n"
                "  -q, --quiet   only errors on stderr\n"
                "  -h, --help    this help; `smelt COMMAND --help` for a command's options\n"
                "  --version     print the version\n\n"
                "exit status: 0 ok, 1 the pipeline ran but something failed, 2 usage or\n"
                "configuration error\n");
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {.dir = "."};
    int i = 1;
    sm_log_set_level(SM_LOG_INFO);
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-C")) {
            if (++i >= argc) {
                fprintf(stderr, "smelt: error: -C needs a directory\n");
                return CLI_EXIT_USAGE;
            }
            ctx.dir = argv[i];
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            sm_log_set_level(SM_LOG_DEBUG);
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            sm_log_set_level(SM_LOG_ERROR);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            char *v[] = {(char *)"version", NULL};
            return cmd_version(1, v, &ctx);
        } else {
            fprintf(stderr, "smelt: error: unknown option '%s'\n", a);
            print_help(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const struct cli_command *cmd = cli_find(argv[i]);
    if (!cmd) {
        const char *best = NULL;
        size_t bd = 3;
        for (const struct cli_command *c = cli_commands; c->name; c++) {
            size_t d = sm_edit_distance(argv[i], c->name);
            if (d < bd) {
                bd = d;
                best = c->name;
            }
        }
        fprintf(stderr, "smelt: error: unknown command '%s'", argv[i]);
        if (best)
            fprintf(stderr, " (did you mean '%s'?)", best);
        fprintf(stderr, "; see 'smelt --help'\n");
        return CLI_EXIT_USAGE;
    }
    if (cli_wants_help(argc - i, argv + i)) {
        cli_usage(cmd, stdout);
        return CLI_EXIT_OK;
    }
    return cmd->fn(argc - i, argv + i, &ctx);
}
