/*
 * query.c — `smelt query SQL`: any DuckDB SQL over the lake, tables named by
 * zone. Every table is attached as a view at its latest version; with
 * --as-of, the tables the query names are attached at that version instead.
 */
#include "catalog/catalog.h"
#include "cli.h"
#include "orchestrate/orchestrate.h"
#include "project/project.h"
#include "table/table.h"
#include "transform/transform.h"

/* Parse "YYYY-MM-DD[ |T]HH:MM[:SS[.fff]][Z]" (UTC) into ms since the epoch. */
static bool parse_timestamp(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return false;
    const char *t = s + n;
    if (*t == ' ' || *t == 'T') {
        int m = 0;
        if (sscanf(t + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
            return false;
        t += 1 + m;
        if (*t == ':') {
            m = 0;
            if (sscanf(t + 1, "%lf%n", &sec, &m) != 1)
                return false;
            t += 1 + m;
        }
    }
    if (*t == 'Z')
        t++;
    if (*t || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec >= 61)
        return false;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = y - (mo <= 2);
    int era = (yy >= 0 ? yy : yy - 399) / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)(sec * 1000 + 0.5);
    return true;
}

/* Attach the tables sql names at version (or, when version < 0, at the
 * latest version committed at or before ts_ms). */
static int attach_as_of(struct eng_db *db, const struct prj_project *p, const char *sql,
                        int64_t version, int64_t ts_ms, struct sm_err *err)
{
    struct xf_ref *refs = NULL;
    size_t n = 0;
    SM_TRY(xf_query_refs(db, sql, &refs, &n, err));
    int rc = 0;
    char *stpath = sm_path_join(p->state_dir, "state.db");
    for (size_t i = 0; i < n && !rc; i++) {
        const char *dot = strchr(refs[i].name, '.');
        char *zone = sm_strndup(refs[i].name, (size_t)(dot - refs[i].name));
        char *loc = NULL;
        int64_t v = version;
        rc = cat_resolve(p->lake, stpath, refs[i].name, &loc, err);
        if (!rc && v < 0)
            rc = tbl_version_at(loc, ts_ms, &v, err);
        if (!rc)
            rc = cat_attach_table(db, zone, dot + 1, loc, v, NULL, err);
        free(loc);
        free(zone);
    }
    free(stpath);
    xf_refs_free(refs, n);
    return rc;
}

int cmd_query(int argc, char **argv, struct cli_ctx *ctx)
{
    enum cli_format fmt = CLI_FMT_AUTO;
    const char *sql = NULL;
    int64_t as_of = -1, as_of_ts = -1;
    for (int i = 1; i < argc; i++) {
        int f = cli_format_option(argc, argv, &i, &fmt);
        if (f < 0)
            return CLI_EXIT_USAGE;
        if (f > 0)
            continue;
        if (!strcmp(argv[i], "--as-of") && i + 1 < argc) {
            const char *v = argv[++i];
            if ((sm_parse_i64(v, &as_of) || as_of < 0) && !parse_timestamp(v, &as_of_ts)) {
                fprintf(stderr,
                        "smelt: error: --as-of takes a version (0, 1, ...) or a UTC timestamp "
                        "(2026-11-21 13:00:00), got '%s'\n",
                        v);
                return CLI_EXIT_USAGE;
            }
        } else if (!sql && (argv[i][0] != '-' || !argv[i][1])) {
            sql = argv[i];
        } else {
            fprintf(stderr, "smelt: error: unknown argument '%s'\n", argv[i]);
            cli_usage(cli_find("query"), stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!sql) {
        cli_usage(cli_find("query"), stderr);
        return CLI_EXIT_USAGE;
    }
    struct sm_err err = SM_ERR_INIT;
    struct prj_project *p = NULL;
    struct eng_db *db = NULL;
    struct eng_result *r = NULL;
    int code = CLI_EXIT_OK;
    char *stpath = NULL;
    if (cli_load_project(ctx, &p, &err) || orc_open_engine(p, &db, &err) ||
        cat_attach_all(db, p->lake, (stpath = sm_path_join(p->state_dir, "state.db")), &err) ||
        ((as_of >= 0 || as_of_ts >= 0) && attach_as_of(db, p, sql, as_of, as_of_ts, &err))) {
        free(stpath);
        code = cli_fail(&err);
        goto out;
    }
    free(stpath);
    if (eng_query(db, sql, &r, &err)) {
        fprintf(stderr, "smelt: error: %s\n", err.msg);
        code = CLI_EXIT_FAILED;
        goto out;
    }
    cli_print_result(r, fmt, stdout);
out:
    eng_result_free(r);
    eng_close(db);
    prj_free(p);
    return code;
}
