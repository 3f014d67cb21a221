/*
 * store: the SQLite database of sessions and executions — the single source of truth.
 *
 * One connection, used by one thread, WAL journal. Every committed transaction survives a
 * kill -9 of the process. A transaction that holds the user's own writes (sessions and their
 * source, run requests, cancels) also survives a power cut: its commit syncs the WAL. State
 * changes that runners report commit without a sync (synchronous=NORMAL): a power cut can lose
 * only the latest of them, in order, and their execution is then QUEUED or RUNNING again and
 * runs again. Callers group several operations in one transaction (store_begin/store_commit),
 * so a burst of autosaves costs one fsync.
 *
 * Records travel as lcx_msg_t: SESSION, EXECUTION and JOB messages, so the server can reply
 * with them as they are.
 */
#ifndef LCX_STORE_H
#define LCX_STORE_H

#include "lcx_proto.h"
#include "util.h"

#include <stdbool.h>

typedef enum {
    STORE_OK = 0,
    STORE_NOT_FOUND,
    STORE_INACTIVE,         /* the session is closed */
    STORE_CONFLICT,         /* the session already has a QUEUED or RUNNING execution */
    STORE_RATE_LIMITED,     /* cooldown, per-minute or per-session limit */
    STORE_VERSION_MISMATCH, /* a RUN's version is not the session's saved version */
    STORE_INVALID,          /* a request names something that does not fit (a page's `before`) */
    STORE_ERROR             /* SQLite failed; logged */
} store_rc_t;

/* The limits on a run: per session (settings run_cooldown_ms, runs_per_minute,
 * runs_per_session), and the quotas of its caller (PROTOCOL.md 6.1, "The caller"): the runs of
 * one owner, a key id or "addr:" and a client's address, count together. 0 turns one off. */
typedef struct {
    long cooldown_ms;
    long per_minute;
    long per_session;
    const char *owner;      /* NULL: no quotas */
    const char *owner_kind; /* "key" or "anon": the quotas' names begin with it */
    long owner_per_minute;
    long owner_concurrent; /* QUEUED and RUNNING executions */
} store_run_limits_t;

/* Why store_execution_create refused a run, beyond its return code. */
typedef struct {
    char active_id[LCX_UUID_LEN + 1]; /* STORE_CONFLICT: the active execution */
    int64_t saved_version;            /* the session's saved version (after the save) */
    const char *guard;                /* STORE_RATE_LIMITED: "cooldown", "runs_per_minute",
                                         "runs_per_session", or a quota: "key_runs_per_minute",
                                         "anon_concurrent_runs", ... (static text) */
    long guard_limit;                 /* that guard's setting */
    int64_t retry_after_ms;           /* when that guard lets a run through; 0: never */
} store_refusal_t;

typedef struct store_t store_t;

/* Opens (creating or migrating) dir/lcx.db. NULL with a reason in err. */
store_t *store_new(const char *dir, char *err, size_t errlen);
void store_destroy(store_t **self_p);

/* Starts a transaction. 0, or -1 with SQLite's reason in why (not logged: a caller that keeps
 * retrying decides what to log). The database's write lock is waited for up to busy_ms. */
int store_begin(store_t *self, char *why, size_t size);
/* How long store_begin waits for the write lock (setting store_busy_ms). */
void store_set_busy_ms(store_t *self, int busy_ms);
/* Commits, and syncs the WAL when the transaction holds a user's write. 0, or -1 when either
 * failed: then what the transaction wrote may be lost, so nothing of it is acknowledged. */
int store_commit(store_t *self);
void store_rollback(store_t *self);
/* A savepoint inside the open transaction, so that one request's writes can be undone alone:
 * store_savepoint_end(undo) rolls back to it (when undo) and releases it. 0, or -1. */
int store_savepoint(store_t *self);
void store_savepoint_end(store_t *self, bool undo);

/* The open connection, for the modules that keep tables of their own in the same database
 * and transactions (keyring.h). */
struct sqlite3 *store_db(store_t *self);

/* Sessions. `out` is a SESSION message whose fields are filled. owner: the key id that creates
 * the session (NULL: none). */
store_rc_t store_session_create(store_t *self, const char *language, const char *source,
                                const char *owner, lcx_msg_t *out);
/* Who owns what a request names: a session, by its id or by one of its executions' id. */
typedef struct {
    char session_id[LCX_UUID_LEN + 1];
    char owner[64]; /* the key that created the session; empty: none */
    bool active;
} store_owner_t;
/* STORE_NOT_FOUND when no session (or execution) has the id. */
store_rc_t store_owner_of(store_t *self, const char *session_id, const char *execution_id,
                          store_owner_t *out);
store_rc_t store_session_get(store_t *self, const char *session_id, lcx_msg_t *out);
/* language or source may be NULL (unchanged); version grows by one. */
store_rc_t store_session_update(store_t *self, const char *session_id, const char *language,
                                const char *source, lcx_msg_t *out);
/* Marks INACTIVE (idempotent). Its active execution, if any, is CANCELLED and its id copied to
 * cancelled_id (LCX_UUID_LEN + 1 bytes, empty when none). */
store_rc_t store_session_close(store_t *self, const char *session_id, lcx_msg_t *out,
                               char *cancelled_id);

/*
 * Executions. store_execution_create takes a RUN message and the defaults for absent limits.
 * STORE_OK: a new QUEUED execution (exec_out, an EXECUTION) and its JOB (job_out, attempt 1);
 * with an idempotency key seen before on this session, the earlier execution and *replayed.
 * STORE_CONFLICT: why->active_id names the active execution. STORE_RATE_LIMITED: why->guard,
 * its limit and the true wait. A RUN's version, when set, must equal the session's saved
 * version (else STORE_VERSION_MISMATCH); its source_code, when set, is saved (version + 1)
 * once every check has passed, and the execution runs it. why->saved_version: the session's
 * saved version (after the save), also on STORE_VERSION_MISMATCH. The execution's
 * source_version is the version it runs.
 */
store_rc_t store_execution_create(store_t *self, const lcx_msg_t *run, long time_ms, long memory_mb,
                                  const store_run_limits_t *limits, lcx_msg_t *exec_out,
                                  lcx_msg_t *job_out, bool *replayed, store_refusal_t *why);
/* Removes an execution the dispatcher refused (it never ran). */
store_rc_t store_execution_discard(store_t *self, const char *execution_id);
store_rc_t store_execution_get(store_t *self, const char *execution_id, lcx_msg_t *out);
/* A summary per execution (no outputs), newest first, into out (an EXECUTIONS message): at
 * most `limit`, and only those older than `before` when it is set (NULL: from the newest).
 * STORE_INVALID when `before` is not an execution of this session. */
store_rc_t store_execution_list(store_t *self, const char *session_id, long limit,
                                const char *before, lcx_msg_t *out);
/* Marks a QUEUED or RUNNING execution CANCELLED. STORE_CONFLICT when already finished. */
store_rc_t store_execution_cancel(store_t *self, const char *execution_id, lcx_msg_t *out);
/* A cancelled execution keeps what the live log showed of its output: `output`'s stdout and
 * stderr (either may be unset) become the execution's. */
store_rc_t store_execution_keep_output(store_t *self, const char *execution_id,
                                       const lcx_msg_t *output);

/* What store_execution_apply did. */
typedef struct {
    bool changed;  /* the update moved the execution forward */
    bool terminal; /* the execution is finished (whether or not this update finished it) */
    bool started;  /* a final update from a runner found the execution QUEUED: the store
                      logged RUNNING (at the update's started_at) before the final state */
} store_applied_t;

/*
 * Applies an UPDATE (from the dispatcher). Idempotent and monotonic: an update is applied only
 * when (attempt, status rank) moves forward; a replay or a stale update changes nothing.
 */
store_rc_t store_execution_apply(store_t *self, const lcx_msg_t *update, store_applied_t *out);

/* Whether runner_id may be running `attempt` of the execution, as a registering runner says it
 * is (the dispatcher's ADOPT, PROTOCOL.md 6.2): the execution is QUEUED or RUNNING, the attempt
 * is not older than its attempts, and at its attempts no other runner reported RUNNING. */
bool store_execution_adoptable(store_t *self, const char *execution_id, int64_t attempt,
                               const char *runner_id);

/* Calls fn with a JOB message for every QUEUED or RUNNING execution (reconciliation). */
typedef void(store_job_fn)(void *arg, lcx_msg_t **job_p);
store_rc_t store_active_jobs(store_t *self, store_job_fn *fn, void *arg);

bool store_status_terminal(const char *status);

/* The store's part of /metrics in Prometheus text format (malloc'd), or NULL on error:
 * sessions by status, executions by language and status, and a histogram of run wall times. */
char *store_metrics(store_t *self);

#endif
