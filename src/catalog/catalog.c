/*
 * catalog.c — tables of the lake as DuckDB views, and their catalog rows.
 *
 * A view is created per table and version: CREATE SCHEMA zone; CREATE VIEW
 * zone.name AS <SELECT over the snapshot's live files>. DuckDB then plans
 * queries over the lake with its usual optimizer (projection and filter
 * pushdown into the Parquet scan).
 */
#include "catalog.h"
#include "catalog_int.h"

#include <dirent.h>

const char *const cat_zones[] = {"bronze", "silver", "gold", "quarantine", NULL};

char *cat_location(const char *lake, const char *zone, const char *name)
{
    return sm_asprintf("%s/%s/%s", lake, zone, name);
}

char *cat_location_of(const char *lake, const char *qualified)
{
    const char *dot = strchr(qualified, '.');
    if (!dot)
        SM_BUG("'%s' is not zone.name", qualified);
    return sm_asprintf("%s/%.*s/%s", lake, (int)(dot - qualified), qualified, dot + 1);
}

int cat_attach_snapshot(struct eng_db *db, const char *zone, const char *name,
                        const struct tbl_snapshot *snap, const bool *keep, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "CREATE SCHEMA IF NOT EXISTS ");
    (void)sm_buf_add_sql_ident(&q, zone);
    (void)sm_buf_adds(&q, "; CREATE OR REPLACE VIEW ");
    (void)sm_buf_add_sql_ident(&q, zone);
    (void)sm_buf_addc(&q, '.');
    (void)sm_buf_add_sql_ident(&q, name);
    (void)sm_buf_adds(&q, " AS ");
    tbl_snapshot_view_sql_files(snap, keep, &q);
    int rc = eng_exec(db, q.buf, err);
    sm_buf_release(&q);
    return rc ? sm_err_prefix(err, rc, "cannot attach %s.%s", zone, name) : 0;
}

int cat_attach_table(struct eng_db *db, const char *zone, const char *name, const char *location,
                     int64_t version, struct tbl_snapshot **out_snap, struct sm_err *err)
{
    struct tbl_snapshot *snap;
    SM_TRY(tbl_snapshot_open(location, version, &snap, err));
    int rc = cat_attach_snapshot(db, zone, name, snap, NULL, err);
    if (rc) {
        tbl_snapshot_free(snap);
        return rc;
    }
    if (out_snap)
        *out_snap = snap;
    else
        tbl_snapshot_free(snap);
    return 0;
}

char *cat_key(const char *zone, const char *name)
{
    char *k = sm_asprintf("%s.%s", zone, name);
    for (char *p = k; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return k;
}

/* Is zone.name in skip (keys from cat_key())? */
static bool skipped(const struct sm_map *skip, const char *zone, const char *name)
{
    if (!skip || !skip->count)
        return false;
    char *k = cat_key(zone, name);
    bool r = sm_map_get(skip, k) != NULL;
    free(k);
    return r;
}

static int attach_lake(struct eng_db *db, const char *lake, const struct sm_map *skip,
                       struct sm_err *err)
{
    (void)err; /* tables that fail are warned about and skipped, see below */
    for (size_t z = 0; cat_zones[z]; z++) {
        char *zdir = sm_path_join(lake, cat_zones[z]);
        DIR *d = opendir(zdir);
        struct dirent *e;
        int rc = 0;
        while (d && !rc && (e = readdir(d))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_' ||
                skipped(skip, cat_zones[z], e->d_name))
                continue;
            char *loc = sm_path_join(zdir, e->d_name);
            /* One unreadable table must not break queries of the others: it
             * is reported and left out (a query naming it fails by name). */
            struct sm_err te = SM_ERR_INIT;
            if (tbl_latest_version(loc) >= 0 &&
                cat_attach_table(db, cat_zones[z], e->d_name, loc, -1, NULL, &te))
                sm_warn("%s", te.msg);
            free(loc);
        }
        if (d)
            closedir(d);
        free(zdir);
        if (rc)
            return rc;
    }
    return 0;
}

int cat_attach_lake(struct eng_db *db, const char *lake, struct sm_err *err)
{
    return attach_lake(db, lake, NULL, err);
}

int cat_record(struct st_db *st, const char *zone, const char *name,
               const struct tbl_snapshot *snap, struct sm_err *err)
{
    char now[40];
    sm_iso8601(sm_now_ms(), now, sizeof(now));
    struct st_table t = {
        .zone = (char *)zone,
        .name = (char *)name,
        .location = snap->location,
        .schema_json = snap->schema_string,
        .version = snap->version,
        .row_count = snap->num_records,
        .updated_at = now,
    };
    return st_table_upsert(st, &t, err);
}

int cat_attach_all_except(struct eng_db *db, const char *lake, const char *state_path,
                          const struct sm_map *skip, struct sm_err *err)
{
    SM_TRY(attach_lake(db, lake, skip, err));
    if (!state_path || !sm_path_exists(state_path))
        return 0;
    struct st_db *st;
    SM_TRY(st_open(state_path, &st, err));
    struct st_table *t = NULL;
    size_t n = 0;
    int rc = st_table_list(st, &t, &n, err);
    size_t ll = strlen(lake);
    for (size_t i = 0; i < n && !rc; i++) {
        /* lake tables are attached already, at their latest version */
        if ((!strncmp(t[i].location, lake, ll) && t[i].location[ll] == '/') ||
            skipped(skip, t[i].zone, t[i].name))
            continue;
        struct sm_err te = SM_ERR_INIT;
        if (cat_attach_table(db, t[i].zone, t[i].name, t[i].location, -1, NULL, &te))
            sm_warn("%s", te.msg);
    }
    st_table_free_array(t, n);
    st_close(st);
    return rc;
}

int cat_attach_all(struct eng_db *db, const char *lake, const char *state_path, struct sm_err *err)
{
    return cat_attach_all_except(db, lake, state_path, NULL, err);
}

int cat_resolve(const char *lake, const char *state_path, const char *qualified, char **out,
                struct sm_err *err)
{
    const char *dot = strchr(qualified, '.');
    if (!dot || dot == qualified || !dot[1] || strchr(dot + 1, '.'))
        return sm_err_set(err, SM_EINVALID, "'%s' is not a table name: use zone.name, e.g. gold.daily_sales",
                          qualified);
    char *zone = sm_strndup(qualified, (size_t)(dot - qualified));
    char *loc = cat_location(lake, zone, dot + 1);
    int rc = 0;
    if (tbl_latest_version(loc) < 0) {
        free(loc);
        loc = NULL;
        if (state_path && sm_path_exists(state_path)) {
            struct st_db *st;
            rc = st_open(state_path, &st, err);
            if (!rc) {
                struct st_table t = {0};
                bool found = false;
                rc = st_table_get(st, zone, dot + 1, &t, &found, err);
                if (!rc && found)
                    loc = sm_strdup(t.location);
                st_table_release(&t);
                st_close(st);
            }
        }
        if (!rc && !loc)
            rc = sm_err_set(err, SM_ENOTFOUND,
                            "no table '%s': run 'smelt run' to build the lake, or 'smelt crawl "
                            "PATH --as %s' to register an existing Delta table",
                            qualified, qualified);
    }
    free(zone);
    if (!rc)
        *out = loc;
    return rc;
}
