/*
 * transform_int.h — shared inside src/transform/ only.
 */
#ifndef SM_TRANSFORM_INT_H
#define SM_TRANSFORM_INT_H

#include <jansson.h>

#include "table/table.h"
#include "transform.h"

/* Parse m's SQL with DuckDB's parser (json_serialize_sql): *out is the
 * whole JSON document, with exactly one statement (caller decrefs). Parse
 * errors are SM_ECONFIG with "models/...sql:LINE: ...". */
int xf_parse(struct eng_db *db, const struct prj_model *m, json_t **out,
             struct sm_err *err) SM_MUST_USE;

/* "a,b" (a model's comma-joined key list) -> {"a", "b"}; NULL -> none. */
char **xf_split_cols(const char *list, size_t *n);
void xf_free_cols(char **cols, size_t n);

/* Write select_sql's rows into c (files + adds), record ci in commitInfo and
 * the txn, and commit on top of snap (NULL: a new table). out->version and
 * out->rows_out are set. */
int xf_write_commit(struct eng_db *db, const struct prj_model *m, const char *location,
                    const char *select_sql, const char *partition_by, struct tbl_commit *c,
                    const struct tbl_snapshot *snap, const struct xf_commit_info *ci,
                    struct xf_result *out, struct sm_err *err) SM_MUST_USE;

#endif
