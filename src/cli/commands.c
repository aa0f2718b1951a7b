/*
 * commands.c — the table of commands and the helpers every command shares.
 *
 * To add a command: write cli/<name>.c defining cmd_<name>() (see cli.h),
 * declare it in cli.h and add one row below. `smelt --help` lists the rows
 * in this order.
 */
#include "cli.h"
#include "engine/engine.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"

const struct cli_command cli_commands[] = {
    {"init", cmd_init, "create an example project with generated sales data",
     "usage: smelt init NAME [--rows N] [--days D] [--seed S] [--force]\n"
     "\n"
     "Create directory NAME with smelt.yml, sources/, models/silver, models/gold and\n"
     "generated raw data for a retail sales domain (orders per day as gzipped CSV,\n"
     "customers as NDJSON, products and stores as CSV), with the defects real feeds\n"
     "have: duplicates, late updates, missing ids, malformed lines, a truncated file.\n"
     "\n"
     "  --rows N    order lines to generate (default 100000)\n"
     "  --days D    days of orders, one file per day (default 30)\n"
     "  --seed S    random seed; the same seed gives the same bytes (default 42)\n"
     "  --force     write into NAME even if it is not empty\n"},
    {"run", cmd_run, "ingest, load bronze, build silver and gold",
     "usage: smelt run [--full-refresh] [--rebuild-bronze [SOURCE...]] [--format table|csv|json]\n"
     "\n"
     "Land new files of every source, load them into bronze (bad lines go to\n"
     "quarantine), then build every model whose inputs or definition changed, in\n"
     "dependency order. Prints one line per task. Exit status: 0 all tasks ok,\n"
     "1 a task failed, 2 the project has a configuration error.\n"
     "\n"
     "  --full-refresh       rebuild every model even if it is up to date\n"
     "  --rebuild-bronze [SOURCE...]\n"
     "                       rebuild bronze (and quarantine) of these sources (all\n"
     "                       when none) from the landing zone alone: the sources are\n"
     "                       not read; models downstream see the rewrite\n"
     "  --format FMT         summary as a table (default on a terminal), csv or json\n"},
    {"ingest", cmd_ingest, "land and load sources into bronze, without the models",
     "usage: smelt ingest [SOURCE...] [--rebuild-bronze] [--format table|csv|json]\n"
     "       smelt ingest SOURCE --reprocess FILE [--reprocess FILE...]\n"
     "       smelt ingest --infer SOURCE [--force]\n"
     "\n"
     "Run the landing and bronze tasks of the named sources (all when none), as\n"
     "`smelt run` does, but no model. Same summary and exit status as `smelt run`.\n"
     "\n"
     "  --rebuild-bronze     rebuild bronze (and quarantine) from the landing zone\n"
     "                       alone, one overwrite commit each: no source is read\n"
     "  --reprocess FILE     land FILE again as a new batch even though its content\n"
     "                       was landed before, and load it: its rows are then in\n"
     "                       bronze twice, unless the models deduplicate. FILE is in\n"
     "                       the source's folder or in the landing zone\n"
     "  --infer              sniff the files of SOURCE (kind files) with DuckDB and\n"
     "                       write their columns into sources/SOURCE.yml\n"
     "  --force              with --infer: replace columns already declared\n"
     "  --format FMT         table (default on a terminal), csv or json\n"},
    {"query", cmd_query, "run SQL over the lake's tables",
     "usage: smelt query SQL [--format table|csv|json] [--as-of VERSION|TIMESTAMP]\n"
     "                       [--explain] [--no-prune]\n"
     "\n"
     "Run any DuckDB SQL over the lake. Tables are named by zone: bronze.orders,\n"
     "silver.orders, gold.daily_sales, quarantine.orders. A table's data files that\n"
     "the WHERE clause cannot match (by partition values or column statistics) are\n"
     "not read.\n"
     "\n"
     "  --format FMT     table (default on a terminal), csv (default otherwise) or json\n"
     "  --as-of VERSION  read the tables the query names at this Delta version\n"
     "  --as-of TIME     ... or as they were at this UTC time (2026-11-21 13:00:00)\n"
     "  --explain        print the files each table reads and DuckDB's plan; do not run\n"
     "  --no-prune       read every data file\n"},
    {"validate", cmd_validate, "check the project without running anything",
     "usage: smelt validate [--dag] [--keys]\n"
     "\n"
     "Load smelt.yml, sources and models, parse every model and check its inputs\n"
     "and the DAG. Prints file:line and what to change on the first error.\n"
     "\n"
     "  --dag    print the DAG's edges\n"
     "  --keys   print every configuration key with its type and default (Markdown)\n"},
    {"crawl", cmd_crawl, "register an existing Delta table so queries can read it",
     "usage: smelt crawl PATH --as ZONE.NAME\n"
     "\n"
     "Read the Delta log at PATH (written by smelt, Spark, delta-rs, ...), check\n"
     "that smelt can read it, and register it in the catalog as ZONE.NAME, so that\n"
     "`smelt query` can use it. Prints its version, files, rows and columns.\n"},
    {"trace", cmd_trace, "show which landed file or page rows came from",
     "usage: smelt trace ZONE.TABLE WHERE [--format table|csv|json]\n"
     "\n"
     "For the rows of ZONE.TABLE that match WHERE (a SQL condition, e.g.\n"
     "\"order_id = 1000042\"), show where they came from: the landed file or REST page\n"
     "(_source_file, _source_url), the line, the batch and when it was loaded, and\n"
     "from state.db when it was received and its SHA-256. A silver or gold table is\n"
     "followed back to bronze through its model's unique_key.\n"},
    {"history", cmd_history, "list the versions of a table",
     "usage: smelt history ZONE.NAME [--format table|csv|json]\n"
     "\n"
     "One row per version: timestamp, operation, rows and files added and removed.\n"},
    {"secrets", cmd_secrets, "store encrypted secrets that project files use as ${secret:NAME}",
     "usage: smelt secrets set NAME       store a new secret; the value is read from stdin\n"
     "                                  (or typed at a prompt, without echo)\n"
     "       smelt secrets get NAME       print its value\n"
     "       smelt secrets list [--format table|csv|json]\n"
     "                                  names and dates, never values\n"
     "       smelt secrets rm NAME        delete it\n"
     "       smelt secrets rotate NAME    give it a new value (stdin or prompt)\n"
     "       smelt secrets rekey          re-encrypt every value under a new master key\n"
     "\n"
     "Values are encrypted in .smelt/state.db under a master key taken from\n"
     "SMELT_MASTER_KEY (64 hex digits or base64 of 32 bytes) or else from\n"
     ".smelt/master.key, created with mode 0600 on first use: back it up, state.db\n"
     "alone reveals only the names. A value is never taken from the command line.\n"
     "Project files refer to secrets as ${secret:NAME} and to environment variables\n"
     "as ${env:NAME}. NAME is letters, digits and '_', not starting with a digit.\n"},
    {"restore", cmd_restore, "make a table's content equal an earlier version again",
     "usage: smelt restore ZONE.NAME VERSION\n"
     "\n"
     "Write one new version whose files are those of VERSION (Delta RESTORE). History\n"
     "is kept: the versions in between stay readable with --as-of.\n"},
    {"optimize", cmd_optimize, "compact a table's small files",
     "usage: smelt optimize ZONE.NAME [--target-size-mb N]\n"
     "\n"
     "Bin-pack the small files of each partition into files of about N MB\n"
     "(default 128), in one commit marked dataChange=false.\n"},
    {"vacuum", cmd_vacuum, "delete files no recent version needs",
     "usage: smelt vacuum ZONE.NAME [--retain HOURS] [--dry-run] [--force]\n"
     "\n"
     "Delete data files that no version within the last HOURS (default 168, i.e.\n"
     "7 days) references. A retention under 7 days is refused unless --force.\n"
     "--dry-run lists what would be deleted.\n"},
    {"version", cmd_version, "print smelt's and DuckDB's versions", "usage: smelt version\n"},
    {NULL, NULL, NULL, NULL},
};

const struct cli_command *cli_find(const char *name)
{
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case SM_OK:
        return CLI_EXIT_OK;
    case SM_ECONFIG:
    case SM_EINVALID:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FAILED;
    }
}

int cli_fail(const struct sm_err *err)
{
    fprintf(stderr, "smelt: error: %s\n", err->msg[0] ? err->msg : sm_rc_name(err->code));
    return cli_exit_code(err->code ? err->code : SM_EINTERNAL);
}

void cli_usage(const struct cli_command *cmd, FILE *to)
{
    fputs(cmd->usage, to);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cli_load_project(struct cli_ctx *ctx, struct prj_project **out, struct sm_err *err)
{
    int rc = prj_load(ctx->dir, out, err);
    if (rc && err && (err->code == SM_ENOTFOUND || err->code == SM_EIO))
        err->code = SM_ECONFIG;
    return rc ? SM_ECONFIG : 0;
}

/* Every name must be a source of p; otherwise a usage error (exit 2). */
int cli_check_sources(const struct prj_project *p, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (prj_find_source(p, names[i]))
            continue;
        struct sm_buf all = SM_BUF_INIT;
        for (size_t k = 0; k < p->nsources; k++)
            (void)sm_buf_addf(&all, "%s'%s'", k ? ", " : "", p->sources[k].name);
        fprintf(stderr, "smelt: error: no source '%s' in sources/: %s%s\n", names[i],
                p->nsources ? "the sources are " : "the project has no sources",
                p->nsources ? all.buf : "");
        sm_buf_release(&all);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Run the landing and bronze tasks as opt says and print the summary. */
int cli_run_tasks(struct cli_ctx *ctx, struct orc_options *opt, enum cli_format fmt,
                  char *const *sources, size_t nsources)
{
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct orc_plan *plan = NULL;
    struct orc_run run = {0};
    int code = CLI_EXIT_OK;
    if (cli_load_project(ctx, &p, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if ((code = cli_check_sources(p, sources, nsources)))
        goto out;
    if (orc_open_engine(p, &db, &err) || orc_plan_build(p, db, &plan, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    /* Progress lines only when a person is watching and reading a table. */
    fmt = cli_resolve_format(fmt);
    opt->progress = fmt == CLI_FMT_TABLE && sm_stdout_is_tty() && isatty(STDERR_FILENO);
    if (orc_run(p, plan, db, opt, &run, &err)) {
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
