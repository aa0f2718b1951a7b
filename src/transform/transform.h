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
    int64_t version; /* Delta version committed; -1 when nothing was written */
    bool full;       /* incremental: rebuilt in full */
    char *note;      /* incremental: what was done (caller frees: xf_result_release) */
};
void xf_result_release(struct xf_result *r);

/* What every model commit records: commitInfo `smelt.inputs`
 * ("bronze.orders@3,silver.stores@1") and `smelt.fingerprint` (inputs plus a
 * hash of the definition), by which a later run knows the table is up to
 * date, and a txn action (appId, version = the run), by which a retried
 * task knows it already committed. */
struct xf_commit_info {
    const char *inputs;
    const char *fingerprint;
    const char *txn_app; /* NULL: no txn action */
    int64_t txn_version;
};

/* Materialize m (materialized: table): run its SELECT against the views of
 * its inputs (already registered in db by the caller) and overwrite the
 * Delta table at location in one commit. */
int xf_build(struct eng_db *db, const struct prj_model *m, const char *location,
             const struct xf_commit_info *ci, struct xf_result *out,
             struct sm_err *err) SM_MUST_USE;

/* One input of an incremental model. */
struct xf_input {
    const char *name;     /* "bronze.orders" */
    const char *location; /* its Delta table */
    int64_t from_version; /* consumed up to (by the last build); -1 = never */
    int64_t to_version;   /* the version this build reads */
};

/* Materialize m (materialized: incremental) from what changed in its
 * inputs between from_version and to_version (see incremental.c for the
 * strategies). The input views registered in db are narrowed while the
 * model runs and put back afterwards. full_reason non-NULL forces a full
 * rebuild and says why (definition changed, --full-refresh). out->version
 * is -1 when nothing needed writing. */
int xf_build_incremental(struct eng_db *db, const struct prj_model *m, const char *location,
                         const struct xf_input *in, size_t nin, const char *full_reason,
                         const struct xf_commit_info *ci, struct xf_result *out,
                         struct sm_err *err) SM_MUST_USE;

/* Materialize m (materialized: snapshot, SCD type 2; see snapshot.c):
 * compare its result with the current version of each unique_key and
 * write new versions with valid_from / valid_to / is_current. now is the
 * run's time ("YYYY-MM-DD HH:MM:SS"), used by strategy check and for keys
 * that are gone. out->version is -1 when no key changed. */
int xf_build_snapshot(struct eng_db *db, const struct prj_model *m, const char *location,
                      const char *now, const struct xf_commit_info *ci, struct xf_result *out,
                      struct sm_err *err) SM_MUST_USE;

/* Where each key column of m's result comes from: for each input that
 * carries the keys, its column for each key (cols[k] for keys[k]). Found by
 * following the columns through DuckDB's parse tree; a computed or
 * ambiguous key is SM_ECONFIG naming it. */
struct xf_key_source {
    char *table; /* "silver.orders" */
    char **cols; /* one per key */
};
int xf_key_lineage(struct eng_db *db, const struct prj_model *m, char *const *keys, size_t nkeys,
                   struct xf_key_source **out, size_t *n, struct sm_err *err) SM_MUST_USE;
void xf_key_sources_free(struct xf_key_source *s, size_t n, size_t nkeys);

#endif
