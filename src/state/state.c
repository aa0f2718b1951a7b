/*
 * state.c — the control plane on SQLite. One st_db is one connection to
 * .smelt/state.db; the CLI and the daemon each open their own, and WAL mode
 * lets readers run while one writer commits. This is the only file that
 * includes sqlite3.h: every SQLite failure leaves here as SM_EDB (or SM_EIO
 * while opening) with SQLite's own message and extended code.
 *
 * The schema is built by the migrations[] array below, applied in order, one
 * transaction each, and recorded in schema_migrations; the tables and the
 * task and landed-file state machines are described in
 * docs/internals/state.md. Invariants:
 *   - every value reaches SQL through a bound parameter, never through
 *     string formatting;
 *   - every cached statement is reset before the public function returns,
 *     so no statement keeps a read snapshot (which would pin the WAL) open;
 *   - a public function that writes more than one row does so atomically,
 *     on its own or inside the caller's st_begin()/st_commit().
 */
#include "state.h"

#include <sqlite3.h>

#define ST_BUSY_TIMEOUT_MS 10000

/* Append-only: a released smelt may have applied any prefix of this list to
 * a user's state.db, so an entry is never edited; a change is a new entry.
 * Entry i is schema version i + 1. */
static const char *const migrations[] = {
    /* 1: runs, tasks and their history, landed files, catalog of tables. */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  command TEXT,"
    "  status TEXT,"
    "  started_at TEXT,"
    "  finished_at TEXT);"
    "CREATE TABLE tasks ("
    "  id INTEGER PRIMARY KEY,"
    "  run_id INTEGER REFERENCES runs(id),"
    "  name TEXT,"
    "  state TEXT,"
    "  rows_in INTEGER,"
    "  rows_out INTEGER,"
    "  rows_quarantined INTEGER,"
    "  seconds REAL,"
    "  error TEXT,"
    "  started_at TEXT,"
    "  finished_at TEXT);"
    "CREATE INDEX tasks_by_run ON tasks(run_id);"
    "CREATE TABLE task_events ("
    "  id INTEGER PRIMARY KEY,"
    "  task_id INTEGER REFERENCES tasks(id),"
    "  state TEXT,"
    "  at TEXT);"
    "CREATE INDEX task_events_by_task ON task_events(task_id);"
    "CREATE TABLE landed_files ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT NOT NULL,"
    "  orig_path TEXT NOT NULL,"
    "  size INTEGER,"
    "  mtime INTEGER,"
    "  sha256 TEXT NOT NULL,"
    "  batch_id TEXT NOT NULL,"
    "  landing_path TEXT,"
    "  status TEXT NOT NULL,"
    "  received_at TEXT,"
    "  UNIQUE(source, sha256));"
    "CREATE INDEX landed_files_by_path ON landed_files(source, orig_path);"
    /* NOT NULL because SQLite lets NULLs into a non-INTEGER primary key. */
    "CREATE TABLE tables ("
    "  zone TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  location TEXT,"
    "  schema_json TEXT,"
    "  version INTEGER,"
    "  row_count INTEGER,"
    "  updated_at TEXT,"
    "  PRIMARY KEY(zone, name));",
    /* 2: encrypted secrets. Only the secrets module can read nonce and
     * ciphertext, and only with the master key, which is never stored
     * here. */
    "CREATE TABLE secrets ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  nonce BLOB NOT NULL,"
    "  ciphertext BLOB NOT NULL,"
    "  created_at TEXT NOT NULL,"
    "  rotated_at TEXT);",
    /* 3: the watermark of each incremental source: the highest value of its
     * cursor field landed so far, as the API wrote it. */
    "CREATE TABLE watermarks ("
    "  source TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT,"
    "  updated_at TEXT);",
    /* 4: incremental models: the Delta version of each model's last commit,
     * the hash of the definition it was built with, and the version of
     * every input table it has consumed up to. */
    "CREATE TABLE models ("
    "  model TEXT PRIMARY KEY NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  definition TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE model_inputs ("
    "  model TEXT NOT NULL REFERENCES models(model) ON DELETE CASCADE,"
    "  input TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY (model, input));",
    /* 5: a file may be landed again on purpose (smelt ingest --reprocess):
     * the same bytes get a second row, marked with the id of the first in
     * reprocess_of. Content stays unique among the other rows. SQLite
     * cannot drop a table constraint, so the table is rebuilt; its
     * AUTOINCREMENT counter is carried over so ids are never reused. */
    "CREATE TABLE landed_files_v5 ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT NOT NULL,"
    "  orig_path TEXT NOT NULL,"
    "  size INTEGER,"
    "  mtime INTEGER,"
    "  sha256 TEXT NOT NULL,"
    "  batch_id TEXT NOT NULL,"
    "  landing_path TEXT,"
    "  status TEXT NOT NULL,"
    "  received_at TEXT,"
    "  reprocess_of INTEGER);"
    "INSERT INTO landed_files_v5(id, source, orig_path, size, mtime, sha256, batch_id,"
    "  landing_path, status, received_at)"
    "  SELECT id, source, orig_path, size, mtime, sha256, batch_id, landing_path, status,"
    "  received_at FROM landed_files;"
    "DELETE FROM sqlite_sequence WHERE name = 'landed_files_v5';"
    "INSERT INTO sqlite_sequence(name, seq) SELECT 'landed_files_v5', seq FROM sqlite_sequence"
    "  WHERE name = 'landed_files';"
    "DROP TABLE landed_files;"
    "ALTER TABLE landed_files_v5 RENAME TO landed_files;"
    "CREATE INDEX landed_files_by_path ON landed_files(source, orig_path);"
    "CREATE UNIQUE INDEX landed_files_by_hash ON landed_files(source, sha256)"
    "  WHERE reprocess_of IS NULL;",
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

#define LANDED_COLS                                                                                \
    "id, source, orig_path, size, mtime, sha256, batch_id, landing_path, status, received_at, "    \
    "reprocess_of"
#define TABLE_COLS "zone, name, location, schema_json, version, row_count, updated_at"
#define SECRET_COLS "name, nonce, ciphertext, created_at, rotated_at"

/* Every statement the accessors run, prepared once per connection on first
 * use and kept (SQLITE_PREPARE_PERSISTENT) until st_close(). */
enum stmt_id {
    Q_RUN_START,
    Q_RUN_FINISH,
    Q_TASK_ADD,
    Q_TASK_STATE,
    Q_TASK_FINISH,
    Q_TASK_EVENT,
    Q_LANDED_FIND_STAT,
    Q_LANDED_FIND_HASH,
    Q_LANDED_BEGIN,
    Q_LANDED_DONE,
    Q_LANDED_PENDING,
    Q_LANDED_LIST,
    Q_TABLE_UPSERT,
    Q_TABLE_LIST,
    Q_TABLE_GET,
    Q_SECRET_CREATE,
    Q_SECRET_ROTATE,
    Q_SECRET_REWRAP,
    Q_SECRET_GET,
    Q_SECRET_LIST,
    Q_SECRET_RM,
    Q_WATERMARK_GET,
    Q_WATERMARK_SET,
    Q_MODEL_GET,
    Q_MODEL_INPUTS_GET,
    Q_MODEL_SET,
    Q_MODEL_INPUTS_CLEAR,
    Q_MODEL_INPUT_ADD,
    Q_COUNT
};

static const char *const stmt_sql[Q_COUNT] = {
    [Q_RUN_START] = "INSERT INTO runs(command, status, started_at) VALUES (?1, 'running', ?2) "
                    "RETURNING id",
    [Q_RUN_FINISH] = "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
    [Q_TASK_ADD] = "INSERT INTO tasks(run_id, name, state) VALUES (?1, ?2, 'pending') RETURNING id",
    /* A retry moves a failed task back to running: keep the first start,
     * forget the previous finish. */
    [Q_TASK_STATE] = "UPDATE tasks SET state = ?2,"
                     " started_at = CASE WHEN ?4 THEN coalesce(started_at, ?3) ELSE started_at END,"
                     " finished_at = CASE WHEN ?4 THEN NULL WHEN ?5 THEN ?3 ELSE finished_at END"
                     " WHERE id = ?1",
    [Q_TASK_FINISH] = "UPDATE tasks SET state = ?2, rows_in = ?3, rows_out = ?4,"
                      " rows_quarantined = ?5, seconds = ?6, error = ?7, finished_at = ?8"
                      " WHERE id = ?1",
    [Q_TASK_EVENT] = "INSERT INTO task_events(task_id, state, at) VALUES (?1, ?2, ?3)",
    [Q_LANDED_FIND_STAT] = "SELECT " LANDED_COLS " FROM landed_files"
                           " WHERE source = ?1 AND orig_path = ?2 AND size = ?3 AND mtime = ?4"
                           " ORDER BY id DESC LIMIT 1",
    /* The first landing of some bytes is the row that is not a reprocess
     * (a reprocess points at it): asking for that row lets SQLite use the
     * partial unique index rather than read every row of the source. */
    [Q_LANDED_FIND_HASH] = "SELECT " LANDED_COLS " FROM landed_files"
                           " WHERE source = ?1 AND sha256 = ?2 AND reprocess_of IS NULL",
    [Q_LANDED_BEGIN] = "INSERT INTO landed_files(source, orig_path, size, mtime, sha256, batch_id,"
                       " landing_path, status, received_at, reprocess_of)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'landing', ?8, ?9) RETURNING id",
    [Q_LANDED_DONE] = "UPDATE landed_files SET status = 'landed' WHERE id = ?1",
    [Q_LANDED_PENDING] = "SELECT " LANDED_COLS " FROM landed_files"
                         " WHERE source = ?1 AND status = 'landing' ORDER BY id",
    [Q_LANDED_LIST] = "SELECT " LANDED_COLS " FROM landed_files"
                      " WHERE source = ?1 AND status = 'landed' AND id > ?2 ORDER BY id",
    /* A NULL location or schema keeps what is recorded, so a caller that
     * only knows the new version and row count cannot erase them.
     * updated_at is ours, not the caller's: a struct read back with
     * st_table_get() and written again must not keep its old time. */
    [Q_TABLE_UPSERT] = "INSERT INTO tables(" TABLE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                       " ON CONFLICT(zone, name) DO UPDATE SET"
                       " location = coalesce(excluded.location, location),"
                       " schema_json = coalesce(excluded.schema_json, schema_json),"
                       " version = excluded.version, row_count = excluded.row_count,"
                       " updated_at = excluded.updated_at",
    /* Medallion order first, so listings read the way data flows. */
    [Q_TABLE_LIST] = "SELECT " TABLE_COLS " FROM tables ORDER BY"
                     " CASE zone WHEN 'landing' THEN 0 WHEN 'bronze' THEN 1 WHEN 'silver' THEN 2"
                     " WHEN 'gold' THEN 3 ELSE 4 END, zone, name",
    [Q_TABLE_GET] = "SELECT " TABLE_COLS " FROM tables WHERE zone = ?1 AND name = ?2",
    [Q_WATERMARK_GET] = "SELECT value FROM watermarks WHERE source = ?1",
    [Q_WATERMARK_SET] = "INSERT INTO watermarks(source, value, updated_at) VALUES (?1, ?2, ?3)"
                        " ON CONFLICT(source) DO UPDATE SET value = excluded.value,"
                        " updated_at = excluded.updated_at",
    [Q_MODEL_GET] = "SELECT version, definition FROM models WHERE model = ?1",
    [Q_MODEL_INPUTS_GET] = "SELECT input, version FROM model_inputs WHERE model = ?1 ORDER BY input",
    [Q_MODEL_SET] = "INSERT INTO models(model, version, definition, updated_at) VALUES (?1, ?2, ?3, ?4)"
                    " ON CONFLICT(model) DO UPDATE SET version = excluded.version,"
                    " definition = excluded.definition, updated_at = excluded.updated_at",
    [Q_MODEL_INPUTS_CLEAR] = "DELETE FROM model_inputs WHERE model = ?1",
    [Q_MODEL_INPUT_ADD] = "INSERT INTO model_inputs(model, input, version) VALUES (?1, ?2, ?3)",
    /* DO NOTHING, so an existing name shows as zero changes rather than as
     * a constraint error that could also mean something else. */
    [Q_SECRET_CREATE] = "INSERT INTO secrets(name, nonce, ciphertext, created_at)"
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO NOTHING",
    [Q_SECRET_ROTATE] = "UPDATE secrets SET nonce = ?2, ciphertext = ?3, rotated_at = ?4"
                        " WHERE name = ?1",
    [Q_SECRET_REWRAP] = "UPDATE secrets SET nonce = ?2, ciphertext = ?3 WHERE name = ?1",
    [Q_SECRET_GET] = "SELECT " SECRET_COLS " FROM secrets WHERE name = ?1",
    [Q_SECRET_LIST] = "SELECT " SECRET_COLS " FROM secrets ORDER BY name",
    [Q_SECRET_RM] = "DELETE FROM secrets WHERE name = ?1",
};

struct st_db {
    sqlite3 *db;
    char *path;
    int version;
    sqlite3_stmt *stmts[Q_COUNT];
};

static const char *const task_states[] = {"pending", "running", "success", "failed", "skipped"};
static const char *const final_task_states[] = {"success", "failed", "skipped"};
static const char *const run_statuses[] = {"success", "failed", "nothing_to_do"};

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}
#define ONE_OF(s, set) one_of((s), (set), sizeof(set) / sizeof((set)[0]))

static void now_iso(char *buf, size_t n)
{
    sm_iso8601(sm_now_ms(), buf, n);
}

/* The single place SQLite errors become ours; it must run before anything
 * else touches the connection, or sqlite3_errmsg() describes that instead. */
static int db_fail(struct st_db *db, const char *what, struct sm_err *err)
{
    return sm_err_set(err, SM_EDB, "%s: cannot %s: %s (extended code %d)", db->path, what,
                      sqlite3_errmsg(db->db), sqlite3_extended_errcode(db->db));
}

static int exec(struct st_db *db, const char *sql, const char *what, struct sm_err *err)
{
    if (sqlite3_exec(db->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, what, err);
    return 0;
}

/* Hand out a cached statement, preparing it on first use. The caller
 * resets it (stmt_reset) on every path out. */
static int stmt_get(struct st_db *db, enum stmt_id id, sqlite3_stmt **out, const char *what,
                    struct sm_err *err)
{
    if (!db->stmts[id] && sqlite3_prepare_v3(db->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                             &db->stmts[id], NULL) != SQLITE_OK)
        return db_fail(db, what, err);
    *out = db->stmts[id];
    return 0;
}

static void stmt_reset(sqlite3_stmt *s)
{
    if (!s)
        return;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Strings are bound SQLITE_STATIC: every statement is reset before the
 * caller's strings can go away. A NULL string is SQL NULL. */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

/* Run a statement that returns no rows. */
static int step_done(struct st_db *db, sqlite3_stmt *s, const char *what, struct sm_err *err)
{
    if (sqlite3_step(s) != SQLITE_DONE)
        return db_fail(db, what, err);
    return 0;
}

/* Run an INSERT ... RETURNING id. */
static int step_id(struct st_db *db, sqlite3_stmt *s, int64_t *out_id, const char *what,
                   struct sm_err *err)
{
    if (sqlite3_step(s) != SQLITE_ROW)
        return db_fail(db, what, err);
    *out_id = sqlite3_column_int64(s, 0);
    /* RETURNING rows are produced before the write is final: the statement
     * must run to completion for a constraint error to surface. */
    return step_done(db, s, what, err);
}

static char *col_str(sqlite3_stmt *s, int i)
{
    const unsigned char *v = sqlite3_column_text(s, i);
    return v ? sm_strdup((const char *)v) : NULL;
}

/*
 * Multi-row writes. Outside a transaction we open our own with BEGIN
 * IMMEDIATE, which takes the write lock up front and so waits on the busy
 * timeout instead of failing on a stale WAL snapshot. Inside the caller's
 * st_begin() a savepoint keeps a failed write from leaving half of itself
 * in the caller's transaction, without ending that transaction.
 */
static int write_begin(struct st_db *db, bool *owned, const char *what, struct sm_err *err)
{
    *owned = sqlite3_get_autocommit(db->db) != 0;
    return exec(db, *owned ? "BEGIN IMMEDIATE" : "SAVEPOINT st_write", what, err);
}

static int write_end(struct st_db *db, bool owned, int rc, const char *what, struct sm_err *err)
{
    if (!rc) {
        rc = exec(db, owned ? "COMMIT" : "RELEASE st_write", what, err);
        if (!rc)
            return 0;
    }
    /* Some errors (I/O, full disk) make SQLite roll back the whole
     * transaction itself; then there is nothing left to undo here. */
    if (owned) {
        if (!sqlite3_get_autocommit(db->db))
            sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        sqlite3_exec(db->db, "ROLLBACK TO st_write; RELEASE st_write", NULL, NULL, NULL);
    }
    return rc;
}

static int changed_one(struct st_db *db, const char *kind, int64_t id, struct sm_err *err)
{
    if (sqlite3_changes(db->db) == 0)
        return sm_err_set(err, SM_ENOTFOUND, "%s: no %s with id %lld", db->path, kind,
                          (long long)id);
    return 0;
}

/* --- open, migrate, close ------------------------------------------------- */

static int read_version(struct st_db *db, int *out, struct sm_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
                           &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        rc = db_fail(db, "read schema version", err);
    else
        *out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc;
}

static int apply_migration(struct st_db *db, int version, struct sm_err *err)
{
    char now[32], what[64];
    sqlite3_stmt *s = NULL;
    int cur = 0, rc;

    snprintf(what, sizeof(what), "apply schema migration %d", version);
    if ((rc = exec(db, "BEGIN IMMEDIATE", what, err)))
        return rc;
    /* Another smelt may have migrated while we waited for the lock. */
    if ((rc = read_version(db, &cur, err)) || cur >= version)
        goto out;
    if ((rc = exec(db, migrations[version - 1], what, err)))
        goto out;
    now_iso(now, sizeof(now));
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)", -1,
                           &s, NULL) != SQLITE_OK ||
        sqlite3_bind_int(s, 1, version) != SQLITE_OK || bind_text(s, 2, now) != SQLITE_OK) {
        rc = db_fail(db, what, err);
        goto out;
    }
    rc = step_done(db, s, what, err);
out:
    sqlite3_finalize(s);
    if (!rc)
        rc = exec(db, "COMMIT", what, err);
    if (rc && !sqlite3_get_autocommit(db->db))
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int migrate(struct st_db *db, struct sm_err *err)
{
    int cur = 0;
    SM_TRY(exec(db,
                "CREATE TABLE IF NOT EXISTS schema_migrations("
                "version INTEGER PRIMARY KEY, applied_at TEXT)",
                "create schema_migrations", err));
    SM_TRY(read_version(db, &cur, err));
    if (cur > (int)N_MIGRATIONS)
        return sm_err_set(err, SM_EDB,
                          "%s: schema version %d is newer than this smelt knows (%d); "
                          "upgrade smelt to use this project",
                          db->path, cur, (int)N_MIGRATIONS);
    for (int v = cur + 1; v <= (int)N_MIGRATIONS; v++)
        SM_TRY(apply_migration(db, v, err));
    db->version = (int)N_MIGRATIONS;
    return 0;
}

/* Errors that mean the file itself is unusable (missing directory, no
 * permission, not a database) are I/O errors to the user, not DB errors. */
static int open_fail(struct st_db *db, const char *what, struct sm_err *err)
{
    int code = sqlite3_errcode(db->db);
    if (code != SQLITE_CANTOPEN && code != SQLITE_IOERR && code != SQLITE_PERM &&
        code != SQLITE_NOTADB && code != SQLITE_READONLY && code != SQLITE_FULL)
        return db_fail(db, what, err);
    return sm_err_set(err, SM_EIO, "%s: cannot %s: %s (extended code %d)", db->path, what,
                      sqlite3_errmsg(db->db), sqlite3_extended_errcode(db->db));
}

int st_open(const char *path, struct st_db **out, struct sm_err *err)
{
    struct st_db *db = sm_calloc(1, sizeof(*db));
    sqlite3_stmt *s = NULL;
    int rc = 0;

    db->path = sm_strdup(path);
    if (sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        if (!db->db) {
            rc = sm_err_set(err, SM_ENOMEM, "%s: cannot open: out of memory", path);
            goto out;
        }
        char *dir = sm_strdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = '\0';
        if (slash && slash != dir && !sm_is_dir(dir))
            rc = sm_err_set(err, SM_EIO, "%s: cannot open: directory '%s' does not exist", path,
                            dir);
        else
            rc = open_fail(db, "open", err);
        free(dir);
        goto out;
    }
    sqlite3_extended_result_codes(db->db, 1);
    /* Before any statement: switching to WAL itself needs a lock. */
    sqlite3_busy_timeout(db->db, ST_BUSY_TIMEOUT_MS);

    /* journal_mode answers with the mode in effect, which is not WAL on
     * file systems without shared memory; smelt still works, only readers
     * then wait for writers. */
    if (sqlite3_prepare_v2(db->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        rc = open_fail(db, "open", err);
        goto out;
    }
    const unsigned char *mode = sqlite3_column_text(s, 0);
    if (!mode || strcmp((const char *)mode, "wal"))
        sm_warn("%s: journal mode is '%s', not 'wal'", path, mode ? (const char *)mode : "?");
    sqlite3_finalize(s);
    s = NULL;
    if ((rc = exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "configure", err)))
        goto out;
    rc = migrate(db, err);
out:
    sqlite3_finalize(s);
    if (rc) {
        st_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void st_close(struct st_db *db)
{
    if (!db)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(db->stmts[i]);
    /* Every statement is finalized, so close cannot be refused; the last
     * connection to close checkpoints and removes the WAL. */
    sqlite3_close(db->db);
    free(db->path);
    free(db);
}

int st_schema_version(struct st_db *db)
{
    return db->version;
}

/* --- transactions ----------------------------------------------------------- */

int st_begin(struct st_db *db, struct sm_err *err)
{
    return exec(db, "BEGIN IMMEDIATE", "begin transaction", err);
}

/* A failed COMMIT may leave the transaction open (SQLITE_BUSY); roll it
 * back so the caller is never left holding the write lock. */
int st_commit(struct st_db *db, struct sm_err *err)
{
    int rc = exec(db, "COMMIT", "commit transaction", err);
    if (rc)
        st_rollback(db);
    return rc;
}

void st_rollback(struct st_db *db)
{
    if (!sqlite3_get_autocommit(db->db))
        sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- runs and tasks --------------------------------------------------------- */

int st_run_start(struct st_db *db, const char *command, int64_t *out_run_id, struct sm_err *err)
{
    static const char what[] = "record run";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    now_iso(now, sizeof(now));
    if ((rc = stmt_get(db, Q_RUN_START, &s, what, err)))
        return rc;
    if (bind_text(s, 1, command) || bind_text(s, 2, now))
        rc = db_fail(db, what, err);
    else
        rc = step_id(db, s, out_run_id, what, err);
    stmt_reset(s);
    return rc;
}

int st_run_finish(struct st_db *db, int64_t run_id, const char *status, struct sm_err *err)
{
    static const char what[] = "finish run";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    if (!ONE_OF(status, run_statuses))
        return sm_err_set(err, SM_EINVALID,
                          "run status '%s' is not one of success, failed, nothing_to_do",
                          status ? status : "(null)");
    now_iso(now, sizeof(now));
    if ((rc = stmt_get(db, Q_RUN_FINISH, &s, what, err)))
        return rc;
    if (sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, status) || bind_text(s, 3, now))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)))
        rc = changed_one(db, "run", run_id, err);
    stmt_reset(s);
    return rc;
}

static int task_event(struct st_db *db, int64_t task_id, const char *state, const char *at,
                      const char *what, struct sm_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = stmt_get(db, Q_TASK_EVENT, &s, what, err)))
        return rc;
    if (sqlite3_bind_int64(s, 1, task_id) || bind_text(s, 2, state) || bind_text(s, 3, at))
        rc = db_fail(db, what, err);
    else
        rc = step_done(db, s, what, err);
    stmt_reset(s);
    return rc;
}

int st_task_add(struct st_db *db, int64_t run_id, const char *name, int64_t *out_task_id,
                struct sm_err *err)
{
    static const char what[] = "record task";
    sqlite3_stmt *s = NULL;
    char now[32];
    int64_t id = 0;
    bool owned;
    int rc;

    now_iso(now, sizeof(now));
    SM_TRY(write_begin(db, &owned, what, err));
    if ((rc = stmt_get(db, Q_TASK_ADD, &s, what, err)))
        goto out;
    if (sqlite3_bind_int64(s, 1, run_id) || bind_text(s, 2, name))
        rc = db_fail(db, what, err);
    else
        rc = step_id(db, s, &id, what, err);
    stmt_reset(s);
    if (!rc)
        rc = task_event(db, id, "pending", now, what, err);
out:
    rc = write_end(db, owned, rc, what, err);
    if (!rc)
        *out_task_id = id;
    return rc;
}

int st_task_set_state(struct st_db *db, int64_t task_id, const char *state, struct sm_err *err)
{
    static const char what[] = "record task state";
    sqlite3_stmt *s = NULL;
    char now[32];
    bool owned;
    int rc;

    if (!ONE_OF(state, task_states))
        return sm_err_set(err, SM_EINVALID,
                          "task state '%s' is not one of pending, running, success, failed, "
                          "skipped",
                          state ? state : "(null)");
    now_iso(now, sizeof(now));
    SM_TRY(write_begin(db, &owned, what, err));
    if ((rc = stmt_get(db, Q_TASK_STATE, &s, what, err)))
        goto out;
    if (sqlite3_bind_int64(s, 1, task_id) || bind_text(s, 2, state) || bind_text(s, 3, now) ||
        sqlite3_bind_int(s, 4, !strcmp(state, "running")) ||
        sqlite3_bind_int(s, 5, ONE_OF(state, final_task_states)))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)))
        rc = changed_one(db, "task", task_id, err);
    stmt_reset(s);
    if (!rc)
        rc = task_event(db, task_id, state, now, what, err);
out:
    return write_end(db, owned, rc, what, err);
}

int st_task_finish(struct st_db *db, int64_t task_id, const char *state, int64_t rows_in,
                   int64_t rows_out, int64_t rows_quarantined, double seconds, const char *error,
                   struct sm_err *err)
{
    static const char what[] = "record task result";
    sqlite3_stmt *s = NULL;
    char now[32];
    bool owned;
    int rc;

    if (!ONE_OF(state, final_task_states))
        return sm_err_set(err, SM_EINVALID,
                          "final task state '%s' is not one of success, failed, skipped",
                          state ? state : "(null)");
    now_iso(now, sizeof(now));
    SM_TRY(write_begin(db, &owned, what, err));
    if ((rc = stmt_get(db, Q_TASK_FINISH, &s, what, err)))
        goto out;
    if (sqlite3_bind_int64(s, 1, task_id) || bind_text(s, 2, state) ||
        sqlite3_bind_int64(s, 3, rows_in) || sqlite3_bind_int64(s, 4, rows_out) ||
        sqlite3_bind_int64(s, 5, rows_quarantined) || sqlite3_bind_double(s, 6, seconds) ||
        bind_text(s, 7, error) || bind_text(s, 8, now))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)))
        rc = changed_one(db, "task", task_id, err);
    stmt_reset(s);
    if (!rc)
        rc = task_event(db, task_id, state, now, what, err);
out:
    return write_end(db, owned, rc, what, err);
}

/* --- landed files ------------------------------------------------------------ */

void st_landed_release(struct st_landed *l)
{
    if (!l)
        return;
    free(l->source);
    free(l->orig_path);
    free(l->sha256);
    free(l->batch_id);
    free(l->landing_path);
    free(l->status);
    free(l->received_at);
    memset(l, 0, sizeof(*l));
}

void st_landed_free_array(struct st_landed *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        st_landed_release(&arr[i]);
    free(arr);
}

/* Column order is LANDED_COLS. */
static void landed_from_row(sqlite3_stmt *s, struct st_landed *l)
{
    l->id = sqlite3_column_int64(s, 0);
    l->source = col_str(s, 1);
    l->orig_path = col_str(s, 2);
    l->size = sqlite3_column_int64(s, 3);
    l->mtime = sqlite3_column_int64(s, 4);
    l->sha256 = col_str(s, 5);
    l->batch_id = col_str(s, 6);
    l->landing_path = col_str(s, 7);
    l->status = col_str(s, 8);
    l->received_at = col_str(s, 9);
    l->reprocess_of = sqlite3_column_type(s, 10) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 10);
}

/* Step a bound landed_files query expecting at most one row. */
static int landed_one(struct st_db *db, sqlite3_stmt *s, struct st_landed *out, bool *found,
                      const char *what, struct sm_err *err)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        landed_from_row(s, out);
        *found = true;
        return 0;
    }
    return r == SQLITE_DONE ? 0 : db_fail(db, what, err);
}

/* Step a bound landed_files query into a new array. */
static int landed_many(struct st_db *db, sqlite3_stmt *s, struct st_landed **out, size_t *n,
                       const char *what, struct sm_err *err)
{
    struct st_landed *arr = NULL;
    size_t nr = 0, alloc = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        SM_ALLOC_GROW(arr, nr + 1, alloc);
        memset(&arr[nr], 0, sizeof(arr[nr]));
        landed_from_row(s, &arr[nr++]);
    }
    if (r != SQLITE_DONE) {
        st_landed_free_array(arr, nr);
        return db_fail(db, what, err);
    }
    *out = arr;
    *n = nr;
    return 0;
}

int st_landed_find_stat(struct st_db *db, const char *source, const char *orig_path, int64_t size,
                        int64_t mtime, struct st_landed *out, bool *found, struct sm_err *err)
{
    static const char what[] = "look up landed file";
    sqlite3_stmt *s = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if ((rc = stmt_get(db, Q_LANDED_FIND_STAT, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source) || bind_text(s, 2, orig_path) || sqlite3_bind_int64(s, 3, size) ||
        sqlite3_bind_int64(s, 4, mtime))
        rc = db_fail(db, what, err);
    else
        rc = landed_one(db, s, out, found, what, err);
    stmt_reset(s);
    return rc;
}

int st_landed_find_hash(struct st_db *db, const char *source, const char *sha256,
                        struct st_landed *out, bool *found, struct sm_err *err)
{
    static const char what[] = "look up landed file";
    sqlite3_stmt *s = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if ((rc = stmt_get(db, Q_LANDED_FIND_HASH, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source) || bind_text(s, 2, sha256))
        rc = db_fail(db, what, err);
    else
        rc = landed_one(db, s, out, found, what, err);
    stmt_reset(s);
    return rc;
}

int st_landed_begin(struct st_db *db, struct st_landed *l, struct sm_err *err)
{
    static const char what[] = "record landed file";
    sqlite3_stmt *s = NULL;
    char now[32];
    int64_t id = 0;
    int rc;

    now_iso(now, sizeof(now));
    if ((rc = stmt_get(db, Q_LANDED_BEGIN, &s, what, err)))
        return rc;
    if (bind_text(s, 1, l->source) || bind_text(s, 2, l->orig_path) ||
        sqlite3_bind_int64(s, 3, l->size) || sqlite3_bind_int64(s, 4, l->mtime) ||
        bind_text(s, 5, l->sha256) || bind_text(s, 6, l->batch_id) ||
        bind_text(s, 7, l->landing_path) || bind_text(s, 8, l->received_at ? l->received_at : now) ||
        (l->reprocess_of > 0 ? sqlite3_bind_int64(s, 9, l->reprocess_of) : sqlite3_bind_null(s, 9)))
        rc = db_fail(db, what, err);
    else
        rc = step_id(db, s, &id, what, err);
    stmt_reset(s);
    if (!rc)
        l->id = id;
    return rc;
}

int st_landed_done(struct st_db *db, int64_t id, struct sm_err *err)
{
    static const char what[] = "mark file landed";
    sqlite3_stmt *s = NULL;
    int rc;

    if ((rc = stmt_get(db, Q_LANDED_DONE, &s, what, err)))
        return rc;
    if (sqlite3_bind_int64(s, 1, id))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)))
        rc = changed_one(db, "landed file", id, err);
    stmt_reset(s);
    return rc;
}

int st_landed_pending(struct st_db *db, const char *source, struct st_landed **out, size_t *n,
                      struct sm_err *err)
{
    static const char what[] = "list files still landing";
    sqlite3_stmt *s = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = stmt_get(db, Q_LANDED_PENDING, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source))
        rc = db_fail(db, what, err);
    else
        rc = landed_many(db, s, out, n, what, err);
    stmt_reset(s);
    return rc;
}

int st_landed_list(struct st_db *db, const char *source, int64_t after_id, struct st_landed **out,
                   size_t *n, struct sm_err *err)
{
    static const char what[] = "list landed files";
    sqlite3_stmt *s = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = stmt_get(db, Q_LANDED_LIST, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source) || sqlite3_bind_int64(s, 2, after_id))
        rc = db_fail(db, what, err);
    else
        rc = landed_many(db, s, out, n, what, err);
    stmt_reset(s);
    return rc;
}

/* --- catalog of tables --------------------------------------------------- */

void st_table_release(struct st_table *t)
{
    if (!t)
        return;
    free(t->zone);
    free(t->name);
    free(t->location);
    free(t->schema_json);
    free(t->updated_at);
    memset(t, 0, sizeof(*t));
}

void st_table_free_array(struct st_table *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        st_table_release(&arr[i]);
    free(arr);
}

/* Column order is TABLE_COLS. */
static void table_from_row(sqlite3_stmt *s, struct st_table *t)
{
    t->zone = col_str(s, 0);
    t->name = col_str(s, 1);
    t->location = col_str(s, 2);
    t->schema_json = col_str(s, 3);
    t->version = sqlite3_column_int64(s, 4);
    t->row_count = sqlite3_column_int64(s, 5);
    t->updated_at = col_str(s, 6);
}

int st_table_upsert(struct st_db *db, const struct st_table *t, struct sm_err *err)
{
    static const char what[] = "record table";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    if (!t->zone || !t->name)
        return sm_err_set(err, SM_EINVALID, "%s: cannot record table: zone and name are required",
                          db->path);
    now_iso(now, sizeof(now));
    if ((rc = stmt_get(db, Q_TABLE_UPSERT, &s, what, err)))
        return rc;
    if (bind_text(s, 1, t->zone) || bind_text(s, 2, t->name) || bind_text(s, 3, t->location) ||
        bind_text(s, 4, t->schema_json) || sqlite3_bind_int64(s, 5, t->version) ||
        sqlite3_bind_int64(s, 6, t->row_count) || bind_text(s, 7, now))
        rc = db_fail(db, what, err);
    else
        rc = step_done(db, s, what, err);
    stmt_reset(s);
    return rc;
}

int st_table_list(struct st_db *db, struct st_table **out, size_t *n, struct sm_err *err)
{
    static const char what[] = "list tables";
    struct st_table *arr = NULL;
    size_t nr = 0, alloc = 0;
    sqlite3_stmt *s = NULL;
    int r, rc;

    *out = NULL;
    *n = 0;
    if ((rc = stmt_get(db, Q_TABLE_LIST, &s, what, err)))
        return rc;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        SM_ALLOC_GROW(arr, nr + 1, alloc);
        memset(&arr[nr], 0, sizeof(arr[nr]));
        table_from_row(s, &arr[nr++]);
    }
    if (r != SQLITE_DONE) {
        rc = db_fail(db, what, err);
        st_table_free_array(arr, nr);
    } else {
        *out = arr;
        *n = nr;
    }
    stmt_reset(s);
    return rc;
}

int st_table_get(struct st_db *db, const char *zone, const char *name, struct st_table *out,
                 bool *found, struct sm_err *err)
{
    static const char what[] = "look up table";
    sqlite3_stmt *s = NULL;
    int r, rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if ((rc = stmt_get(db, Q_TABLE_GET, &s, what, err)))
        return rc;
    if (bind_text(s, 1, zone) || bind_text(s, 2, name)) {
        rc = db_fail(db, what, err);
    } else if ((r = sqlite3_step(s)) == SQLITE_ROW) {
        table_from_row(s, out);
        *found = true;
    } else if (r != SQLITE_DONE) {
        rc = db_fail(db, what, err);
    }
    stmt_reset(s);
    return rc;
}

/* --- secrets ------------------------------------------------------------------ */

void st_secret_release(struct st_secret *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->nonce);
    free(s->ciphertext);
    free(s->created_at);
    free(s->rotated_at);
    memset(s, 0, sizeof(*s));
}

void st_secret_free_array(struct st_secret *arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        st_secret_release(&arr[i]);
    free(arr);
}

static unsigned char *col_blob(sqlite3_stmt *s, int i, size_t *out_len)
{
    const void *v = sqlite3_column_blob(s, i);
    size_t n = (size_t)sqlite3_column_bytes(s, i);
    *out_len = 0;
    if (!v)
        return NULL;
    unsigned char *p = sm_malloc(n ? n : 1);
    memcpy(p, v, n);
    *out_len = n;
    return p;
}

/* Column order is SECRET_COLS. */
static void secret_from_row(sqlite3_stmt *s, struct st_secret *out)
{
    out->name = col_str(s, 0);
    out->nonce = col_blob(s, 1, &out->nonce_len);
    out->ciphertext = col_blob(s, 2, &out->ciphertext_len);
    out->created_at = col_str(s, 3);
    out->rotated_at = col_str(s, 4);
}

static int bind_blob(sqlite3_stmt *s, int i, const void *v, size_t n)
{
    if (!v || n > INT32_MAX)
        return SQLITE_MISUSE;
    return sqlite3_bind_blob(s, i, v, (int)n, SQLITE_STATIC);
}

/* Old ciphertexts are overwritten rather than left in free pages, so a
 * copy of state.db taken after a rekey holds only values under the new
 * key. Per connection, so set before every secret write. */
static int secure_delete(struct st_db *db, const char *what, struct sm_err *err)
{
    return exec(db, "PRAGMA secure_delete = ON", what, err);
}

int st_secret_put(struct st_db *db, const struct st_secret *sec, enum st_secret_put_mode mode,
                  struct sm_err *err)
{
    static const enum stmt_id ids[] = {[ST_SECRET_CREATE] = Q_SECRET_CREATE,
                                       [ST_SECRET_ROTATE] = Q_SECRET_ROTATE,
                                       [ST_SECRET_REWRAP] = Q_SECRET_REWRAP};
    static const char what[] = "store secret";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    if ((unsigned)mode >= sizeof(ids) / sizeof(ids[0]))
        SM_BUG("st_secret_put: bad mode %d", (int)mode);
    if (!sec->name || !sec->nonce || !sec->ciphertext)
        return sm_err_set(err, SM_EINVALID,
                          "%s: cannot store secret: name, nonce and ciphertext are required",
                          db->path);
    now_iso(now, sizeof(now));
    SM_TRY(secure_delete(db, what, err));
    if ((rc = stmt_get(db, ids[mode], &s, what, err)))
        return rc;
    if (bind_text(s, 1, sec->name) || bind_blob(s, 2, sec->nonce, sec->nonce_len) ||
        bind_blob(s, 3, sec->ciphertext, sec->ciphertext_len) ||
        (mode != ST_SECRET_REWRAP && bind_text(s, 4, now)))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)) && sqlite3_changes(db->db) == 0)
        rc = mode == ST_SECRET_CREATE
                 ? sm_err_set(err, SM_ECONFLICT, "secret '%s' already exists", sec->name)
                 : sm_err_set(err, SM_ENOTFOUND, "no secret '%s'", sec->name);
    stmt_reset(s);
    return rc;
}

int st_secret_get(struct st_db *db, const char *name, struct st_secret *out, bool *found,
                  struct sm_err *err)
{
    static const char what[] = "look up secret";
    sqlite3_stmt *s = NULL;
    int r, rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if ((rc = stmt_get(db, Q_SECRET_GET, &s, what, err)))
        return rc;
    if (bind_text(s, 1, name)) {
        rc = db_fail(db, what, err);
    } else if ((r = sqlite3_step(s)) == SQLITE_ROW) {
        secret_from_row(s, out);
        *found = true;
    } else if (r != SQLITE_DONE) {
        rc = db_fail(db, what, err);
    }
    stmt_reset(s);
    return rc;
}

int st_secret_list(struct st_db *db, struct st_secret **out, size_t *n, struct sm_err *err)
{
    static const char what[] = "list secrets";
    struct st_secret *arr = NULL;
    size_t nr = 0, alloc = 0;
    sqlite3_stmt *s = NULL;
    int r, rc;

    *out = NULL;
    *n = 0;
    if ((rc = stmt_get(db, Q_SECRET_LIST, &s, what, err)))
        return rc;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        SM_ALLOC_GROW(arr, nr + 1, alloc);
        memset(&arr[nr], 0, sizeof(arr[nr]));
        secret_from_row(s, &arr[nr++]);
    }
    if (r != SQLITE_DONE) {
        rc = db_fail(db, what, err);
        st_secret_free_array(arr, nr);
    } else {
        *out = arr;
        *n = nr;
    }
    stmt_reset(s);
    return rc;
}

int st_secret_rm(struct st_db *db, const char *name, struct sm_err *err)
{
    static const char what[] = "remove secret";
    sqlite3_stmt *s = NULL;
    int rc;

    SM_TRY(secure_delete(db, what, err));
    if ((rc = stmt_get(db, Q_SECRET_RM, &s, what, err)))
        return rc;
    if (bind_text(s, 1, name))
        rc = db_fail(db, what, err);
    else if (!(rc = step_done(db, s, what, err)) && sqlite3_changes(db->db) == 0)
        rc = sm_err_set(err, SM_ENOTFOUND, "no secret '%s'", name);
    stmt_reset(s);
    return rc;
}

/* --- watermarks ------------------------------------------------------------ */

int st_watermark_get(struct st_db *db, const char *source, char **out, struct sm_err *err)
{
    static const char what[] = "read watermark";
    sqlite3_stmt *s = NULL;
    int r, rc;

    *out = NULL;
    if ((rc = stmt_get(db, Q_WATERMARK_GET, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source))
        rc = db_fail(db, what, err);
    else if ((r = sqlite3_step(s)) == SQLITE_ROW)
        *out = col_str(s, 0);
    else if (r != SQLITE_DONE)
        rc = db_fail(db, what, err);
    stmt_reset(s);
    return rc;
}

int st_watermark_set(struct st_db *db, const char *source, const char *value, struct sm_err *err)
{
    static const char what[] = "record watermark";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    now_iso(now, sizeof(now));
    if ((rc = stmt_get(db, Q_WATERMARK_SET, &s, what, err)))
        return rc;
    if (bind_text(s, 1, source) || bind_text(s, 2, value) || bind_text(s, 3, now))
        rc = db_fail(db, what, err);
    else
        rc = step_done(db, s, what, err);
    stmt_reset(s);
    return rc;
}

/* --- incremental models ----------------------------------------------------- */

void st_model_state_release(struct st_model_state *m)
{
    free(m->definition);
    free(m->inputs);
    memset(m, 0, sizeof(*m));
}

int st_model_get(struct st_db *db, const char *model, struct st_model_state *out, bool *found,
                 struct sm_err *err)
{
    static const char what[] = "read model state";
    sqlite3_stmt *s = NULL;
    int r, rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if ((rc = stmt_get(db, Q_MODEL_GET, &s, what, err)))
        return rc;
    if (bind_text(s, 1, model)) {
        rc = db_fail(db, what, err);
    } else if ((r = sqlite3_step(s)) == SQLITE_ROW) {
        out->version = sqlite3_column_int64(s, 0);
        out->definition = col_str(s, 1);
        *found = true;
    } else if (r != SQLITE_DONE) {
        rc = db_fail(db, what, err);
    }
    stmt_reset(s);
    if (rc || !*found)
        return rc;

    struct sm_buf b = SM_BUF_INIT;
    if ((rc = stmt_get(db, Q_MODEL_INPUTS_GET, &s, what, err)) == 0) {
        if (bind_text(s, 1, model))
            rc = db_fail(db, what, err);
        while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW)
            (void)sm_buf_addf(&b, "%s%s@%lld", b.len ? "," : "",
                              (const char *)sqlite3_column_text(s, 0),
                              (long long)sqlite3_column_int64(s, 1));
        if (!rc && r != SQLITE_DONE)
            rc = db_fail(db, what, err);
        stmt_reset(s);
    }
    out->inputs = sm_buf_detach(&b);
    if (rc)
        st_model_state_release(out);
    return rc;
}

/* Parse one "zone.table@version" item of an inputs list. */
static int parse_input(const char *item, size_t len, char **name, int64_t *version)
{
    const char *at = memchr(item, '@', len);
    if (!at || at == item)
        return -1;
    char *v = sm_strndup(at + 1, len - (size_t)(at + 1 - item));
    int rc = sm_parse_i64(v, version);
    free(v);
    if (rc)
        return -1;
    *name = sm_strndup(item, (size_t)(at - item));
    return 0;
}

int st_model_set(struct st_db *db, const char *model, int64_t version, const char *definition,
                 const char *inputs, struct sm_err *err)
{
    static const char what[] = "record model state";
    sqlite3_stmt *s = NULL;
    char now[32];
    int rc;

    now_iso(now, sizeof(now));
    SM_TRY(st_begin(db, err));
    if ((rc = stmt_get(db, Q_MODEL_SET, &s, what, err)) == 0) {
        if (bind_text(s, 1, model) || sqlite3_bind_int64(s, 2, version) ||
            bind_text(s, 3, definition) || bind_text(s, 4, now))
            rc = db_fail(db, what, err);
        else
            rc = step_done(db, s, what, err);
        stmt_reset(s);
    }
    if (!rc && (rc = stmt_get(db, Q_MODEL_INPUTS_CLEAR, &s, what, err)) == 0) {
        rc = bind_text(s, 1, model) ? db_fail(db, what, err) : step_done(db, s, what, err);
        stmt_reset(s);
    }
    for (const char *p = inputs; !rc && p && *p;) {
        size_t len = strcspn(p, ",");
        char *name = NULL;
        int64_t v = 0;
        if (parse_input(p, len, &name, &v)) {
            rc = sm_err_set(err, SM_EINVALID, "%s: bad input '%.*s' (want zone.table@version)",
                            what, (int)len, p);
            break;
        }
        if ((rc = stmt_get(db, Q_MODEL_INPUT_ADD, &s, what, err)) == 0) {
            if (bind_text(s, 1, model) || bind_text(s, 2, name) || sqlite3_bind_int64(s, 3, v))
                rc = db_fail(db, what, err);
            else
                rc = step_done(db, s, what, err);
            stmt_reset(s);
        }
        free(name);
        p += len;
        if (*p == ',')
            p++;
    }
    if (rc) {
        st_rollback(db);
        return rc;
    }
    return st_commit(db, err);
}
