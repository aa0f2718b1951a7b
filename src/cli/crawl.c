/*
 * crawl.c — `smelt crawl PATH --as ZONE.NAME`: register an existing Delta
 * table (Spark, delta-rs, another smelt lake) in the catalog. Reading it once
 * here means an unsupported feature is reported now, by name, not at query
 * time.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "project/project.h"
#include "state/state.h"
#include "table/table.h"

#include <limits.h>

static bool valid_ident(const char *s, size_t n)
{
    if (!n || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

int cmd_crawl(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *path = NULL, *as = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--as") && i + 1 < argc)
            as = argv[++i];
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    const char *dot = as ? strchr(as, '.') : NULL;
    if (!path || !dot || !valid_ident(as, (size_t)(dot - as)) || !valid_ident(dot + 1, strlen(dot + 1))) {
        fprintf(stderr, "smelt: error: %s\n",
                !path ? "crawl needs a PATH" : "--as needs ZONE.NAME in lowercase, e.g. raw.events");
        cli_usage(cli_find("crawl"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct tbl_snapshot *snap = NULL;
    struct st_db *st = NULL;
    char abs[PATH_MAX];
    char *stpath = NULL, *zone = sm_strndup(as, (size_t)(dot - as));
    int code = CLI_EXIT_OK;
    if (cli_load_project(ctx, &p, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if (!realpath(path, abs)) {
        sm_err_set(&err, SM_ENOTFOUND, "cannot open '%s': %s", path, strerror(errno));
        code = cli_fail(&err);
        goto out;
    }
    char *own = cat_location(p->lake, zone, dot + 1);
    bool clash = tbl_latest_version(own) >= 0;
    free(own);
    if (clash) {
        sm_err_set(&err, SM_EINVALID, "'%s' is a table of this lake; choose another name", as);
        code = cli_fail(&err);
        goto out;
    }
    stpath = sm_path_join(p->state_dir, "state.db");
    if (tbl_snapshot_open(abs, -1, &snap, &err) || sm_mkdirs(p->state_dir, &err) ||
        st_open(stpath, &st, &err) || cat_record(st, zone, dot + 1, snap, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    printf("registered %s -> %s\n", as, abs);
    printf("version %lld, %zu file%s, %lld rows, %zu column%s", (long long)snap->version, snap->nfiles,
           snap->nfiles == 1 ? "" : "s", (long long)snap->num_records, snap->ncolumns,
           snap->ncolumns == 1 ? "" : "s");
    for (size_t i = 0; i < snap->npartition_columns; i++)
        printf("%s%s", i ? ", " : ", partitioned by ", snap->partition_columns[i]);
    printf("\n");
out:
    st_close(st);
    tbl_snapshot_free(snap);
    prj_free(p);
    free(stpath);
    free(zone);
    return code;
}
