/*
 * state — the control plane: one SQLite database per project,
 * .smelt/state.db, in WAL mode, with versioned schema migrations. The only
 * module that includes sqlite3.h. It records runs, tasks and their state
 * transitions, landed files, the catalog of tables, and encrypted secrets
 * (as opaque blobs: the secrets module does the crypto). The schema is
 * documented in docs/internals/state.md.
 *
 *     struct st_db *st;
 *     if (st_open(".smelt/state.db", &st, &err)) ...
 *     int64_t run;
 *     st_run_start(st, "run", &run, &err);
 *     ...
 *     st_run_finish(st, run, "success", &err);
 *     st_close(st);
 *
 * Every write is its own transaction unless the caller brackets several with
 * st_begin()/st_commit(). Strings returned in structs are owned by the struct
 * and freed by the matching st_*_release() or st_*_free_array() call.
 */
#ifndef SM_STATE_H
#define SM_STATE_H

#include "util/util.h"

struct st_db;

/* Open (creating if needed) and migrate to the latest schema version. Busy
 * timeout is 10 s so a concurrent smelt waits rather than fails. */
int st_open(const char *path, struct st_db **out, struct sm_err *err) SM_MUST_USE;
void st_close(struct st_db *db);
/* Schema version after migrations. */
int st_schema_version(struct st_db *db);

/* st_begin() takes the write lock at once (BEGIN IMMEDIATE). A failed
 * st_commit() has already rolled back; st_rollback() outside a transaction
 * does nothing. */
int st_begin(struct st_db *db, struct sm_err *err) SM_MUST_USE;
int st_commit(struct st_db *db, struct sm_err *err) SM_MUST_USE;
void st_rollback(struct st_db *db);

/* --- runs and tasks --------------------------------------------------------- */
int st_run_start(struct st_db *db, const char *command, int64_t *out_run_id,
                 struct sm_err *err) SM_MUST_USE;
/* status: "success" | "failed" | "nothing_to_do" (else SM_EINVALID); an
 * unknown run_id is SM_ENOTFOUND. */
int st_run_finish(struct st_db *db, int64_t run_id, const char *status,
                  struct sm_err *err) SM_MUST_USE;

/* Create a task in state "pending" (recorded as the first transition). */
int st_task_add(struct st_db *db, int64_t run_id, const char *name, int64_t *out_task_id,
                struct sm_err *err) SM_MUST_USE;
/* Move a task to state ("running", "success", "failed", "skipped") and record
 * the transition with a timestamp in task_events. Counters and error (may be
 * NULL) are stored with the final state, which st_task_finish() requires
 * (success, failed, skipped). An unknown state is SM_EINVALID, an unknown
 * task_id SM_ENOTFOUND. */
int st_task_set_state(struct st_db *db, int64_t task_id, const char *state,
                      struct sm_err *err) SM_MUST_USE;
int st_task_finish(struct st_db *db, int64_t task_id, const char *state, int64_t rows_in,
                   int64_t rows_out, int64_t rows_quarantined, double seconds, const char *error,
                   struct sm_err *err) SM_MUST_USE;

/* --- landed files ------------------------------------------------------------ */
struct st_landed {
    int64_t id; /* increases with every landed file; bronze loads by id */
    char *source;
    char *orig_path; /* absolute path the file was found at */
    int64_t size;
    int64_t mtime; /* seconds */
    char *sha256;  /* hex */
    char *batch_id;
    char *landing_path; /* absolute path of the landed copy */
    char *status;       /* "landing" (intent recorded) | "landed" */
    char *received_at;  /* ISO-8601 */
    int64_t reprocess_of; /* id of the earlier landing of the same bytes when this one
                             was landed again on purpose (--reprocess), else 0 */
};
void st_landed_release(struct st_landed *l);
void st_landed_free_array(struct st_landed *arr, size_t n);

/* Look up the record of source+orig_path with this size and mtime (any
 * status), so an unchanged file is skipped without hashing. *found says
 * whether out was filled; out is zeroed first, so st_landed_release(out) is
 * always safe. */
int st_landed_find_stat(struct st_db *db, const char *source, const char *orig_path, int64_t size,
                        int64_t mtime, struct st_landed *out, bool *found,
                        struct sm_err *err) SM_MUST_USE;
/* Look up by content: source+sha256 (a file renamed or touched but with the
 * same bytes is the same file). The first landing of those bytes when
 * there are several. */
int st_landed_find_hash(struct st_db *db, const char *source, const char *sha256,
                        struct st_landed *out, bool *found, struct sm_err *err) SM_MUST_USE;
/* Record the intent to land l (status "landing"); sets l->id and nothing
 * else in l (l->status is ignored; a NULL received_at means now). The same
 * source+sha256 twice is SM_EDB, unless l->reprocess_of names the earlier
 * landing (a deliberate second landing of the same bytes). */
int st_landed_begin(struct st_db *db, struct st_landed *l, struct sm_err *err) SM_MUST_USE;
/* Mark landed (status "landed"). An unknown id is SM_ENOTFOUND. */
int st_landed_done(struct st_db *db, int64_t id, struct sm_err *err) SM_MUST_USE;
/* All files of source still in status "landing" (a crash interrupted them). */
int st_landed_pending(struct st_db *db, const char *source, struct st_landed **out, size_t *n,
                      struct sm_err *err) SM_MUST_USE;
/* Files of source with status "landed" and id > after_id, by id. */
int st_landed_list(struct st_db *db, const char *source, int64_t after_id, struct st_landed **out,
                   size_t *n, struct sm_err *err) SM_MUST_USE;

/* --- catalog of tables --------------------------------------------------- */
struct st_table {
    char *zone;
    char *name;
    char *location;    /* absolute path of the Delta table */
    char *schema_json; /* Delta schemaString */
    int64_t version;
    int64_t row_count;
    char *updated_at;
};
void st_table_free_array(struct st_table *arr, size_t n);
/* Insert or replace zone.name. A NULL location or schema_json keeps the
 * recorded one; updated_at is always set to now (t->updated_at is ignored). */
int st_table_upsert(struct st_db *db, const struct st_table *t, struct sm_err *err) SM_MUST_USE;
int st_table_list(struct st_db *db, struct st_table **out, size_t *n,
                  struct sm_err *err) SM_MUST_USE;
/* st_table_list() orders by zone (landing, bronze, silver, gold, others)
 * then name. st_table_get() sets *found false when the table is not
 * catalogued; out is zeroed first. */
int st_table_get(struct st_db *db, const char *zone, const char *name, struct st_table *out,
                 bool *found, struct sm_err *err) SM_MUST_USE;
void st_table_release(struct st_table *t);

/* --- secrets ------------------------------------------------------------------
 * Encrypted secret values. state/ stores and returns the blobs only: the
 * secrets module encrypts and decrypts them, so nothing here ever holds a
 * value in clear. */
struct st_secret {
    char *name;
    unsigned char *nonce; /* nonce_len bytes */
    size_t nonce_len;
    unsigned char *ciphertext; /* ciphertext_len bytes */
    size_t ciphertext_len;
    char *created_at; /* ISO-8601 */
    char *rotated_at; /* ISO-8601, or NULL if never rotated */
};
void st_secret_release(struct st_secret *s);
void st_secret_free_array(struct st_secret *arr, size_t n);

/* How st_secret_put() treats the name. */
enum st_secret_put_mode {
    ST_SECRET_CREATE, /* a new name (else SM_ECONFLICT); created_at = now */
    ST_SECRET_ROTATE, /* an existing name (else SM_ENOTFOUND): new value, rotated_at = now */
    ST_SECRET_REWRAP, /* an existing name (else SM_ENOTFOUND): new blobs, dates kept (rekey) */
};
/* Store s->name's nonce and ciphertext (borrowed; the dates in s are
 * ignored). */
int st_secret_put(struct st_db *db, const struct st_secret *s, enum st_secret_put_mode mode,
                  struct sm_err *err) SM_MUST_USE;
/* Look up one secret; *found says whether out was filled (out is zeroed
 * first, so st_secret_release(out) is always safe). */
int st_secret_get(struct st_db *db, const char *name, struct st_secret *out, bool *found,
                  struct sm_err *err) SM_MUST_USE;
/* Every secret, by name, blobs included. */
int st_secret_list(struct st_db *db, struct st_secret **out, size_t *n,
                   struct sm_err *err) SM_MUST_USE;
/* Delete a secret; an unknown name is SM_ENOTFOUND. */
int st_secret_rm(struct st_db *db, const char *name, struct sm_err *err) SM_MUST_USE;

/* --- watermarks -------------------------------------------------------------
 * The highest value of an incremental source's cursor field landed so far,
 * kept as the text the API sent. */
/* *out is a new string (caller frees), or NULL when the source has none. */
int st_watermark_get(struct st_db *db, const char *source, char **out,
                     struct sm_err *err) SM_MUST_USE;
/* Record value as source's watermark, replacing the previous one. */
int st_watermark_set(struct st_db *db, const char *source, const char *value,
                     struct sm_err *err) SM_MUST_USE;

/* Incremental models (transform/, orchestrate/): what a model's table was
 * last built from. inputs is "zone.table@version,..." sorted by name, the
 * same text as the commit's smelt.inputs. */
struct st_model_state {
    int64_t version;  /* Delta version of the model's last commit */
    char *definition; /* hash of the definition it was built with */
    char *inputs;     /* "bronze.orders@12,silver.stores@3" */
};
void st_model_state_release(struct st_model_state *m);
int st_model_get(struct st_db *db, const char *model, struct st_model_state *out, bool *found,
                 struct sm_err *err) SM_MUST_USE;
/* Replace the model's record, inputs included, in one transaction. */
int st_model_set(struct st_db *db, const char *model, int64_t version, const char *definition,
                 const char *inputs, struct sm_err *err) SM_MUST_USE;

#endif
