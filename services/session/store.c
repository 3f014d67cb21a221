/*
 * store: SQLite persistence of sessions and executions (see store.h).
 */
#include "store.h"
#include "alloc.h"
#include "checkpointer.h"
#include "log.h"
#include "sql.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* PRAGMA user_version records which schema version a file has; migrations[v - 1] takes a
 * file from version v - 1 to v. */
#define SCHEMA_VERSION 4
static const char *const schema_v1 =
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),"
    "  language TEXT NOT NULL,"
    "  source_code TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE executions ("
    "  id TEXT PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions (id),"
    "  language TEXT NOT NULL,"
    "  source_code TEXT NOT NULL,"
    "  stdin BLOB, args TEXT, time_ms INTEGER NOT NULL, memory_mb INTEGER NOT NULL,"
    "  idempotency_key TEXT,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED')),"
    "  reason TEXT, stdout BLOB, stderr BLOB, compile_output BLOB,"
    "  exit_code INTEGER, signal INTEGER, execution_time_ms INTEGER, cpu_time_ms INTEGER,"
    "  memory_kb INTEGER, stdout_truncated INTEGER, stderr_truncated INTEGER,"
    "  attempts INTEGER NOT NULL, runner_id TEXT,"
    "  queued_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER);"
    /* The database itself allows one QUEUED or RUNNING execution per session. */
    "CREATE UNIQUE INDEX executions_one_active ON executions (session_id)"
    "  WHERE status IN ('QUEUED', 'RUNNING');"
    "CREATE UNIQUE INDEX executions_idempotency ON executions (session_id, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX executions_by_session ON executions (session_id, queued_at);"
    /* Every state change of an execution, with its time: the execution's history. */
    "CREATE TABLE execution_events ("
    "  execution_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  runner_id TEXT,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX execution_events_by_execution ON execution_events (execution_id);";

/* Version 2: how the runner isolated the program ("unsafe" shows in every result). */
static const char *const schema_v2 = "ALTER TABLE executions ADD COLUMN sandbox TEXT;";

/* Version 3: the session version whose text an execution ran (NULL for older executions). */
static const char *const schema_v3 = "ALTER TABLE executions ADD COLUMN source_version INTEGER;";

/* Version 4: API keys (keyring.h; only a hash of each secret), the key that owns a session
 * (NULL: made without one), and whose quotas an execution counts against (a key id, or
 * "addr:" and the client's address). */
static const char *const schema_v4 =
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'client')),"
    "  secret_hash BLOB NOT NULL,"
    "  runs_per_minute INTEGER, concurrent_runs INTEGER, max_time_ms INTEGER,"
    "  max_memory_mb INTEGER, webhook_url TEXT,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER,"
    "  last_used_at INTEGER);"
    "ALTER TABLE sessions ADD COLUMN owner TEXT;"
    "ALTER TABLE executions ADD COLUMN owner TEXT;"
    "CREATE INDEX executions_by_owner ON executions (owner, queued_at) WHERE owner IS NOT NULL;"
    "CREATE INDEX executions_active_by_owner ON executions (owner)"
    "  WHERE status IN ('QUEUED', 'RUNNING');";

#define SESSION_COLUMNS "id, status, language, source_code, version, created_at, updated_at"
#define EXEC_COLUMNS                                                                               \
    "id, session_id, language, status, attempts, queued_at, reason, exit_code, signal,"            \
    " execution_time_ms, cpu_time_ms, memory_kb, stdout_truncated, stderr_truncated,"              \
    " started_at, finished_at, sandbox, source_version, stdout, stderr, compile_output"

#define JOB_COLUMNS                                                                                \
    "id, session_id, language, source_code, stdin, args, time_ms, memory_mb, attempts"

/* Prepared statements, by name. */
#define STATEMENTS(X)                                                                              \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                    \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(SAVEPOINT, "SAVEPOINT request")                                                              \
    X(SAVEPOINT_UNDO, "ROLLBACK TO request")                                                       \
    X(SAVEPOINT_RELEASE, "RELEASE request")                                                        \
    X(SESSION_INSERT, "INSERT INTO sessions (" SESSION_COLUMNS ", owner)"                          \
                      " VALUES (?1, 'ACTIVE', ?2, ?3, 1, ?4, ?4, ?5) RETURNING " SESSION_COLUMNS)  \
    X(SESSION_OWNER, "SELECT id, coalesce(owner, ''), status = 'ACTIVE' FROM sessions WHERE id ="  \
                     " coalesce(?1, (SELECT session_id FROM executions WHERE id = ?2))")           \
    X(SESSION_SELECT, "SELECT " SESSION_COLUMNS " FROM sessions WHERE id = ?1")                    \
    X(SESSION_UPDATE, "UPDATE sessions SET language = coalesce(?2, language),"                     \
                      " source_code = coalesce(?3, source_code), version = version + 1,"           \
                      " updated_at = ?4 WHERE id = ?1 AND status = 'ACTIVE'"                       \
                      " RETURNING " SESSION_COLUMNS)                                               \
    X(SESSION_CLOSE, "UPDATE sessions SET status = 'INACTIVE', updated_at = ?2"                    \
                     " WHERE id = ?1 AND status = 'ACTIVE'")                                       \
    X(EXEC_INSERT, "INSERT INTO executions (id, session_id, language, source_code, stdin, args,"   \
                   " time_ms, memory_mb, idempotency_key, status, attempts, queued_at,"            \
                   " source_version, owner)"                                                       \
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'QUEUED', 1, ?10, ?11, ?12)")     \
    X(EXEC_SELECT, "SELECT " EXEC_COLUMNS " FROM executions WHERE id = ?1")                        \
    X(EXEC_LIST, "SELECT " EXEC_COLUMNS " FROM executions WHERE session_id = ?1"                   \
                 " ORDER BY queued_at DESC, rowid DESC LIMIT ?2")                                  \
    X(EXEC_LIST_BEFORE, "SELECT " EXEC_COLUMNS " FROM executions WHERE session_id = ?1"            \
                        " AND (queued_at, rowid) < (SELECT queued_at, rowid FROM executions"       \
                        " WHERE id = ?3) ORDER BY queued_at DESC, rowid DESC LIMIT ?2")            \
    X(EXEC_OF_SESSION, "SELECT 1 FROM executions WHERE id = ?1 AND session_id = ?2")               \
    X(EXEC_NTH_RECENT, "SELECT queued_at FROM executions WHERE session_id = ?1"                    \
                       " ORDER BY queued_at DESC LIMIT 1 OFFSET ?2")                               \
    X(OWNER_NTH_RECENT, "SELECT queued_at FROM executions WHERE owner = ?1"                        \
                        " ORDER BY queued_at DESC LIMIT 1 OFFSET ?2")                              \
    X(OWNER_ACTIVE, "SELECT count(*) FROM executions WHERE owner = ?1"                             \
                    " AND status IN ('QUEUED', 'RUNNING')")                                        \
    X(EXEC_KEEP_OUTPUT, "UPDATE executions SET stdout = coalesce(?2, stdout),"                     \
                        " stderr = coalesce(?3, stderr) WHERE id = ?1")                            \
    X(EXEC_ACTIVE_OF, "SELECT id FROM executions WHERE session_id = ?1"                            \
                      " AND status IN ('QUEUED', 'RUNNING')")                                      \
    X(EXEC_BY_KEY, "SELECT id FROM executions WHERE session_id = ?1 AND idempotency_key = ?2")     \
    X(EXEC_LAST_QUEUED, "SELECT coalesce(max(queued_at), 0) FROM executions"                       \
                        " WHERE session_id = ?1")                                                  \
    X(EXEC_DELETE, "DELETE FROM executions WHERE id = ?1")                                         \
    X(EXEC_STATE, "SELECT status, attempts FROM executions WHERE id = ?1")                         \
    X(EXEC_HOLDER, "SELECT status, attempts, runner_id FROM executions WHERE id = ?1")             \
    X(EXEC_REQUEUE, "UPDATE executions SET status = 'QUEUED', attempts = ?2, runner_id = ?3,"      \
                    " started_at = NULL WHERE id = ?1")                                            \
    X(EXEC_START, "UPDATE executions SET status = 'RUNNING', attempts = ?2, runner_id = ?3,"       \
                  " started_at = ?4 WHERE id = ?1")                                                \
    X(EXEC_FINISH, "UPDATE executions SET status = ?2, attempts = ?3, reason = ?4, stdout = ?5,"   \
                   " stderr = ?6, compile_output = ?7, exit_code = ?8, signal = ?9,"               \
                   " execution_time_ms = ?10, cpu_time_ms = ?11, memory_kb = ?12,"                 \
                   " stdout_truncated = ?13, stderr_truncated = ?14,"                              \
                   " started_at = coalesce(started_at, ?15), finished_at = ?16,"                   \
                   " runner_id = coalesce(?17, runner_id), sandbox = coalesce(?18, sandbox)"       \
                   " WHERE id = ?1")                                                               \
    X(EXEC_ACTIVE_ALL, "SELECT " JOB_COLUMNS " FROM executions"                                    \
                       " WHERE status IN ('QUEUED', 'RUNNING') ORDER BY queued_at")                \
    X(EXEC_JOB, "SELECT " JOB_COLUMNS " FROM executions WHERE id = ?1")                            \
    X(EVENT_INSERT, "INSERT INTO execution_events VALUES (?1, ?2, ?3, ?4, ?5)")

enum {
#define X(name, sql) ST_##name,
    STATEMENTS(X)
#undef X
        ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
#define X(name, sql) sql,
    STATEMENTS(X)
#undef X
};

/* WAL checkpoints (see checkpointer.h). At CHECKPOINT_FRAMES new frames (SQLite's own
 * automatic threshold) the background connection copies them. The WAL only starts over from
 * its beginning when a checkpoint has copied every frame before the next write, which a
 * background copy racing a steady stream of commits rarely manages: at CATCH_UP_FRAMES the
 * store's thread copies the few frames left itself, and the WAL restarts (4000 frames of
 * 4 KiB: the WAL stays under about 16 MiB). */
#define CHECKPOINT_FRAMES 1000
#define CATCH_UP_FRAMES 4000

/* Who owns what (store_owner_of), remembered for OWNER_CACHE_MS: every request of a caller
 * with a key asks, and the answer rarely changes (a session's owner never does). An entry
 * read in a transaction that rolls back is forgotten with it. */
#define OWNER_CACHE_MS 1000
#define OWNER_CACHE_MAX 100000

typedef struct {
    store_owner_t owner;
    int64_t until; /* monotonic ms */
} owner_entry_t;

struct store_t {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    bool sync_due; /* the open transaction holds a user's write (see store.h) */
    checkpointer_t *checkpointer;
    zhashx_t *owners;        /* session id -> owner_entry_t */
    zhashx_t *exec_sessions; /* execution id -> its session's id (never changes) */
};

static void free_entry(void **item)
{
    free(*item);
    *item = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Opening and migrating                                                                     */

static int exec_sql(store_t *self, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(store_t *self)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(self->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

/* Brings the file up to SCHEMA_VERSION, one version per transaction. */
static int migrate(store_t *self, char *err, size_t errlen)
{
    static const char *const steps[SCHEMA_VERSION] = {schema_v1, schema_v2, schema_v3, schema_v4};
    int version = user_version(self);
    if (version > SCHEMA_VERSION || version < 0) {
        snprintf(err, errlen, "database schema version %d is newer than this binary (%d)", version,
                 SCHEMA_VERSION);
        return -1;
    }
    for (; version < SCHEMA_VERSION; version++) {
        char sql[4096];
        snprintf(sql, sizeof sql, "BEGIN; %s PRAGMA user_version = %d; COMMIT;", steps[version],
                 version + 1);
        if (exec_sql(self, sql, err, errlen) != 0) return -1;
    }
    return 0;
}

static int prepare_all(store_t *self, char *err, size_t errlen)
{
    return sql_prepare_all(self->db, statement_sql, self->st, ST_COUNT, err, errlen);
}

/* SQLite calls this after each commit with the number of frames in the WAL. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    store_t *self = arg;
    if (frames >= CATCH_UP_FRAMES) {
        int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            lcx_log(LCX_WARN, "checkpoint failed", "error", sqlite3_errstr(rc), NULL);
    } else if (frames >= CHECKPOINT_FRAMES) {
        checkpointer_request(self->checkpointer);
    }
    return SQLITE_OK;
}

store_t *store_new(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s", dir);
        return NULL;
    }
    store_t *self = lcx_calloc(1, sizeof *self);
    self->owners = zhashx_new();
    self->exec_sessions = zhashx_new();
    zhashx_set_destructor(self->owners, free_entry);
    zhashx_set_destructor(self->exec_sessions, free_entry);
    char path[4096];
    snprintf(path, sizeof path, "%s/lcx.db", dir);
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errmsg(self->db));
        store_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, 5000);
    if (exec_sql(self,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 " PRAGMA foreign_keys = ON;",
                 err, errlen) != 0 ||
        migrate(self, err, errlen) != 0 || prepare_all(self, err, errlen) != 0 ||
        !(self->checkpointer = checkpointer_new(path, err, errlen))) {
        store_destroy(&self);
        return NULL;
    }
    sqlite3_wal_hook(self->db, on_wal_commit, self); /* in place of the automatic checkpoint */
    return self;
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p) return;
    store_t *self = *self_p;
    checkpointer_destroy(&self->checkpointer); /* before the last connection checkpoints */
    sql_finalize_all(self->st, ST_COUNT);
    sqlite3_close(self->db);
    zhashx_destroy(&self->owners);
    zhashx_destroy(&self->exec_sessions);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Statement helpers                                                                         */

/* Resets a statement for reuse and returns it. */
static sqlite3_stmt *stmt(store_t *self, int which)
{
    return sql_reset(self->st[which]);
}

static store_rc_t fail(store_t *self, const char *what)
{
    return sql_fail(self->db, what);
}

static store_rc_t step_done(store_t *self, sqlite3_stmt *st, const char *what)
{
    return sql_step_done(self->db, st, what);
}

static void col_to_bool(lcx_msg_t *msg, lcx_field_t field, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        lcx_msg_set_bool(msg, field, sqlite3_column_int(st, col) != 0);
}

static void col_to_text(lcx_msg_t *msg, lcx_field_t field, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        lcx_msg_set_str(msg, field, sql_col_text(st, col));
}

static void col_to_bytes(lcx_msg_t *msg, lcx_field_t field, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return;
    const void *data = sqlite3_column_blob(st, col);
    lcx_msg_set_bytes(msg, field, data ? data : "", (size_t)sqlite3_column_bytes(st, col));
}

int store_savepoint(store_t *self)
{
    return step_done(self, stmt(self, ST_SAVEPOINT), "savepoint") == STORE_OK ? 0 : -1;
}

void store_savepoint_end(store_t *self, bool undo)
{
    if (undo) step_done(self, stmt(self, ST_SAVEPOINT_UNDO), "savepoint undo");
    step_done(self, stmt(self, ST_SAVEPOINT_RELEASE), "savepoint release");
}

int store_begin(store_t *self, char *why, size_t size)
{
    sqlite3_stmt *st = stmt(self, ST_BEGIN);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 0;
    snprintf(why, size, "%s", sqlite3_errmsg(self->db));
    return -1;
}

void store_set_busy_ms(store_t *self, int busy_ms)
{
    sqlite3_busy_timeout(self->db, busy_ms);
}

/* What synchronous=FULL would do at this commit: sync the WAL, which also makes every earlier
 * unsynced commit durable, in order. */
static int sync_wal(store_t *self)
{
    sqlite3_file *wal = NULL;
    int rc = sqlite3_file_control(self->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
    if (rc == SQLITE_OK && wal && wal->pMethods)
        rc = wal->pMethods->xSync(wal, SQLITE_SYNC_FULL);
    else if (rc == SQLITE_OK)
        rc = SQLITE_ERROR;
    if (rc == SQLITE_OK) return 0;
    lcx_log(LCX_ERROR, "store failed", "step", "sync", "error", sqlite3_errstr(rc), NULL);
    return -1;
}

int store_commit(store_t *self)
{
    bool sync = self->sync_due;
    self->sync_due = false;
    if (step_done(self, stmt(self, ST_COMMIT), "commit") != STORE_OK) return -1;
    return sync ? sync_wal(self) : 0;
}

void store_rollback(store_t *self)
{
    self->sync_due = false;
    zhashx_purge(self->owners);
    zhashx_purge(self->exec_sessions);
    if (!sqlite3_get_autocommit(self->db)) step_done(self, stmt(self, ST_ROLLBACK), "rollback");
}

bool store_status_terminal(const char *status)
{
    return status && strcmp(status, "QUEUED") != 0 && strcmp(status, "RUNNING") != 0;
}

static store_rc_t add_event(store_t *self, const char *execution_id, const char *status,
                            int64_t attempt, const char *runner_id, int64_t at)
{
    sqlite3_stmt *st = stmt(self, ST_EVENT_INSERT);
    sql_bind_text(st, 1, execution_id);
    sql_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, attempt);
    sql_bind_text(st, 4, runner_id);
    sqlite3_bind_int64(st, 5, at);
    return step_done(self, st, "event insert");
}

/* ---------------------------------------------------------------------------------------- */
/* Sessions                                                                                  */

/* Steps a statement that yields one session row (SESSION_COLUMNS) and copies it to `out`. A
 * write with RETURNING has made its change at the first step, so the rest is not stepped. */
static store_rc_t session_row(store_t *self, sqlite3_stmt *st, lcx_msg_t *out, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        col_to_text(out, LCX_F_session_id, st, 0);
        col_to_text(out, LCX_F_status, st, 1);
        col_to_text(out, LCX_F_language, st, 2);
        col_to_text(out, LCX_F_source_code, st, 3);
        sql_col_to_int(out, LCX_F_version, st, 4);
        sql_col_to_int(out, LCX_F_created_at, st, 5);
        sql_col_to_int(out, LCX_F_updated_at, st, 6);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    return rc == SQLITE_ROW ? STORE_OK : fail(self, what);
}

store_rc_t store_session_get(store_t *self, const char *session_id, lcx_msg_t *out)
{
    sqlite3_stmt *st = stmt(self, ST_SESSION_SELECT);
    sql_bind_text(st, 1, session_id);
    return session_row(self, st, out, "session select");
}

struct sqlite3 *store_db(store_t *self)
{
    return self->db;
}

store_rc_t store_session_create(store_t *self, const char *language, const char *source,
                                const char *owner, lcx_msg_t *out)
{
    char id[LCX_UUID_LEN + 1];
    lcx_uuid4(id);
    sqlite3_stmt *st = stmt(self, ST_SESSION_INSERT);
    sql_bind_text(st, 1, id);
    sql_bind_text(st, 2, language);
    sql_bind_text(st, 3, source);
    sqlite3_bind_int64(st, 4, lcx_now_ms());
    sql_bind_text(st, 5, owner);
    self->sync_due = true;
    store_rc_t rc = session_row(self, st, out, "session insert");
    return rc == STORE_NOT_FOUND ? fail(self, "session insert") : rc;
}

/* The owner as the database has it (SESSION_OWNER), remembered. */
static store_rc_t owner_from_db(store_t *self, const char *session_id, const char *execution_id,
                                store_owner_t *out)
{
    sqlite3_stmt *st = stmt(self, ST_SESSION_OWNER);
    sql_bind_text(st, 1, session_id);
    sql_bind_text(st, 2, execution_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->session_id, sizeof out->session_id, "%s", sql_col_text(st, 0));
        snprintf(out->owner, sizeof out->owner, "%s", sql_col_text(st, 1));
        out->active = sqlite3_column_int(st, 2) != 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    if (rc != SQLITE_ROW) return fail(self, "owner select");
    if (zhashx_size(self->owners) >= OWNER_CACHE_MAX) zhashx_purge(self->owners);
    if (zhashx_size(self->exec_sessions) >= OWNER_CACHE_MAX) zhashx_purge(self->exec_sessions);
    owner_entry_t *entry = lcx_malloc(sizeof *entry);
    *entry = (owner_entry_t){*out, lcx_mono_ms() + OWNER_CACHE_MS};
    zhashx_update(self->owners, out->session_id, entry);
    if (execution_id) zhashx_update(self->exec_sessions, execution_id, lcx_strdup(out->session_id));
    return STORE_OK;
}

store_rc_t store_owner_of(store_t *self, const char *session_id, const char *execution_id,
                          store_owner_t *out)
{
    const char *sid = session_id     ? session_id
                      : execution_id ? zhashx_lookup(self->exec_sessions, execution_id)
                                     : NULL;
    owner_entry_t *entry = sid ? zhashx_lookup(self->owners, sid) : NULL;
    if (entry && entry->until > lcx_mono_ms()) {
        *out = entry->owner;
        return STORE_OK;
    }
    return owner_from_db(self, session_id, execution_id, out);
}

/* STORE_OK when the session exists and is ACTIVE. */
static store_rc_t session_active(store_t *self, const char *session_id, lcx_msg_t *scratch)
{
    store_rc_t rc = store_session_get(self, session_id, scratch);
    if (rc != STORE_OK) return rc;
    return strcmp(scratch->status.ptr, "ACTIVE") == 0 ? STORE_OK : STORE_INACTIVE;
}

store_rc_t store_session_update(store_t *self, const char *session_id, const char *language,
                                const char *source, lcx_msg_t *out)
{
    sqlite3_stmt *st = stmt(self, ST_SESSION_UPDATE);
    sql_bind_text(st, 1, session_id);
    sql_bind_text(st, 2, language);
    sql_bind_text(st, 3, source);
    sqlite3_bind_int64(st, 4, lcx_now_ms());
    self->sync_due = true;
    store_rc_t rc = session_row(self, st, out, "session update");
    if (rc != STORE_NOT_FOUND) return rc;
    /* No ACTIVE session has that id: tell a closed one from a missing one. */
    rc = store_session_get(self, session_id, out);
    return rc == STORE_OK ? STORE_INACTIVE : rc;
}

/* Copies the id of the session's QUEUED or RUNNING execution into id (empty when none). */
static store_rc_t active_execution_of(store_t *self, const char *session_id, char *id)
{
    id[0] = '\0';
    sqlite3_stmt *st = stmt(self, ST_EXEC_ACTIVE_OF);
    sql_bind_text(st, 1, session_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(id, LCX_UUID_LEN + 1, "%s", sql_col_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : fail(self, "active execution");
}

store_rc_t store_session_close(store_t *self, const char *session_id, lcx_msg_t *out,
                               char *cancelled_id)
{
    cancelled_id[0] = '\0';
    store_rc_t rc = store_session_get(self, session_id, out);
    if (rc != STORE_OK) return rc;
    sqlite3_stmt *st = stmt(self, ST_SESSION_CLOSE);
    sql_bind_text(st, 1, session_id);
    sqlite3_bind_int64(st, 2, lcx_now_ms());
    self->sync_due = true;
    zhashx_delete(self->owners, session_id); /* no longer active */
    if ((rc = step_done(self, st, "session close")) != STORE_OK) return rc;
    if ((rc = active_execution_of(self, session_id, cancelled_id)) != STORE_OK) return rc;
    if (cancelled_id[0]) {
        lcx_msg_t *scratch = lcx_msg_new(LCX_CMD_EXECUTION);
        rc = store_execution_cancel(self, cancelled_id, scratch);
        lcx_msg_destroy(&scratch);
        if (rc != STORE_OK) return rc;
    }
    lcx_msg_t *fresh = lcx_msg_new(LCX_CMD_SESSION);
    rc = store_session_get(self, session_id, fresh);
    if (rc == STORE_OK) lcx_msg_copy_fields(out, fresh);
    lcx_msg_destroy(&fresh);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Executions                                                                                */

static void row_to_execution(sqlite3_stmt *st, lcx_msg_t *out, bool with_output)
{
    col_to_text(out, LCX_F_execution_id, st, 0);
    col_to_text(out, LCX_F_session_id, st, 1);
    col_to_text(out, LCX_F_language, st, 2);
    col_to_text(out, LCX_F_status, st, 3);
    sql_col_to_int(out, LCX_F_attempts, st, 4);
    sql_col_to_int(out, LCX_F_queued_at, st, 5);
    col_to_text(out, LCX_F_reason, st, 6);
    sql_col_to_int(out, LCX_F_exit_code, st, 7);
    sql_col_to_int(out, LCX_F_signal, st, 8);
    sql_col_to_int(out, LCX_F_execution_time_ms, st, 9);
    sql_col_to_int(out, LCX_F_cpu_time_ms, st, 10);
    sql_col_to_int(out, LCX_F_memory_kb, st, 11);
    col_to_bool(out, LCX_F_stdout_truncated, st, 12);
    col_to_bool(out, LCX_F_stderr_truncated, st, 13);
    sql_col_to_int(out, LCX_F_started_at, st, 14);
    sql_col_to_int(out, LCX_F_finished_at, st, 15);
    col_to_text(out, LCX_F_sandbox, st, 16);
    sql_col_to_int(out, LCX_F_source_version, st, 17);
    if (!with_output) return;
    col_to_bytes(out, LCX_F_stdout, st, 18);
    col_to_bytes(out, LCX_F_stderr, st, 19);
    col_to_bytes(out, LCX_F_compile_output, st, 20);
}

store_rc_t store_execution_get(store_t *self, const char *execution_id, lcx_msg_t *out)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_SELECT);
    sql_bind_text(st, 1, execution_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    if (rc != SQLITE_ROW) return fail(self, "execution select");
    row_to_execution(st, out, true);
    sqlite3_reset(st);
    return STORE_OK;
}

/* STORE_OK when execution_id is one of the session's executions, else STORE_INVALID. */
static store_rc_t execution_of_session(store_t *self, const char *execution_id,
                                       const char *session_id)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_OF_SESSION);
    sql_bind_text(st, 1, execution_id);
    sql_bind_text(st, 2, session_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_INVALID : fail(self, "execution of session");
}

store_rc_t store_execution_list(store_t *self, const char *session_id, long limit,
                                const char *before, lcx_msg_t *out)
{
    lcx_msg_t *scratch = lcx_msg_new(LCX_CMD_SESSION);
    store_rc_t found = store_session_get(self, session_id, scratch);
    lcx_msg_destroy(&scratch);
    if (found == STORE_OK && before) found = execution_of_session(self, before, session_id);
    if (found != STORE_OK) return found;
    lcx_msg_list_touch(out, LCX_F_items);
    sqlite3_stmt *st = stmt(self, before ? ST_EXEC_LIST_BEFORE : ST_EXEC_LIST);
    sql_bind_text(st, 1, session_id);
    sqlite3_bind_int64(st, 2, limit);
    if (before) sql_bind_text(st, 3, before);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lcx_msg_t *item = lcx_msg_new(LCX_CMD_EXECUTION);
        row_to_execution(st, item, false);
        lcx_msg_items_append(out, &item);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(self, "execution list");
}

/* Steps a bound statement that yields one integer into *value (0 on failure). */
static store_rc_t step_int(store_t *self, sqlite3_stmt *st, const char *what, int64_t *value)
{
    int rc = sqlite3_step(st);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_OK : fail(self, what);
}

/* When the nth most recent run (n >= 1) of a session (EXEC_NTH_RECENT) or of an owner
 * (OWNER_NTH_RECENT) was queued, in *queued_at; 0 when there are fewer runs. One index step
 * however many runs there are: a guard of n runs needs to know only whether there is an nth,
 * and when it leaves the guard's window. */
static store_rc_t nth_recent(store_t *self, int which, const char *of, long n, int64_t *queued_at)
{
    sqlite3_stmt *st = stmt(self, which);
    sql_bind_text(st, 1, of);
    sqlite3_bind_int64(st, 2, n - 1);
    int rc = sqlite3_step(st);
    *queued_at = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : fail(self, "run guard");
}

static store_rc_t last_queued_at(store_t *self, const char *session_id, int64_t *last)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_LAST_QUEUED);
    sql_bind_text(st, 1, session_id);
    return step_int(self, st, "last run", last);
}

static store_rc_t refuse(store_refusal_t *why, const char *guard, long limit, int64_t wait_ms)
{
    why->guard = guard;
    why->guard_limit = limit;
    why->retry_after_ms = wait_ms;
    return STORE_RATE_LIMITED;
}

/* Applies the per-session run guards, each only when set (0 turns one off):
 * STORE_RATE_LIMITED naming the first guard that refuses, with the time until it would let a
 * run through (runs_per_session never does: 0). */
static store_rc_t check_run_limits(store_t *self, const char *session_id,
                                   const store_run_limits_t *limits, store_refusal_t *why)
{
    int64_t now = lcx_now_ms(), queued_at;
    store_rc_t rc;
    if (limits->per_session > 0) {
        rc = nth_recent(self, ST_EXEC_NTH_RECENT, session_id, limits->per_session, &queued_at);
        if (rc != STORE_OK) return rc;
        if (queued_at) return refuse(why, "runs_per_session", limits->per_session, 0);
    }
    if (limits->per_minute > 0) {
        /* Runs count in the minute after they were queued: once the per_minute-th most
         * recent leaves that minute, fewer than per_minute remain in it. */
        rc = nth_recent(self, ST_EXEC_NTH_RECENT, session_id, limits->per_minute, &queued_at);
        if (rc != STORE_OK) return rc;
        if (queued_at && now - queued_at < 60000)
            return refuse(why, "runs_per_minute", limits->per_minute, 60000 - (now - queued_at));
    }
    if (limits->cooldown_ms > 0) {
        if ((rc = last_queued_at(self, session_id, &queued_at)) != STORE_OK) return rc;
        if (queued_at && now - queued_at < limits->cooldown_ms)
            return refuse(why, "cooldown", limits->cooldown_ms,
                          limits->cooldown_ms - (now - queued_at));
    }
    return STORE_OK;
}

/* The caller's quotas (store_run_limits_t): its runs in the last minute, and those still
 * QUEUED or RUNNING. A full concurrent_runs lifts when one of them finishes, which nothing
 * here can foresee: its wait is a second, for the caller to try again. */
static store_rc_t check_quotas(store_t *self, const store_run_limits_t *limits,
                               store_refusal_t *why)
{
    if (!limits->owner) return STORE_OK;
    bool key = strcmp(limits->owner_kind, "key") == 0;
    int64_t now = lcx_now_ms(), value;
    store_rc_t rc;
    if (limits->owner_concurrent > 0) {
        sqlite3_stmt *st = stmt(self, ST_OWNER_ACTIVE);
        sql_bind_text(st, 1, limits->owner);
        if ((rc = step_int(self, st, "active runs", &value)) != STORE_OK) return rc;
        if (value >= limits->owner_concurrent)
            return refuse(why, key ? "key_concurrent_runs" : "anon_concurrent_runs",
                          limits->owner_concurrent, 1000);
    }
    if (limits->owner_per_minute > 0) {
        rc = nth_recent(self, ST_OWNER_NTH_RECENT, limits->owner, limits->owner_per_minute, &value);
        if (rc != STORE_OK) return rc;
        if (value && now - value < 60000)
            return refuse(why, key ? "key_runs_per_minute" : "anon_runs_per_minute",
                          limits->owner_per_minute, 60000 - (now - value));
    }
    return STORE_OK;
}

static char *args_to_json(const lcx_list_t *args)
{
    if (!args->set) return NULL;
    json_t *array = json_array();
    for (size_t i = 0; i < args->n; i++)
        json_array_append_new(array, json_string(args->v[i]));
    char *text = json_dumps(array, JSON_COMPACT);
    json_decref(array);
    return text;
}

static void json_to_args(const char *text, lcx_msg_t *job)
{
    if (!text) return;
    json_t *array = json_loads(text, 0, NULL);
    for (size_t i = 0; i < json_array_size(array); i++)
        lcx_msg_list_append(job, LCX_F_args, json_string_value(json_array_get(array, i)));
    json_decref(array);
}

/* Fills a JOB message from an executions row selected by EXEC_ACTIVE_ALL's columns. */
static void row_to_job(sqlite3_stmt *st, lcx_msg_t *job)
{
    col_to_text(job, LCX_F_execution_id, st, 0);
    col_to_text(job, LCX_F_session_id, st, 1);
    col_to_text(job, LCX_F_language, st, 2);
    col_to_text(job, LCX_F_source_code, st, 3);
    col_to_bytes(job, LCX_F_stdin, st, 4);
    json_to_args(sql_col_text(st, 5), job);
    sql_col_to_int(job, LCX_F_time_ms, st, 6);
    sql_col_to_int(job, LCX_F_memory_mb, st, 7);
    sql_col_to_int(job, LCX_F_attempt, st, 8);
}

/* With an idempotency key already used on this session: that execution, *replayed. */
static store_rc_t find_replay(store_t *self, const lcx_msg_t *run, lcx_msg_t *exec_out,
                              bool *replayed)
{
    *replayed = false;
    if (!run->idempotency_key.ptr) return STORE_NOT_FOUND;
    sqlite3_stmt *st = stmt(self, ST_EXEC_BY_KEY);
    sql_bind_text(st, 1, run->session_id.ptr);
    sql_bind_text(st, 2, run->idempotency_key.ptr);
    int rc = sqlite3_step(st);
    char id[LCX_UUID_LEN + 1] = "";
    if (rc == SQLITE_ROW) snprintf(id, sizeof id, "%s", sql_col_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? STORE_NOT_FOUND : fail(self, "by key");
    *replayed = true;
    return store_execution_get(self, id, exec_out);
}

static store_rc_t insert_execution(store_t *self, const lcx_msg_t *run, const lcx_msg_t *session,
                                   long time_ms, long memory_mb, const char *owner, const char *id)
{
    char *args = args_to_json(&run->args);
    int64_t now = lcx_now_ms();
    sqlite3_stmt *st = stmt(self, ST_EXEC_INSERT);
    sql_bind_text(st, 1, id);
    sql_bind_text(st, 2, session->session_id.ptr);
    sql_bind_text(st, 3, session->language.ptr);
    sql_bind_text(st, 4, session->source_code.ptr);
    sql_bind_buf(st, 5, &run->stdin);
    sql_bind_text(st, 6, args);
    sqlite3_bind_int64(st, 7, run->time_ms.set ? run->time_ms.v : time_ms);
    sqlite3_bind_int64(st, 8, run->memory_mb.set ? run->memory_mb.v : memory_mb);
    sql_bind_text(st, 9, run->idempotency_key.ptr);
    sqlite3_bind_int64(st, 10, now);
    sqlite3_bind_int64(st, 11, session->version.v);
    sql_bind_text(st, 12, owner);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    free(args);
    if (rc == SQLITE_CONSTRAINT) return STORE_CONFLICT;
    if (rc != SQLITE_DONE) return fail(self, "execution insert");
    return add_event(self, id, "QUEUED", 1, NULL, now);
}

/* The RUN's version, when it names one, must be the saved one: STORE_VERSION_MISMATCH. */
static store_rc_t check_version(const lcx_msg_t *run, const lcx_msg_t *session,
                                int64_t *saved_version)
{
    *saved_version = session->version.v;
    return run->version.set && run->version.v != session->version.v ? STORE_VERSION_MISMATCH
                                                                    : STORE_OK;
}

/* A RUN with source_code saves it first, as SESSION_UPDATE would; session is refreshed. */
static store_rc_t save_run_source(store_t *self, const lcx_msg_t *run, lcx_msg_t *session)
{
    if (!run->source_code.ptr) return STORE_OK;
    return store_session_update(self, run->session_id.ptr, NULL, run->source_code.ptr, session);
}

store_rc_t store_execution_create(store_t *self, const lcx_msg_t *run, long time_ms, long memory_mb,
                                  const store_run_limits_t *limits, lcx_msg_t *exec_out,
                                  lcx_msg_t *job_out, bool *replayed, store_refusal_t *why)
{
    *why = (store_refusal_t){0};
    store_rc_t rc = find_replay(self, run, exec_out, replayed);
    if (rc != STORE_NOT_FOUND) return rc;
    lcx_msg_t *session = lcx_msg_new(LCX_CMD_SESSION);
    rc = session_active(self, run->session_id.ptr, session);
    if (rc == STORE_OK) rc = check_version(run, session, &why->saved_version);
    if (rc == STORE_OK &&
        (rc = active_execution_of(self, run->session_id.ptr, why->active_id)) == STORE_OK &&
        why->active_id[0])
        rc = STORE_CONFLICT;
    if (rc == STORE_OK) rc = check_quotas(self, limits, why);
    if (rc == STORE_OK) rc = check_run_limits(self, run->session_id.ptr, limits, why);
    if (rc == STORE_OK && (rc = save_run_source(self, run, session)) == STORE_OK)
        why->saved_version = session->version.v;
    char id[LCX_UUID_LEN + 1];
    lcx_uuid4(id);
    if (rc == STORE_OK)
        rc = insert_execution(self, run, session, time_ms, memory_mb, limits->owner, id);
    if (rc == STORE_OK) self->sync_due = true;
    lcx_msg_destroy(&session);
    if (rc != STORE_OK) return rc;
    if ((rc = store_execution_get(self, id, exec_out)) != STORE_OK) return rc;
    /* The JOB is built from the stored row, the same way reconciliation builds it. */
    sqlite3_stmt *st = stmt(self, ST_EXEC_JOB);
    sql_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) return fail(self, "job select");
    row_to_job(st, job_out);
    sqlite3_reset(st);
    return STORE_OK;
}

store_rc_t store_execution_discard(store_t *self, const char *execution_id)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_DELETE);
    sql_bind_text(st, 1, execution_id);
    return step_done(self, st, "execution delete");
}

/* Reads an execution's status and attempts; STORE_NOT_FOUND when unknown. */
static store_rc_t execution_state(store_t *self, const char *execution_id, char *status,
                                  size_t size, int64_t *attempts)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_STATE);
    sql_bind_text(st, 1, execution_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(status, size, "%s", sql_col_text(st, 0));
        *attempts = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_NOT_FOUND;
    return rc == SQLITE_ROW ? STORE_OK : fail(self, "execution state");
}

/* Writes a terminal state from an UPDATE (or a cancel, update NULL but status set). */
static store_rc_t finish(store_t *self, const char *execution_id, const char *status,
                         int64_t attempt, const lcx_msg_t *u)
{
    static const lcx_msg_t empty;
    if (!u) u = &empty;
    int64_t now = lcx_now_ms();
    sqlite3_stmt *st = stmt(self, ST_EXEC_FINISH);
    sql_bind_text(st, 1, execution_id);
    sql_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, attempt);
    sql_bind_text(st, 4, u->reason.ptr);
    sql_bind_buf(st, 5, &u->stdout);
    sql_bind_buf(st, 6, &u->stderr);
    sql_bind_buf(st, 7, &u->compile_output);
    sql_bind_opt_int(st, 8, &u->exit_code);
    sql_bind_opt_int(st, 9, &u->signal);
    sql_bind_opt_int(st, 10, &u->execution_time_ms);
    sql_bind_opt_int(st, 11, &u->cpu_time_ms);
    sql_bind_opt_int(st, 12, &u->memory_kb);
    sql_bind_opt_int(st, 13, &u->stdout_truncated);
    sql_bind_opt_int(st, 14, &u->stderr_truncated);
    sql_bind_opt_int(st, 15, &u->started_at);
    sqlite3_bind_int64(st, 16, u->finished_at.set ? u->finished_at.v : now);
    sql_bind_text(st, 17, u->runner_id.ptr);
    sql_bind_text(st, 18, u->sandbox.ptr);
    store_rc_t rc = step_done(self, st, "execution finish");
    return rc == STORE_OK ? add_event(self, execution_id, status, attempt, u->runner_id.ptr, now)
                          : rc;
}

store_rc_t store_execution_cancel(store_t *self, const char *execution_id, lcx_msg_t *out)
{
    char status[16];
    int64_t attempts = 0;
    store_rc_t rc = execution_state(self, execution_id, status, sizeof status, &attempts);
    if (rc != STORE_OK) return rc;
    if (store_status_terminal(status)) {
        store_execution_get(self, execution_id, out);
        return STORE_CONFLICT;
    }
    self->sync_due = true;
    rc = finish(self, execution_id, "CANCELLED", attempts, NULL);
    return rc == STORE_OK ? store_execution_get(self, execution_id, out) : rc;
}

store_rc_t store_execution_keep_output(store_t *self, const char *execution_id,
                                       const lcx_msg_t *output)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_KEEP_OUTPUT);
    sql_bind_text(st, 1, execution_id);
    sql_bind_buf(st, 2, &output->stdout);
    sql_bind_buf(st, 3, &output->stderr);
    self->sync_due = true;
    return step_done(self, st, "execution output");
}

bool store_execution_adoptable(store_t *self, const char *execution_id, int64_t attempt,
                               const char *runner_id)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_HOLDER);
    sql_bind_text(st, 1, execution_id);
    bool ok = false;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t attempts = sqlite3_column_int64(st, 1);
        const char *holder = (const char *)sqlite3_column_text(st, 2);
        ok = !store_status_terminal(sql_col_text(st, 0)) && attempt >= attempts &&
             (attempt > attempts || !holder || strcmp(holder, runner_id) == 0);
    } else if (rc != SQLITE_DONE) {
        fail(self, "execution holder");
    }
    sqlite3_reset(st);
    return ok;
}

/* Order of states within one attempt: an update applies only if it moves forward. */
static int status_rank(const char *status)
{
    if (strcmp(status, "QUEUED") == 0) return 0;
    if (strcmp(status, "RUNNING") == 0) return 1;
    return 2;
}

static bool valid_status(const char *status)
{
    static const char *const known[] = {"QUEUED", "RUNNING", "COMPLETED",
                                        "FAILED", "TIMEOUT", "CANCELLED"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(status, known[i]) == 0) return true;
    return false;
}

static store_rc_t move_to(store_t *self, const lcx_msg_t *u, int rank)
{
    int64_t now = lcx_now_ms();
    const char *id = u->execution_id.ptr;
    if (rank == 2) return finish(self, id, u->status.ptr, u->attempt.v, u);
    sqlite3_stmt *st = stmt(self, rank == 0 ? ST_EXEC_REQUEUE : ST_EXEC_START);
    sql_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, u->attempt.v);
    sql_bind_text(st, 3, u->runner_id.ptr);
    if (rank == 1) sqlite3_bind_int64(st, 4, u->started_at.set ? u->started_at.v : now);
    store_rc_t rc = step_done(self, st, "execution move");
    return rc == STORE_OK ? add_event(self, id, u->status.ptr, u->attempt.v, u->runner_id.ptr, now)
                          : rc;
}

/* A runner that ends a run before it reported RUNNING sends only the final update (PROTOCOL.md
 * 6.3): the event log still gets its RUNNING, at the run's start. The dispatcher's own final
 * updates (runner_lost) carry no started_at: that execution never ran. */
static store_rc_t log_skipped_start(store_t *self, const lcx_msg_t *u, int current, int rank,
                                    bool *started)
{
    *started = rank == 2 && current == 0 && u->started_at.set;
    return *started ? add_event(self, u->execution_id.ptr, "RUNNING", u->attempt.v,
                                u->runner_id.ptr, u->started_at.v)
                    : STORE_OK;
}

store_rc_t store_execution_apply(store_t *self, const lcx_msg_t *update, store_applied_t *out)
{
    *out = (store_applied_t){0};
    char status[16];
    int64_t attempts = 0;
    store_rc_t rc =
        execution_state(self, update->execution_id.ptr, status, sizeof status, &attempts);
    if (rc != STORE_OK) return rc;
    out->terminal = store_status_terminal(status);
    if (out->terminal || !valid_status(update->status.ptr)) return STORE_OK;
    int rank = status_rank(update->status.ptr), current = status_rank(status);
    bool forward =
        update->attempt.v > attempts || (update->attempt.v == attempts && rank > current);
    if (!forward) return STORE_OK;
    if ((rc = log_skipped_start(self, update, current, rank, &out->started)) != STORE_OK ||
        (rc = move_to(self, update, rank)) != STORE_OK)
        return rc;
    out->changed = true;
    out->terminal = rank == 2;
    return STORE_OK;
}

store_rc_t store_active_jobs(store_t *self, store_job_fn *fn, void *arg)
{
    sqlite3_stmt *st = stmt(self, ST_EXEC_ACTIVE_ALL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lcx_msg_t *job = lcx_msg_new(LCX_CMD_JOB);
        row_to_job(st, job);
        fn(arg, &job);
        lcx_msg_destroy(&job);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? STORE_OK : fail(self, "active jobs");
}

/* ---------------------------------------------------------------------------------------- */
/* Metrics                                                                                   */

/* Upper bounds (ms, as stored) of the execution-time histogram's buckets; the histogram is
 * written in seconds, Prometheus's base unit. */
static const int time_buckets[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
#define TIME_BUCKETS (sizeof time_buckets / sizeof time_buckets[0])

/* Runs `sql` and prints one "name{labels} value" line per row: columns are label values
 * (named by `labels`, comma separated) then the value. */
static int metric_rows(store_t *self, FILE *out, const char *name, const char *labels,
                       const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int columns = sqlite3_column_count(st), rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(out, "%s{", name);
        const char *label = labels;
        for (int c = 0; c < columns - 1; c++) {
            size_t n = strcspn(label, ",");
            fprintf(out, "%s%.*s=\"%s\"", c ? "," : "", (int)n, label, sql_col_text(st, c));
            label += n + (label[n] == ',');
        }
        fprintf(out, "} %lld\n", (long long)sqlite3_column_int64(st, columns - 1));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int metric_time_histogram(store_t *self, FILE *out)
{
    char sql[1024] = "SELECT count(*), coalesce(sum(execution_time_ms), 0)";
    for (size_t i = 0; i < TIME_BUCKETS; i++) {
        size_t used = strlen(sql);
        snprintf(sql + used, sizeof sql - used, ", coalesce(sum(execution_time_ms <= %d), 0)",
                 time_buckets[i]);
    }
    strncat(sql, " FROM executions WHERE execution_time_ms IS NOT NULL",
            sizeof sql - strlen(sql) - 1);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fprintf(out, "# HELP lcx_execution_duration_seconds Wall time of the run step of "
                     "executions.\n"
                     "# TYPE lcx_execution_duration_seconds histogram\n");
        for (size_t i = 0; i < TIME_BUCKETS; i++)
            fprintf(out, "lcx_execution_duration_seconds_bucket{le=\"%g\"} %lld\n",
                    time_buckets[i] / 1000.0, (long long)sqlite3_column_int64(st, 2 + (int)i));
        long long count = sqlite3_column_int64(st, 0);
        fprintf(out, "lcx_execution_duration_seconds_bucket{le=\"+Inf\"} %lld\n", count);
        fprintf(out,
                "lcx_execution_duration_seconds_sum %.3f\n"
                "lcx_execution_duration_seconds_count %lld\n",
                (double)sqlite3_column_int64(st, 1) / 1000.0, count);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

char *store_metrics(store_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) return NULL;
    fprintf(out, "# HELP lcx_sessions Sessions in the store by status.\n"
                 "# TYPE lcx_sessions gauge\n");
    int rc = metric_rows(self, out, "lcx_sessions", "status",
                         "SELECT status, count(*) FROM sessions GROUP BY status");
    fprintf(out, "# HELP lcx_executions Executions in the store by language and status.\n"
                 "# TYPE lcx_executions gauge\n");
    if (rc == 0)
        rc = metric_rows(self, out, "lcx_executions", "language,status",
                         "SELECT language, status, count(*) FROM executions"
                         " GROUP BY language, status");
    if (rc == 0) rc = metric_time_histogram(self, out);
    fclose(out);
    if (rc != 0) {
        fail(self, "metrics");
        free(text);
        return NULL;
    }
    return text;
}
