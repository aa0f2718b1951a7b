/*
 * engine.c — DuckDB wrapper. One eng_db is one in-memory DuckDB database with
 * one connection; smelt's lake lives in Delta tables on disk, so nothing is
 * persisted in DuckDB itself. Results are fetched chunk by chunk and turned
 * into strings; nested types are rendered as JSON by walking their vectors.
 */
#include "engine.h"

#include <duckdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eng_db {
    duckdb_database db;
    duckdb_connection con;
    /* Connections of eng_run_jobs() while they run: interrupted and asked
     * for progress with the main one. */
    pthread_mutex_t mu;
    duckdb_connection *jobs;
    size_t njobs, jobs_alloc;
    bool progress; /* eng_track_progress() */
};

struct eng_result {
    size_t nrows, ncols, alloc;
    char **names;
    char **types;
    bool *numeric;
    char **cells; /* row-major, nrows * ncols */
};

/* Track each query's progress for duckdb_query_progress() (our progress
 * bars), soon after it starts, but never let DuckDB print a bar of its own;
 * or not (on false). These are settings of a connection. Tracking is not
 * free: DuckDB then works out a running query's progress after each of the
 * tasks its connection's thread runs. */
static void track_progress(duckdb_connection con, bool on)
{
    duckdb_result res;
    if (duckdb_query(con,
                     on ? "SET enable_progress_bar = true; SET enable_progress_bar_print = false; "
                          "SET progress_bar_time = 100"
                        : "SET enable_progress_bar = false",
                     &res) == DuckDBError)
        sm_debug("cannot track query progress: %s", sm_or(duckdb_result_error(&res), "?"));
    duckdb_destroy_result(&res);
}

void eng_track_progress(struct eng_db *db, bool on)
{
    db->progress = on;
    track_progress(db->con, on);
}

int eng_open(const struct eng_config *cfg, struct eng_db **out, struct sm_err *err)
{
    duckdb_config conf;
    char *open_err = NULL;
    char num[32];
    if (duckdb_create_config(&conf) == DuckDBError)
        return sm_err_set(err, SM_EENGINE, "cannot create duckdb config");
    if (cfg && cfg->memory_limit)
        duckdb_set_config(conf, "memory_limit", cfg->memory_limit);
    if (cfg && cfg->threads > 0) {
        snprintf(num, sizeof(num), "%d", cfg->threads);
        duckdb_set_config(conf, "threads", num);
    }
    if (cfg && cfg->temp_directory)
        duckdb_set_config(conf, "temp_directory", cfg->temp_directory);
    /* smelt never loads extensions from the network; everything it needs is built in. */
    duckdb_set_config(conf, "autoinstall_known_extensions", "false");
    duckdb_set_config(conf, "autoload_known_extensions", "false");
    struct eng_db *e = sm_calloc(1, sizeof(*e));
    pthread_mutex_init(&e->mu, NULL);
    if (duckdb_open_ext(NULL, &e->db, conf, &open_err) == DuckDBError) {
        int rc = sm_err_set(err, SM_EENGINE, "cannot open duckdb: %s", open_err ? open_err : "?");
        duckdb_free(open_err);
        duckdb_destroy_config(&conf);
        pthread_mutex_destroy(&e->mu);
        free(e);
        return rc;
    }
    duckdb_destroy_config(&conf);
    if (duckdb_connect(e->db, &e->con) == DuckDBError) {
        duckdb_close(&e->db);
        pthread_mutex_destroy(&e->mu);
        free(e);
        return sm_err_set(err, SM_EENGINE, "cannot connect to duckdb");
    }
    /* progress tracking is off on a new connection (DuckDB's default):
     * no SET to run */
    *out = e;
    return 0;
}

void eng_close(struct eng_db *db)
{
    if (!db)
        return;
    duckdb_disconnect(&db->con);
    duckdb_close(&db->db);
    free(db->jobs);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

static int result_error(duckdb_result *res, struct sm_err *err)
{
    const char *m = duckdb_result_error(res);
    duckdb_error_type t = duckdb_result_error_type(res);
    int code = t == DUCKDB_ERROR_INTERRUPT ? SM_ECANCELLED : SM_EENGINE;
    return sm_err_set(err, code, "%s", m ? m : "unknown duckdb error");
}

int eng_exec(struct eng_db *db, const char *sql, struct sm_err *err)
{
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(db->con, sql, &res) == DuckDBError)
        rc = result_error(&res, err);
    duckdb_destroy_result(&res);
    return rc;
}

static int query_on(duckdb_connection con, const char *sql, struct eng_result **out,
                    struct sm_err *err);

int eng_execf(struct eng_db *db, struct sm_err *err, const char *fmt, ...)
{
    struct sm_buf b = SM_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    (void)sm_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    int rc = eng_exec(db, b.buf, err);
    sm_buf_release(&b);
    return rc;
}

static bool type_is_numeric(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
        return true;
    default:
        return false;
    }
}

static bool type_is_nested(duckdb_type t)
{
    return t == DUCKDB_TYPE_MAP || t == DUCKDB_TYPE_STRUCT || t == DUCKDB_TYPE_LIST;
}

static void json_str(struct sm_buf *b, const char *s, size_t n)
{
    (void)sm_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            (void)sm_buf_addf(b, "\\%c", c);
        else if (c < 0x20)
            (void)sm_buf_addf(b, "\\u%04x", c);
        else
            (void)sm_buf_addc(b, (char)c);
    }
    (void)sm_buf_addc(b, '"');
}

static void add_double(struct sm_buf *b, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    (void)sm_buf_adds(b, tmp);
    if (!strpbrk(tmp, ".eEna"))
        (void)sm_buf_adds(b, ".0");
}

static void add_decimal(struct sm_buf *b, duckdb_hugeint v, int scale)
{
    /* Print the 128-bit integer, then place the decimal point. */
    bool neg = v.upper < 0;
    uint64_t hi = (uint64_t)v.upper, lo = v.lower;
    if (neg) { /* two's complement negate of the 128-bit value */
        hi = ~hi;
        lo = ~lo + 1;
        if (lo == 0)
            hi++;
    }
    char digits[48];
    int n = 0;
    do { /* long division of hi:lo by 10, 32 bits at a time */
        uint32_t parts[4] = {(uint32_t)(hi >> 32), (uint32_t)hi, (uint32_t)(lo >> 32), (uint32_t)lo};
        uint64_t rem = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t cur = (rem << 32) | parts[i];
            parts[i] = (uint32_t)(cur / 10);
            rem = cur % 10;
        }
        hi = ((uint64_t)parts[0] << 32) | parts[1];
        lo = ((uint64_t)parts[2] << 32) | parts[3];
        digits[n++] = (char)('0' + (int)rem);
    } while (hi || lo);
    while (n <= scale)
        digits[n++] = '0';
    if (neg)
        (void)sm_buf_addc(b, '-');
    for (int i = n - 1; i >= 0; i--) {
        (void)sm_buf_addc(b, digits[i]);
        if (i == scale && scale > 0)
            (void)sm_buf_addc(b, '.');
    }
}

static void add_date(struct sm_buf *b, duckdb_date d)
{
    duckdb_date_struct s = duckdb_from_date(d);
    (void)sm_buf_addf(b, "%04d-%02d-%02d", (int)s.year, (int)s.month, (int)s.day);
}

static void add_time(struct sm_buf *b, duckdb_time_struct t)
{
    (void)sm_buf_addf(b, "%02d:%02d:%02d", t.hour, t.min, t.sec);
    if (t.micros) {
        char us[8];
        snprintf(us, sizeof(us), "%06d", (int)t.micros);
        for (int i = 5; i > 0 && us[i] == '0'; i--)
            us[i] = 0;
        (void)sm_buf_addf(b, ".%s", us);
    }
}

static void add_timestamp(struct sm_buf *b, int64_t micros)
{
    duckdb_timestamp ts = {micros};
    duckdb_timestamp_struct s = duckdb_from_timestamp(ts);
    (void)sm_buf_addf(b, "%04d-%02d-%02d ", (int)s.date.year, (int)s.date.month, (int)s.date.day);
    add_time(b, s.time);
}

/* Render one non-nested cell as DuckDB's cast to VARCHAR prints it. */
static void render_leaf(struct sm_buf *b, duckdb_vector v, duckdb_logical_type lt, idx_t row)
{
    void *data = duckdb_vector_get_data(v);
    switch (duckdb_get_type_id(lt)) {
    case DUCKDB_TYPE_BOOLEAN:
        (void)sm_buf_adds(b, ((bool *)data)[row] ? "true" : "false");
        break;
    case DUCKDB_TYPE_TINYINT:
        (void)sm_buf_addf(b, "%d", ((int8_t *)data)[row]);
        break;
    case DUCKDB_TYPE_SMALLINT:
        (void)sm_buf_addf(b, "%d", ((int16_t *)data)[row]);
        break;
    case DUCKDB_TYPE_INTEGER:
        (void)sm_buf_addf(b, "%d", ((int32_t *)data)[row]);
        break;
    case DUCKDB_TYPE_BIGINT:
        (void)sm_buf_addf(b, "%lld", (long long)((int64_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UTINYINT:
        (void)sm_buf_addf(b, "%u", ((uint8_t *)data)[row]);
        break;
    case DUCKDB_TYPE_USMALLINT:
        (void)sm_buf_addf(b, "%u", ((uint16_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UINTEGER:
        (void)sm_buf_addf(b, "%u", ((uint32_t *)data)[row]);
        break;
    case DUCKDB_TYPE_UBIGINT:
        (void)sm_buf_addf(b, "%llu", (unsigned long long)((uint64_t *)data)[row]);
        break;
    case DUCKDB_TYPE_HUGEINT:
        add_decimal(b, ((duckdb_hugeint *)data)[row], 0);
        break;
    case DUCKDB_TYPE_FLOAT:
        add_double(b, (double)((float *)data)[row]);
        break;
    case DUCKDB_TYPE_DOUBLE:
        add_double(b, ((double *)data)[row]);
        break;
    case DUCKDB_TYPE_DECIMAL: {
        duckdb_hugeint h = {0, 0};
        int64_t x;
        switch (duckdb_decimal_internal_type(lt)) {
        case DUCKDB_TYPE_SMALLINT:
            x = ((int16_t *)data)[row];
            break;
        case DUCKDB_TYPE_INTEGER:
            x = ((int32_t *)data)[row];
            break;
        case DUCKDB_TYPE_BIGINT:
            x = ((int64_t *)data)[row];
            break;
        default:
            h = ((duckdb_hugeint *)data)[row];
            add_decimal(b, h, duckdb_decimal_scale(lt));
            return;
        }
        h.lower = (uint64_t)x;
        h.upper = x < 0 ? -1 : 0;
        add_decimal(b, h, duckdb_decimal_scale(lt));
        break;
    }
    case DUCKDB_TYPE_DATE:
        add_date(b, ((duckdb_date *)data)[row]);
        break;
    case DUCKDB_TYPE_TIME:
        add_time(b, duckdb_from_time(((duckdb_time *)data)[row]));
        break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        add_timestamp(b, ((int64_t *)data)[row]);
        if (duckdb_get_type_id(lt) == DUCKDB_TYPE_TIMESTAMP_TZ)
            (void)sm_buf_adds(b, "+00");
        break;
    case DUCKDB_TYPE_TIMESTAMP_S:
        add_timestamp(b, ((int64_t *)data)[row] * 1000000);
        break;
    case DUCKDB_TYPE_TIMESTAMP_MS:
        add_timestamp(b, ((int64_t *)data)[row] * 1000);
        break;
    case DUCKDB_TYPE_TIMESTAMP_NS:
        add_timestamp(b, ((int64_t *)data)[row] / 1000);
        break;
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB: {
        duckdb_string_t *s = (duckdb_string_t *)data + row;
        (void)sm_buf_add(b, duckdb_string_t_data(s), duckdb_string_t_length(*s));
        break;
    }
    case DUCKDB_TYPE_UUID: {
        duckdb_hugeint h = ((duckdb_hugeint *)data)[row];
        uint64_t hi = (uint64_t)h.upper ^ (1ULL << 63), lo = h.lower;
        (void)sm_buf_addf(b, "%08llx-%04llx-%04llx-%04llx-%012llx", (unsigned long long)(hi >> 32),
                          (unsigned long long)((hi >> 16) & 0xffff), (unsigned long long)(hi & 0xffff),
                          (unsigned long long)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
        break;
    }
    case DUCKDB_TYPE_ENUM: {
        uint64_t idx;
        switch (duckdb_enum_internal_type(lt)) {
        case DUCKDB_TYPE_UTINYINT:
            idx = ((uint8_t *)data)[row];
            break;
        case DUCKDB_TYPE_USMALLINT:
            idx = ((uint16_t *)data)[row];
            break;
        default:
            idx = ((uint32_t *)data)[row];
            break;
        }
        char *name = duckdb_enum_dictionary_value(lt, idx);
        (void)sm_buf_adds(b, name ? name : "");
        duckdb_free(name);
        break;
    }
    case DUCKDB_TYPE_INTERVAL: {
        duckdb_interval iv = ((duckdb_interval *)data)[row];
        (void)sm_buf_addf(b, "%d months %d days %lld us", iv.months, iv.days, (long long)iv.micros);
        break;
    }
    default:
        (void)sm_buf_adds(b, "?");
        break;
    }
}

/* Render row `row` of vector v (of logical type lt) as JSON into b. Only the
 * leaf types that appear in DuckDB's own metadata results are rendered
 * exactly; others fall back to a null. */
static void render_vec(struct sm_buf *b, duckdb_vector v, duckdb_logical_type lt, idx_t row)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) {
        (void)sm_buf_adds(b, "null");
        return;
    }
    duckdb_type t = duckdb_get_type_id(lt);
    void *data = duckdb_vector_get_data(v);
    switch (t) {
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP: {
        duckdb_list_entry *e = (duckdb_list_entry *)data + row;
        duckdb_vector child = duckdb_list_vector_get_child(v);
        bool is_map = t == DUCKDB_TYPE_MAP;
        duckdb_logical_type ct = is_map ? NULL : duckdb_list_type_child_type(lt);
        duckdb_logical_type kt = is_map ? duckdb_map_type_key_type(lt) : NULL;
        duckdb_logical_type vt = is_map ? duckdb_map_type_value_type(lt) : NULL;
        (void)sm_buf_addc(b, is_map ? '{' : '[');
        for (idx_t i = 0; i < e->length; i++) {
            if (i)
                (void)sm_buf_addc(b, ',');
            if (is_map) {
                duckdb_vector kv = duckdb_struct_vector_get_child(child, 0);
                duckdb_vector vv = duckdb_struct_vector_get_child(child, 1);
                struct sm_buf k = SM_BUF_INIT;
                render_vec(&k, kv, kt, e->offset + i);
                if (k.buf[0] == '"')
                    (void)sm_buf_adds(b, k.buf);
                else
                    json_str(b, k.buf, k.len);
                sm_buf_release(&k);
                (void)sm_buf_addc(b, ':');
                render_vec(b, vv, vt, e->offset + i);
            } else {
                render_vec(b, child, ct, e->offset + i);
            }
        }
        (void)sm_buf_addc(b, is_map ? '}' : ']');
        if (ct)
            duckdb_destroy_logical_type(&ct);
        if (kt)
            duckdb_destroy_logical_type(&kt);
        if (vt)
            duckdb_destroy_logical_type(&vt);
        break;
    }
    case DUCKDB_TYPE_STRUCT: {
        idx_t n = duckdb_struct_type_child_count(lt);
        (void)sm_buf_addc(b, '{');
        for (idx_t i = 0; i < n; i++) {
            char *name = duckdb_struct_type_child_name(lt, i);
            duckdb_logical_type ct = duckdb_struct_type_child_type(lt, i);
            if (i)
                (void)sm_buf_addc(b, ',');
            json_str(b, name, strlen(name));
            (void)sm_buf_addc(b, ':');
            render_vec(b, duckdb_struct_vector_get_child(v, i), ct, row);
            duckdb_destroy_logical_type(&ct);
            duckdb_free(name);
        }
        (void)sm_buf_addc(b, '}');
        break;
    }
    default: {
        struct sm_buf leaf = SM_BUF_INIT;
        render_leaf(&leaf, v, lt, row);
        if (type_is_numeric(t) || t == DUCKDB_TYPE_BOOLEAN)
            (void)sm_buf_adds(b, leaf.buf);
        else
            json_str(b, leaf.buf, leaf.len);
        sm_buf_release(&leaf);
        break;
    }
    }
}

static char *type_name(duckdb_logical_type lt)
{
    char *s = duckdb_logical_type_get_alias(lt);
    if (s) {
        char *r = sm_strdup(s);
        duckdb_free(s);
        return r;
    }
    duckdb_type t = duckdb_get_type_id(lt);
    if (t == DUCKDB_TYPE_DECIMAL)
        return sm_asprintf("DECIMAL(%d,%d)", duckdb_decimal_width(lt), duckdb_decimal_scale(lt));
    static const struct {
        duckdb_type t;
        const char *n;
    } names[] = {
        {DUCKDB_TYPE_BOOLEAN, "BOOLEAN"},     {DUCKDB_TYPE_TINYINT, "TINYINT"},
        {DUCKDB_TYPE_SMALLINT, "SMALLINT"},   {DUCKDB_TYPE_INTEGER, "INTEGER"},
        {DUCKDB_TYPE_BIGINT, "BIGINT"},       {DUCKDB_TYPE_UTINYINT, "UTINYINT"},
        {DUCKDB_TYPE_USMALLINT, "USMALLINT"}, {DUCKDB_TYPE_UINTEGER, "UINTEGER"},
        {DUCKDB_TYPE_UBIGINT, "UBIGINT"},     {DUCKDB_TYPE_HUGEINT, "HUGEINT"},
        {DUCKDB_TYPE_FLOAT, "FLOAT"},         {DUCKDB_TYPE_DOUBLE, "DOUBLE"},
        {DUCKDB_TYPE_VARCHAR, "VARCHAR"},     {DUCKDB_TYPE_DATE, "DATE"},
        {DUCKDB_TYPE_TIMESTAMP, "TIMESTAMP"}, {DUCKDB_TYPE_TIMESTAMP_TZ, "TIMESTAMP WITH TIME ZONE"},
        {DUCKDB_TYPE_TIME, "TIME"},           {DUCKDB_TYPE_BLOB, "BLOB"},
        {DUCKDB_TYPE_INTERVAL, "INTERVAL"},   {DUCKDB_TYPE_UUID, "UUID"},
        {DUCKDB_TYPE_LIST, "LIST"},           {DUCKDB_TYPE_STRUCT, "STRUCT"},
        {DUCKDB_TYPE_MAP, "MAP"},             {DUCKDB_TYPE_TIMESTAMP_S, "TIMESTAMP_S"},
        {DUCKDB_TYPE_TIMESTAMP_MS, "TIMESTAMP_MS"}, {DUCKDB_TYPE_TIMESTAMP_NS, "TIMESTAMP_NS"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].t == t)
            return sm_strdup(names[i].n);
    return sm_strdup("VARCHAR");
}

int eng_query(struct eng_db *db, const char *sql, struct eng_result **out, struct sm_err *err)
{
    return query_on(db->con, sql, out, err);
}

static int query_on(duckdb_connection con, const char *sql, struct eng_result **out,
                    struct sm_err *err)
{
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        int rc = result_error(&res, err);
        duckdb_destroy_result(&res);
        return rc;
    }
    struct eng_result *r = sm_calloc(1, sizeof(*r));
    r->ncols = duckdb_column_count(&res);
    r->names = sm_calloc(r->ncols, sizeof(char *));
    r->types = sm_calloc(r->ncols, sizeof(char *));
    r->numeric = sm_calloc(r->ncols, sizeof(bool));
    duckdb_logical_type *lts = sm_calloc(r->ncols, sizeof(*lts));
    bool *nested = sm_calloc(r->ncols, sizeof(bool));
    for (size_t c = 0; c < r->ncols; c++) {
        r->names[c] = sm_strdup(duckdb_column_name(&res, c));
        lts[c] = duckdb_column_logical_type(&res, c);
        r->types[c] = type_name(lts[c]);
        r->numeric[c] = type_is_numeric(duckdb_get_type_id(lts[c]));
        nested[c] = type_is_nested(duckdb_get_type_id(lts[c]));
    }
    /* Cells are rendered from the chunk vectors: leaves as DuckDB's VARCHAR
     * cast would print them, nested types as JSON. */
    duckdb_data_chunk chunk;
    struct sm_buf cell = SM_BUF_INIT;
    while ((chunk = duckdb_fetch_chunk(res)) != NULL) {
        idx_t n = duckdb_data_chunk_get_size(chunk);
        SM_ALLOC_GROW(r->cells, (r->nrows + n) * r->ncols, r->alloc);
        for (size_t c = 0; c < r->ncols; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
            uint64_t *valid = duckdb_vector_get_validity(v);
            for (idx_t i = 0; i < n; i++) {
                char **dst = &r->cells[(r->nrows + i) * r->ncols + c];
                if (valid && !duckdb_validity_row_is_valid(valid, i)) {
                    *dst = NULL;
                    continue;
                }
                sm_buf_reset(&cell);
                if (nested[c])
                    render_vec(&cell, v, lts[c], i);
                else
                    render_leaf(&cell, v, lts[c], i);
                *dst = sm_strndup(cell.buf, cell.len);
            }
        }
        r->nrows += n;
        duckdb_destroy_data_chunk(&chunk);
    }
    sm_buf_release(&cell);
    for (size_t c = 0; c < r->ncols; c++)
        duckdb_destroy_logical_type(&lts[c]);
    free(lts);
    free(nested);
    duckdb_destroy_result(&res);
    *out = r;
    return 0;
}

int eng_query_scalar(struct eng_db *db, const char *sql, char **out, struct sm_err *err)
{
    struct eng_result *r;
    SM_TRY(eng_query(db, sql, &r, err));
    int rc = 0;
    if (r->nrows != 1 || r->ncols < 1) {
        rc = sm_err_set(err, SM_EINTERNAL, "expected one row from query, got %zu", r->nrows);
    } else {
        const char *s = r->cells[0];
        *out = s ? sm_strdup(s) : NULL;
    }
    eng_result_free(r);
    return rc;
}

int eng_query_i64(struct eng_db *db, const char *sql, int64_t *out, struct sm_err *err)
{
    char *s = NULL;
    SM_TRY(eng_query_scalar(db, sql, &s, err));
    int rc = 0;
    if (!s)
        *out = 0;
    else if (sm_parse_i64(s, out))
        rc = sm_err_set(err, SM_EINTERNAL, "expected an integer from query, got '%s'", s);
    free(s);
    return rc;
}

int64_t eng_memory_limit(struct eng_db *db)
{
    /* current_setting() shows the limit rounded, as "953.6 MiB" */
    static const struct {
        const char *unit;
        double bytes;
    } units[] = {
        {"bytes", 1},          {"B", 1},
        {"KiB", 1024.0},       {"MiB", 1048576.0},
        {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
        {"KB", 1e3},           {"MB", 1e6},
        {"GB", 1e9},           {"TB", 1e12},
    };
    char *v = NULL;
    int64_t out = 0;
    if (!eng_query_scalar(db, "SELECT current_setting('memory_limit')", &v, NULL) && v) {
        char *end = NULL;
        double n = strtod(v, &end);
        while (end && *end == ' ')
            end++;
        for (size_t i = 0; end && end != v && n > 0 && i < sizeof(units) / sizeof(units[0]); i++)
            if (!strcmp(end, units[i].unit) && n * units[i].bytes < 9e18) {
                out = (int64_t)(n * units[i].bytes);
                break;
            }
    }
    free(v);
    return out;
}

size_t eng_result_nrows(const struct eng_result *r)
{
    return r->nrows;
}

size_t eng_result_ncols(const struct eng_result *r)
{
    return r->ncols;
}

const char *eng_result_colname(const struct eng_result *r, size_t col)
{
    return r->names[col];
}

const char *eng_result_coltype(const struct eng_result *r, size_t col)
{
    return r->types[col];
}

bool eng_result_col_is_numeric(const struct eng_result *r, size_t col)
{
    return r->numeric[col];
}

const char *eng_result_str(const struct eng_result *r, size_t col, size_t row)
{
    if (row >= r->nrows || col >= r->ncols)
        SM_BUG("cell %zu,%zu out of range %zux%zu", row, col, r->nrows, r->ncols);
    return r->cells[row * r->ncols + col];
}

int eng_result_colidx(const struct eng_result *r, const char *name)
{
    for (size_t c = 0; c < r->ncols; c++)
        if (!strcmp(r->names[c], name))
            return (int)c;
    return -1;
}

void eng_result_free(struct eng_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cells[i]);
    for (size_t c = 0; c < r->ncols; c++) {
        free(r->names[c]);
        free(r->types[c]);
    }
    free(r->cells);
    free(r->names);
    free(r->types);
    free(r->numeric);
    free(r);
}

void eng_interrupt(struct eng_db *db)
{
    duckdb_interrupt(db->con);
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->njobs; i++)
        duckdb_interrupt(db->jobs[i]);
    pthread_mutex_unlock(&db->mu);
}

double eng_progress(struct eng_db *db)
{
    double sum = 0;
    size_t n = 0;
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < db->njobs; i++) {
        duckdb_query_progress_type p = duckdb_query_progress(db->jobs[i]);
        if (p.percentage >= 0) {
            sum += p.percentage;
            n++;
        }
    }
    pthread_mutex_unlock(&db->mu);
    if (n)
        return sum / (double)n;
    duckdb_query_progress_type p = duckdb_query_progress(db->con);
    return p.percentage;
}

/* --- jobs on connections of their own ------------------------------------------ */

struct job_pool {
    struct eng_db *db;
    struct eng_job *jobs;
};

static void jobs_track(struct eng_db *db, duckdb_connection con, bool add)
{
    pthread_mutex_lock(&db->mu);
    if (add) {
        SM_ALLOC_GROW(db->jobs, db->njobs + 1, db->jobs_alloc);
        db->jobs[db->njobs++] = con;
    } else {
        for (size_t i = 0; i < db->njobs; i++)
            if (db->jobs[i] == con) {
                db->jobs[i] = db->jobs[--db->njobs];
                break;
            }
    }
    pthread_mutex_unlock(&db->mu);
}

static void run_job(duckdb_connection con, struct eng_job *j)
{
    j->results = sm_calloc(j->nsql ? j->nsql : 1, sizeof(*j->results));
    for (size_t i = 0; i < j->nsql && !j->rc; i++)
        j->rc = query_on(con, j->sql[i], &j->results[i], &j->err);
}

/* Each job gets a new connection, so that its temporary tables (and
 * DuckDB's rejects tables) are its own even when one worker runs several
 * jobs one after the other. */
static void job_one(size_t i, void *arg)
{
    struct job_pool *pool = arg;
    struct eng_job *j = &pool->jobs[i];
    duckdb_connection con;
    if (duckdb_connect(pool->db->db, &con) == DuckDBError) {
        j->rc = sm_err_set(&j->err, SM_EENGINE, "cannot connect to duckdb");
        return;
    }
    if (pool->db->progress)
        track_progress(con, true);
    jobs_track(pool->db, con, true);
    run_job(con, j);
    jobs_track(pool->db, con, false);
    duckdb_disconnect(&con);
}

int eng_run_jobs(struct eng_db *db, struct eng_job *jobs, size_t n, int nconn)
{
    struct job_pool pool = {.db = db, .jobs = jobs};
    sm_parallel_for(n, nconn < 1 ? 1 : (size_t)nconn, job_one, &pool);
    for (size_t i = 0; i < n; i++)
        if (jobs[i].rc)
            return jobs[i].rc;
    return 0;
}

void eng_job_release(struct eng_job *j)
{
    for (size_t i = 0; j->results && i < j->nsql; i++)
        eng_result_free(j->results[i]);
    free(j->results);
    j->results = NULL;
}

const char *eng_version(void)
{
    return duckdb_library_version();
}
