/*
 * orchestrate.c — plan (DAG) and run.
 *
 * The plan is built before anything is touched: every model is parsed by
 * DuckDB, its inputs are resolved against the sources and models of the
 * project, and a cycle or a missing input stops with file:line. Only then
 * does a run open state.db, take the project lock and execute tasks in
 * topological order.
 *
 * Exactly-once: the Delta log is the record of what was done. Bronze commits
 * carry a txn marker of the landed files they cover; model commits carry
 * their inputs' versions and a fingerprint of their definition in
 * commitInfo, so a rerun after a crash redoes exactly what did not commit.
 */
#include "orchestrate.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <time.h>

#include "catalog/catalog.h"
#include "ingest/ingest.h"
#include "secrets/secrets.h"
#include "state/state.h"
#include "table/table.h"
#include "transform/transform.h"

struct plan_model {
    const struct prj_model *m;
    struct xf_ref *refs;
    size_t nrefs;
    int *deps; /* indexes of models this one reads */
    size_t ndeps;
};

struct orc_plan {
    const struct prj_project *p;
    struct plan_model *models; /* in execution order */
    size_t nmodels;
};

void orc_plan_free(struct orc_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->nmodels; i++) {
        xf_refs_free(plan->models[i].refs, plan->models[i].nrefs);
        free(plan->models[i].deps);
    }
    free(plan->models);
    free(plan);
}

static int find_model(const struct prj_project *p, const char *ref)
{
    for (size_t i = 0; i < p->nmodels; i++) {
        const struct prj_model *m = &p->models[i];
        size_t zl = strlen(m->zone);
        if (!strncmp(ref, m->zone, zl) && ref[zl] == '.' && !strcmp(ref + zl + 1, m->name))
            return (int)i;
    }
    return -1;
}

static bool source_ref_exists(const struct prj_project *p, const char *ref)
{
    const char *name = NULL;
    if (sm_starts_with(ref, "bronze."))
        name = ref + 7;
    else if (sm_starts_with(ref, "quarantine."))
        name = ref + 11;
    return name && prj_find_source(p, name);
}

/* Depth-first search for a cycle; on finding one, describe it in err. */
static int visit(const struct prj_project *p, struct plan_model *pm, int i, int *mark, int *order,
                 size_t *norder, int *stack, size_t depth, struct sm_err *err)
{
    if (mark[i] == 2)
        return 0;
    stack[depth] = i;
    if (mark[i] == 1) {
        struct sm_buf b = SM_BUF_INIT;
        size_t start = 0;
        while (stack[start] != i)
            start++;
        for (size_t k = start; k <= depth; k++)
            (void)sm_buf_addf(&b, "%s%s.%s", k > start ? " -> " : "", p->models[stack[k]].zone,
                              p->models[stack[k]].name);
        /* the line where the first model of the cycle reads the next one */
        int line = 1;
        const struct plan_model *first = &pm[stack[start]];
        const struct prj_model *next = &p->models[stack[start + 1 <= depth ? start + 1 : start]];
        for (size_t r = 0; r < first->nrefs; r++) {
            char *ref = sm_asprintf("%s.%s", next->zone, next->name);
            if (!strcmp(first->refs[r].name, ref))
                line = first->refs[r].line;
            free(ref);
        }
        int rc = sm_err_set(err, SM_ECONFIG, "%s:%d: cycle in the DAG: %s (each reads the next)",
                            p->models[stack[start]].sql_file, line, b.buf);
        sm_buf_release(&b);
        return rc;
    }
    mark[i] = 1;
    for (size_t d = 0; d < pm[i].ndeps; d++)
        SM_TRY(visit(p, pm, pm[i].deps[d], mark, order, norder, stack, depth + 1, err));
    mark[i] = 2;
    order[(*norder)++] = i;
    return 0;
}

int orc_plan_build(const struct prj_project *p, struct eng_db *db, struct orc_plan **out,
                   struct sm_err *err)
{
    size_t n = p->nmodels;
    struct plan_model *pm = sm_calloc(n, sizeof(*pm));
    int *mark = sm_calloc(n, sizeof(int)), *order = sm_calloc(n, sizeof(int));
    int *stack = sm_calloc(n + 1, sizeof(int));
    size_t norder = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        pm[i].m = &p->models[i];
        rc = xf_model_refs(db, pm[i].m, &pm[i].refs, &pm[i].nrefs, err);
        if (rc)
            break;
        pm[i].deps = sm_calloc(pm[i].nrefs, sizeof(int));
        for (size_t r = 0; r < pm[i].nrefs && !rc; r++) {
            const char *ref = pm[i].refs[r].name;
            int mi = find_model(p, ref);
            if (mi >= 0) {
                pm[i].deps[pm[i].ndeps++] = mi;
            } else if (!source_ref_exists(p, ref)) {
                const char *dot = strchr(ref, '.');
                rc = sm_err_set(err, SM_ECONFIG,
                                "%s:%d: table '%s' does not exist: no source 'sources/%s.yml' "
                                "and no model 'models/%.*s/%s.sql'",
                                pm[i].m->sql_file, pm[i].refs[r].line, ref, dot + 1,
                                (int)(dot - ref), ref, dot + 1);
            }
        }
    }
    /* Visit silver before gold so that, among independent models, the order
     * follows the medallion (a topological order either way). */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (size_t i = 0; i < n && !rc; i++)
            if ((strcmp(p->models[i].zone, "silver") == 0) == (pass == 0))
                rc = visit(p, pm, (int)i, mark, order, &norder, stack, 0, err);
    struct orc_plan *plan = sm_calloc(1, sizeof(*plan));
    plan->p = p;
    plan->nmodels = n;
    plan->models = pm;
    if (rc) {
        orc_plan_free(plan);
    } else {
        /* Reorder into execution order (dependencies first), remapping deps. */
        struct plan_model *sorted = sm_calloc(n, sizeof(*sorted));
        int *pos = sm_calloc(n, sizeof(int));
        for (size_t k = 0; k < n; k++)
            pos[order[k]] = (int)k;
        for (size_t k = 0; k < n; k++) {
            sorted[k] = pm[order[k]];
            for (size_t d = 0; d < sorted[k].ndeps; d++)
                sorted[k].deps[d] = pos[sorted[k].deps[d]];
        }
        free(pos);
        free(pm);
        plan->models = sorted;
        *out = plan;
    }
    free(mark);
    free(order);
    free(stack);
    return rc;
}

void orc_plan_print(const struct orc_plan *plan, FILE *out)
{
    /* A child REST source lands after its parent, from the parent's records. */
    for (size_t i = 0; i < plan->p->nsources; i++) {
        const struct prj_source *s = &plan->p->sources[i];
        if (s->rest.parent)
            fprintf(out, "landing.%s -> landing.%s\n", s->rest.parent, s->name);
    }
    for (size_t i = 0; i < plan->nmodels; i++) {
        const struct plan_model *pm = &plan->models[i];
        for (size_t r = 0; r < pm->nrefs; r++)
            fprintf(out, "%s -> %s.%s\n", pm->refs[r].name, pm->m->zone, pm->m->name);
    }
}

/* --- run ----------------------------------------------------------------------- */

const char *orc_state_name(enum orc_task_state s)
{
    static const char *names[] = {"pending", "running", "success", "failed", "skipped"};
    return names[s];
}

int orc_open_engine(const struct prj_project *p, struct eng_db **out, struct sm_err *err)
{
    SM_TRY(sm_mkdirs(p->temp_directory, err));
    struct eng_config cfg = {
        .memory_limit = p->memory_limit,
        .threads = p->threads,
        .temp_directory = p->temp_directory,
    };
    return eng_open(&cfg, out, err);
}

void orc_run_release(struct orc_run *run)
{
    for (size_t i = 0; i < run->ntasks; i++) {
        free(run->tasks[i].name);
        free(run->tasks[i].note);
    }
    free(run->tasks);
    memset(run, 0, sizeof(*run));
}

/* A progress line on stderr while a task runs (a terminal only; logs and
 * CI stay quiet): bytes copied while a source lands, rows read while
 * bronze loads (DuckDB's query progress applied to the rows the files
 * should give), DuckDB's query progress for models. */
struct progress {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, stop;
    struct eng_db *db;
    struct ing_progress *ip; /* the task's landing or load, or NULL */
    char name[128];
    double t0;
};

/* "1.2M", "361.0 MB": n in a few characters. */
static void human(char *buf, size_t len, double n, bool bytes)
{
    const char *const units[] = {"", "k", "M", "G", "T"};
    int u = 0;
    while (n >= 1000 && u < 4) {
        n /= bytes ? 1024 : 1000;
        u++;
    }
    if (bytes)
        snprintf(buf, len, "%.1f %sB", n, u ? units[u] : "");
    else
        snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", n, units[u]);
}

/* The bar: a percentage, or none when pct < 0. */
static void fmt_bar(char bar[31], double pct)
{
    int fill = pct < 0 ? 0 : (int)(pct * 30 / 100);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
}

/* A REST transfer: pages and bytes received and the rate; with a bar when
 * the total is known (the parent records of a child REST source). */
static void progress_xfer(const struct progress *pg, double secs)
{
    int64_t pages = atomic_load(&pg->ip->pages), bytes = atomic_load(&pg->ip->bytes);
    int64_t done = atomic_load(&pg->ip->parents_done);
    int64_t total = atomic_load(&pg->ip->parents_total);
    char b[32], rate[32], bar[31];
    human(b, sizeof(b), (double)bytes, true);
    human(rate, sizeof(rate), secs > 0 ? (double)bytes / secs : 0, true);
    if (total > 0) {
        fmt_bar(bar, 100.0 * (double)done / (double)total);
        fprintf(stderr, "\r\033[K  %-32s [%s] %lld/%lld parents  %lld pages  %s  %s/s  %5.1fs",
                pg->name, bar, (long long)done, (long long)total, (long long)pages, b, rate, secs);
    } else {
        fprintf(stderr, "\r\033[K  %-32s %lld page%s  %s  %s/s  %5.1fs", pg->name, (long long)pages,
                pages == 1 ? "" : "s", b, rate, secs);
    }
}

static void progress_draw(struct progress *pg)
{
    if (pg->ip && atomic_load(&pg->ip->pages)) {
        progress_xfer(pg, sm_now() - pg->t0);
        fflush(stderr);
        return;
    }
    double pct = -1;
    char amount[64] = "";
    int64_t total = pg->ip ? atomic_load(&pg->ip->total) : 0;
    bool bytes = pg->ip && atomic_load(&pg->ip->unit) == ING_PROGRESS_BYTES;
    if (total > 0 && bytes) {
        int64_t done = atomic_load(&pg->ip->done);
        pct = 100.0 * (double)done / (double)total;
        char d[24], t[24];
        human(d, sizeof(d), (double)done, true);
        human(t, sizeof(t), (double)total, true);
        snprintf(amount, sizeof(amount), "  %s / %s", d, t);
    } else {
        pct = eng_progress(pg->db);
        if (total > 0 && pct >= 0) {
            char d[24], t[24];
            human(d, sizeof(d), pct / 100.0 * (double)total, false);
            human(t, sizeof(t), (double)total, false);
            snprintf(amount, sizeof(amount), "  ~%s / %s rows", d, t);
        }
    }
    if (pct > 100)
        pct = 100;
    char bar[31];
    fmt_bar(bar, pct);
    if (pct >= 0)
        fprintf(stderr, "\r\033[K  %-32s [%s] %3.0f%%%s  %5.1fs", pg->name, bar, pct, amount,
                sm_now() - pg->t0);
    else
        fprintf(stderr, "\r\033[K  %-32s %5.1fs", pg->name, sm_now() - pg->t0);
    fflush(stderr);
}

static void *progress_main(void *arg)
{
    struct progress *pg = arg;
    pthread_mutex_lock(&pg->mu);
    while (!pg->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&pg->cv, &pg->mu, &ts);
        if (pg->stop)
            break;
        progress_draw(pg);
    }
    pthread_mutex_unlock(&pg->mu);
    return NULL;
}

static void progress_start(struct progress *pg, struct eng_db *db, struct ing_progress *ip,
                           const char *name)
{
    pg->db = db;
    pg->ip = ip;
    snprintf(pg->name, sizeof(pg->name), "%s", name);
    pg->t0 = sm_now();
    pg->stop = false;
    pthread_mutex_init(&pg->mu, NULL);
    pthread_cond_init(&pg->cv, NULL);
    pg->running = pthread_create(&pg->thread, NULL, progress_main, pg) == 0;
}

static void progress_stop(struct progress *pg)
{
    if (!pg->running)
        return;
    pthread_mutex_lock(&pg->mu);
    pg->stop = true;
    pthread_cond_signal(&pg->cv);
    pthread_mutex_unlock(&pg->mu);
    pthread_join(pg->thread, NULL);
    pthread_mutex_destroy(&pg->mu);
    pthread_cond_destroy(&pg->cv);
    pg->running = false;
    fprintf(stderr, "\r\033[K");
}

struct runner {
    struct progress pg;
    const struct prj_project *p;
    const struct orc_plan *plan;
    struct eng_db *db;
    struct st_db *st;
    const struct orc_options *opt;
    struct orc_run *run;
    int64_t *task_ids;
    char ingested_at[40];
};

static struct orc_task_result *add_task(struct orc_run *run, const char *fmt, const char *a,
                                        const char *b)
{
    struct orc_task_result *t = &run->tasks[run->ntasks++];
    memset(t, 0, sizeof(*t));
    t->name = sm_asprintf(fmt, a, b);
    t->rows_in = t->rows_out = t->rows_quarantined = -1;
    return t;
}

/* Record a task's final state in state.db; a failure to record is reported
 * but does not change the outcome of the task itself. */
static void finish_task(struct runner *r, size_t i, enum orc_task_state s, double t0,
                        const char *note)
{
    struct orc_task_result *t = &r->run->tasks[i];
    t->state = s;
    t->seconds = sm_now() - t0;
    if (note && !t->note)
        t->note = sm_strdup(note);
    if (s == ORC_FAILED)
        r->run->nfailed++;
    struct sm_err e = SM_ERR_INIT;
    if (st_task_finish(r->st, r->task_ids[i], orc_state_name(s), t->rows_in < 0 ? 0 : t->rows_in,
                       t->rows_out < 0 ? 0 : t->rows_out,
                       t->rows_quarantined < 0 ? 0 : t->rows_quarantined, t->seconds,
                       s == ORC_FAILED ? t->note : NULL, &e))
        sm_warn("%s", e.msg);
    if (r->opt->progress)
        progress_stop(&r->pg);
}

/* ip: where the task reports its progress (landing, bronze), or NULL. */
static void start_task(struct runner *r, size_t i, struct ing_progress *ip)
{
    struct sm_err e = SM_ERR_INIT;
    r->run->tasks[i].state = ORC_RUNNING;
    if (st_task_set_state(r->st, r->task_ids[i], "running", &e))
        sm_warn("%s", e.msg);
    if (r->opt->progress)
        progress_start(&r->pg, r->db, ip, r->run->tasks[i].name);
}

/* Attach zone.name at its latest version and record it in the catalog. */
static int refresh_table(struct runner *r, const char *zone, const char *name, struct sm_err *err)
{
    char *loc = cat_location(r->p->lake, zone, name);
    struct tbl_snapshot *snap = NULL;
    int rc = 0;
    if (tbl_latest_version(loc) >= 0) {
        rc = cat_attach_table(r->db, zone, name, loc, -1, &snap, err);
        if (!rc)
            rc = cat_record(r->st, zone, name, snap, err);
    }
    tbl_snapshot_free(snap);
    free(loc);
    return rc;
}

static bool in_list(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* Whether this run rebuilds src's bronze from the landing zone. */
static bool rebuilds(const struct orc_options *opt, const struct prj_source *src)
{
    return opt->rebuild_all || in_list(opt->rebuild, opt->nrebuild, src->name);
}

static void landing_note(struct orc_task_result *lt, const struct ing_stats *s, bool reprocess)
{
    if (reprocess)
        lt->note = sm_asprintf("%lld file%s landed again (reprocess)", (long long)s->files_landed,
                               s->files_landed == 1 ? "" : "s");
    else if (s->files_landed)
        lt->note = sm_asprintf("%lld new file%s landed", (long long)s->files_landed,
                               s->files_landed == 1 ? "" : "s");
    else
        lt->note = sm_strdup("no new files");
}

static void run_source(struct runner *r, const struct prj_source *src, size_t li, size_t bi)
{
    struct ing_progress ip;
    ing_progress_init(&ip, ING_PROGRESS_BYTES);
    struct ing_stats s = {.progress = &ip};
    struct sm_err e = SM_ERR_INIT;
    struct orc_task_result *lt = &r->run->tasks[li], *bt = &r->run->tasks[bi];
    bool rebuild = rebuilds(r->opt, src);
    struct ing_overlap *ov = NULL; /* bronze starts on the pages landed so far */
    double t0 = sm_now();
    if (rebuild) {
        /* The landing zone is the only input: the source is not read. */
        finish_task(r, li, ORC_SKIPPED, t0, "bronze is rebuilt from the landing zone");
    } else {
        start_task(r, li, &ip);
        int rc = 0;
        if (r->opt->nreprocess) {
            for (size_t i = 0; i < r->opt->nreprocess && !rc; i++)
                rc = ing_reprocess(r->st, r->p, src, r->opt->reprocess[i], &s, &e);
        } else {
            ov = ing_overlap_start(r->db, r->p, src, r->ingested_at);
            rc = ing_land(r->st, r->p, src, ov, &s, &e);
        }
        lt->rows_in = s.files_seen;
        lt->rows_out = s.files_landed;
        if (rc) {
            lt->note = sm_strdup(e.msg);
            finish_task(r, li, ORC_FAILED, t0, NULL);
        } else {
            landing_note(lt, &s, r->opt->nreprocess > 0);
            finish_task(r, li, ORC_SUCCESS, t0, NULL);
        }
    }

    /* Bronze loads whatever is landed, even if this run's landing failed. */
    t0 = sm_now();
    ing_progress_init(&ip, ING_PROGRESS_ROWS);
    start_task(r, bi, &ip);
    sm_err_clear(&e);
    memset(&s, 0, sizeof(s));
    s.progress = &ip;
    struct ing_load_options lo = {.rebuild = rebuild, .overlap = ov};
    int rc = ing_load_bronze(r->db, r->st, r->p, src, r->ingested_at, &lo, &s, &e);
    ing_overlap_free(ov);
    if (!rc)
        rc = refresh_table(r, "bronze", src->name, &e);
    if (!rc)
        rc = refresh_table(r, "quarantine", src->name, &e);
    if (rc) {
        bt->note = sm_strdup(e.msg);
        finish_task(r, bi, ORC_FAILED, t0, NULL);
        return;
    }
    if (!s.files_loaded && !s.committed) {
        finish_task(r, bi, ORC_SKIPPED, t0, "nothing new to load");
        return;
    }
    bt->rows_in = s.rows_in;
    bt->rows_out = s.rows_out;
    bt->rows_quarantined = s.rows_quarantined;
    if (s.committed)
        r->run->ncommits++;
    struct sm_buf note = SM_BUF_INIT;
    if (rebuild)
        (void)sm_buf_addf(&note, "rebuilt from %lld landed file%s", (long long)s.files_loaded,
                          s.files_loaded == 1 ? "" : "s");
    if (s.files_quarantined)
        (void)sm_buf_addf(&note, "%s%lld unreadable file%s quarantined", note.len ? "; " : "",
                          (long long)s.files_quarantined, s.files_quarantined == 1 ? "" : "s");
    if (s.files_drifted)
        (void)sm_buf_addf(&note, "%s%lld file%s quarantined for schema drift", note.len ? "; " : "",
                          (long long)s.files_drifted, s.files_drifted == 1 ? "" : "s");
    if (s.columns_added)
        (void)sm_buf_addf(&note, "%s%lld new column%s", note.len ? "; " : "",
                          (long long)s.columns_added, s.columns_added == 1 ? "" : "s");
    if (note.len)
        bt->note = sm_buf_detach(&note);
    sm_buf_release(&note);
    finish_task(r, bi, ORC_SUCCESS, t0, NULL);
}

/* What a model's result depends on: its inputs' versions (*out_inputs,
 * "bronze.orders@3,silver.stores@1") and its own definition (*out_def, a
 * hash of the SQL and the keys that shape the table). */
static int model_fingerprint(const struct plan_model *pm, const char *lake, char **out_inputs,
                             char **out_def, struct sm_err *err)
{
    struct sm_buf in = SM_BUF_INIT;
    for (size_t i = 0; i < pm->nrefs; i++) {
        const char *ref = pm->refs[i].name;
        char *loc = cat_location_of(lake, ref);
        int64_t v = tbl_latest_version(loc);
        free(loc);
        if (v < 0) {
            sm_buf_release(&in);
            return sm_err_set(err, SM_ENOTFOUND,
                              "input table '%s' does not exist yet (no data loaded)", ref);
        }
        (void)sm_buf_addf(&in, "%s%s@%lld", i ? "," : "", ref, (long long)v);
    }
    const struct prj_model *m = pm->m;
    const char *parts[] = {m->sql,
                           m->partition_by,
                           m->materialized == PRJ_MAT_TABLE ? NULL : m->unique_key,
                           m->incremental_strategy,
                           m->materialized == PRJ_MAT_SNAPSHOT ? m->snapshot_strategy : NULL,
                           m->materialized == PRJ_MAT_SNAPSHOT ? m->updated_at : NULL,
                           m->materialized == PRJ_MAT_SNAPSHOT ? m->check_cols : NULL,
                           m->materialized == PRJ_MAT_SNAPSHOT ? m->hard_deletes : NULL};
    struct sec_sha256 h;
    char hex[SEC_SHA256_HEX];
    sec_sha256_init(&h);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (i)
            sec_sha256_update(&h, "\0", 1);
        if (parts[i])
            sec_sha256_update(&h, parts[i], strlen(parts[i]));
    }
    sec_sha256_final(&h, hex);
    hex[16] = 0;
    *out_inputs = sm_buf_detach(&in);
    *out_def = sm_strdup(hex);
    return 0;
}

/* The version of input name in an inputs list ("a@1,b@2"), or -1. */
static int64_t consumed_version(const char *inputs, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = inputs; p && *p;) {
        size_t len = strcspn(p, ",");
        int64_t v;
        if (len > nl + 1 && !strncmp(p, name, nl) && p[nl] == '@') {
            char *num = sm_strndup(p + nl + 1, len - nl - 1);
            int bad = sm_parse_i64(num, &v);
            free(num);
            return bad ? -1 : v;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return -1;
}

/* What the model's table was last built from: state.db's record, or, when
 * the table moved on since (a crash between the Delta commit and the
 * state.db write), the record in the latest commit itself. Rewrites that
 * change no rows (OPTIMIZE) keep the record valid; anything else
 * (RESTORE, a commit by another tool) makes it unknown: *inputs NULL. */
static int consumed_by(struct runner *r, const char *model, const struct tbl_snapshot *snap,
                       char **inputs, char **def, struct sm_err *err)
{
    struct st_model_state ms;
    bool found = false;
    *inputs = *def = NULL;
    if (!snap)
        return 0;
    SM_TRY(st_model_get(r->st, model, &ms, &found, err));
    if (found && ms.version == snap->version) {
        *inputs = ms.inputs;
        *def = ms.definition;
        return 0;
    }
    char *fp = tbl_snapshot_commit_field(snap, "smelt.fingerprint");
    char *sep = fp ? strstr(fp, ";def=") : NULL;
    if (sep) {
        *inputs = sm_strndup(fp, (size_t)(sep - fp));
        *def = sm_strdup(sep + 5);
    } else if (found && ms.version < snap->version) {
        struct tbl_changes ch;
        if (!tbl_changes_read(snap->location, ms.version, snap->version, &ch, NULL)) {
            if (!ch.nadded && !ch.nremoved) {
                *inputs = ms.inputs;
                *def = ms.definition;
                ms.inputs = ms.definition = NULL;
            }
            tbl_changes_release(&ch);
        }
    }
    free(fp);
    st_model_state_release(&ms);
    return 0;
}

static void run_model(struct runner *r, size_t mi, size_t ti, const bool *failed_models,
                      bool *failed_out)
{
    const struct plan_model *pm = &r->plan->models[mi];
    const struct prj_model *m = pm->m;
    struct orc_task_result *t = &r->run->tasks[ti];
    struct sm_err e = SM_ERR_INIT;
    double t0 = sm_now();

    for (size_t d = 0; d < pm->ndeps; d++) {
        if (failed_models[pm->deps[d]]) {
            *failed_out = true;
            finish_task(r, ti, ORC_SKIPPED, t0, "upstream failed");
            return;
        }
    }
    start_task(r, ti, NULL);
    char *inputs = NULL, *def = NULL, *fp = NULL, *prev_inputs = NULL, *prev_def = NULL;
    char *model = sm_asprintf("%s.%s", m->zone, m->name);
    char *app = sm_asprintf("smelt:%s", model);
    char *loc = cat_location(r->p->lake, m->zone, m->name);
    struct tbl_snapshot *snap = NULL;
    struct xf_input *xin = NULL;
    char **xloc = NULL;
    struct xf_result xr = {0};
    int rc = model_fingerprint(pm, r->p->lake, &inputs, &def, &e);
    if (!rc) {
        fp = sm_asprintf("%s;def=%s", inputs, def);
        if (tbl_latest_version(loc) >= 0)
            rc = tbl_snapshot_open(loc, -1, &snap, &e);
    }
    if (!rc)
        rc = consumed_by(r, model, snap, &prev_inputs, &prev_def, &e);
    bool same = prev_inputs && !strcmp(prev_inputs, inputs) && !strcmp(prev_def, def);
    if (!rc && snap && tbl_snapshot_txn(snap, app) >= r->run->run_id) {
        t->rows_out = snap->num_records;
        finish_task(r, ti, ORC_SKIPPED, t0, "already committed by this run");
        goto out;
    }
    if (!rc && !r->opt->full_refresh && same) {
        t->rows_out = snap->num_records;
        finish_task(r, ti, ORC_SKIPPED, t0, "up to date");
        goto out;
    }
    if (!rc) {
        /* rows in: what the model could read, as the inputs' row counts */
        t->rows_in = 0;
        xin = sm_calloc(pm->nrefs ? pm->nrefs : 1, sizeof(*xin));
        xloc = sm_calloc(pm->nrefs ? pm->nrefs : 1, sizeof(char *));
        for (size_t i = 0; i < pm->nrefs; i++) {
            xloc[i] = cat_location_of(r->p->lake, pm->refs[i].name);
            struct tbl_snapshot *is = NULL;
            if (!tbl_snapshot_open(xloc[i], -1, &is, NULL))
                t->rows_in += is->num_records;
            xin[i] = (struct xf_input){
                .name = pm->refs[i].name,
                .location = xloc[i],
                .from_version = consumed_version(prev_inputs, pm->refs[i].name),
                .to_version = consumed_version(inputs, pm->refs[i].name),
            };
            tbl_snapshot_free(is);
        }
        struct xf_commit_info ci = {
            .inputs = inputs, .fingerprint = fp, .txn_app = app, .txn_version = r->run->run_id};
        if (m->materialized == PRJ_MAT_INCREMENTAL) {
            const char *full = r->opt->full_refresh                ? "--full-refresh"
                               : prev_def && strcmp(prev_def, def) ? "the definition changed"
                                                                   : NULL;
            rc = xf_build_incremental(r->db, m, loc, xin, pm->nrefs, full, &ci, &xr, &e);
        } else if (m->materialized == PRJ_MAT_SNAPSHOT) {
            /* history cannot be recomputed: --full-refresh leaves it be */
            rc = xf_build_snapshot(r->db, m, loc, r->ingested_at, &ci, &xr, &e);
        } else {
            rc = xf_build(r->db, m, loc, &ci, &xr, &e);
        }
    }
    if (!rc) {
        int64_t v = xr.version >= 0 ? xr.version : snap ? snap->version : -1;
        t->rows_out = xr.rows_out;
        if (xr.note)
            t->note = sm_strdup(xr.note);
        if (xr.version >= 0) {
            r->run->ncommits++;
            rc = refresh_table(r, m->zone, m->name, &e);
        }
        /* The Delta commit is the truth; state.db mirrors what it consumed
         * (a crash before this line is healed from the commit next run). */
        if (!rc && v >= 0)
            rc = st_model_set(r->st, model, v, def, inputs, &e);
    }
    if (rc) {
        *failed_out = true;
        free(t->note);
        t->note = sm_strdup(e.msg);
        finish_task(r, ti, ORC_FAILED, t0, NULL);
    } else {
        finish_task(r, ti, ORC_SUCCESS, t0, NULL);
    }
out:
    xf_result_release(&xr);
    for (size_t i = 0; xloc && i < pm->nrefs; i++)
        free(xloc[i]);
    free(xloc);
    free(xin);
    free(prev_inputs);
    free(prev_def);
    free(fp);
    free(def);
    free(inputs);
    free(loc);
    free(app);
    free(model);
    tbl_snapshot_free(snap);
}

/* One run at a time per project: an advisory lock on .smelt/run.lock, held
 * for the life of the process (released by the kernel even on kill -9). */
static int take_lock(const struct prj_project *p, int *out_fd, struct sm_err *err)
{
    char *path = sm_path_join(p->state_dir, "run.lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = sm_err_set(err, SM_EIO, "cannot open '%s': %s", path, strerror(errno));
        free(path);
        return rc;
    }
    free(path);
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno != EWOULDBLOCK) {
            close(fd);
            return sm_err_set(err, SM_EIO, "cannot lock the project: %s", strerror(errno));
        }
        /* Another run holds it: wait for it rather than fail. */
        sm_info("another smelt run is in progress on this project; waiting for it");
        if (flock(fd, LOCK_EX)) {
            close(fd);
            return sm_err_set(err, SM_EIO, "cannot lock the project: %s", strerror(errno));
        }
    }
    *out_fd = fd;
    return 0;
}

int orc_run(const struct prj_project *p, const struct orc_plan *plan, struct eng_db *db,
            const struct orc_options *opt, struct orc_run *out, struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    double t0 = sm_now();
    SM_TRY(sm_mkdirs(p->state_dir, err));
    int lock_fd = -1;
    SM_TRY(take_lock(p, &lock_fd, err));
    struct st_db *st = NULL;
    char *stpath = sm_path_join(p->state_dir, "state.db");
    int rc = st_open(stpath, &st, err);
    free(stpath);
    if (rc) {
        close(lock_fd);
        return rc;
    }
    struct runner r = {.p = p, .plan = plan, .db = db, .st = st, .opt = opt, .run = out};
    if (opt->progress)
        eng_track_progress(db, true);
    int64_t now = sm_now_ms();
    char iso[40];
    sm_iso8601(now, iso, sizeof(iso));
    /* "2026-11-21T13:22:01.123Z" -> "2026-11-21 13:22:01.123" for DuckDB */
    snprintf(r.ingested_at, sizeof(r.ingested_at), "%.10s %.12s", iso, iso + 11);

    /* The sources that run (all, or those asked for), in name order but a
     * child REST source after its parent (prj_load() refused parent
     * cycles), so it fans out over what its parent landed in this run.
     * srcs[k] is a source index; its landing and bronze tasks are 2k and
     * 2k + 1. */
    size_t *srcs = sm_calloc(p->nsources ? p->nsources : 1, sizeof(size_t)), nsrc = 0;
    bool *placed = sm_calloc(p->nsources ? p->nsources : 1, sizeof(bool));
    for (size_t n = 0; n < p->nsources; n++) {
        size_t i = 0;
        for (; i < p->nsources; i++) {
            const struct prj_source *par =
                p->sources[i].rest.parent ? prj_find_source(p, p->sources[i].rest.parent) : NULL;
            if (!placed[i] && (!par || placed[par - p->sources]))
                break; /* the first ready one: name order among the ready */
        }
        if (i == p->nsources)
            SM_BUG("parent cycle among the sources of a loaded project");
        placed[i] = true;
        if (!opt->nsources || in_list(opt->sources, opt->nsources, p->sources[i].name))
            srcs[nsrc++] = i;
    }
    free(placed);
    size_t nmodels = opt->no_models ? 0 : plan->nmodels;
    size_t ntasks = 2 * nsrc + nmodels;
    out->tasks = sm_calloc(ntasks ? ntasks : 1, sizeof(*out->tasks));
    r.task_ids = sm_calloc(ntasks ? ntasks : 1, sizeof(int64_t));
    bool *failed_models = sm_calloc(plan->nmodels ? plan->nmodels : 1, sizeof(bool));
    rc = st_run_start(st, opt->command ? opt->command : "run", &out->run_id, err);
    for (size_t i = 0; i < nsrc && !rc; i++) {
        add_task(out, "landing.%s%s", p->sources[srcs[i]].name, "");
        add_task(out, "bronze.%s%s", p->sources[srcs[i]].name, "");
    }
    for (size_t i = 0; i < nmodels && !rc; i++)
        add_task(out, "%s.%s", plan->models[i].m->zone, plan->models[i].m->name);
    for (size_t i = 0; i < out->ntasks && !rc; i++)
        rc = st_task_add(st, out->run_id, out->tasks[i].name, &r.task_ids[i], err);
    if (!rc)
        rc = cat_attach_lake(db, p->lake, err);
    if (rc)
        goto out;

    for (size_t i = 0; i < nsrc; i++)
        run_source(&r, &p->sources[srcs[i]], 2 * i, 2 * i + 1);
    /* A model whose bronze input failed is skipped like one whose model input failed. */
    for (size_t mi = 0; mi < nmodels; mi++) {
        const struct plan_model *pm = &plan->models[mi];
        bool upstream_source_failed = false;
        for (size_t k = 0; k < pm->nrefs; k++)
            for (size_t i = 0; i < nsrc; i++) {
                char *bn = sm_asprintf("bronze.%s", p->sources[srcs[i]].name);
                if (!strcmp(bn, pm->refs[k].name) && out->tasks[2 * i + 1].state == ORC_FAILED)
                    upstream_source_failed = true;
                free(bn);
            }
        size_t ti = 2 * nsrc + mi;
        if (upstream_source_failed) {
            failed_models[mi] = true;
            finish_task(&r, ti, ORC_SKIPPED, sm_now(), "upstream failed");
            continue;
        }
        run_model(&r, mi, ti, failed_models, &failed_models[mi]);
    }
    {
        const char *status = out->nfailed ? "failed" : out->ncommits ? "success" : "nothing_to_do";
        rc = st_run_finish(st, out->run_id, status, err);
    }
out:
    out->seconds = sm_now() - t0;
    free(srcs);
    free(failed_models);
    free(r.task_ids);
    st_close(st);
    close(lock_fd);
    return rc;
}

/* --- summary -------------------------------------------------------------------- */

static void fmt_count(char *buf, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%lld", (long long)v);
}

void orc_print_summary(const struct orc_run *run, FILE *out, enum orc_format fmt)
{
    char a[32], b[32], c[32];
    if (fmt == ORC_FMT_JSON) {
        fprintf(out, "{\"run_id\":%lld,\"seconds\":%.3f,\"failed\":%zu,\"commits\":%zu,\"tasks\":[",
                (long long)run->run_id, run->seconds, run->nfailed, run->ncommits);
        for (size_t i = 0; i < run->ntasks; i++) {
            const struct orc_task_result *t = &run->tasks[i];
            struct sm_buf nb = SM_BUF_INIT;
            (void)sm_buf_add_json_str(&nb, sm_or(t->note, ""));
            fprintf(out,
                    "%s{\"task\":\"%s\",\"state\":\"%s\",\"rows_in\":%lld,\"rows_out\":%lld,"
                    "\"rows_quarantined\":%lld,\"seconds\":%.3f,\"note\":%s}",
                    i ? "," : "", t->name, orc_state_name(t->state), (long long)t->rows_in,
                    (long long)t->rows_out, (long long)t->rows_quarantined, t->seconds, nb.buf);
            sm_buf_release(&nb);
        }
        fprintf(out, "]}\n");
        return;
    }
    if (fmt == ORC_FMT_CSV) {
        fprintf(out, "task,state,rows_in,rows_out,rows_quarantined,seconds,note\n");
        for (size_t i = 0; i < run->ntasks; i++) {
            const struct orc_task_result *t = &run->tasks[i];
            struct sm_buf nb = SM_BUF_INIT;
            (void)sm_buf_add_sql_ident(&nb, sm_or(t->note, "")); /* "..." with "" escapes = CSV */
            fprintf(out, "%s,%s,%lld,%lld,%lld,%.3f,%s\n", t->name, orc_state_name(t->state),
                    (long long)t->rows_in, (long long)t->rows_out, (long long)t->rows_quarantined,
                    t->seconds, nb.buf);
            sm_buf_release(&nb);
        }
        return;
    }
    size_t w = 4;
    for (size_t i = 0; i < run->ntasks; i++)
        if (strlen(run->tasks[i].name) > w)
            w = strlen(run->tasks[i].name);
    fprintf(out, "%-*s  %-7s  %9s  %9s  %11s  %8s  %s\n", (int)w, "task", "state", "rows in",
            "rows out", "quarantined", "time", "note");
    for (size_t i = 0; i < run->ntasks; i++) {
        const struct orc_task_result *t = &run->tasks[i];
        fmt_count(a, sizeof(a), t->rows_in);
        fmt_count(b, sizeof(b), t->rows_out);
        fmt_count(c, sizeof(c), t->rows_quarantined);
        char note[200];
        snprintf(note, sizeof(note), "%s", sm_or(t->note, ""));
        char *nl = strchr(note, '\n');
        if (nl)
            *nl = 0;
        fprintf(out, "%-*s  %-7s  %9s  %9s  %11s  %7.2fs  %s\n", (int)w, t->name,
                orc_state_name(t->state), a, b, c, t->seconds, note);
    }
    if (!run->ncommits && !run->nfailed)
        fprintf(out, "nothing to do: no new files landed and every table is up to date\n");
    else
        fprintf(out, "%zu task%s failed, %zu commit%s, %.2fs\n", run->nfailed,
                run->nfailed == 1 ? "" : "s", run->ncommits, run->ncommits == 1 ? "" : "s",
                run->seconds);
}
