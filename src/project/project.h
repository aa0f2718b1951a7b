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

enum prj_format { PRJ_FMT_CSV, PRJ_FMT_NDJSON, PRJ_FMT_JSON, PRJ_FMT_PARQUET };

struct prj_source {
    char *name; /* file name without .yml: the bronze table name */
    char *file; /* path of the .yml, relative to the project root */
    char *kind; /* "files" (only kind so far) */
    char *path; /* directory to watch, absolute (resolved against the root) */
    char *glob; /* fnmatch pattern for file names, default "*" */
    enum prj_format format;
    /* CSV options (defaults: header true, delimiter ",", quote "\"") */
    bool header;
    char *delimiter;
    char *quote;
    char *escape;               /* NULL = DuckDB default */
    char *null_string;          /* NULL = none */
    char *date_format;          /* NULL = ISO */
    char *timestamp_format;     /* NULL = ISO */
    struct prj_column *columns; /* in declaration order */
    size_t ncolumns;
    char *schema_drift; /* "evolve" (default), "fail" or "quarantine" */
    char *description;  /* or NULL */
};

enum prj_materialized { PRJ_MAT_TABLE, PRJ_MAT_VIEW, PRJ_MAT_INCREMENTAL };

struct prj_model {
    char *zone;     /* "silver" or "gold" */
    char *name;     /* file name without .sql */
    char *sql_file; /* relative to the project root, e.g. models/silver/orders.sql */
    char *yml_file; /* NULL when there is no <name>.yml */
    char *sql;      /* the SELECT as read, up to its last token: a final ';'
                       and trailing comments are removed, so callers can
                       wrap it, e.g. "CREATE TABLE t AS (" sql ")" */
    enum prj_materialized materialized; /* default table */
    char *partition_by;                 /* column name or NULL */
    char *unique_key;                   /* comma-joined column list, e.g. "a,b", or NULL */
    char *description;                  /* or NULL */
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
    struct prj_source *sources;
    size_t nsources;
    struct prj_model *models;
    size_t nmodels;
};

/* Load and validate the project in dir. On failure *out is untouched, the
 * error is SM_ECONFIG (or SM_EIO/SM_ENOTFOUND) with "file:line: message". The
 * caller frees *out with prj_free(). */
int prj_load(const char *dir, struct prj_project **out, struct sm_err *err) SM_MUST_USE;
void prj_free(struct prj_project *p);

/* Look up a source or model by name; NULL when absent. Borrowed. */
const struct prj_source *prj_find_source(const struct prj_project *p, const char *name);
const struct prj_model *prj_find_model(const struct prj_project *p, const char *zone,
                                       const char *name);

/* Print the table of known keys as Markdown (docs/project.md is generated
 * from it by `smelt validate --keys`). */
void prj_print_keys(FILE *out);

const char *prj_format_name(enum prj_format f);

#endif
