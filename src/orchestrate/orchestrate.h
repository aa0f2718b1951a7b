/*
 * orchestrate — the DAG of a project and the run that executes it.
 *
 *     struct orc_plan *plan;
 *     if (orc_plan_build(project, db, &plan, &err))   // config errors: SM_ECONFIG
 *         ...
 *     struct orc_run run;
 *     orc_run(project, plan, db, &opts, &run, &err);
 *     orc_print_summary(&run, stdout, ORC_FMT_TABLE);
 *     orc_run_release(&run);
 *     orc_plan_free(plan);
 *
 * Tasks, in order: landing.<source> and bronze.<source> for every source,
 * then one task per model in dependency order. Each task reads Delta
 * snapshots at fixed versions and ends in at most one commit per table. A
 * model whose inputs (table versions) and definition did not change since its
 * last build is skipped as up to date; a model whose upstream failed in this
 * run is skipped. The run state machine is in docs/internals/run.md.
 */
#ifndef SM_ORCHESTRATE_H
#define SM_ORCHESTRATE_H

#include "engine/engine.h"
#include "project/project.h"
#include "util/util.h"

struct orc_plan;

/* Validate every model (SQL parses, inputs exist, no cycle) and order the
 * tasks. Touches nothing on disk. Caller frees with orc_plan_free(). */
int orc_plan_build(const struct prj_project *p, struct eng_db *db, struct orc_plan **out,
                   struct sm_err *err) SM_MUST_USE;
void orc_plan_free(struct orc_plan *plan);
/* Print the DAG edges to out: a child REST source's landing after its
 * parent's ("landing.orders -> landing.order_items"), then every model's
 * inputs ("bronze.orders -> silver.orders"), models in execution order. */
void orc_plan_print(const struct orc_plan *plan, FILE *out);

struct orc_options {
    bool full_refresh; /* rebuild every model even if up to date */
    bool progress;     /* show progress lines on stderr (a terminal) */
    const char *command; /* recorded in state.db's runs: "run" (NULL) or "ingest" */
    bool no_models;      /* landing and bronze tasks only (smelt ingest) */
    /* The sources to land and load, by name (borrowed); none: every source. */
    char *const *sources;
    size_t nsources;
    /* Rebuild bronze.<source> and quarantine.<source> of these sources from
     * the landing zone alone: their landing task is skipped (no source is
     * read, no request made) and their bronze task replaces both tables
     * with a reload of every landed file, in one overwrite commit each.
     * rebuild_all: every source that runs. */
    char *const *rebuild;
    size_t nrebuild;
    bool rebuild_all;
    /* Files to land again (ing_reprocess) instead of listing the folder of
     * sources[0], the only source then. */
    char *const *reprocess;
    size_t nreprocess;
};

enum orc_task_state { ORC_PENDING, ORC_RUNNING, ORC_SUCCESS, ORC_FAILED, ORC_SKIPPED };

struct orc_task_result {
    char *name; /* "landing.orders", "bronze.orders", "silver.orders" */
    enum orc_task_state state;
    int64_t rows_in, rows_out, rows_quarantined; /* -1 = not applicable */
    double seconds;
    char *note;  /* "up to date", "3 files landed", error text... */
};

struct orc_run {
    int64_t run_id;
    struct orc_task_result *tasks;
    size_t ntasks;
    size_t nfailed;
    size_t ncommits; /* Delta commits written in this run */
    double seconds;
};

/* Execute the plan. Returns 0 when the run could be carried out (even with
 * failed tasks: see run->nfailed); an error only when it could not start
 * (state unreadable, another run holds the lock). */
int orc_run(const struct prj_project *p, const struct orc_plan *plan, struct eng_db *db,
            const struct orc_options *opt, struct orc_run *out, struct sm_err *err) SM_MUST_USE;
void orc_run_release(struct orc_run *run);

enum orc_format { ORC_FMT_TABLE, ORC_FMT_CSV, ORC_FMT_JSON };
void orc_print_summary(const struct orc_run *run, FILE *out, enum orc_format fmt);
const char *orc_state_name(enum orc_task_state s);

/* Open DuckDB with the project's defaults (memory_limit, threads,
 * temp_directory). */
int orc_open_engine(const struct prj_project *p, struct eng_db **out,
                    struct sm_err *err) SM_MUST_USE;

#endif
