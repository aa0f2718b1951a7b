/*
 * infer.c — `smelt ingest --infer`: the columns a files source's files
 * have, as DuckDB's sniffer finds them, so they can be written into the
 * source's YAML as its contract. The files are read from the source's
 * folder, not the landing zone: the contract is usually written before the
 * first load. Compressed files DuckDB cannot read and archive members are
 * unpacked into a temporary folder first, exactly as a load does.
 */
#include "ingest_int.h"

#include "store/store.h"

enum { INFER_MAX_FILES = 64 };

void ing_columns_free(struct prj_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

/* The paths DuckDB reads for file path (itself, its plain copy, or its
 * members extracted under tmp), appended to paths. */
static int readable_paths(const struct prj_project *p, const struct prj_source *src,
                          const char *path, const char *tmp, size_t idx, struct prj_strs *paths,
                          struct sm_err *err)
{
    struct sm_err e = SM_ERR_INIT;
    if (ing_is_archive(path)) {
        struct ing_member *ms = NULL;
        size_t nm = 0;
        char *dir = sm_asprintf("%s/a%zu", tmp, idx);
        int rc = sm_mkdirs(dir, err);
        struct ing_extract_opts o = {.accept = ing_member_fits,
                                     .nthreads = 1,
                                     .max_expansion = p->max_expansion};
        if (!rc && ing_archive_extract(path, dir, src, &o, &ms, &nm, &e))
            rc = sm_err_set(err, e.code, "'%s': %s", path, e.msg);
        free(dir);
        for (size_t i = 0; !rc && i < nm; i++) {
            if (ms[i].refused || !ms[i].path)
                continue;
            paths->v = sm_realloc(paths->v, (paths->n + 1) * sizeof(char *));
            paths->v[paths->n++] = ms[i].path;
            ms[i].path = NULL;
        }
        ing_members_free(ms, nm);
        return rc;
    }
    enum ing_comp comp = ing_comp_of(path, NULL);
    char *plain = NULL;
    if (comp == ING_COMP_BZIP2 || comp == ING_COMP_XZ) {
        plain = sm_asprintf("%s/f%zu", tmp, idx);
        if (ing_unpack(path, comp, plain, NULL, p->max_expansion, &e)) {
            free(plain);
            return sm_err_set(err, e.code, "'%s': %s", path, e.msg);
        }
    } else {
        plain = sm_strdup(path);
    }
    paths->v = sm_realloc(paths->v, (paths->n + 1) * sizeof(char *));
    paths->v[paths->n++] = plain;
    return 0;
}

static bool nested(const char *t)
{
    return strchr(t, '[') || strcasestr(t, "STRUCT") || strcasestr(t, "MAP(") ||
           strcasestr(t, "UNION") || !strcasecmp(t, "JSON") || !strcasecmp(t, "NULL");
}

/* The CSV options of src that shape how DuckDB reads the text. */
static void add_csv_reading(struct sm_buf *q, const struct prj_source *src)
{
    (void)sm_buf_addf(q, ", header=%s, auto_detect=true, sample_size=-1",
                      src->header ? "true" : "false");
    ing_add_csv_dialect(q, src);
}

/* The date (timestamp) format DuckDB's sniffer finds in the first of
 * paths that has dates (timestamps), into *df (*tf) when it is not ISO
 * 8601's, unless src sets one. */
static int sniff_formats(struct eng_db *db, const struct prj_source *src,
                         const struct prj_strs *paths, char **df, char **tf, struct sm_err *err)
{
    char **want[] = {src->date_format ? NULL : df, src->timestamp_format ? NULL : tf};
    bool decided[] = {!want[0], !want[1]}; /* a file showed a format, ISO or not */
    int rc = 0;
    for (size_t i = 0; i < paths->n && !rc && !(decided[0] && decided[1]); i++) {
        struct sm_buf q = SM_BUF_INIT;
        struct eng_result *r = NULL;
        (void)sm_buf_adds(&q, "SELECT DateFormat, TimestampFormat FROM sniff_csv(");
        (void)sm_buf_add_sql_str(&q, paths->v[i]);
        add_csv_reading(&q, src);
        (void)sm_buf_adds(&q, ")");
        rc = eng_query(db, q.buf, &r, err);
        for (size_t k = 0; !rc && k < 2 && eng_result_nrows(r); k++) {
            const char *v = eng_result_str(r, (int)k, 0);
            if (decided[k] || !v || !*v)
                continue;
            decided[k] = true;
            if (!sm_starts_with(v, "%Y-%m-%d"))
                *want[k] = sm_strdup(v);
        }
        eng_result_free(r);
        sm_buf_release(&q);
    }
    return rc;
}

int ing_infer_columns(struct eng_db *db, const struct prj_project *p, const struct prj_source *src,
                      struct prj_column **out, size_t *n, size_t *nfiles, char **out_date_format,
                      char **out_timestamp_format, struct sm_err *err)
{
    *out_date_format = *out_timestamp_format = NULL;
    struct sto_entry *ents = NULL;
    size_t ne = 0;
    struct prj_strs paths = {0};
    struct sm_buf q = SM_BUF_INIT;
    struct eng_result *r = NULL;
    char *tmp = sm_asprintf("%s/infer-%s", p->temp_directory, src->name);
    *out = NULL;
    *n = *nfiles = 0;
    int rc = sto_list(src->path, src->glob, &ents, &ne, NULL);
    if (rc == SM_ENOTFOUND || (!rc && !ne)) {
        rc = sm_err_set(err, SM_ENOTFOUND,
                        "source '%s': no files matching '%s' in '%s' to infer the columns from",
                        src->name, src->glob, src->path);
        goto out;
    }
    if (rc) {
        rc = sm_err_set(err, rc, "source '%s': cannot list folder '%s'", src->name, src->path);
        goto out;
    }
    if (!(rc = sm_rmtree(tmp, err)))
        rc = sm_mkdirs(tmp, err);
    for (size_t i = 0; i < ne && i < INFER_MAX_FILES && !rc; i++) {
        if (ents[i].size == 0)
            continue;
        rc = readable_paths(p, src, ents[i].path, tmp, i, &paths, err);
        (*nfiles)++;
    }
    if (rc)
        goto out;
    if (!paths.n) {
        rc = sm_err_set(err, SM_ENOTFOUND,
                        "source '%s': the files in '%s' are empty: nothing to infer the columns "
                        "from",
                        src->name, src->path);
        goto out;
    }
    bool csv = src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV;
    if (csv && (rc = sniff_formats(db, src, &paths, out_date_format, out_timestamp_format, err))) {
        sm_err_prefix(err, rc, "source '%s': DuckDB cannot read the files", src->name);
        goto out;
    }
    (void)sm_buf_adds(&q, "DESCRIBE SELECT * FROM ");
    (void)sm_buf_adds(&q, src->format == PRJ_FMT_PARQUET ? "read_parquet(["
                          : src->format == PRJ_FMT_CSV || src->format == PRJ_FMT_TSV
                              ? "read_csv(["
                              : "read_json([");
    for (size_t i = 0; i < paths.n; i++) {
        if (i)
            (void)sm_buf_adds(&q, ", ");
        (void)sm_buf_add_sql_str(&q, paths.v[i]);
    }
    (void)sm_buf_adds(&q, "], union_by_name=true");
    switch (src->format) {
    case PRJ_FMT_CSV:
    case PRJ_FMT_TSV:
        add_csv_reading(&q, src);
        ing_add_sql_opt(&q, "dateformat", src->date_format ? src->date_format : *out_date_format);
        ing_add_sql_opt(&q, "timestampformat",
                        src->timestamp_format ? src->timestamp_format : *out_timestamp_format);
        break;
    case PRJ_FMT_NDJSON:
    case PRJ_FMT_JSON:
        (void)sm_buf_addf(&q, ", format='%s', sample_size=-1, maximum_sample_files=%d",
                          src->format == PRJ_FMT_NDJSON ? "newline_delimited" : "array",
                          INFER_MAX_FILES);
        ing_add_sql_opt(&q, "dateformat", src->date_format);
        ing_add_sql_opt(&q, "timestampformat", src->timestamp_format);
        break;
    case PRJ_FMT_PARQUET:
        break;
    }
    (void)sm_buf_adds(&q, ")");
    if ((rc = eng_query(db, q.buf, &r, err))) {
        sm_err_prefix(err, rc, "source '%s': DuckDB cannot read the files", src->name);
        goto out;
    }
    *out = sm_calloc(eng_result_nrows(r) ? eng_result_nrows(r) : 1, sizeof(**out));
    for (size_t i = 0; i < eng_result_nrows(r); i++) {
        const char *name = sm_or(eng_result_str(r, 0, i), ""), *type = eng_result_str(r, 1, i);
        (*out)[*n].name = sm_strdup(name);
        (*out)[*n].type = sm_strdup(!type || nested(type) ? "VARCHAR" : type);
        (*n)++;
    }
out:
    eng_result_free(r);
    sm_buf_release(&q);
    for (size_t i = 0; i < paths.n; i++)
        free(paths.v[i]);
    free(paths.v);
    sto_entries_free(ents, ne);
    if (sm_rmtree(tmp, NULL))
        sm_warn("cannot remove the temporary folder '%s'", tmp);
    free(tmp);
    if (rc) {
        free(*out_date_format);
        free(*out_timestamp_format);
        *out_date_format = *out_timestamp_format = NULL;
    }
    return rc;
}
