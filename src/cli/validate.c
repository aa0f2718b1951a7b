/*
 * validate.c — `smelt validate`: every check `smelt run` makes before it
 * touches anything, and nothing else.
 */
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"

int cmd_validate(int argc, char **argv, struct cli_ctx *ctx)
{
    bool dag = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dag")) {
            dag = true;
        } else if (!strcmp(argv[i], "--keys")) {
            prj_print_keys(stdout);
            return CLI_EXIT_OK;
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct orc_plan *plan = NULL;
    int code = CLI_EXIT_OK;
    if (cli_load_project(ctx, &p, &err) || eng_open(NULL, &db, &err) ||
        orc_plan_build(p, db, &plan, &err)) {
        code = cli_fail(&err);
        goto out;
    }
    if (dag)
        orc_plan_print(plan, stdout);
    else
        printf("ok: project '%s', %zu source%s, %zu model%s\n", p->name, p->nsources,
               p->nsources == 1 ? "" : "s", p->nmodels, p->nmodels == 1 ? "" : "s");
out:
    orc_plan_free(plan);
    eng_close(db);
    prj_free(p);
    return code;
}
