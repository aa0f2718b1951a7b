/*
 * maintain.c — `smelt restore`, `smelt optimize`, `smelt vacuum`: the table
 * maintenance commands of Delta Lake (RESTORE, OPTIMIZE, VACUUM), for tables
 * of the lake or registered with `smelt crawl`.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"
#include "table/table.h"

/* Load the project and resolve ZONE.NAME to a table location. */
static int open_table(struct cli_ctx *ctx, const char *name, struct prj_project **p, char **loc,
                      struct sm_err *err)
{
    SM_TRY(cli_load_project(ctx, p, err));
    char *stpath = sm_path_join((*p)->state_dir, "state.db");
    int rc = cat_resolve((*p)->lake, stpath, name, loc, err);
    free(stpath);
    return rc;
}

int cmd_restore(int argc, char **argv, struct cli_ctx *ctx)
{
    int64_t version = -1;
    if (argc != 3 || sm_parse_i64(argv[2], &version) || version < 0) {
        cli_usage(cli_find("restore"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    char *loc = NULL;
    int64_t nv = -1;
    int code = CLI_EXIT_OK;
    if (open_table(ctx, argv[1], &p, &loc, &err) || tbl_restore(loc, version, &nv, &err))
        code = cli_fail(&err);
    else
        printf("restored %s to version %lld as version %lld\n", argv[1], (long long)version,
               (long long)nv);
    free(loc);
    prj_free(p);
    return code;
}

int cmd_optimize(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *name = NULL;
    int64_t target_mb = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--target-size-mb") && i + 1 < argc) {
            if (sm_parse_i64(argv[++i], &target_mb) || target_mb < 1) {
                fprintf(stderr, "smelt: error: --target-size-mb takes a whole number of MB\n");
                return CLI_EXIT_USAGE;
            }
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            cli_usage(cli_find("optimize"), stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        cli_usage(cli_find("optimize"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    char *loc = NULL;
    struct tbl_optimize_result r;
    int code = CLI_EXIT_OK;
    if (open_table(ctx, name, &p, &loc, &err) || orc_open_engine(p, &db, &err) ||
        tbl_optimize(db, loc, target_mb << 20, &r, &err))
        code = cli_fail(&err);
    else if (r.version < 0)
        printf("%s: nothing to compact\n", name);
    else
        printf("%s: compacted %zu files into %zu (version %lld)\n", name, r.files_removed,
               r.files_added, (long long)r.version);
    eng_close(db);
    free(loc);
    prj_free(p);
    return code;
}

static void print_file(const char *path, void *ctx)
{
    printf("%s%s\n", (const char *)ctx, path);
}

int cmd_vacuum(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *name = NULL;
    double hours = 168;
    bool force = false, dry = false;
    for (int i = 1; i < argc; i++) {
        int64_t h;
        if (!strcmp(argv[i], "--retain") && i + 1 < argc) {
            if (sm_parse_i64(argv[++i], &h) || h < 0) {
                fprintf(stderr, "smelt: error: --retain takes a whole number of hours\n");
                return CLI_EXIT_USAGE;
            }
            hours = (double)h;
        } else if (!strcmp(argv[i], "--force")) {
            force = true;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry = true;
        } else if (!name && argv[i][0] != '-') {
            name = argv[i];
        } else {
            cli_usage(cli_find("vacuum"), stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!name) {
        cli_usage(cli_find("vacuum"), stderr);
        return CLI_EXIT_USAGE;
    }
    if (hours < 168 && !force) {
        fprintf(stderr,
                "smelt: error: a retention of %.0f hours is under 7 days (168 hours): time "
                "travel and readers still using older versions would break; pass --force to do "
                "it anyway\n",
                hours);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    char *loc = NULL;
    struct tbl_vacuum_result r;
    int code = CLI_EXIT_OK;
    if (open_table(ctx, name, &p, &loc, &err) ||
        tbl_vacuum(loc, hours, dry, print_file, (void *)(dry ? "would delete " : "deleted "), &r,
                   &err))
        code = cli_fail(&err);
    else
        printf("%s: %s %zu file%s (%lld bytes), kept %zu\n", name, dry ? "would delete" : "deleted",
               r.files_deleted, r.files_deleted == 1 ? "" : "s", (long long)r.bytes_deleted,
               r.files_kept);
    free(loc);
    prj_free(p);
    return code;
}
