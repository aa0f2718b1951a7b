/*
 * transform — SQL models: finding what a model reads (with DuckDB's own
 * parser, json_serialize_sql) and materializing it as a Delta table.
 *
 *     struct xf_ref *refs; size_t n;
 *     if (xf_model_refs(db, model, &refs, &n, &err)) ...   // refs[i].name: "bronze.orders"
 *     xf_refs_free(refs, n);
 *
 * A model names its inputs zone-qualified (bronze.x, silver.y); an
 * unqualified name that is not a CTE is an error with file:line.
 */
#ifndef SM_TRANSFORM_H
#define SM_TRANSFORM_H

#include "engine/engine.h"
#include "project/project.h"
#include "util/util.h"

struct xf_ref {
    char *name; /* "zone.table" */
    int line;   /* line of its first mention in the model's SQL */
};

/* The distinct tables model m reads, sorted by name. Parse errors and
 * unqualified table names give SM_ECONFIG with "models/...sql:LINE: ...". */
int xf_model_refs(struct eng_db *db, const struct prj_model *m, struct xf_ref **out, size_t *n,
                  struct sm_err *err) SM_MUST_USE;
void xf_refs_free(struct xf_ref *refs, size_t n);
/* The schema-qualified tables an ad-hoc query names (any schema; names
 * without a schema are left to DuckDB). */
int xf_query_refs(struct eng_db *db, const char *sql, struct xf_ref **out, size_t *n,
                  struct sm_err *err) SM_MUST_USE;

/* Line (1-based) of byte offset off in text. */
int xf_line_of(const char *text, size_t off);

struct xf_result {
    int64_t rows_out;
    int64_t version; /* Delta version committed */
};

/* Materialize m (materialized: table): run its SELECT against the views of
 * its inputs (already registered in db by the caller) and overwrite the
 * Delta table at location in one commit whose commitInfo records `inputs`
 * ("bronze.orders@3,silver.stores@1") and `fingerprint` (inputs plus a hash
 * of the definition), by which a later run knows the table is up to date. */
int xf_build(struct eng_db *db, const struct prj_model *m, const char *location,
             const char *inputs, const char *fingerprint, struct xf_result *out,
             struct sm_err *err) SM_MUST_USE;

#endif
