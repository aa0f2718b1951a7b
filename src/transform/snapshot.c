/*
 * snapshot.c — materialized: snapshot (slowly changing dimension, type 2),
 * as dbt snapshots do it.
 *
 * The model's SELECT gives the current state of each key (unique_key). The
 * table keeps every version of each key with three more columns:
 * valid_from, valid_to (NULL while current) and is_current. Each run
 * compares the model's rows with the current versions:
 *
 *   new key                   a version is inserted
 *   changed key               the current version is closed (valid_to set,
 *                             is_current false) and a new one inserted;
 *                             changed means updated_at grew (strategy
 *                             timestamp; valid_from = updated_at) or a
 *                             check_cols value differs (strategy check;
 *                             valid_from = the run's time)
 *   key no longer returned    hard_deletes ignore: nothing; invalidate: the
 *                             current version is closed at the run's time
 *
 * The new table is written in one commit (the old files removed); nothing
 * is written when no key changed. --full-refresh does not rebuild a
 * snapshot: its history cannot be recomputed.
 */
#include "transform_int.h"

#include "table/table.h"

static const char *const scd_cols[] = {"valid_from", "valid_to", "is_current"};

static void add_cols(struct sm_buf *b, const char *alias, char *const *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        (void)sm_buf_addf(b, "%s%s.", i ? ", " : "", alias);
        (void)sm_buf_add_sql_ident(b, cols[i]);
    }
}

static void add_match(struct sm_buf *b, const char *l, const char *r, char *const *keys, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        (void)sm_buf_addf(b, "%s%s.", k ? " AND " : "", l);
        (void)sm_buf_add_sql_ident(b, keys[k]);
        (void)sm_buf_addf(b, " IS NOT DISTINCT FROM %s.", r);
        (void)sm_buf_add_sql_ident(b, keys[k]);
    }
}

/* The columns of the model's result (to compare with strategy check: all). */
static int result_columns(struct eng_db *db, const char *sql, char ***out, size_t *n,
                          struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_addf(&q, "SELECT * FROM (%s\n) LIMIT 0", sql);
    struct eng_result *r = NULL;
    int rc = eng_query(db, q.buf, &r, err);
    sm_buf_release(&q);
    if (rc)
        return rc;
    *n = eng_result_ncols(r);
    *out = sm_calloc(*n ? *n : 1, sizeof(char *));
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = sm_strdup(eng_result_colname(r, i));
    eng_result_free(r);
    return 0;
}

static bool listed(char *const *l, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(l[i], s))
            return true;
    return false;
}

int xf_build_snapshot(struct eng_db *db, const struct prj_model *m, const char *location,
                      const char *now, const struct xf_commit_info *ci, struct xf_result *out,
                      struct sm_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t nkeys = 0, ncols = 0, ncheck = 0;
    char **keys = xf_split_cols(m->unique_key, &nkeys);
    char **cols = NULL, **check = NULL;
    struct tbl_snapshot *snap = NULL;
    struct sm_buf q = SM_BUF_INIT, cur = SM_BUF_INIT;
    bool timestamp = !m->snapshot_strategy || !strcmp(m->snapshot_strategy, "timestamp");
    const char *upd = sm_or(m->updated_at, "updated_at");
    bool invalidate = m->hard_deletes && !strcmp(m->hard_deletes, "invalidate");
    int rc = result_columns(db, m->sql, &cols, &ncols, err);
    for (size_t i = 0; i < 3 && !rc; i++)
        if (listed(cols, ncols, scd_cols[i]))
            rc = sm_err_set(err, SM_ECONFIG,
                            "%s: the result has a column '%s', which a snapshot adds itself; "
                            "rename it",
                            m->sql_file, scd_cols[i]);
    for (size_t i = 0; i < nkeys && !rc; i++)
        if (!listed(cols, ncols, keys[i]))
            rc = sm_err_set(err, SM_ECONFIG, "%s: unique_key column '%s' is not in the result",
                            m->sql_file, keys[i]);
    if (!rc && timestamp && !listed(cols, ncols, upd))
        rc = sm_err_set(err, SM_ECONFIG,
                        "%s: strategy timestamp compares column '%s', which is not in the result; "
                        "set updated_at: to the column that says when a row changed",
                        m->sql_file, upd);
    if (!rc && !timestamp) {
        if (!strcmp(sm_or(m->check_cols, "all"), "all")) {
            for (size_t i = 0; i < ncols; i++)
                if (!listed(keys, nkeys, cols[i])) {
                    check = sm_realloc(check, (ncheck + 1) * sizeof(char *));
                    check[ncheck++] = sm_strdup(cols[i]);
                }
        } else {
            check = xf_split_cols(m->check_cols, &ncheck);
            for (size_t i = 0; i < ncheck && !rc; i++)
                if (!listed(cols, ncols, check[i]))
                    rc = sm_err_set(err, SM_ECONFIG, "%s: check_cols column '%s' is not in the result",
                                    m->sql_file, check[i]);
        }
    }
    if (!rc && tbl_latest_version(location) >= 0)
        rc = tbl_snapshot_open(location, -1, &snap, err);
    if (rc)
        goto out;

    /* The source, checked for duplicate keys (a snapshot of them is
     * meaningless). */
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE __smelt_snap_src AS SELECT * FROM (");
    (void)sm_buf_adds(&q, m->sql);
    (void)sm_buf_adds(&q, "\n)");
    if ((rc = eng_exec(db, q.buf, err)))
        goto out;
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "SELECT count(*) - count(DISTINCT (");
    add_cols(&q, "s", keys, nkeys);
    (void)sm_buf_adds(&q, ")) FROM __smelt_snap_src AS s");
    int64_t dups = 0;
    if ((rc = eng_query_i64(db, q.buf, &dups, err)))
        goto out;
    if (dups) {
        rc = sm_err_set(err, SM_EINVALID,
                        "%s: the result has %lld duplicate unique_key row%s; a snapshot needs one "
                        "row per key",
                        m->sql_file, (long long)dups, dups == 1 ? "" : "s");
        goto out;
    }

    /* the table so far (empty with the right columns on the first run) */
    if (snap)
        tbl_snapshot_view_sql(snap, &cur);
    else
        (void)sm_buf_adds(&cur, "SELECT *, CAST(NULL AS TIMESTAMP) AS valid_from, CAST(NULL AS "
                                "TIMESTAMP) AS valid_to, CAST(NULL AS BOOLEAN) AS is_current FROM "
                                "__smelt_snap_src WHERE false");
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE __smelt_snap_old AS ");
    (void)sm_buf_adds(&q, cur.buf);
    if ((rc = eng_exec(db, q.buf, err)))
        goto out;

    /* changed: source rows to insert as new versions, with their valid_from */
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE __smelt_snap_new AS SELECT s.*, ");
    if (timestamp) {
        (void)sm_buf_adds(&q, "CAST(s.");
        (void)sm_buf_add_sql_ident(&q, upd);
        (void)sm_buf_adds(&q, " AS TIMESTAMP)");
    } else {
        (void)sm_buf_adds(&q, "CAST(");
        (void)sm_buf_add_sql_str(&q, now);
        (void)sm_buf_adds(&q, " AS TIMESTAMP)");
    }
    (void)sm_buf_adds(&q, " AS __valid_from FROM __smelt_snap_src AS s LEFT JOIN (SELECT * FROM "
                          "__smelt_snap_old WHERE is_current) AS c ON ");
    add_match(&q, "s", "c", keys, nkeys);
    (void)sm_buf_adds(&q, " WHERE c.is_current IS NULL OR ");
    if (timestamp) {
        (void)sm_buf_adds(&q, "s.");
        (void)sm_buf_add_sql_ident(&q, upd);
        (void)sm_buf_adds(&q, " > c.");
        (void)sm_buf_add_sql_ident(&q, upd);
    } else {
        (void)sm_buf_adds(&q, "(");
        for (size_t i = 0; i < ncheck; i++) {
            (void)sm_buf_adds(&q, i ? " OR s." : "s.");
            (void)sm_buf_add_sql_ident(&q, check[i]);
            (void)sm_buf_adds(&q, " IS DISTINCT FROM c.");
            (void)sm_buf_add_sql_ident(&q, check[i]);
        }
        (void)sm_buf_adds(&q, ncheck ? ")" : "false)");
    }
    if ((rc = eng_exec(db, q.buf, err)))
        goto out;

    /* gone: current versions whose key the source no longer returns */
    int64_t nnew = 0, ngone = 0;
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "CREATE OR REPLACE TEMP TABLE __smelt_snap_gone AS SELECT ");
    add_cols(&q, "c", keys, nkeys);
    (void)sm_buf_adds(&q, " FROM __smelt_snap_old AS c WHERE c.is_current AND ");
    if (invalidate) {
        (void)sm_buf_adds(&q, "NOT EXISTS (SELECT 1 FROM __smelt_snap_src AS s WHERE ");
        add_match(&q, "s", "c", keys, nkeys);
        (void)sm_buf_adds(&q, ")");
    } else {
        (void)sm_buf_adds(&q, "false");
    }
    if ((rc = eng_exec(db, q.buf, err)) ||
        (rc = eng_query_i64(db, "SELECT count(*) FROM __smelt_snap_new", &nnew, err)) ||
        (rc = eng_query_i64(db, "SELECT count(*) FROM __smelt_snap_gone", &ngone, err)))
        goto out;
    if (!nnew && !ngone && snap) {
        out->version = -1;
        out->note = sm_strdup("no key changed");
        goto out;
    }

    /* the new table: old versions (current ones closed where replaced or
     * gone) and the new versions */
    sm_buf_reset(&q);
    (void)sm_buf_adds(&q, "SELECT o.* REPLACE (CASE WHEN o.is_current AND n.__valid_from IS NOT "
                          "NULL THEN n.__valid_from WHEN o.is_current AND g.__gone THEN CAST(");
    (void)sm_buf_add_sql_str(&q, now);
    (void)sm_buf_adds(&q, " AS TIMESTAMP) ELSE o.valid_to END AS valid_to, o.is_current AND "
                          "n.__valid_from IS NULL AND g.__gone IS NULL AS is_current) FROM "
                          "__smelt_snap_old AS o LEFT JOIN __smelt_snap_new AS n ON ");
    add_match(&q, "o", "n", keys, nkeys);
    (void)sm_buf_adds(&q, " AND o.is_current LEFT JOIN (SELECT *, true AS __gone FROM "
                          "__smelt_snap_gone) AS g ON ");
    add_match(&q, "o", "g", keys, nkeys);
    (void)sm_buf_adds(&q, " AND o.is_current UNION ALL BY NAME SELECT n.* EXCLUDE (__valid_from), "
                          "n.__valid_from AS valid_from, CAST(NULL AS TIMESTAMP) AS valid_to, "
                          "true AS is_current FROM __smelt_snap_new AS n");
    struct tbl_commit *c = tbl_commit_new(snap ? "MERGE" : "CREATE TABLE AS SELECT");
    tbl_commit_remove_all(c, snap);
    rc = xf_write_commit(db, m, location, q.buf, NULL, c, snap, ci, out, err);
    tbl_commit_free(c);
    if (!rc) {
        out->note = sm_asprintf("%lld new version%s, %lld key%s gone", (long long)nnew,
                                nnew == 1 ? "" : "s", (long long)ngone, ngone == 1 ? "" : "s");
    }
out : {
    struct sm_err e = SM_ERR_INIT;
    if (eng_exec(db,
                 "DROP TABLE IF EXISTS __smelt_snap_src; DROP TABLE IF EXISTS __smelt_snap_old; "
                 "DROP TABLE IF EXISTS __smelt_snap_new; DROP TABLE IF EXISTS __smelt_snap_gone",
                 &e))
        sm_warn("%s", e.msg);
}
    sm_buf_release(&q);
    sm_buf_release(&cur);
    tbl_snapshot_free(snap);
    xf_free_cols(keys, nkeys);
    xf_free_cols(cols, ncols);
    xf_free_cols(check, ncheck);
    return rc;
}
