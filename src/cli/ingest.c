/*
 * ingest.c — `smelt ingest [SOURCE...]`: the landing and bronze tasks of
 * `smelt run` for some sources, without the models; and its three ways of
 * looking after a source: --infer (write its columns from its files),
 * --reprocess FILE (land a file again on purpose) and --rebuild-bronze
 * (reload bronze from the landing zone alone).
 */
#include "ingest/ingest.h"
#include "cli.h"
#include "engine/engine.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"

/* --infer SOURCE: sniff the files, write the columns, say what they are. */
static int infer(struct cli_ctx *ctx, const char *name, bool force, enum cli_format fmt)
{
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct prj_column *cols = NULL;
    size_t n = 0, nfiles = 0;
    char *df = NULL, *tf = NULL; /* date and timestamp formats found */
    int code = CLI_EXIT_OK;
    int rc = prj_load_infer(ctx->dir, name, &p, &err);
    if (rc) {
        if (err.code == SM_ENOTFOUND || err.code == SM_EIO)
            err.code = SM_ECONFIG;
        code = cli_fail(&err);
        goto out;
    }
    char *names[] = {(char *)name};
    if ((code = cli_check_sources(p, names, 1)))
        goto out;
    const struct prj_source *src = prj_find_source(p, name);
    if (strcmp(src->kind, "files")) {
        fprintf(stderr,
                "smelt: error: --infer reads files: source '%s' is of kind '%s'; for a REST "
                "source without 'columns', bronze already takes the types DuckDB infers\n",
                name, src->kind);
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if (src->ncolumns && !force) {
        fprintf(stderr,
                "smelt: error: %s already declares %zu column%s: pass --force to replace them "
                "with the columns the files have\n",
                src->file, src->ncolumns, src->ncolumns == 1 ? "" : "s");
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if (orc_open_engine(p, &db, &err) ||
        ing_infer_columns(db, p, src, &cols, &n, &nfiles, &df, &tf, &err) ||
        prj_source_write_columns(p, src, cols, n, force, df, tf, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    fmt = cli_resolve_format(fmt);
    if (fmt == CLI_FMT_JSON) {
        struct sm_buf b = SM_BUF_INIT;
        (void)sm_buf_adds(&b, "{\"source\":");
        (void)sm_buf_add_json_str(&b, src->name);
        (void)sm_buf_adds(&b, ",\"file\":");
        (void)sm_buf_add_json_str(&b, src->file);
        (void)sm_buf_addf(&b, ",\"files_read\":%zu,", nfiles);
        if (df) {
            (void)sm_buf_adds(&b, "\"date_format\":");
            (void)sm_buf_add_json_str(&b, df);
            (void)sm_buf_adds(&b, ",");
        }
        if (tf) {
            (void)sm_buf_adds(&b, "\"timestamp_format\":");
            (void)sm_buf_add_json_str(&b, tf);
            (void)sm_buf_adds(&b, ",");
        }
        (void)sm_buf_adds(&b, "\"columns\":[");
        for (size_t i = 0; i < n; i++) {
            (void)sm_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
            (void)sm_buf_add_json_str(&b, cols[i].name);
            (void)sm_buf_adds(&b, ",\"type\":");
            (void)sm_buf_add_json_str(&b, cols[i].type);
            (void)sm_buf_adds(&b, "}");
        }
        (void)sm_buf_adds(&b, "]}\n");
        fputs(b.buf, stdout);
        sm_buf_release(&b);
    } else if (fmt == CLI_FMT_CSV) {
        printf("name,type\n");
        for (size_t i = 0; i < n; i++) {
            struct sm_buf b = SM_BUF_INIT;
            (void)sm_buf_add_sql_ident(&b, cols[i].name); /* "..." with "" escapes = CSV */
            printf("%s,\"%s\"\n", b.buf, cols[i].type);
            sm_buf_release(&b);
        }
    } else {
        size_t w = 4;
        for (size_t i = 0; i < n; i++)
            if (strlen(cols[i].name) > w)
                w = strlen(cols[i].name);
        printf("%s: %zu column%s inferred from %zu file%s, written as 'columns:'\n", src->file, n,
               n == 1 ? "" : "s", nfiles, nfiles == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            printf("  %-*s  %s\n", (int)w, cols[i].name, cols[i].type);
        if (df)
            printf("dates are written %s: written as 'date_format'\n", df);
        if (tf)
            printf("timestamps are written %s: written as 'timestamp_format'\n", tf);
    }
out:
    free(df);
    free(tf);
    ing_columns_free(cols, n);
    eng_close(db);
    prj_free(p);
    return code;
}

int cmd_ingest(int argc, char **argv, struct cli_ctx *ctx)
{
    struct orc_options opt = {.command = "ingest", .no_models = true};
    enum cli_format fmt = CLI_FMT_AUTO;
    bool do_infer = false, force = false;
    char **sources = sm_calloc((size_t)argc, sizeof(char *));
    char **reprocess = sm_calloc((size_t)argc, sizeof(char *));
    size_t nsources = 0, nreprocess = 0;
    int f, code = CLI_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--infer")) {
            do_infer = true;
        } else if (!strcmp(argv[i], "--force")) {
            force = true;
        } else if (!strcmp(argv[i], "--rebuild-bronze")) {
            opt.rebuild_all = true;
        } else if (!strcmp(argv[i], "--reprocess") && i + 1 < argc) {
            reprocess[nreprocess++] = argv[++i];
        } else if ((f = cli_format_option(argc, argv, &i, &fmt)) != 0) {
            if (f < 0) {
                code = CLI_EXIT_USAGE;
                goto out;
            }
        } else if (argv[i][0] != '-') {
            sources[nsources++] = argv[i];
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("ingest"), stderr);
            code = CLI_EXIT_USAGE;
            goto out;
        }
    }
    const char *misuse = NULL;
    if (do_infer && (nsources != 1 || nreprocess || opt.rebuild_all))
        misuse = "--infer takes one SOURCE and no other option but --force and --format";
    else if (force && !do_infer)
        misuse = "--force goes with --infer";
    else if (nreprocess && (nsources != 1 || opt.rebuild_all))
        misuse = "--reprocess FILE takes one SOURCE (and not --rebuild-bronze)";
    if (misuse) {
        fprintf(stderr, "smelt: error: %s\n", misuse);
        cli_usage(cli_find("ingest"), stderr);
        code = CLI_EXIT_USAGE;
        goto out;
    }
    if (do_infer) {
        code = infer(ctx, sources[0], force, fmt);
        goto out;
    }
    opt.sources = sources;
    opt.nsources = nsources;
    opt.reprocess = reprocess;
    opt.nreprocess = nreprocess;
    code = cli_run_tasks(ctx, &opt, fmt, sources, nsources);
out:
    free(sources);
    free(reprocess);
    return code;
}
