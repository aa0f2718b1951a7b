/*
 * table.c — the Delta Lake log: replay and commit.
 *
 * A table is a directory with Parquet data files and _delta_log/ holding one
 * JSON file per version, NNNNNNNNNNNNNNNNNNNN.json, each line one action
 * (commitInfo, protocol, metaData, txn, add, remove). A snapshot at version v
 * is the result of applying versions 0..v in order: the last metaData wins,
 * an add puts a file in the live set, a remove takes it out.
 *
 * Commits are put-if-absent: the new version is written to a temporary file
 * in _delta_log, fsynced, then link()ed to its final name, which fails with
 * EEXIST if another writer committed that version first. So a version file
 * either exists complete or not at all, and two writers never both win.
 *
 * Data files are written by DuckDB (COPY ... RETURN_STATS), which reports per
 * file the row count, min/max/null count per column and partition values:
 * everything an add action needs, without reading the files back.
 */
#include "table.h"
#include "table_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <strings.h>
#include <sys/stat.h>

#define LOG_DIR "_delta_log"

/* --- small helpers --------------------------------------------------------- */

static char *version_path(const char *location, int64_t v)
{
    return sm_asprintf("%s/" LOG_DIR "/%020lld.json", location, (long long)v);
}

static bool parse_version_prefix(const char *name, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *out = v;
    return name[20] == '.';
}

static bool parse_version_name(const char *name, int64_t *out)
{
    return strlen(name) == 25 && sm_ends_with(name, ".json") && parse_version_prefix(name, out);
}

/* NNNNNNNNNNNNNNNNNNNN.checkpoint.parquet (single) or
 * NNNNNNNNNNNNNNNNNNNN.checkpoint.PPPPPPPPPP.TTTTTTTTTT.parquet (part P of T). */
static bool parse_checkpoint_name(const char *name, int64_t *v, int *part, int *parts)
{
    if (strlen(name) < 39 || !parse_version_prefix(name, v) ||
        strncmp(name + 20, ".checkpoint.", 12) || !sm_ends_with(name, ".parquet"))
        return false;
    if (!strcmp(name + 32, "parquet")) {
        *part = *parts = 1;
        return true;
    }
    unsigned p, t;
    char tail[16];
    if (sscanf(name + 32, "%10u.%10u.%15s", &p, &t, tail) != 3 || strcmp(tail, "parquet") || !p ||
        p > t)
        return false;
    *part = (int)p;
    *parts = (int)t;
    return true;
}

struct log_listing {
    int64_t latest;     /* highest version of a commit or checkpoint */
    int64_t first_json; /* lowest commit version present */
    /* complete checkpoints, ascending */
    int64_t *ckpt;
    int *ckpt_parts;
    size_t nckpt, ckpt_alloc;
};

static void listing_release(struct log_listing *l)
{
    free(l->ckpt);
    free(l->ckpt_parts);
}

/* List _delta_log once: commits and the checkpoints whose parts are all there. */
static bool list_log(const char *location, struct log_listing *out)
{
    memset(out, 0, sizeof(*out));
    out->latest = out->first_json = -1;
    char *dir = sm_asprintf("%s/" LOG_DIR, location);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return false;
    struct {
        int64_t v;
        int parts, seen;
    } *cp = NULL;
    size_t ncp = 0, cpalloc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t v;
        int part, parts;
        if (parse_version_name(e->d_name, &v)) {
            if (v > out->latest)
                out->latest = v;
            if (out->first_json < 0 || v < out->first_json)
                out->first_json = v;
        } else if (parse_checkpoint_name(e->d_name, &v, &part, &parts)) {
            size_t i;
            for (i = 0; i < ncp; i++)
                if (cp[i].v == v && cp[i].parts == parts)
                    break;
            if (i == ncp) {
                SM_ALLOC_GROW(cp, ncp + 1, cpalloc);
                cp[ncp].v = v;
                cp[ncp].parts = parts;
                cp[ncp++].seen = 0;
            }
            cp[i].seen++;
        }
    }
    closedir(d);
    for (size_t i = 0; i < ncp; i++) {
        if (cp[i].seen != cp[i].parts)
            continue; /* an incomplete multi-part checkpoint is ignored */
        if (cp[i].v > out->latest)
            out->latest = cp[i].v;
        size_t a = out->ckpt_alloc;
        SM_ALLOC_GROW(out->ckpt, out->nckpt + 1, out->ckpt_alloc);
        out->ckpt_parts = sm_realloc(out->ckpt_parts, out->ckpt_alloc * sizeof(int));
        (void)a;
        size_t k = out->nckpt++;
        while (k > 0 && out->ckpt[k - 1] > cp[i].v) {
            out->ckpt[k] = out->ckpt[k - 1];
            out->ckpt_parts[k] = out->ckpt_parts[k - 1];
            k--;
        }
        out->ckpt[k] = cp[i].v;
        out->ckpt_parts[k] = cp[i].parts;
    }
    free(cp);
    return true;
}

int64_t tbl_latest_version(const char *location)
{
    struct log_listing l;
    if (!list_log(location, &l))
        return -1;
    listing_release(&l);
    return l.latest;
}

/* A private DuckDB instance for reading checkpoint Parquet files: the
 * snapshot API does not need a caller's connection, and this one is only
 * opened when a table has checkpoints. */
static struct eng_db *aux_db;
static struct eng_db *borrowed_db; /* tbl_use_engine() */
static _Thread_local bool no_engine; /* tbl_without_engine() */

void tbl_use_engine(struct eng_db *db)
{
    borrowed_db = db;
}

void tbl_without_engine(bool on)
{
    no_engine = on;
}

static void aux_close(void)
{
    eng_close(aux_db);
    aux_db = NULL;
}

static int aux_engine(struct eng_db **out, struct sm_err *err)
{
    if (no_engine)
        return sm_err_set(err, SM_ECANCELLED, "reading a checkpoint needs DuckDB, not used here");
    if (borrowed_db) {
        *out = borrowed_db;
        return 0;
    }
    if (!aux_db) {
        struct eng_config cfg = {.threads = 1, .memory_limit = "1GB"};
        SM_TRY(eng_open(&cfg, &aux_db, err));
        atexit(aux_close);
    }
    *out = aux_db;
    return 0;
}

/* Delta paths in add/remove are URIs relative to the table root: percent-
 * encode everything but unreserved characters, '/' and '='. */
static void add_uri_path(struct sm_buf *b, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/=", *p))
            (void)sm_buf_addc(b, (char)*p);
        else
            (void)sm_buf_addf(b, "%%%02X", *p);
    }
}

char *tbl_uri_decode(const char *s)
{
    return sm_percent_decode(s, strlen(s));
}

/* --- types: DuckDB <-> Delta ---------------------------------------------- */

struct type_map {
    const char *sql;   /* DuckDB type name as DESCRIBE prints it */
    const char *delta; /* Delta primitive type */
    const char *cast;  /* cast applied before writing, or NULL */
};

/* DuckDB types Delta has no name for are cast to the nearest one that holds
 * every value. */
static const struct type_map type_maps[] = {
    {"BOOLEAN", "boolean", NULL},
    {"TINYINT", "byte", NULL},
    {"SMALLINT", "short", NULL},
    {"INTEGER", "integer", NULL},
    {"BIGINT", "long", NULL},
    {"UTINYINT", "short", "SMALLINT"},
    {"USMALLINT", "integer", "INTEGER"},
    {"UINTEGER", "long", "BIGINT"},
    {"UBIGINT", "decimal(20,0)", "DECIMAL(20,0)"},
    {"HUGEINT", "decimal(38,0)", "DECIMAL(38,0)"},
    {"UHUGEINT", "decimal(38,0)", "DECIMAL(38,0)"},
    {"FLOAT", "float", NULL},
    {"DOUBLE", "double", NULL},
    {"VARCHAR", "string", NULL},
    {"BLOB", "binary", NULL},
    {"DATE", "date", NULL},
    {"TIMESTAMP", "timestamp_ntz", NULL},
    {"TIMESTAMP_S", "timestamp_ntz", "TIMESTAMP"},
    {"TIMESTAMP_MS", "timestamp_ntz", "TIMESTAMP"},
    {"TIMESTAMP_NS", "timestamp_ntz", "TIMESTAMP"},
    {"TIMESTAMP WITH TIME ZONE", "timestamp", NULL},
    {"UUID", "string", "VARCHAR"},
    {"TIME", "string", "VARCHAR"},
    {"INTERVAL", "string", "VARCHAR"},
};

/* Map a DuckDB type to Delta; *cast gets the SQL type to cast to first (or
 * NULL). Returns a new string, or NULL for types we cannot store yet. */
static char *delta_type_of(const char *sql, const char **cast)
{
    *cast = NULL;
    int p, s;
    if (sscanf(sql, "DECIMAL(%d,%d)", &p, &s) == 2)
        return sm_asprintf("decimal(%d,%d)", p, s);
    for (size_t i = 0; i < sizeof(type_maps) / sizeof(type_maps[0]); i++) {
        if (!strcmp(sql, type_maps[i].sql)) {
            *cast = type_maps[i].cast;
            return sm_strdup(type_maps[i].delta);
        }
    }
    if (sm_starts_with(sql, "ENUM(")) {
        *cast = "VARCHAR";
        return sm_strdup("string");
    }
    return NULL;
}

/* The DuckDB type a Delta primitive type reads back as. */
static char *sql_type_of(const char *delta)
{
    static const struct {
        const char *delta, *sql;
    } m[] = {
        {"boolean", "BOOLEAN"},   {"byte", "TINYINT"},     {"short", "SMALLINT"},
        {"integer", "INTEGER"},   {"long", "BIGINT"},      {"float", "FLOAT"},
        {"double", "DOUBLE"},     {"string", "VARCHAR"},   {"binary", "BLOB"},
        {"date", "DATE"},         {"timestamp_ntz", "TIMESTAMP"},
        {"timestamp", "TIMESTAMP WITH TIME ZONE"},
    };
    int p, s;
    if (sscanf(delta, "decimal(%d,%d)", &p, &s) == 2)
        return sm_asprintf("DECIMAL(%d,%d)", p, s);
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (!strcmp(delta, m[i].delta))
            return sm_strdup(m[i].sql);
    return NULL;
}

static void columns_free(struct tbl_column *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].delta_type);
        free(cols[i].sql_type);
        free(cols[i].physical_name);
        free(cols[i].read_sql);
    }
    free(cols);
}

/* The physical name of a field of a schemaString (column mapping), or its
 * name. */
static const char *field_phys_name(json_t *f)
{
    const char *phys = json_string_value(
        json_object_get(json_object_get(f, "metadata"), "delta.columnMapping.physicalName"));
    return phys ? phys : sm_or(json_string_value(json_object_get(f, "name")), "");
}

/* Whether a value of Delta type t (a schemaString type) holds, at any depth,
 * a struct field whose physical name differs from its name. */
static bool nested_renamed(json_t *t)
{
    const char *kind = json_string_value(json_object_get(t, "type"));
    if (!json_is_object(t) || !kind)
        return false;
    if (!strcmp(kind, "array"))
        return nested_renamed(json_object_get(t, "elementType"));
    if (!strcmp(kind, "map"))
        return nested_renamed(json_object_get(t, "keyType")) ||
               nested_renamed(json_object_get(t, "valueType"));
    json_t *fields = json_object_get(t, "fields");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        if (strcmp(field_phys_name(f), sm_or(json_string_value(json_object_get(f, "name")), "")) ||
            nested_renamed(json_object_get(f, "type")))
            return true;
    }
    return false;
}

/* Append to b an SQL expression that turns expr, a value of Delta type t as
 * the Parquet files store it (struct fields under their physical names),
 * into the value with the logical field names: struct_pack() per struct,
 * list_transform() into lists, and map entries rebuilt for maps, recursing
 * only where something is renamed. depth numbers the lambda parameters so
 * that nested lambdas do not shadow each other. */
static void add_nested_remap(struct sm_buf *b, const char *expr, json_t *t, int depth)
{
    const char *kind = json_string_value(json_object_get(t, "type"));
    if (!nested_renamed(t)) {
        (void)sm_buf_adds(b, expr);
        return;
    }
    char *x = sm_asprintf("__smelt_e%d", depth);
    if (!strcmp(kind, "array")) {
        (void)sm_buf_addf(b, "list_transform(%s, lambda %s: ", expr, x);
        add_nested_remap(b, x, json_object_get(t, "elementType"), depth + 1);
        (void)sm_buf_adds(b, ")");
    } else if (!strcmp(kind, "map")) {
        char *k = sm_asprintf("%s.key", x), *v = sm_asprintf("%s.value", x);
        (void)sm_buf_addf(b,
                          "map_from_entries(list_transform(map_entries(%s), lambda %s: "
                          "struct_pack(key := ",
                          expr, x);
        add_nested_remap(b, k, json_object_get(t, "keyType"), depth + 1);
        (void)sm_buf_adds(b, ", value := ");
        add_nested_remap(b, v, json_object_get(t, "valueType"), depth + 1);
        (void)sm_buf_adds(b, ")))");
        free(k);
        free(v);
    } else {
        /* a NULL struct stays NULL rather than a struct of NULL fields */
        json_t *fields = json_object_get(t, "fields");
        (void)sm_buf_addf(b, "CASE WHEN %s IS NULL THEN NULL ELSE struct_pack(", expr);
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *f = json_array_get(fields, i);
            struct sm_buf fx = SM_BUF_INIT;
            (void)sm_buf_addf(&fx, "struct_extract(%s, ", expr);
            (void)sm_buf_add_sql_str(&fx, field_phys_name(f));
            (void)sm_buf_adds(&fx, ")");
            (void)sm_buf_adds(b, i ? ", " : "");
            (void)sm_buf_add_sql_ident(b, sm_or(json_string_value(json_object_get(f, "name")), ""));
            (void)sm_buf_adds(b, " := ");
            add_nested_remap(b, fx.buf, json_object_get(f, "type"), depth);
            sm_buf_release(&fx);
        }
        (void)sm_buf_adds(b, ") END");
    }
    free(x);
}

/* Parse metaData.schemaString into columns. Nested types are kept by name
 * with a NULL sql_type (read as stored), and with read_sql when their
 * fields are renamed by column mapping. */
static int parse_schema(const char *schema, struct tbl_column **out, size_t *n,
                        struct sm_err *err)
{
    json_error_t je;
    json_t *root = json_loads(schema, 0, &je);
    json_t *fields = root ? json_object_get(root, "fields") : NULL;
    if (!json_is_array(fields)) {
        json_decref(root);
        return sm_err_set(err, SM_EPARSE, "invalid schemaString in metaData");
    }
    size_t nf = json_array_size(fields);
    struct tbl_column *cols = sm_calloc(nf, sizeof(*cols));
    for (size_t i = 0; i < nf; i++) {
        json_t *f = json_array_get(fields, i);
        json_t *t = json_object_get(f, "type");
        cols[i].name = sm_strdup(sm_or(json_string_value(json_object_get(f, "name")), ""));
        cols[i].delta_type = json_is_string(t) ? sm_strdup(json_string_value(t)) : json_dumps(t, JSON_COMPACT);
        cols[i].sql_type = json_is_string(t) ? sql_type_of(json_string_value(t)) : NULL;
        cols[i].nullable = !json_is_false(json_object_get(f, "nullable"));
        cols[i].physical_name = sm_strdup(field_phys_name(f));
        if (nested_renamed(t)) {
            struct sm_buf e = SM_BUF_INIT, x = SM_BUF_INIT;
            (void)sm_buf_add_sql_ident(&x, cols[i].physical_name);
            add_nested_remap(&e, x.buf, t, 1);
            cols[i].read_sql = sm_buf_detach(&e);
            sm_buf_release(&x);
        }
    }
    json_decref(root);
    *out = cols;
    *n = nf;
    return 0;
}

/* --- snapshot ---------------------------------------------------------------- */

static char *json_text_or_null(json_t *v)
{
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_string(v))
        return sm_strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

/* The top-level numRecords of a stats JSON text, or -1. A scan rather than
 * a parse: opening a table reads one stats string per live file, and only
 * this member is needed then. Strings are skipped, so a column named
 * numRecords inside minValues does not count. */
static int64_t stats_num_records(const char *st)
{
    int depth = 0;
    for (const char *p = st; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *key = p + 1;
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return -1;
            if (depth == 1 && p - key == 10 && !strncmp(key, "numRecords", 10)) {
                const char *q = p + 1 + strspn(p + 1, " \t\r\n");
                int64_t n;
                char num[24];
                size_t len = strspn(q + (*q == ':'), " \t\r\n");
                q += (*q == ':') + len;
                len = strspn(q, "-0123456789");
                if (len == 0 || len >= sizeof(num))
                    return -1;
                memcpy(num, q, len);
                num[len] = 0;
                return !sm_parse_i64(num, &n) ? n : -1;
            }
        }
    }
    return -1;
}

void tbl_file_from_add(json_t *x, struct tbl_file *f)
{
    f->path = tbl_uri_decode(sm_or(json_string_value(json_object_get(x, "path")), ""));
    f->size = json_integer_value(json_object_get(x, "size"));
    f->modification_time = json_integer_value(json_object_get(x, "modificationTime"));
    f->partition_values = json_text_or_null(json_object_get(x, "partitionValues"));
    f->stats = json_text_or_null(json_object_get(x, "stats"));
    f->deletion_vector = json_text_or_null(json_object_get(x, "deletionVector"));
    f->num_records = f->stats ? stats_num_records(f->stats) : -1;
}

void tbl_file_release(struct tbl_file *f)
{
    free(f->path);
    free(f->partition_values);
    free(f->stats);
    free(f->deletion_vector);
    free(f->deleted_rows);
}

/* A file's key in the live set: its path, plus the unique id of its
 * deletion vector (PROTOCOL.md: add/remove are keyed by path and DV id). */
static char *file_key(const char *path, json_t *dv)
{
    if (!dv || json_is_null(dv))
        return sm_strdup(path);
    const char *t = json_string_value(json_object_get(dv, "storageType"));
    const char *p = json_string_value(json_object_get(dv, "pathOrInlineDv"));
    json_t *off = json_object_get(dv, "offset");
    if (json_is_integer(off))
        return sm_asprintf("%s\x01%s%s@%lld", path, sm_or(t, ""), sm_or(p, ""),
                           (long long)json_integer_value(off));
    return sm_asprintf("%s\x01%s%s", path, sm_or(t, ""), sm_or(p, ""));
}

void tbl_snapshot_free(struct tbl_snapshot *s)
{
    if (!s)
        return;
    free(s->location);
    free(s->table_id);
    free(s->schema_string);
    columns_free(s->columns, s->ncolumns);
    for (size_t i = 0; i < s->npartition_columns; i++)
        free(s->partition_columns[i]);
    free(s->partition_columns);
    for (size_t i = 0; i < s->nfiles; i++)
        tbl_file_release(&s->files[i]);
    free(s->files);
    free(s->commit_info);
    free(s->column_mapping);
    free(s->protocol_json);
    free(s->metadata_json);
    for (size_t i = 0; i < s->ntxn; i++)
        free(s->txn_app_ids[i]);
    free(s->txn_app_ids);
    free(s->txn_versions);
    free(s);
}

int64_t tbl_snapshot_txn(const struct tbl_snapshot *s, const char *app_id)
{
    for (size_t i = 0; s && i < s->ntxn; i++)
        if (!strcmp(s->txn_app_ids[i], app_id))
            return s->txn_versions[i];
    return -1;
}

char *tbl_snapshot_commit_field(const struct tbl_snapshot *s, const char *key)
{
    if (!s || !s->commit_info)
        return NULL;
    json_t *ci = json_loads(s->commit_info, 0, NULL);
    const char *v = json_string_value(json_object_get(ci, key));
    char *r = v ? sm_strdup(v) : NULL;
    json_decref(ci);
    return r;
}

struct replay {
    struct tbl_snapshot *s;
    struct sm_map live; /* path -> struct tbl_file * (heap) */
    size_t txn_alloc;
};


static int apply_action(struct replay *r, json_t *a, int64_t v, const char *file, size_t line,
                        struct sm_err *err)
{
    struct tbl_snapshot *s = r->s;
    json_t *x;
    if ((x = json_object_get(a, "protocol"))) {
        /* Reader features smelt implements; anything else is refused by name
         * rather than risking a wrong answer. */
        static const char *const supported[] = {"timestampNtz", "columnMapping", "deletionVectors",
                                                "vacuumProtocolCheck", NULL};
        json_int_t rv = json_integer_value(json_object_get(x, "minReaderVersion"));
        json_t *feats = json_object_get(x, "readerFeatures");
        free(s->protocol_json);
        s->protocol_json = json_dumps(x, JSON_COMPACT);
        if (rv > 3)
            return sm_err_set(err, SM_EINVALID,
                              "table '%s' needs Delta reader version %lld; smelt reads up to 3",
                              s->location, (long long)rv);
        size_t i;
        json_t *f;
        json_array_foreach(feats, i, f)
        {
            const char *name = json_string_value(f);
            bool ok = false;
            for (size_t k = 0; name && supported[k]; k++)
                ok |= !strcmp(name, supported[k]);
            if (name && !ok)
                return sm_err_set(err, SM_EINVALID,
                                  "table '%s' uses Delta reader feature '%s', which smelt does "
                                  "not support yet",
                                  s->location, name);
        }
    } else if ((x = json_object_get(a, "metaData"))) {
        const char *schema = json_string_value(json_object_get(x, "schemaString"));
        if (!schema)
            return sm_err_set(err, SM_EPARSE, "%s:%zu: metaData without schemaString", file, line);
        columns_free(s->columns, s->ncolumns);
        s->columns = NULL;
        s->ncolumns = 0;
        SM_TRY(parse_schema(schema, &s->columns, &s->ncolumns, err));
        free(s->schema_string);
        s->schema_string = sm_strdup(schema);
        free(s->table_id);
        s->table_id = json_text_or_null(json_object_get(x, "id"));
        free(s->metadata_json);
        s->metadata_json = json_dumps(x, JSON_COMPACT);
        const char *ci = json_string_value(
            json_object_get(json_object_get(x, "configuration"), "delta.checkpointInterval"));
        int64_t iv;
        s->checkpoint_interval = ci && !sm_parse_i64(ci, &iv) && iv > 0 ? iv : 10;
        free(s->column_mapping);
        const char *cm = json_string_value(
            json_object_get(json_object_get(x, "configuration"), "delta.columnMapping.mode"));
        s->column_mapping = cm && strcmp(cm, "none") ? sm_strdup(cm) : NULL;
        for (size_t i = 0; i < s->npartition_columns; i++)
            free(s->partition_columns[i]);
        free(s->partition_columns);
        json_t *pc = json_object_get(x, "partitionColumns");
        s->npartition_columns = json_array_size(pc);
        s->partition_columns = sm_calloc(s->npartition_columns, sizeof(char *));
        for (size_t i = 0; i < s->npartition_columns; i++)
            s->partition_columns[i] = sm_strdup(sm_or(json_string_value(json_array_get(pc, i)), ""));
    } else if ((x = json_object_get(a, "add"))) {
        const char *p = json_string_value(json_object_get(x, "path"));
        if (!p)
            return sm_err_set(err, SM_EPARSE, "%s:%zu: add without path", file, line);
        struct tbl_file *f = sm_calloc(1, sizeof(*f));
        tbl_file_from_add(x, f);
        char *key = file_key(f->path, json_object_get(x, "deletionVector"));
        struct tbl_file *old = sm_map_get(&r->live, key);
        if (old) {
            tbl_file_release(old);
            free(old);
        }
        sm_map_put(&r->live, key, f);
        free(key);
    } else if ((x = json_object_get(a, "remove"))) {
        const char *p = json_string_value(json_object_get(x, "path"));
        if (p) {
            char *d = tbl_uri_decode(p);
            char *key = file_key(d, json_object_get(x, "deletionVector"));
            struct tbl_file *old = sm_map_del(&r->live, key);
            if (old) {
                tbl_file_release(old);
                free(old);
            }
            free(key);
            free(d);
        }
    } else if ((x = json_object_get(a, "txn"))) {
        const char *app = json_string_value(json_object_get(x, "appId"));
        int64_t tv = json_integer_value(json_object_get(x, "version"));
        if (app) {
            size_t i;
            for (i = 0; i < s->ntxn; i++)
                if (!strcmp(s->txn_app_ids[i], app))
                    break;
            if (i == s->ntxn) {
                SM_ALLOC_GROW(s->txn_app_ids, s->ntxn + 1, r->txn_alloc);
                s->txn_versions = sm_realloc(s->txn_versions, r->txn_alloc * sizeof(int64_t));
                s->txn_app_ids[s->ntxn++] = sm_strdup(app);
            }
            s->txn_versions[i] = tv;
        }
    } else if ((x = json_object_get(a, "commitInfo"))) {
        free(s->commit_info);
        s->commit_info = json_dumps(x, JSON_COMPACT);
        json_t *ts = json_object_get(x, "timestamp");
        if (json_is_integer(ts))
            s->commit_timestamp = json_integer_value(ts);
        (void)v;
    }
    return 0;
}

int tbl_log_read_actions(const char *path, tbl_action_fn fn, void *ctx, struct sm_err *err)
{
    char *text = NULL;
    SM_TRY(sm_read_file(path, &text, NULL, err));
    size_t lineno = 0;
    int rc = 0;
    for (char *line = text, *next; line && *line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        if (!*line || (*line == '\r' && !line[1]))
            continue;
        json_error_t je;
        json_t *a = json_loads(line, 0, &je);
        if (!a) {
            rc = sm_err_set(err, SM_EPARSE, "%s:%zu: invalid JSON in Delta log: %s", path, lineno,
                            je.text);
            break;
        }
        rc = fn(a, path, lineno, ctx, err);
        json_decref(a);
    }
    free(text);
    return rc;
}

struct replay_step {
    struct replay *r;
    int64_t v;
};

static int replay_action(json_t *a, const char *path, size_t line, void *ctx, struct sm_err *err)
{
    struct replay_step *st = ctx;
    return apply_action(st->r, a, st->v, path, line, err);
}

static int replay_version(struct replay *r, int64_t v, struct sm_err *err)
{
    char *path = version_path(r->s->location, v);
    /* Only the commitInfo of the version we stop at describes the snapshot. */
    free(r->s->commit_info);
    r->s->commit_info = NULL;
    struct replay_step st = {r, v};
    int rc = tbl_log_read_actions(path, replay_action, &st, err);
    free(path);
    return rc;
}

static int cmp_file_path(const void *a, const void *b)
{
    return strcmp(((const struct tbl_file *)a)->path, ((const struct tbl_file *)b)->path);
}

/* Apply every action of a checkpoint (all its parts) through the same
 * apply_action() the JSON commits use: DuckDB turns each row into JSON. */
static int replay_checkpoint(struct replay *r, int64_t v, int parts, struct sm_err *err)
{
    struct eng_db *db;
    SM_TRY(aux_engine(&db, err));
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_adds(&q, "SELECT to_json(t) FROM read_parquet([");
    for (int p = 1; p <= parts; p++) {
        char *path =
            parts == 1
                ? sm_asprintf("%s/" LOG_DIR "/%020lld.checkpoint.parquet", r->s->location, (long long)v)
                : sm_asprintf("%s/" LOG_DIR "/%020lld.checkpoint.%010d.%010d.parquet",
                              r->s->location, (long long)v, p, parts);
        if (p > 1)
            (void)sm_buf_addc(&q, ',');
        (void)sm_buf_add_sql_str(&q, path);
        free(path);
    }
    (void)sm_buf_adds(&q, "], union_by_name=true) t");
    struct eng_result *res = NULL;
    int rc = eng_query(db, q.buf, &res, err);
    sm_buf_release(&q);
    if (rc)
        return sm_err_prefix(err, rc, "cannot read checkpoint %lld", (long long)v);
    for (size_t i = 0; i < eng_result_nrows(res) && !rc; i++) {
        json_t *row = json_loads(sm_or(eng_result_str(res, 0, i), "{}"), 0, NULL);
        const char *key;
        json_t *val;
        json_object_foreach(row, key, val)
        {
            if (json_is_null(val) || rc)
                continue;
            json_t *a = json_object();
            json_object_set(a, key, val);
            rc = apply_action(r, a, v, "checkpoint", i + 1, err);
            json_decref(a);
        }
        json_decref(row);
    }
    eng_result_free(res);
    return rc;
}

int tbl_snapshot_open(const char *location, int64_t version, struct tbl_snapshot **out,
                      struct sm_err *err)
{
    struct log_listing l;
    if (!list_log(location, &l) || l.latest < 0) {
        if (list_log(location, &l))
            listing_release(&l);
        return sm_err_set(err, SM_ENOTFOUND, "no Delta table at '%s' (no %s/*.json)", location,
                          LOG_DIR);
    }
    if (version > l.latest) {
        listing_release(&l);
        return sm_err_set(err, SM_ENOTFOUND, "table '%s' has no version %lld (latest is %lld)",
                          location, (long long)version, (long long)l.latest);
    }
    if (version < 0)
        version = l.latest;
    /* Start from the newest complete checkpoint at or before the version.
     * _last_checkpoint is only a hint; the listing is the truth (a corrupt
     * or stale hint must not change the answer). */
    int64_t start = -1;
    int parts = 0;
    for (size_t i = l.nckpt; i-- > 0;) {
        if (l.ckpt[i] <= version) {
            start = l.ckpt[i];
            parts = l.ckpt_parts[i];
            break;
        }
    }
    int64_t first_json = l.first_json;
    listing_release(&l);
    struct replay r = {.s = sm_calloc(1, sizeof(struct tbl_snapshot)), .live = SM_MAP_INIT};
    r.s->location = sm_strdup(location);
    r.s->version = version;
    r.s->checkpoint_version = start;
    int rc = 0;
    if (start < 0 && first_json > 0)
        rc = sm_err_set(err, SM_EPARSE,
                        "table '%s': the log starts at version %lld and has no checkpoint "
                        "before version %lld",
                        location, (long long)first_json, (long long)version);
    if (!rc && start >= 0)
        rc = replay_checkpoint(&r, start, parts, err);
    for (int64_t v = start + 1; v <= version && !rc; v++)
        rc = replay_version(&r, v, err);
    if (!rc && !r.s->schema_string)
        rc = sm_err_set(err, SM_EPARSE, "table '%s' has no metaData action up to version %lld",
                        location, (long long)version);
    /* Move the live set into a sorted array, so listings are deterministic. */
    r.s->files = sm_calloc(r.live.count, sizeof(struct tbl_file));
    for (size_t i = 0; i < r.live.nslots; i++) {
        struct tbl_file *f = r.live.slots[i].key ? r.live.slots[i].value : NULL;
        if (!f)
            continue;
        r.s->files[r.s->nfiles++] = *f;
        free(f);
        if (r.s->files[r.s->nfiles - 1].num_records >= 0)
            r.s->num_records += r.s->files[r.s->nfiles - 1].num_records;
    }
    sm_map_release(&r.live);
    qsort(r.s->files, r.s->nfiles, sizeof(struct tbl_file), cmp_file_path);
    /* Decode deletion vectors now, so reading a snapshot needs no more I/O
     * of the log and a bad DV fails the open, not a query. */
    for (size_t i = 0; i < r.s->nfiles && !rc; i++) {
        struct tbl_file *f = &r.s->files[i];
        if (!f->deletion_vector)
            continue;
        rc = tbl_dv_read(location, f->deletion_vector, &f->deleted_rows, &f->ndeleted, err);
        if (!rc && f->num_records >= 0)
            r.s->num_records -= (int64_t)f->ndeleted;
    }
    if (rc) {
        tbl_snapshot_free(r.s);
        return sm_err_prefix(err, rc, "cannot read Delta table '%s'", location);
    }
    *out = r.s;
    return 0;
}

const struct tbl_column *tbl_find_column(const struct tbl_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->ncolumns; i++)
        if (!strcmp(s->columns[i].name, name))
            return &s->columns[i];
    return NULL;
}

bool tbl_is_partition_col(const struct tbl_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->npartition_columns; i++)
        if (!strcmp(s->partition_columns[i], name))
            return true;
    return false;
}

/* Can DuckDB's hive partitioning read the partition values of every file
 * from its path? True for tables smelt writes: each value is non-null, plain
 * ASCII and appears verbatim as "<col>=<value>/" in the file's path. Spark
 * escapes some characters and writes NULL as __HIVE_DEFAULT_PARTITION__, so
 * such tables take the general path, which uses the log's values, as do
 * values DuckDB would read as NULL ("NULL", "null"). Values are read as text
 * (hive_types_autocast=false) and cast to the column's type, so "007" stays
 * "007". */
static bool hive_paths_match_log(const struct tbl_snapshot *s)
{
    bool ok = true;
    for (size_t i = 0; i < s->nfiles && ok; i++) {
        json_t *pv = json_loads(sm_or(s->files[i].partition_values, "{}"), 0, NULL);
        for (size_t k = 0; k < s->npartition_columns && ok; k++) {
            const char *v = json_string_value(json_object_get(pv, s->partition_columns[k]));
            if (!v || !*v || !strcasecmp(v, "null") ||
                strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_.:") != strlen(v)) {
                ok = false;
                break;
            }
            char *seg = sm_asprintf("%s=%s/", s->partition_columns[k], v);
            ok = strstr(s->files[i].path, seg) != NULL;
            free(seg);
        }
        json_decref(pv);
    }
    return ok;
}

static void add_file_list(struct sm_buf *b, const struct tbl_snapshot *s, const size_t *idx,
                          size_t n)
{
    (void)sm_buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char *p = sm_path_join(s->location, s->files[idx ? idx[i] : i].path);
        if (i)
            (void)sm_buf_addc(b, ',');
        (void)sm_buf_add_sql_str(b, p);
        free(p);
    }
    (void)sm_buf_addc(b, ']');
}

/* The select list; partition columns come from part_values (a JSON object
 * text) when given, else from the scan itself. */
static const char *phys_name(const struct tbl_column *c)
{
    return c->physical_name ? c->physical_name : c->name;
}

/* The select list; partition columns come from part_values (a JSON object
 * text, keyed by physical name) when given, else from the scan itself. Data
 * columns are read by their physical name (column mapping) and renamed. */
static void add_select_list(struct sm_buf *b, const struct tbl_snapshot *s, bool empty,
                            const char *part_values)
{
    json_t *pv = part_values ? json_loads(part_values, 0, NULL) : NULL;
    for (size_t i = 0; i < s->ncolumns; i++) {
        const struct tbl_column *c = &s->columns[i];
        bool part = tbl_is_partition_col(s, c->name);
        if (i)
            (void)sm_buf_adds(b, ", ");
        if (empty || (part && c->sql_type)) {
            (void)sm_buf_adds(b, "CAST(");
            if (empty) {
                (void)sm_buf_adds(b, "NULL");
            } else if (pv) {
                const char *v = json_string_value(json_object_get(pv, phys_name(c)));
                if (v)
                    (void)sm_buf_add_sql_str(b, v);
                else
                    (void)sm_buf_adds(b, "NULL");
            } else {
                (void)sm_buf_add_sql_ident(b, phys_name(c));
            }
            (void)sm_buf_addf(b, " AS %s) AS ", sm_or(c->sql_type, "VARCHAR"));
        } else if (part) {
            /* a partition column of a type we cannot cast: its string value */
            const char *v = pv ? json_string_value(json_object_get(pv, phys_name(c))) : NULL;
            if (v)
                (void)sm_buf_add_sql_str(b, v);
            else
                (void)sm_buf_adds(b, "NULL");
            (void)sm_buf_adds(b, " AS ");
        } else if (c->read_sql) {
            (void)sm_buf_adds(b, c->read_sql);
            (void)sm_buf_adds(b, " AS ");
        } else if (strcmp(phys_name(c), c->name)) {
            (void)sm_buf_add_sql_ident(b, phys_name(c));
            (void)sm_buf_adds(b, " AS ");
        }
        (void)sm_buf_add_sql_ident(b, c->name);
    }
    if (!s->ncolumns)
        (void)sm_buf_adds(b, "NULL AS no_columns");
    json_decref(pv);
}

void tbl_snapshot_view_sql(const struct tbl_snapshot *s, struct sm_buf *b)
{
    if (!s->nfiles) {
        (void)sm_buf_adds(b, "SELECT ");
        add_select_list(b, s, true, NULL);
        (void)sm_buf_adds(b, " WHERE false");
        return;
    }
    bool any_dv = false;
    for (size_t i = 0; i < s->nfiles; i++)
        any_dv |= s->files[i].ndeleted > 0;
    if (!any_dv && (!s->npartition_columns || (!s->column_mapping && hive_paths_match_log(s)))) {
        (void)sm_buf_adds(b, "SELECT ");
        add_select_list(b, s, false, NULL);
        (void)sm_buf_adds(b, " FROM read_parquet(");
        add_file_list(b, s, NULL, s->nfiles);
        (void)sm_buf_addf(b, ", union_by_name=true, hive_partitioning=%s)",
                          s->npartition_columns ? "true, hive_types_autocast=false" : "false");
        return;
    }
    /* General path: one scan per distinct partition tuple, values from the log. */
    size_t *idx = sm_calloc(s->nfiles, sizeof(size_t));
    bool *done = sm_calloc(s->nfiles, sizeof(bool));
    bool first = true;
    for (size_t i = 0; i < s->nfiles; i++) {
        if (done[i])
            continue;
        const char *pv = sm_or(s->files[i].partition_values, "{}");
        size_t n = 0;
        bool dv = s->files[i].ndeleted > 0;
        for (size_t j = i; j < s->nfiles && !(dv && n); j++) {
            if (!done[j] && (s->files[j].ndeleted > 0) == dv &&
                !strcmp(sm_or(s->files[j].partition_values, "{}"), pv)) {
                idx[n++] = j;
                done[j] = true;
            }
        }
        (void)sm_buf_adds(b, first ? "SELECT " : " UNION ALL SELECT ");
        first = false;
        add_select_list(b, s, false, pv);
        (void)sm_buf_adds(b, " FROM read_parquet(");
        add_file_list(b, s, idx, n);
        (void)sm_buf_addf(b, ", union_by_name=true, hive_partitioning=false%s)",
                          dv ? ", file_row_number=true" : "");
        if (dv) {
            const struct tbl_file *f = &s->files[i];
            (void)sm_buf_adds(b, " WHERE file_row_number NOT IN (");
            for (size_t k = 0; k < f->ndeleted; k++)
                (void)sm_buf_addf(b, "%s%llu", k ? "," : "", (unsigned long long)f->deleted_rows[k]);
            (void)sm_buf_adds(b, ")");
        }
    }
    free(idx);
    free(done);
}

/* --- checkpoints -------------------------------------------------------------- */

/* Checkpoint column types, as PROTOCOL.md's checkpoint schema (the subset
 * of fields smelt writes). */
static const char ckpt_columns[] =
    "columns={'txn': 'STRUCT(appId VARCHAR, \"version\" BIGINT, lastUpdated BIGINT)', "
    "'add': 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, "
    "modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR), "
    "deletionVector STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, \"offset\" INTEGER, "
    "sizeInBytes INTEGER, cardinality BIGINT, maxRowIndex BIGINT))', "
    "'remove': 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, "
    "extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)', "
    "'metaData': 'STRUCT(id VARCHAR, \"name\" VARCHAR, description VARCHAR, format "
    "STRUCT(provider VARCHAR, \"options\" MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, "
    "partitionColumns VARCHAR[], \"configuration\" MAP(VARCHAR, VARCHAR), createdTime BIGINT)', "
    "'protocol': 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures "
    "VARCHAR[], writerFeatures VARCHAR[])'}";

int tbl_checkpoint_write(const struct tbl_snapshot *snap, struct sm_err *err)
{
    if (!snap->protocol_json || !snap->metadata_json)
        return sm_err_set(err, SM_EINVALID, "table '%s' has no protocol or metaData to checkpoint",
                          snap->location);
    struct eng_db *db;
    SM_TRY(aux_engine(&db, err));
    /* Every live action as one JSON line; DuckDB types them into the
     * checkpoint's struct columns and writes the Parquet file. */
    struct sm_buf lines = SM_BUF_INIT;
    (void)sm_buf_addf(&lines, "{\"protocol\":%s}\n{\"metaData\":%s}\n", snap->protocol_json,
                      snap->metadata_json);
    for (size_t i = 0; i < snap->ntxn; i++) {
        (void)sm_buf_adds(&lines, "{\"txn\":{\"appId\":");
        (void)sm_buf_add_json_str(&lines, snap->txn_app_ids[i]);
        (void)sm_buf_addf(&lines, ",\"version\":%lld}}\n", (long long)snap->txn_versions[i]);
    }
    for (size_t i = 0; i < snap->nfiles; i++) {
        const struct tbl_file *f = &snap->files[i];
        (void)sm_buf_adds(&lines, "{\"add\":{\"path\":\"");
        add_uri_path(&lines, f->path);
        (void)sm_buf_addf(&lines, "\",\"partitionValues\":%s,\"size\":%lld,\"modificationTime\":%lld,"
                                  "\"dataChange\":false",
                          sm_or(f->partition_values, "{}"), (long long)f->size,
                          (long long)f->modification_time);
        if (f->stats) {
            (void)sm_buf_adds(&lines, ",\"stats\":");
            (void)sm_buf_add_json_str(&lines, f->stats);
        }
        if (f->deletion_vector)
            (void)sm_buf_addf(&lines, ",\"deletionVector\":%s", f->deletion_vector);
        (void)sm_buf_adds(&lines, "}}\n");
    }
    char *rnd = sm_random_hex(6);
    char *tmpjson = sm_asprintf("%s/" LOG_DIR "/.checkpoint-%s.ndjson", snap->location, rnd);
    char *tmppq = sm_asprintf("%s/" LOG_DIR "/.checkpoint-%s.parquet", snap->location, rnd);
    char *final = sm_asprintf("%s/" LOG_DIR "/%020lld.checkpoint.parquet", snap->location,
                              (long long)snap->version);
    free(rnd);
    struct sm_buf q = SM_BUF_INIT;
    int rc = sm_write_file_atomic(tmpjson, lines.buf, lines.len, err);
    if (!rc) {
        (void)sm_buf_adds(&q, "COPY (SELECT txn, \"add\", remove, metaData, protocol FROM read_json(");
        (void)sm_buf_add_sql_str(&q, tmpjson);
        (void)sm_buf_addf(&q, ", format='newline_delimited', %s)) TO ", ckpt_columns);
        (void)sm_buf_add_sql_str(&q, tmppq);
        (void)sm_buf_adds(&q, " (FORMAT parquet)");
        rc = eng_exec(db, q.buf, err);
    }
    if (!rc && rename(tmppq, final))
        rc = sm_err_set(err, SM_EIO, "cannot write checkpoint '%s': %s", final, strerror(errno));
    if (!rc) {
        size_t nactions = 2 + snap->ntxn + snap->nfiles;
        char *last = sm_asprintf("%s/" LOG_DIR "/_last_checkpoint", snap->location);
        char *body = sm_asprintf("{\"version\":%lld,\"size\":%zu,\"numOfAddFiles\":%zu}\n",
                                 (long long)snap->version, nactions, snap->nfiles);
        rc = sm_write_file_atomic(last, body, strlen(body), err);
        free(body);
        free(last);
    }
    unlink(tmpjson);
    unlink(tmppq);
    free(tmpjson);
    free(tmppq);
    free(final);
    sm_buf_release(&q);
    sm_buf_release(&lines);
    return rc ? sm_err_prefix(err, rc, "checkpoint of '%s'", snap->location) : 0;
}

/* --- history ---------------------------------------------------------------- */

void tbl_history_free(struct tbl_version_info *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].operation);
    free(h);
}

static int64_t stats_records(json_t *action)
{
    const char *st = json_string_value(json_object_get(action, "stats"));
    if (!st)
        return -1;
    json_t *j = json_loads(st, 0, NULL);
    json_t *nr = json_object_get(j, "numRecords");
    int64_t n = json_is_integer(nr) ? json_integer_value(nr) : -1;
    json_decref(j);
    return n;
}

/* Summarize one commit file. */
static int read_version_info(const char *location, int64_t v, struct tbl_version_info *out,
                             struct sm_err *err)
{
    char *path = version_path(location, v);
    char *text = NULL;
    int rc = sm_read_file(path, &text, NULL, err);
    free(path);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->version = v;
    bool removed_unknown = false;
    json_t *metrics = NULL;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        json_t *a = json_loads(line, 0, NULL), *x;
        if (!a)
            continue;
        if ((x = json_object_get(a, "commitInfo"))) {
            out->timestamp = json_integer_value(json_object_get(x, "timestamp"));
            free(out->operation);
            const char *op = json_string_value(json_object_get(x, "operation"));
            out->operation = op ? sm_strdup(op) : NULL;
            json_decref(metrics);
            metrics = json_incref(json_object_get(x, "operationMetrics"));
        } else if ((x = json_object_get(a, "add"))) {
            int64_t n = stats_records(x);
            out->files_added++;
            if (out->rows_added >= 0)
                out->rows_added = n < 0 ? -1 : out->rows_added + n;
        } else if ((x = json_object_get(a, "remove"))) {
            int64_t n = stats_records(x);
            out->files_removed++;
            if (n < 0)
                removed_unknown = true;
            else
                out->rows_removed += n;
        }
        json_decref(a);
    }
    if (removed_unknown) {
        /* Spark's removes carry no stats; its DELETE reports numDeletedRows */
        const char *d = json_string_value(json_object_get(metrics, "numDeletedRows"));
        int64_t n;
        out->rows_removed = d && !sm_parse_i64(d, &n) ? n : -1;
    }
    json_decref(metrics);
    free(text);
    return 0;
}

int tbl_history(const char *location, struct tbl_version_info **out, size_t *n,
                struct sm_err *err)
{
    struct log_listing l;
    if (!list_log(location, &l) || l.latest < 0 || l.first_json < 0) {
        if (l.latest >= 0 || l.first_json >= 0)
            listing_release(&l);
        return sm_err_set(err, SM_ENOTFOUND, "no Delta table at '%s'", location);
    }
    int64_t first = l.first_json, last = l.latest;
    listing_release(&l);
    struct tbl_version_info *h = sm_calloc((size_t)(last - first + 1), sizeof(*h));
    size_t cnt = 0;
    int rc = 0;
    for (int64_t v = first; v <= last && !rc; v++) {
        char *p = version_path(location, v);
        bool exists = sm_path_exists(p);
        free(p);
        if (exists)
            rc = read_version_info(location, v, &h[cnt++], err);
    }
    if (rc) {
        tbl_history_free(h, cnt);
        return rc;
    }
    *out = h;
    *n = cnt;
    return 0;
}

int tbl_version_at(const char *location, int64_t ts_ms, int64_t *out, struct sm_err *err)
{
    struct tbl_version_info *h;
    size_t n;
    SM_TRY(tbl_history(location, &h, &n, err));
    int64_t best = -1;
    for (size_t i = 0; i < n; i++)
        if (h[i].timestamp <= ts_ms)
            best = h[i].version;
    int64_t first = n ? h[0].timestamp : 0;
    tbl_history_free(h, n);
    if (best < 0) {
        char iso[40];
        sm_iso8601(first, iso, sizeof(iso));
        return sm_err_set(err, SM_ENOTFOUND,
                          "table '%s' did not exist yet at that time; its first version is from %s",
                          location, iso);
    }
    *out = best;
    return 0;
}

/* --- commits --------------------------------------------------------------- */

/* The partition columns of a commit are one comma-joined string, as
 * tbl_write_select() takes them ("region,day"). */

/* The next column of a list at *p (advanced), or NULL at its end. Caller
 * frees. */
static char *next_partition_column(const char **p)
{
    if (!*p || !**p)
        return NULL;
    size_t n = strcspn(*p, ",");
    char *name = sm_strndup(*p, n);
    *p += n + ((*p)[n] == ',');
    return name;
}

/* Is name one of the columns of the list? */
static bool in_partition_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, n))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* snap's partition columns as a list, or NULL. */
static char *snapshot_partition_list(const struct tbl_snapshot *snap)
{
    if (!snap->npartition_columns)
        return NULL;
    struct sm_buf b = SM_BUF_INIT;
    for (size_t i = 0; i < snap->npartition_columns; i++)
        (void)sm_buf_addf(&b, "%s%s", i ? "," : "", snap->partition_columns[i]);
    return sm_buf_detach(&b);
}

/* "region, day" (a model's partition_by) as a list: names trimmed, none
 * empty or repeated. */
static int parse_partition_list(const char *spec, char **out, struct sm_err *err)
{
    struct sm_buf b = SM_BUF_INIT;
    for (const char *p = spec;;) {
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *name = sm_strndup(s, (size_t)(e - s));
        int rc = 0;
        if (!*name)
            rc = sm_err_set(err, SM_ECONFIG, "partition_by '%s' has an empty column name", spec);
        else if (in_partition_list(b.buf, name))
            rc = sm_err_set(err, SM_ECONFIG, "partition_by '%s' names column '%s' twice", spec,
                            name);
        if (!rc)
            (void)sm_buf_addf(&b, "%s%s", b.len ? "," : "", name);
        free(name);
        if (rc) {
            sm_buf_release(&b);
            return rc;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
    *out = sm_buf_detach(&b);
    return 0;
}

struct tbl_commit {
    char *operation;
    char *schema_string;      /* set by tbl_write_select */
    char *partition_by;       /* partition columns, comma-joined ("region,day"), or NULL */
    bool needs_ntz;
    struct sm_buf adds;       /* JSON lines */
    struct sm_buf removes;    /* JSON lines */
    struct sm_buf txn;        /* JSON line or empty */
    struct sm_buf info;       /* extra commitInfo members: ,"k":"v" */
    int64_t rows_added;
    size_t files_added, files_removed;
    int64_t rows_removed;
    bool data_change; /* false for rewrites that change no rows (OPTIMIZE) */
    bool overwrite;   /* tbl_commit_remove_all was called (even with no files) */
    char *txn_app;    /* the txn action's appId, or NULL */
    int64_t txn_version;
};

struct tbl_commit *tbl_commit_new(const char *operation)
{
    struct tbl_commit *c = sm_calloc(1, sizeof(*c));
    c->operation = sm_strdup(operation);
    c->data_change = true;
    sm_buf_init(&c->adds, 0);
    sm_buf_init(&c->removes, 0);
    sm_buf_init(&c->txn, 0);
    sm_buf_init(&c->info, 0);
    return c;
}

void tbl_commit_free(struct tbl_commit *c)
{
    if (!c)
        return;
    free(c->operation);
    free(c->txn_app);
    free(c->schema_string);
    free(c->partition_by);
    sm_buf_release(&c->adds);
    sm_buf_release(&c->removes);
    sm_buf_release(&c->txn);
    sm_buf_release(&c->info);
    free(c);
}

int64_t tbl_commit_rows_added(const struct tbl_commit *c)
{
    return c->rows_added;
}

size_t tbl_commit_files_added(const struct tbl_commit *c)
{
    return c->files_added;
}

void tbl_commit_set_data_change(struct tbl_commit *c, bool data_change)
{
    c->data_change = data_change;
}

void tbl_commit_remove_file(struct tbl_commit *c, const struct tbl_file *f)
{
    (void)sm_buf_adds(&c->removes, "{\"remove\":{\"path\":\"");
    add_uri_path(&c->removes, f->path);
    (void)sm_buf_addf(&c->removes,
                      "\",\"deletionTimestamp\":%lld,\"dataChange\":%s,"
                      "\"extendedFileMetadata\":true,\"partitionValues\":%s,\"size\":%lld",
                      (long long)sm_now_ms(), c->data_change ? "true" : "false",
                      sm_or(f->partition_values, "{}"), (long long)f->size);
    if (f->num_records >= 0)
        (void)sm_buf_addf(&c->removes, ",\"stats\":\"{\\\"numRecords\\\":%lld}\"",
                          (long long)f->num_records);
    if (f->deletion_vector)
        (void)sm_buf_addf(&c->removes, ",\"deletionVector\":%s", f->deletion_vector);
    (void)sm_buf_adds(&c->removes, "}}\n");
    c->files_removed++;
    if (f->num_records > 0)
        c->rows_removed += f->num_records - (int64_t)f->ndeleted;
}

void tbl_commit_add_file(struct tbl_commit *c, const struct tbl_file *f)
{
    (void)sm_buf_adds(&c->adds, "{\"add\":{\"path\":\"");
    add_uri_path(&c->adds, f->path);
    (void)sm_buf_addf(&c->adds,
                      "\",\"partitionValues\":%s,\"size\":%lld,\"modificationTime\":%lld,"
                      "\"dataChange\":%s",
                      sm_or(f->partition_values, "{}"), (long long)f->size,
                      (long long)f->modification_time, c->data_change ? "true" : "false");
    if (f->stats) {
        (void)sm_buf_adds(&c->adds, ",\"stats\":");
        (void)sm_buf_add_json_str(&c->adds, f->stats);
    }
    if (f->deletion_vector)
        (void)sm_buf_addf(&c->adds, ",\"deletionVector\":%s", f->deletion_vector);
    (void)sm_buf_adds(&c->adds, "}}\n");
    c->files_added++;
    if (f->num_records > 0)
        c->rows_added += f->num_records - (int64_t)f->ndeleted;
}

void tbl_commit_set_schema(struct tbl_commit *c, const struct tbl_snapshot *snap)
{
    free(c->schema_string);
    c->schema_string = sm_strdup(snap->schema_string);
    free(c->partition_by);
    c->partition_by = snapshot_partition_list(snap);
    for (size_t i = 0; i < snap->ncolumns; i++)
        if (!strcmp(snap->columns[i].delta_type, "timestamp_ntz"))
            c->needs_ntz = true;
}

void tbl_commit_remove_all(struct tbl_commit *c, const struct tbl_snapshot *snap)
{
    c->overwrite = true;
    for (size_t i = 0; snap && i < snap->nfiles; i++)
        tbl_commit_remove_file(c, &snap->files[i]);
}

void tbl_commit_set_txn(struct tbl_commit *c, const char *app_id, int64_t version)
{
    free(c->txn_app);
    c->txn_app = sm_strdup(app_id);
    c->txn_version = version;
    sm_buf_reset(&c->txn);
    (void)sm_buf_adds(&c->txn, "{\"txn\":{\"appId\":");
    (void)sm_buf_add_json_str(&c->txn, app_id);
    (void)sm_buf_addf(&c->txn, ",\"version\":%lld,\"lastUpdated\":%lld}}\n", (long long)version,
                      (long long)sm_now_ms());
}

void tbl_commit_set_info(struct tbl_commit *c, const char *key, const char *value)
{
    (void)sm_buf_addc(&c->info, ',');
    (void)sm_buf_add_json_str(&c->info, key);
    (void)sm_buf_addc(&c->info, ':');
    (void)sm_buf_add_json_str(&c->info, value);
}

static void add_schema_field(struct sm_buf *b, const char *name, const char *delta_type, bool first)
{
    if (!first)
        (void)sm_buf_addc(b, ',');
    (void)sm_buf_adds(b, "{\"name\":");
    (void)sm_buf_add_json_str(b, name);
    (void)sm_buf_adds(b, ",\"type\":");
    (void)sm_buf_add_json_str(b, delta_type);
    (void)sm_buf_adds(b, ",\"nullable\":true,\"metadata\":{}}");
}

static bool schema_changed(const struct tbl_commit *c, const struct tbl_snapshot *snap)
{
    if (!c->schema_string)
        return false;
    if (!snap || strcmp(snap->schema_string, c->schema_string))
        return true;
    char *old = snapshot_partition_list(snap);
    bool changed = strcmp(sm_or(old, ""), sm_or(c->partition_by, ""));
    free(old);
    return changed;
}

/* An append may add columns (schema evolution) but not drop or retype
 * existing ones: old files would then be read with a wrong type. */
static int check_append_schema(const struct tbl_commit *c, const struct tbl_snapshot *snap,
                               struct sm_err *err)
{
    struct tbl_column *cols = NULL;
    size_t n = 0;
    SM_TRY(parse_schema(c->schema_string, &cols, &n, err));
    int rc = 0;
    for (size_t i = 0; i < snap->ncolumns && !rc; i++) {
        const struct tbl_column *old = &snap->columns[i];
        size_t k;
        for (k = 0; k < n; k++)
            if (!strcmp(cols[k].name, old->name))
                break;
        if (k == n)
            rc = sm_err_set(err, SM_EINVALID,
                            "table '%s': the new data has no column '%s' (type %s); appends may "
                            "add columns but not drop them",
                            snap->location, old->name, old->delta_type);
        else if (strcmp(cols[k].delta_type, old->delta_type))
            rc = sm_err_set(err, SM_EINVALID,
                            "table '%s': column '%s' changes type from %s to %s; cast it back in "
                            "the source's columns, or rebuild the table",
                            snap->location, old->name, old->delta_type, cols[k].delta_type);
    }
    columns_free(cols, n);
    return rc;
}

static int commit_once(struct tbl_commit *c, const char *location, int64_t read_version,
                       const struct tbl_snapshot *read_snap, int64_t *out_version,
                       struct sm_err *err)
{
    int64_t v = read_version + 1;
    if (read_snap && !c->overwrite && c->data_change && schema_changed(c, read_snap))
        SM_TRY(check_append_schema(c, read_snap, err));
    char *logdir = sm_asprintf("%s/" LOG_DIR, location);
    int rc = sm_mkdirs(logdir, err);
    if (rc) {
        free(logdir);
        return rc;
    }
    struct sm_buf b = SM_BUF_INIT;
    int64_t now = sm_now_ms();
    (void)sm_buf_addf(&b, "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":", (long long)now);
    (void)sm_buf_add_json_str(&b, c->operation);
    (void)sm_buf_addf(&b,
                      ",\"operationParameters\":{\"mode\":\"%s\"},\"readVersion\":%lld,"
                      "\"isBlindAppend\":%s,\"operationMetrics\":{\"numFiles\":\"%zu\","
                      "\"numOutputRows\":\"%lld\",\"numRemovedFiles\":\"%zu\"},"
                      "\"engineInfo\":\"smelt\"",
                      !c->data_change ? "Rewrite" : c->files_removed ? "Overwrite" : "Append",
                      (long long)read_version,
                      c->files_removed || !c->data_change ? "false" : "true", c->files_added,
                      (long long)c->rows_added, c->files_removed);
    (void)sm_buf_add(&b, c->info.buf, c->info.len);
    (void)sm_buf_adds(&b, "}}\n");
    if (schema_changed(c, read_snap)) {
        /* never downgrade a protocol: once (3,7) with timestampNtz, stay */
        bool ntz = c->needs_ntz ||
                   (read_snap && read_snap->protocol_json &&
                    strstr(read_snap->protocol_json, "timestampNtz"));
        if (ntz)
            (void)sm_buf_adds(&b, "{\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,"
                                  "\"readerFeatures\":[\"timestampNtz\"],"
                                  "\"writerFeatures\":[\"timestampNtz\"]}}\n");
        else
            (void)sm_buf_adds(&b, "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n");
        char *id = read_snap && read_snap->table_id ? sm_strdup(read_snap->table_id) : sm_uuid4();
        (void)sm_buf_addf(&b, "{\"metaData\":{\"id\":\"%s\",\"format\":{\"provider\":\"parquet\","
                              "\"options\":{}},\"schemaString\":",
                          id);
        free(id);
        (void)sm_buf_add_json_str(&b, c->schema_string);
        (void)sm_buf_adds(&b, ",\"partitionColumns\":[");
        const char *p = c->partition_by;
        for (char *name; (name = next_partition_column(&p)); free(name)) {
            if (b.buf[b.len - 1] != '[')
                (void)sm_buf_addc(&b, ',');
            (void)sm_buf_add_json_str(&b, name);
        }
        (void)sm_buf_addf(&b, "],\"configuration\":{},\"createdTime\":%lld}}\n", (long long)now);
    }
    (void)sm_buf_add(&b, c->txn.buf, c->txn.len);
    (void)sm_buf_add(&b, c->removes.buf, c->removes.len);
    (void)sm_buf_add(&b, c->adds.buf, c->adds.len);

    char *final = version_path(location, v);
    char *rnd = sm_random_hex(8);
    char *tmp = sm_asprintf("%s/.%020lld.json.%s.tmp", logdir, (long long)v, rnd);
    free(rnd);
    rc = sm_write_file_atomic(tmp, b.buf, b.len, err);
    if (!rc) {
        if (link(tmp, final)) {
            if (errno == EEXIST)
                rc = sm_err_set(err, SM_ECONFLICT,
                                "table '%s': version %lld was committed by another writer", location,
                                (long long)v);
            else
                rc = sm_err_set(err, SM_EIO, "cannot commit '%s': %s", final, strerror(errno));
        } else {
            /* Make the new directory entry durable before reporting success. */
            int dfd = open(logdir, O_RDONLY | O_DIRECTORY);
            if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
            }
        }
        unlink(tmp);
    }
    if (!rc && out_version)
        *out_version = v;
    if (!rc) {
        /* A checkpoint is an optimization: failing to write one is a warning. */
        int64_t interval = read_snap ? read_snap->checkpoint_interval : 10;
        struct tbl_snapshot *now = NULL;
        struct sm_err ce = SM_ERR_INIT;
        if (interval > 0 && v > 0 && v % interval == 0 &&
            (tbl_snapshot_open(location, v, &now, &ce) || tbl_checkpoint_write(now, &ce)))
            sm_warn("%s", ce.msg);
        tbl_snapshot_free(now);
    }
    free(tmp);
    free(final);
    free(logdir);
    sm_buf_release(&b);
    return rc;
}

/* Optimistic concurrency (PROTOCOL.md "Optimistic Concurrency Control"): a
 * blind append that loses the race for a version cannot conflict with what
 * the winner did, so it is retried at the next version, unless the winner
 * already recorded this commit's txn (then it was applied: exactly once). A
 * commit that removes files read at read_version fails with a clear
 * conflict: the files it rewrote may have changed. */
int tbl_commit_write(struct tbl_commit *c, const char *location, int64_t read_version,
                     const struct tbl_snapshot *read_snap, int64_t *out_version,
                     struct sm_err *err)
{
    struct tbl_snapshot *latest = NULL;
    int rc = SM_ECONFLICT;
    for (int attempt = 0; attempt < 20 && rc == SM_ECONFLICT; attempt++) {
        struct sm_err e = SM_ERR_INIT;
        rc = commit_once(c, location, read_version, latest ? latest : read_snap, out_version, &e);
        if (rc != SM_ECONFLICT || c->overwrite || c->files_removed || !c->data_change) {
            if (rc == SM_ECONFLICT)
                rc = sm_err_set(err, rc,
                                "table '%s' changed while this commit was prepared (another "
                                "writer committed version %lld); run again",
                                location, (long long)read_version + 1);
            else if (rc)
                sm_err_set(err, rc, "%s", e.msg);
            break;
        }
        tbl_snapshot_free(latest);
        latest = NULL;
        rc = tbl_snapshot_open(location, -1, &latest, err);
        if (rc)
            break;
        int64_t mine = c->txn_app ? tbl_snapshot_txn(latest, c->txn_app) : -1;
        if (c->txn_app && mine >= c->txn_version) {
            rc = sm_err_set(err, SM_ECONFLICT,
                            "table '%s': another writer already committed txn %lld of '%s'",
                            location, (long long)c->txn_version, c->txn_app);
            break;
        }
        read_version = latest->version;
        rc = SM_ECONFLICT;
    }
    tbl_snapshot_free(latest);
    return rc;
}

/* --- writing data ------------------------------------------------------------ */

struct out_col {
    char *name;
    char *sql_type;
    char *delta_type;
    const char *cast;
};

/* A DuckDB stats value (as RETURN_STATS prints it) as a Delta stats JSON
 * value, or false when the type gets no min/max. */
static bool add_stat_value(struct sm_buf *b, const char *delta_type, const char *v)
{
    if (!strcmp(delta_type, "boolean") || !strcmp(delta_type, "binary"))
        return false;
    if (!strcmp(delta_type, "string")) {
        if (strlen(v) > 256)
            return false;
        (void)sm_buf_add_json_str(b, v);
        return true;
    }
    if (!strcmp(delta_type, "date")) {
        (void)sm_buf_add_json_str(b, v);
        return true;
    }
    if (!strcmp(delta_type, "timestamp_ntz") || !strcmp(delta_type, "timestamp")) {
        /* "2026-01-01 10:00:00[.ffffff][+00]" -> "2026-01-01T10:00:00.000[Z]" */
        struct sm_buf t = SM_BUF_INIT;
        size_t n = strcspn(v, "+");
        (void)sm_buf_add(&t, v, n);
        if (t.len > 10 && t.buf[10] == ' ')
            t.buf[10] = 'T';
        if (!strchr(t.buf, '.'))
            (void)sm_buf_adds(&t, ".000");
        if (!strcmp(delta_type, "timestamp"))
            (void)sm_buf_addc(&t, 'Z');
        (void)sm_buf_add_json_str(b, t.buf);
        sm_buf_release(&t);
        return true;
    }
    if (!strcmp(delta_type, "float") || !strcmp(delta_type, "double")) {
        char *end;
        double d = strtod(v, &end);
        if (*end || isnan(d) || isinf(d))
            return false;
    }
    /* integers, decimals, finite floats: DuckDB prints valid JSON numbers */
    if (!*v || strspn(v, "-+0123456789.eE") != strlen(v))
        return false;
    (void)sm_buf_adds(b, v);
    return true;
}

/* Append ,"<delta_key>":{col: value...} taking each column's <duck_key>
 * from DuckDB's column_statistics. */
static void add_stats_member(struct sm_buf *b, json_t *colstats, const struct out_col *cols,
                             size_t ncols, const char *partition_by, const char *delta_key,
                             const char *duck_key)
{
    bool is_count = !strcmp(duck_key, "null_count");
    (void)sm_buf_addf(b, ",\"%s\":{", delta_key);
    bool first = true;
    for (size_t i = 0; i < ncols; i++) {
        if (in_partition_list(partition_by, cols[i].name))
            continue;
        char *qname = sm_asprintf("\"%s\"", cols[i].name);
        json_t *cs = json_object_get(colstats, qname);
        if (!cs)
            cs = json_object_get(colstats, cols[i].name);
        free(qname);
        const char *v = json_string_value(json_object_get(cs, duck_key));
        if (!v)
            continue;
        struct sm_buf val = SM_BUF_INIT;
        bool ok = is_count ? (strspn(v, "0123456789") == strlen(v) && *v &&
                              !sm_buf_adds(&val, v))
                           : add_stat_value(&val, cols[i].delta_type, v);
        if (ok) {
            if (!first)
                (void)sm_buf_addc(b, ',');
            first = false;
            (void)sm_buf_add_json_str(b, cols[i].name);
            (void)sm_buf_addc(b, ':');
            (void)sm_buf_add(b, val.buf, val.len);
        }
        sm_buf_release(&val);
    }
    (void)sm_buf_addc(b, '}');
}

static void out_cols_free(struct out_col *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].sql_type);
        free(cols[i].delta_type);
    }
    free(cols);
}

/* Describe select_sql's columns and map them to Delta types. */
static int describe_select(struct eng_db *db, const char *select_sql, struct out_col **out,
                           size_t *n, struct sm_err *err)
{
    struct sm_buf q = SM_BUF_INIT;
    (void)sm_buf_addf(&q, "DESCRIBE %s\n", select_sql);
    struct eng_result *r;
    int rc = eng_query(db, q.buf, &r, err);
    sm_buf_release(&q);
    if (rc)
        return rc;
    size_t nr = eng_result_nrows(r);
    struct out_col *cols = sm_calloc(nr, sizeof(*cols));
    for (size_t i = 0; i < nr; i++) {
        cols[i].name = sm_strdup(eng_result_str(r, 0, i));
        cols[i].sql_type = sm_strdup(eng_result_str(r, 1, i));
        cols[i].delta_type = delta_type_of(cols[i].sql_type, &cols[i].cast);
        if (!cols[i].delta_type) {
            rc = sm_err_set(err, SM_EINVALID,
                            "column '%s' has type %s, which smelt cannot store in a Delta table "
                            "yet: cast it to a scalar type",
                            cols[i].name, cols[i].sql_type);
            *n = i + 1;
            eng_result_free(r);
            out_cols_free(cols, i + 1);
            return rc;
        }
    }
    eng_result_free(r);
    *out = cols;
    *n = nr;
    return 0;
}

/* A write prepared by tbl_write_prepare(): the COPY of a SELECT and the
 * schema the files it writes will have. */
struct tbl_write {
    char *location;
    char *partition_by;
    struct out_col *cols;
    size_t ncols;
    char *copy_sql;
    char *schema_string;
    bool needs_ntz;
    char *path; /* the one data file written (no partitioning), else NULL */
};

void tbl_write_free(struct tbl_write *w)
{
    if (!w)
        return;
    free(w->location);
    free(w->partition_by);
    out_cols_free(w->cols, w->ncols);
    free(w->copy_sql);
    free(w->schema_string);
    free(w->path);
    free(w);
}

static int write_prepare(struct eng_db *db, const char *location, const char *select_sql,
                         const char *partition_by, struct tbl_write **out, struct sm_err *err)
{
    struct tbl_write *w = sm_calloc(1, sizeof(*w));
    struct sm_buf q = SM_BUF_INIT, schema = SM_BUF_INIT;
    int rc = 0;
    /* the partition columns as a list */
    if (partition_by && (rc = parse_partition_list(partition_by, &w->partition_by, err)))
        goto out;
    if ((rc = describe_select(db, select_sql, &w->cols, &w->ncols, err)))
        goto out;
    w->location = sm_strdup(location);
    (void)sm_buf_adds(&schema, "{\"type\":\"struct\",\"fields\":[");
    (void)sm_buf_adds(&q, "COPY (SELECT ");
    for (size_t i = 0; i < w->ncols; i++) {
        const struct out_col *c = &w->cols[i];
        if (i)
            (void)sm_buf_adds(&q, ", ");
        if (c->cast) {
            (void)sm_buf_adds(&q, "CAST(");
            (void)sm_buf_add_sql_ident(&q, c->name);
            (void)sm_buf_addf(&q, " AS %s) AS ", c->cast);
        }
        (void)sm_buf_add_sql_ident(&q, c->name);
        add_schema_field(&schema, c->name, c->delta_type, i == 0);
        if (!strcmp(c->delta_type, "timestamp_ntz"))
            w->needs_ntz = true;
    }
    (void)sm_buf_adds(&schema, "]}");
    /* the column of the list that the query lacks */
    const char *p = w->partition_by;
    for (char *name; !rc && (name = next_partition_column(&p)); free(name)) {
        bool there = false;
        for (size_t i = 0; i < w->ncols && !there; i++)
            there = !strcmp(w->cols[i].name, name);
        if (!there)
            rc = sm_err_set(err, SM_ECONFIG,
                            "partition_by column '%s' is not in the query's output", name);
    }
    if (rc)
        goto out;
    (void)sm_buf_addf(&q, " FROM (%s\n)) TO ", select_sql);
    if (w->partition_by) {
        /* Hive-style nested folders, region=West/day=2026-01-30/; DuckDB
         * percent-encodes special characters in the values and writes NULL
         * as "NULL" (the log's partitionValues are the truth) */
        (void)sm_buf_add_sql_str(&q, location);
        (void)sm_buf_adds(&q, " (FORMAT parquet, PARTITION_BY (");
        p = w->partition_by;
        for (char *name; (name = next_partition_column(&p)); free(name)) {
            if (q.buf[q.len - 1] != '(')
                (void)sm_buf_adds(&q, ", ");
            (void)sm_buf_add_sql_ident(&q, name);
        }
        (void)sm_buf_adds(&q, "), APPEND true, FILENAME_PATTERN 'part-{uuid}'");
    } else {
        char *uuid = sm_uuid4();
        w->path = sm_asprintf("%s/part-%s.parquet", location, uuid);
        free(uuid);
        (void)sm_buf_add_sql_str(&q, w->path);
        (void)sm_buf_adds(&q, " (FORMAT parquet");
    }
    (void)sm_buf_adds(&q, ", RETURN_STATS true)");
    rc = sm_mkdirs(location, err);
    w->copy_sql = sm_buf_detach(&q);
    w->schema_string = sm_buf_detach(&schema);
out:
    sm_buf_release(&q);
    sm_buf_release(&schema);
    if (rc)
        tbl_write_free(w);
    else
        *out = w;
    return rc;
}

int tbl_write_prepare(struct eng_db *db, const char *location, const char *select_sql,
                      struct tbl_write **out, struct sm_err *err)
{
    return write_prepare(db, location, select_sql, NULL, out, err);
}

const char *tbl_write_sql(const struct tbl_write *w)
{
    return w->copy_sql;
}

const char *tbl_write_path(const struct tbl_write *w)
{
    return w->path;
}

int tbl_write_record(const struct tbl_write *w, struct tbl_commit *c, const struct eng_result *r,
                     int64_t *out_rows, struct sm_err *err)
{
    const char *location = w->location;
    int ifile = eng_result_colidx(r, "filename"), icount = eng_result_colidx(r, "count"),
        isize = eng_result_colidx(r, "file_size_bytes"),
        istats = eng_result_colidx(r, "column_statistics"),
        iparts = eng_result_colidx(r, "partition_keys");
    if (ifile < 0 || icount < 0 || isize < 0 || istats < 0)
        return sm_err_set(err, SM_EINTERNAL, "the result is not a COPY ... RETURN_STATS result");
    free(c->schema_string);
    c->schema_string = sm_strdup(w->schema_string);
    free(c->partition_by);
    c->partition_by = w->partition_by ? sm_strdup(w->partition_by) : NULL;
    c->needs_ntz = c->needs_ntz || w->needs_ntz;
    int64_t total = 0;
    size_t loclen = strlen(location);
    for (size_t i = 0; i < eng_result_nrows(r); i++) {
        const char *fname = eng_result_str(r, ifile, i);
        int64_t count = 0, size = 0;
        (void)sm_parse_i64(eng_result_str(r, icount, i), &count);
        (void)sm_parse_i64(eng_result_str(r, isize, i), &size);
        if (!fname || strncmp(fname, location, loclen) || fname[loclen] != '/')
            return sm_err_set(err, SM_EINTERNAL, "duckdb wrote '%s' outside '%s'",
                              fname ? fname : "?", location);
        if (count == 0) { /* an empty result still writes one empty file */
            unlink(fname);
            continue;
        }
        total += count;
        json_t *stats = json_loads(sm_or(eng_result_str(r, istats, i), "{}"), 0, NULL);
        (void)sm_buf_adds(&c->adds, "{\"add\":{\"path\":\"");
        add_uri_path(&c->adds, fname + loclen + 1);
        (void)sm_buf_adds(&c->adds, "\",\"partitionValues\":");
        if (c->partition_by) {
            /* one value per partition column, as DuckDB casts it to text
             * (dates ISO, as PROTOCOL.md's partition value serialization
             * wants); NULL is null */
            json_t *pk = json_loads(sm_or(eng_result_str(r, iparts, i), "{}"), 0, NULL);
            (void)sm_buf_adds(&c->adds, "{");
            const char *pp = c->partition_by;
            for (char *name; (name = next_partition_column(&pp)); free(name)) {
                const char *pv = json_string_value(json_object_get(pk, name));
                if (c->adds.buf[c->adds.len - 1] != '{')
                    (void)sm_buf_addc(&c->adds, ',');
                (void)sm_buf_add_json_str(&c->adds, name);
                (void)sm_buf_addc(&c->adds, ':');
                if (pv)
                    (void)sm_buf_add_json_str(&c->adds, pv);
                else
                    (void)sm_buf_adds(&c->adds, "null");
            }
            (void)sm_buf_adds(&c->adds, "}");
            json_decref(pk);
        } else {
            (void)sm_buf_adds(&c->adds, "{}");
        }
        (void)sm_buf_addf(&c->adds, ",\"size\":%lld,\"modificationTime\":%lld,\"dataChange\":%s,"
                                    "\"stats\":",
                          (long long)size, (long long)sm_now_ms(),
                          c->data_change ? "true" : "false");
        struct sm_buf st = SM_BUF_INIT;
        (void)sm_buf_addf(&st, "{\"numRecords\":%lld", (long long)count);
        add_stats_member(&st, stats, w->cols, w->ncols, c->partition_by, "minValues", "min");
        add_stats_member(&st, stats, w->cols, w->ncols, c->partition_by, "maxValues", "max");
        add_stats_member(&st, stats, w->cols, w->ncols, c->partition_by, "nullCount", "null_count");
        (void)sm_buf_addc(&st, '}');
        (void)sm_buf_add_json_str(&c->adds, st.buf);
        sm_buf_release(&st);
        (void)sm_buf_adds(&c->adds, "}}\n");
        json_decref(stats);
        c->files_added++;
    }
    c->rows_added += total;
    if (out_rows)
        *out_rows = total;
    return 0;
}

int tbl_write_select(struct eng_db *db, const char *location, const char *select_sql,
                     const char *partition_by, struct tbl_commit *c, int64_t *out_rows,
                     struct sm_err *err)
{
    struct tbl_write *w = NULL;
    struct eng_result *r = NULL;
    SM_TRY(write_prepare(db, location, select_sql, partition_by, &w, err));
    int rc = 0;
    /* DuckDB keeps 100 partition files open by default and starts a new
     * file when it reopens a partition: a year of daily partitions would get
     * several files each, and queries that prune to one day read them all.
     * Each open file costs a writer's buffers, hence a cap. */
    if (w->partition_by)
        rc = eng_exec(db, "SET partitioned_write_max_open_files = 1024", err);
    if (!rc)
        rc = eng_query(db, w->copy_sql, &r, err);
    if (rc && w->path)
        unlink(w->path); /* what a COPY that failed wrote is no table data */
    if (!rc)
        rc = tbl_write_record(w, c, r, out_rows, err);
    eng_result_free(r);
    tbl_write_free(w);
    return rc;
}
