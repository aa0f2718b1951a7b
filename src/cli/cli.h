/*
 * cli — one file per command (git's builtin/ style) and one table of
 * commands in commands.c. main.c parses the global flags (-C DIR, -v, -q),
 * finds the command in cli_commands[] and calls it.
 *
 * To add a command: write cli/<name>.c with `int cmd_<name>(int argc,
 * char **argv, struct cli_ctx *ctx)`, declare it below, and add a row to
 * cli_commands[] in commands.c. argv[0] is the command name. The function
 * returns the process exit code (cli_exit_code() maps an sm_rc to it).
 *
 * Exit codes: 0 ok, 1 the pipeline ran but something failed, 2 usage or
 * configuration error.
 */
#ifndef SM_CLI_H
#define SM_CLI_H

#include "util/util.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

struct cli_ctx {
    const char *dir; /* project directory: -C DIR, default "." */
};

typedef int (*cli_fn)(int argc, char **argv, struct cli_ctx *ctx);

struct cli_command {
    const char *name;
    cli_fn fn;
    const char *summary; /* one line for `smelt --help` */
    const char *usage;   /* full text for `smelt CMD --help` */
};

extern const struct cli_command cli_commands[];

/* Map an sm_rc to an exit code: CONFIG/INVALID -> 2, others -> 1. */
int cli_exit_code(int rc);
/* Print "smelt: error: msg" to stderr and return cli_exit_code(err->code). */
int cli_fail(const struct sm_err *err);
/* Print usage text of cmd to stdout (--help) or stderr (misuse). */
void cli_usage(const struct cli_command *cmd, FILE *to);
/* True when argv has -h or --help. */
bool cli_wants_help(int argc, char **argv);
const struct cli_command *cli_find(const char *name);

struct prj_project;
/* prj_load() of ctx->dir; a project that cannot be loaded at all (no
 * smelt.yml, unreadable) is a configuration error too: exit 2. */
int cli_load_project(struct cli_ctx *ctx, struct prj_project **out, struct sm_err *err);

/* Output formats of commands that print rows. */
enum cli_format { CLI_FMT_AUTO, CLI_FMT_TABLE, CLI_FMT_CSV, CLI_FMT_JSON };
/* Parse "table" | "csv" | "json"; returns false for anything else. */
bool cli_parse_format(const char *s, enum cli_format *out);
/* If argv[*i] is "--format FMT", consume both into *fmt and return 1; print
 * why and return -1 when FMT is unknown; return 0 for any other argument. */
int cli_format_option(int argc, char **argv, int *i, enum cli_format *fmt);
/* AUTO becomes TABLE on a terminal, CSV otherwise. */
enum cli_format cli_resolve_format(enum cli_format f);

/* 0 when every name is a source of p; otherwise say which is not and
 * return the usage exit code (2). */
int cli_check_sources(const struct prj_project *p, char *const *names, size_t n);

struct orc_options;
/* Load the project, run what opt says (the tasks of `smelt run`, or of
 * `smelt ingest`), print the summary in fmt and each failed task on
 * stderr; the exit code. sources (n of them) must all be sources of the
 * project: they are the ones opt names. */
int cli_run_tasks(struct cli_ctx *ctx, struct orc_options *opt, enum cli_format fmt,
                  char *const *sources, size_t n);

struct eng_result;
/* Print a query result: aligned table fitted to the terminal, CSV (RFC 4180)
 * or a JSON array of objects. */
void cli_print_result(const struct eng_result *r, enum cli_format fmt, FILE *out);

int cmd_init(int argc, char **argv, struct cli_ctx *ctx);
int cmd_run(int argc, char **argv, struct cli_ctx *ctx);
int cmd_ingest(int argc, char **argv, struct cli_ctx *ctx);
int cmd_trace(int argc, char **argv, struct cli_ctx *ctx);
int cmd_query(int argc, char **argv, struct cli_ctx *ctx);
int cmd_validate(int argc, char **argv, struct cli_ctx *ctx);
int cmd_crawl(int argc, char **argv, struct cli_ctx *ctx);
int cmd_history(int argc, char **argv, struct cli_ctx *ctx);
int cmd_secrets(int argc, char **argv, struct cli_ctx *ctx);
int cmd_restore(int argc, char **argv, struct cli_ctx *ctx);
int cmd_optimize(int argc, char **argv, struct cli_ctx *ctx);
int cmd_vacuum(int argc, char **argv, struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx);

#endif
