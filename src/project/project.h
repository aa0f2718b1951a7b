/*
 * project — reads a smelt project directory (smelt.yml, sources/<name>.yml,
 * models/<zone>/<name>.sql with an optional <name>.yml beside it) into a
 * validated, in-memory struct prj_project. The only module that includes
 * libyaml.
 *
 * Every key is described once, in a table of known keys per section
 * {key, type, required, default, help}; validation, defaults and the
 * docs come from those tables. Errors name the file and line and what to
 * change, e.g.
 *
 *     sources/orders.yml:4: unknown key 'delimter' (did you mean 'delimiter'?)
 *
 * Usage:
 *
 *     struct prj_project *p;
 *     if (prj_load("shop", &p, &err))
 *         return err.code;           // SM_ECONFIG, err.msg has file:line
 *     for (size_t i = 0; i < p->nsources; i++) ...
 *     prj_free(p);
 *
 * prj_load() checks only what can be checked without DuckDB: YAML syntax,
 * known keys, types, required fields, names. Model dependencies and cycles are
 * resolved by transform/ and orchestrate/, which use DuckDB's parser.
 */
#ifndef SM_PROJECT_H
#define SM_PROJECT_H

#include "util/util.h"

struct prj_column {
    char *name;
    char *type;    /* DuckDB type, e.g. "BIGINT", "DECIMAL(12,2)" */
    bool nullable; /* default true */
    int line;      /* line in the source file */
};

/* In the order of the words in project.c's format_values[]. tsv is CSV with a
 * tab as default delimiter. */
enum prj_format { PRJ_FMT_CSV, PRJ_FMT_NDJSON, PRJ_FMT_JSON, PRJ_FMT_PARQUET, PRJ_FMT_TSV };

/* One entry of a string → string mapping (params:, headers:), in file order.
 * value is kept as written: "${env:NAME}" and "${secret:NAME}" are resolved
 * by ingest/ when the request is made, so secrets never sit in the struct. */
struct prj_kv {
    char *name;
    char *value;
    int line;
};

struct prj_kvs {
    struct prj_kv *items;
    size_t n;
};

/* A list of strings in file order. */
struct prj_strs {
    char **v;
    size_t n;
};

enum prj_paginate_type {
    PRJ_PAGE_NONE,
    PRJ_PAGE_OFFSET,
    PRJ_PAGE_PAGE,
    PRJ_PAGE_CURSOR,
    PRJ_PAGE_NEXT_URL,
    PRJ_PAGE_LINK_HEADER,
};

/* paginate: how to ask for the next page and when to stop. Unused fields
 * keep their defaults. */
struct prj_paginate {
    enum prj_paginate_type type; /* default none: one request */
    char *limit_param;           /* default "limit"; sent when limit > 0 */
    int limit;                   /* page size asked for; 0 = not sent */
    char *offset_param;          /* offset: default "offset" */
    char *page_param;            /* page: default "page" */
    int start_page;              /* page: default 1 */
    char *cursor_path;           /* cursor: where the next cursor is in a response */
    char *cursor_param;          /* cursor: default "cursor" */
    char *next_url_path;         /* next_url: where the next URL is in a response */
    char *has_more_path;         /* stop when the value here is false; or NULL */
    char *total_path;            /* offset: total records; page: total pages; or NULL */
    int max_pages;               /* 0 = no limit */
    bool stop_on_empty;          /* default true: a page without records ends */
};

enum prj_auth_type {
    PRJ_AUTH_NONE,
    PRJ_AUTH_BEARER,
    PRJ_AUTH_BASIC,
    PRJ_AUTH_API_KEY,
    PRJ_AUTH_OAUTH2_CC, /* OAuth 2.0 client credentials grant (RFC 6749 §4.4) */
};

/* auth: strings as written (see struct prj_kv). */
struct prj_auth {
    enum prj_auth_type type; /* default none */
    char *token;             /* bearer: the token; api_key: the key */
    char *username;          /* basic */
    char *password;          /* basic */
    char *name;              /* api_key: header or query parameter name */
    char *in;                /* api_key: "header" (default) or "query" */
    /* oauth2_client_credentials: */
    char *token_url; /* absolute, or relative to base_url */
    char *client_id;
    char *client_secret;         /* always a ${...} reference (checked at load) */
    char *scope;                 /* or NULL */
    struct prj_kvs token_params; /* extra form fields, e.g. audience */
    char *client_auth;           /* "basic" (default, RFC 6749 §2.3.1) or "body" */
};

/* incremental: ask only for records newer than the last run's. */
struct prj_incremental {
    char *cursor_field; /* field of a record whose maximum is the watermark */
    char *param;        /* query parameter the watermark is sent as */
    int lookback;       /* seconds subtracted from the watermark; default 0 */
};

/* kind: rest — an HTTP JSON API (DESIGN.md §7). */
struct prj_rest {
    char *base_url;
    char *resource; /* path under base_url (key "resource" or "path"), or NULL */
    char *method;   /* "GET" (default) or "POST" */
    char *body;     /* JSON text sent with POST, or NULL */
    struct prj_kvs params;
    struct prj_kvs headers;
    char *records; /* path to the records in a response, e.g. "data.items[*]"; NULL =
                      the response itself ("$") */
    struct prj_paginate paginate;
    struct prj_auth auth;
    struct prj_incremental incremental;
    /* A child endpoint: the {field} placeholders of resource and of params
     * values (util/tmpl.h) are filled from each record of the source named
     * parent, another rest source of the project. */
    char *parent;              /* or NULL */
    int parent_line;           /* line of 'parent:' in the source file */
    char *include_from_parent; /* more parent fields copied to each row, comma-joined, or NULL */
    int timeout;               /* seconds per request, default 30 */
    int connect_timeout;       /* seconds, default 10 */
    int retries;               /* default 5 */
    double rate_limit;         /* requests per second; 0 = unlimited */
};

struct prj_source {
    char *name; /* file name without .yml: the bronze table name */
    char *file; /* path of the .yml, relative to the project root */
    char *kind; /* "files" or "rest" */
    char *path; /* files: directory to watch, absolute (resolved against the root);
                   rest: NULL (a "path:" key is read into rest.resource) */
    char *glob; /* pattern of the files' paths relative to path, default "*": fnmatch
                   per '/'-separated segment, "**" matching any number of folders;
                   a "path" written with wildcards is split into the folder before
                   them and this pattern */
    enum prj_format format;
    /* CSV options (defaults: header true, delimiter ",", quote "\"") */
    bool header;
    char *delimiter;
    char *quote;
    char *escape;               /* NULL = DuckDB default */
    char *null_string;          /* NULL = none */
    struct prj_strs null_strings; /* texts that mean NULL: null_strings and null_string */
    char *date_format;          /* NULL = ISO */
    char *timestamp_format;     /* NULL = ISO */
    struct prj_column *columns; /* in declaration order */
    size_t ncolumns;
    char *schema_drift;   /* "evolve" (default), "fail" or "quarantine" */
    char *description;    /* or NULL */
    struct prj_rest rest; /* kind: rest only; zero/defaults otherwise */
};

enum prj_materialized { PRJ_MAT_TABLE, PRJ_MAT_VIEW, PRJ_MAT_INCREMENTAL, PRJ_MAT_SNAPSHOT };

struct prj_model {
    char *zone;     /* "silver" or "gold" */
    char *name;     /* file name without .sql */
    char *sql_file; /* relative to the project root, e.g. models/silver/orders.sql */
    char *yml_file; /* NULL when there is no <name>.yml */
    char *sql;      /* the SELECT as read, up to its last token: a final ';'
                       and trailing comments are removed, so callers can
                       wrap it, e.g. "CREATE TABLE t AS (" sql ")" */
    enum prj_materialized materialized; /* default table */
    char *partition_by;                 /* column name, comma-joined list ("region,day" or
                                           "region, day" as written) or NULL */
    char *unique_key;                   /* comma-joined column list, e.g. "a,b", or NULL */
    /* incremental: "append", "merge" or "insert_overwrite" (set from the
     * keys present when not written); NULL for other materializations */
    char *incremental_strategy;
    /* snapshot (SCD type 2): */
    char *snapshot_strategy; /* "timestamp" (default) or "check" */
    char *updated_at;        /* strategy timestamp: column, default "updated_at" */
    char *check_cols;        /* strategy check: comma-joined columns, or "all" */
    char *hard_deletes;      /* "ignore" (default) or "invalidate" */
    char *description;       /* or NULL */
};

struct prj_project {
    char *root; /* absolute path of the project directory */
    char *name;
    char *lake;      /* absolute path of the lake root (a URL such as
                        s3://bucket/prefix is kept as written) */
    char *state_dir; /* absolute path of .smelt */
    /* defaults: */
    char *memory_limit;   /* default "4GB" */
    int threads;          /* default 0 = all cores */
    char *temp_directory; /* absolute; default <root>/.smelt/tmp */
    int retries;          /* default 0: times a failed task is retried */
    int max_expansion;    /* default 1000: the decompression-bomb guard */
    struct prj_source *sources;
    size_t nsources;
    struct prj_model *models;
    size_t nmodels;
};

/* Load and validate the project in dir. On failure *out is untouched, the
 * error is SM_ECONFIG (or SM_EIO/SM_ENOTFOUND) with "file:line: message". The
 * caller frees *out with prj_free(). */
int prj_load(const char *dir, struct prj_project **out, struct sm_err *err) SM_MUST_USE;
/* prj_load() that lets the CSV or TSV source named source (may be NULL)
 * have no columns yet: for `smelt ingest --infer`, which writes them. */
int prj_load_infer(const char *dir, const char *source, struct prj_project **out,
                   struct sm_err *err) SM_MUST_USE;
void prj_free(struct prj_project *p);

/* Write cols (name and type of each, in order) as the `columns:` block of
 * src's file, sources/<name>.yml, editing its text as little as possible:
 * an existing block is replaced (only when force; otherwise SM_ECONFIG
 * naming its line), else one is appended; comments and other keys stay as
 * written. date_format and timestamp_format (each may be NULL) are
 * written as keys before the block where src sets none. The file is
 * replaced atomically and must load again, or it is put back as it was. */
int prj_source_write_columns(const struct prj_project *p, const struct prj_source *src,
                             const struct prj_column *cols, size_t n, bool force,
                             const char *date_format, const char *timestamp_format,
                             struct sm_err *err) SM_MUST_USE;

/* Value of name in kv (borrowed, as written), or NULL. */
const char *prj_kvs_get(const struct prj_kvs *kv, const char *name);
void prj_kvs_release(struct prj_kvs *kv);

/* Look up a source or model by name; NULL when absent. Borrowed. */
const struct prj_source *prj_find_source(const struct prj_project *p, const char *name);
const struct prj_model *prj_find_model(const struct prj_project *p, const char *zone,
                                       const char *name);

/* Print the table of known keys as Markdown (docs/project.md is generated
 * from it by `smelt validate --keys`). */
void prj_print_keys(FILE *out);

const char *prj_format_name(enum prj_format f);

#endif
