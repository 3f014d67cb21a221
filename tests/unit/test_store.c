/* Unit tests: the session store's SQLite layer and its invariants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "store.h"

#include <sqlite3.h>

typedef struct {
    char dir[64];
    store_t *store;
    char session_id[64];
} fixture_t;

static const store_run_limits_t no_limits = {.cooldown_ms = 0};

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lcx-test-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    f->store = store_new(f->dir, err, sizeof err);
    assert_non_null(f->store);
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_create(f->store, "python", "print(1)", NULL, s), STORE_OK);
    snprintf(f->session_id, sizeof f->session_id, "%s", s->session_id.ptr);
    lcx_msg_destroy(&s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_destroy(&f->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Creates an execution on the fixture's session under the run guards `limits`; returns the
 * store's answer, and why it refused in *why. */
static store_rc_t run_guarded(fixture_t *f, const char *key, const store_run_limits_t *limits,
                              char *id_out, store_refusal_t *why)
{
    lcx_msg_t *req = lcx_msg_new(LCX_CMD_RUN);
    lcx_msg_set_str(req, LCX_F_session_id, f->session_id);
    if (key) lcx_msg_set_str(req, LCX_F_idempotency_key, key);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    bool replayed = false;
    store_rc_t rc =
        store_execution_create(f->store, req, 5000, 256, limits, exec, job, &replayed, why);
    if (rc == STORE_OK && id_out) strcpy(id_out, exec->execution_id.ptr);
    if (rc == STORE_CONFLICT && id_out) strcpy(id_out, why->active_id);
    if (rc == STORE_OK && !replayed) {
        assert_string_equal(job->source_code.ptr, "print(1)");
        assert_int_equal(job->attempt.v, 1);
    }
    lcx_msg_destroy(&req);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
    return rc;
}

/* Creates an execution with no run guards. */
static store_rc_t run(fixture_t *f, const char *key, char *id_out)
{
    store_refusal_t why;
    return run_guarded(f, key, &no_limits, id_out, &why);
}

static store_rc_t update(fixture_t *f, const char *id, int attempt, const char *status,
                         bool *changed)
{
    lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(u, LCX_F_execution_id, id);
    lcx_msg_set_int(u, LCX_F_attempt, attempt);
    lcx_msg_set_str(u, LCX_F_status, status);
    if (strcmp(status, "COMPLETED") == 0) {
        lcx_msg_set_bytes(u, LCX_F_stdout, "hi\n", 3);
        lcx_msg_set_str(u, LCX_F_sandbox, "test-sandbox");
    }
    store_applied_t applied;
    store_rc_t rc = store_execution_apply(f->store, u, &applied);
    *changed = applied.changed;
    lcx_msg_destroy(&u);
    return rc;
}

static const char *status_of(fixture_t *f, const char *id, char *buf)
{
    lcx_msg_t *e = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_int_equal(store_execution_get(f->store, id, e), STORE_OK);
    strcpy(buf, e->status.ptr);
    lcx_msg_destroy(&e);
    return buf;
}

static void versions_grow_per_update(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_update(f->store, f->session_id, NULL, "a", s), STORE_OK);
    assert_int_equal(store_session_update(f->store, f->session_id, "bash", NULL, s), STORE_OK);
    assert_int_equal(s->version.v, 3);
    assert_string_equal(s->source_code.ptr, "a");
    assert_string_equal(s->language.ptr, "bash");
    assert_int_equal(store_session_get(f->store, "nope", s), STORE_NOT_FOUND);
    lcx_msg_destroy(&s);
}

static void one_active_execution_per_session(void **state)
{
    fixture_t *f = *state;
    char first[64], second[64];
    assert_int_equal(run(f, NULL, first), STORE_OK);
    assert_int_equal(run(f, NULL, second), STORE_CONFLICT);
    assert_string_equal(first, second); /* the conflict names the active one */
}

static void idempotency_key_replays(void **state)
{
    fixture_t *f = *state;
    char first[64], again[64];
    assert_int_equal(run(f, "k1", first), STORE_OK);
    assert_int_equal(run(f, "k1", again), STORE_OK);
    assert_string_equal(first, again);
}

static void updates_are_idempotent_and_monotonic(void **state)
{
    fixture_t *f = *state;
    char id[64], buf[16];
    bool changed;
    assert_int_equal(run(f, NULL, id), STORE_OK);
    assert_int_equal(update(f, id, 1, "RUNNING", &changed), STORE_OK);
    assert_true(changed);
    assert_int_equal(update(f, id, 1, "RUNNING", &changed), STORE_OK);
    assert_false(changed); /* replay */
    assert_int_equal(update(f, id, 2, "QUEUED", &changed), STORE_OK);
    assert_true(changed); /* re-dispatch after a lost runner */
    assert_int_equal(update(f, id, 1, "COMPLETED", &changed), STORE_OK);
    assert_false(changed); /* stale attempt */
    assert_int_equal(update(f, id, 2, "COMPLETED", &changed), STORE_OK);
    assert_true(changed);
    assert_int_equal(update(f, id, 2, "FAILED", &changed), STORE_OK);
    assert_false(changed); /* terminal is final */
    assert_string_equal(status_of(f, id, buf), "COMPLETED");
    /* The outcome reads back in the right fields. */
    lcx_msg_t *e = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_int_equal(store_execution_get(f->store, id, e), STORE_OK);
    assert_string_equal(e->stdout.ptr, "hi\n");
    assert_null(e->stderr.ptr);
    assert_null(e->compile_output.ptr);
    assert_string_equal(e->sandbox.ptr, "test-sandbox");
    assert_int_equal(e->attempts.v, 2);
    lcx_msg_destroy(&e);
    char next[64];
    assert_int_equal(run(f, NULL, next), STORE_OK); /* no longer active */
}

/* Applies a final update with the given started_at (0: none, as the dispatcher's own). */
static store_applied_t finish_from_queued(fixture_t *f, const char *id, int64_t started_at)
{
    lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(u, LCX_F_execution_id, id);
    lcx_msg_set_int(u, LCX_F_attempt, 1);
    lcx_msg_set_str(u, LCX_F_status, "FAILED");
    if (started_at) lcx_msg_set_int(u, LCX_F_started_at, started_at);
    store_applied_t applied;
    assert_int_equal(store_execution_apply(f->store, u, &applied), STORE_OK);
    lcx_msg_destroy(&u);
    return applied;
}

/* A run that ended before it reported RUNNING: the final update starts and ends it. */
static void final_update_on_queued_counts_as_started(void **state)
{
    fixture_t *f = *state;
    char id[64];
    assert_int_equal(run(f, NULL, id), STORE_OK);
    store_applied_t applied = finish_from_queued(f, id, 1234567);
    assert_true(applied.changed && applied.terminal && applied.started);
    lcx_msg_t *e = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_int_equal(store_execution_get(f->store, id, e), STORE_OK);
    assert_string_equal(e->status.ptr, "FAILED");
    assert_int_equal(e->started_at.v, 1234567);
    lcx_msg_destroy(&e);
    /* The dispatcher giving up on a queued job (no started_at): it never ran. */
    char other[64];
    assert_int_equal(run(f, NULL, other), STORE_OK);
    applied = finish_from_queued(f, other, 0);
    assert_true(applied.changed && applied.terminal);
    assert_false(applied.started);
}

/* Which of a registering runner's jobs the store confirms (ADOPT): unfinished, an attempt not
 * older than the recorded one, and no other runner reported RUNNING at that attempt. */
static void adoption_is_confirmed_only_for_unfinished_jobs(void **state)
{
    fixture_t *f = *state;
    char id[64];
    assert_int_equal(run(f, NULL, id), STORE_OK);
    assert_false(store_execution_adoptable(f->store, "0b6f2c1e-1111-4222-8333-444455556666", 1,
                                           "r1"));                 /* no such execution */
    assert_true(store_execution_adoptable(f->store, id, 1, "r1")); /* QUEUED, nobody holds it */
    assert_true(store_execution_adoptable(f->store, id, 2, "r1")); /* the store lags behind */
    lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(u, LCX_F_execution_id, id);
    lcx_msg_set_int(u, LCX_F_attempt, 1);
    lcx_msg_set_str(u, LCX_F_status, "RUNNING");
    lcx_msg_set_str(u, LCX_F_runner_id, "r1");
    store_applied_t applied;
    assert_int_equal(store_execution_apply(f->store, u, &applied), STORE_OK);
    lcx_msg_destroy(&u);
    assert_true(store_execution_adoptable(f->store, id, 1, "r1"));
    assert_false(store_execution_adoptable(f->store, id, 1, "impostor")); /* r1 runs it */
    assert_true(store_execution_adoptable(f->store, id, 2, "r2"));
    bool changed;
    assert_int_equal(update(f, id, 2, "QUEUED", &changed), STORE_OK); /* r1 was lost */
    assert_false(store_execution_adoptable(f->store, id, 1, "r1"));   /* a stale attempt */
    assert_true(store_execution_adoptable(f->store, id, 2, "r2"));
    assert_int_equal(update(f, id, 2, "COMPLETED", &changed), STORE_OK);
    assert_false(store_execution_adoptable(f->store, id, 2, "r2")); /* finished */
}

static void close_cancels_active_and_blocks_runs(void **state)
{
    fixture_t *f = *state;
    char id[64], cancelled[64], buf[16];
    assert_int_equal(run(f, NULL, id), STORE_OK);
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_close(f->store, f->session_id, s, cancelled), STORE_OK);
    assert_string_equal(s->status.ptr, "INACTIVE");
    assert_string_equal(cancelled, id);
    assert_string_equal(status_of(f, id, buf), "CANCELLED");
    assert_int_equal(store_session_close(f->store, f->session_id, s, cancelled), STORE_OK);
    assert_int_equal(store_session_update(f->store, f->session_id, NULL, "x", s), STORE_INACTIVE);
    assert_int_equal(run(f, NULL, NULL), STORE_INACTIVE);
    lcx_msg_destroy(&s);
}

static void list_is_newest_first(void **state)
{
    fixture_t *f = *state;
    char a[64], b[64];
    bool changed;
    assert_int_equal(run(f, NULL, a), STORE_OK);
    assert_int_equal(update(f, a, 1, "COMPLETED", &changed), STORE_OK);
    assert_int_equal(run(f, NULL, b), STORE_OK);
    lcx_msg_t *list = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_list(f->store, f->session_id, 50, NULL, list), STORE_OK);
    assert_int_equal(list->items.n, 2);
    assert_string_equal(list->items.v[0]->execution_id.ptr, b);
    assert_string_equal(list->items.v[1]->execution_id.ptr, a);
    lcx_msg_destroy(&list);
}

/* Pages: at most `limit`, newest first, and `before` continues after a page's last one; a
 * `before` that is not an execution of this session is refused. */
static void list_pages(void **state)
{
    fixture_t *f = *state;
    char ids[5][64];
    bool changed;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(run(f, NULL, ids[i]), STORE_OK);
        assert_int_equal(update(f, ids[i], 1, "COMPLETED", &changed), STORE_OK);
    }
    lcx_msg_t *page = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_list(f->store, f->session_id, 2, NULL, page), STORE_OK);
    assert_int_equal(page->items.n, 2);
    assert_string_equal(page->items.v[0]->execution_id.ptr, ids[4]);
    assert_string_equal(page->items.v[1]->execution_id.ptr, ids[3]);
    lcx_msg_destroy(&page);
    page = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_list(f->store, f->session_id, 2, ids[3], page), STORE_OK);
    assert_int_equal(page->items.n, 2);
    assert_string_equal(page->items.v[0]->execution_id.ptr, ids[2]);
    assert_string_equal(page->items.v[1]->execution_id.ptr, ids[1]);
    lcx_msg_destroy(&page);
    page = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_list(f->store, f->session_id, 2, ids[1], page), STORE_OK);
    assert_int_equal(page->items.n, 1);
    assert_string_equal(page->items.v[0]->execution_id.ptr, ids[0]);
    lcx_msg_destroy(&page);
    page = lcx_msg_new(LCX_CMD_EXECUTIONS);
    char stranger[LCX_UUID_LEN + 1];
    lcx_uuid4(stranger);
    assert_int_equal(store_execution_list(f->store, f->session_id, 2, stranger, page),
                     STORE_INVALID);
    lcx_msg_destroy(&page);
}

/* A cancelled execution keeps the output it is given (what the live log showed). */
static void cancel_keeps_output(void **state)
{
    fixture_t *f = *state;
    char id[64];
    assert_int_equal(run(f, NULL, id), STORE_OK);
    lcx_msg_t *out = lcx_msg_new(LCX_CMD_EXECUTION), *shown = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_int_equal(store_execution_cancel(f->store, id, out), STORE_OK);
    lcx_msg_set_bytes(shown, LCX_F_stdout, "1\n2\n", 4);
    assert_int_equal(store_execution_keep_output(f->store, id, shown), STORE_OK);
    assert_int_equal(store_execution_get(f->store, id, out), STORE_OK);
    assert_string_equal(out->status.ptr, "CANCELLED");
    assert_int_equal(out->stdout.len, 4);
    assert_memory_equal(out->stdout.ptr, "1\n2\n", 4);
    assert_null(out->stderr.ptr);
    lcx_msg_destroy(&out);
    lcx_msg_destroy(&shown);
}

static void run_limits_apply(void **state)
{
    fixture_t *f = *state;
    char id[64];
    bool changed;
    store_refusal_t why;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run(f, NULL, id), STORE_OK);
        assert_int_equal(update(f, id, 1, "COMPLETED", &changed), STORE_OK);
    }
    const store_run_limits_t cooldown = {.cooldown_ms = 60000}, per_minute = {.per_minute = 2},
                             per_session = {.per_session = 2},
                             roomy = {.per_minute = 3, .per_session = 3};
    /* Each refusal names its guard and the true wait: the time until that guard lets a run
     * through (the two runs were queued just now), or none at all for runs_per_session. */
    assert_int_equal(run_guarded(f, NULL, &cooldown, NULL, &why), STORE_RATE_LIMITED);
    assert_string_equal(why.guard, "cooldown");
    assert_int_equal(why.guard_limit, 60000);
    assert_true(why.retry_after_ms > 50000 && why.retry_after_ms <= 60000);
    assert_int_equal(run_guarded(f, NULL, &per_minute, NULL, &why), STORE_RATE_LIMITED);
    assert_string_equal(why.guard, "runs_per_minute");
    assert_int_equal(why.guard_limit, 2);
    assert_true(why.retry_after_ms > 50000 && why.retry_after_ms <= 60000);
    assert_int_equal(run_guarded(f, NULL, &per_session, NULL, &why), STORE_RATE_LIMITED);
    assert_string_equal(why.guard, "runs_per_session");
    assert_int_equal(why.retry_after_ms, 0);
    assert_int_equal(run_guarded(f, NULL, &roomy, id, &why), STORE_OK); /* 0 turns one off */
    assert_null(why.guard);
}

static void data_survives_reopen(void **state)
{
    fixture_t *f = *state;
    store_destroy(&f->store);
    char err[256];
    f->store = store_new(f->dir, err, sizeof err);
    assert_non_null(f->store);
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_get(f->store, f->session_id, s), STORE_OK);
    lcx_msg_destroy(&s);
}

static off_t file_size(const char *dir, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A steady stream of commits (about 11000 WAL frames of 4 KiB) leaves the WAL bounded: the
 * background checkpoints copy the frames into the database file and the store's catch-up
 * lets the WAL start over (4000 frames, about 16 MiB; 20 MiB allows for the last batch). */
static void wal_is_copied_back_and_starts_over(void **state)
{
    fixture_t *f = *state;
    char source[3001];
    memset(source, 'x', sizeof source - 1);
    source[sizeof source - 1] = '\0';
    off_t wal_max = 0;
    char last_id[64] = "", why[256];
    for (int batch = 0; batch < 1000; batch++) {
        assert_int_equal(store_begin(f->store, why, sizeof why), 0);
        for (int i = 0; i < 10; i++) {
            lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
            assert_int_equal(store_session_create(f->store, "python", source, NULL, s), STORE_OK);
            snprintf(last_id, sizeof last_id, "%s", s->session_id.ptr);
            lcx_msg_destroy(&s);
        }
        assert_int_equal(store_commit(f->store), 0);
        off_t wal = file_size(f->dir, "lcx.db-wal");
        if (wal > wal_max) wal_max = wal;
    }
    assert_true(wal_max < 20 * 1024 * 1024);
    assert_true(file_size(f->dir, "lcx.db") > 30 * 1000 * 1000); /* the sessions got there */
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_get(f->store, last_id, s), STORE_OK);
    assert_int_equal((int)s->source_code.len, 3000);
    lcx_msg_destroy(&s);
}

/* A RUN as the gateway sends it, with source_code and version when given (NULL / 0: none). */
static store_rc_t run_text(fixture_t *f, const char *source, int64_t version, lcx_msg_t *exec,
                           lcx_msg_t *job, int64_t *saved)
{
    lcx_msg_t *req = lcx_msg_new(LCX_CMD_RUN);
    lcx_msg_set_str(req, LCX_F_session_id, f->session_id);
    if (source) lcx_msg_set_str(req, LCX_F_source_code, source);
    if (version) lcx_msg_set_int(req, LCX_F_version, version);
    bool replayed = false;
    store_refusal_t why;
    store_rc_t rc =
        store_execution_create(f->store, req, 5000, 256, &no_limits, exec, job, &replayed, &why);
    *saved = why.saved_version;
    lcx_msg_destroy(&req);
    return rc;
}

static int64_t saved_version_of(fixture_t *f, char *source_out)
{
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_get(f->store, f->session_id, s), STORE_OK);
    int64_t v = s->version.v;
    if (source_out) strcpy(source_out, s->source_code.ptr);
    lcx_msg_destroy(&s);
    return v;
}

/* The text a RUN carries is saved as a new version and is what the job runs. */
static void run_with_source_saves_and_runs_it(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    int64_t saved = 0;
    assert_int_equal(run_text(f, "print(2)", 0, exec, job, &saved), STORE_OK);
    assert_int_equal(saved, 2);
    assert_true(exec->source_version.set);
    assert_int_equal(exec->source_version.v, 2);
    assert_string_equal(job->source_code.ptr, "print(2)");
    char source[64];
    assert_int_equal(saved_version_of(f, source), 2);
    assert_string_equal(source, "print(2)");
    /* The stored record says it too, in the full view and the summaries. */
    lcx_msg_t *again = lcx_msg_new(LCX_CMD_EXECUTION), *list = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_get(f->store, exec->execution_id.ptr, again), STORE_OK);
    assert_int_equal(again->source_version.v, 2);
    assert_int_equal(store_execution_list(f->store, f->session_id, 50, NULL, list), STORE_OK);
    assert_int_equal(list->items.n, 1);
    assert_int_equal(list->items.v[0]->source_version.v, 2);
    lcx_msg_destroy(&again);
    lcx_msg_destroy(&list);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

/* A plain RUN records the saved version it ran; a matching version runs, a stale one is refused
 * (naming the saved version) and, with source_code, saves nothing. */
static void run_version_must_match(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    int64_t saved = 0;
    assert_int_equal(run_text(f, "print(3)", 7, exec, job, &saved), STORE_VERSION_MISMATCH);
    assert_int_equal(saved, 1);
    char source[64];
    assert_int_equal(saved_version_of(f, source), 1);
    assert_string_equal(source, "print(1)");
    assert_int_equal(run_text(f, NULL, 1, exec, job, &saved), STORE_OK);
    assert_int_equal(exec->source_version.v, 1);
    assert_string_equal(job->source_code.ptr, "print(1)");
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

/* With version and source_code together, the text is saved when the version matches. */
static void run_version_and_source_together(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    int64_t saved = 0;
    assert_int_equal(run_text(f, "print(4)", 1, exec, job, &saved), STORE_OK);
    assert_int_equal(saved, 2);
    assert_int_equal(exec->source_version.v, 2);
    assert_string_equal(job->source_code.ptr, "print(4)");
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

/* A refused run undoes its writes: the savepoint takes back the execution and the saved text. */
static void savepoint_undoes_a_run_and_its_text(void **state)
{
    fixture_t *f = *state;
    char why[256];
    assert_int_equal(store_begin(f->store, why, sizeof why), 0);
    assert_int_equal(store_savepoint(f->store), 0);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    int64_t saved = 0;
    assert_int_equal(run_text(f, "print(5)", 0, exec, job, &saved), STORE_OK);
    store_savepoint_end(f->store, true);
    assert_int_equal(store_commit(f->store), 0);
    char source[64];
    assert_int_equal(saved_version_of(f, source), 1);
    assert_string_equal(source, "print(1)");
    lcx_msg_t *list = lcx_msg_new(LCX_CMD_EXECUTIONS);
    assert_int_equal(store_execution_list(f->store, f->session_id, 50, NULL, list), STORE_OK);
    assert_int_equal(list->items.n, 0);
    lcx_msg_destroy(&list);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

/* A database of schema version 2 (no source_version column) is migrated on open: its old
 * executions have no source_version, new ones have it. */
static void schema_v2_is_migrated(void **state)
{
    fixture_t *f = *state;
    char old_id[64];
    assert_int_equal(run(f, NULL, old_id), STORE_OK);
    store_destroy(&f->store);
    char path[128];
    snprintf(path, sizeof path, "%s/lcx.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE api_keys; DROP INDEX executions_by_owner;"
                                  "DROP INDEX executions_active_by_owner;"
                                  "ALTER TABLE executions DROP COLUMN owner;"
                                  "ALTER TABLE sessions DROP COLUMN owner;"
                                  "ALTER TABLE executions DROP COLUMN source_version;"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    char err[256];
    f->store = store_new(f->dir, err, sizeof err);
    assert_non_null(f->store);
    lcx_msg_t *e = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_int_equal(store_execution_get(f->store, old_id, e), STORE_OK);
    assert_false(e->source_version.set);
    assert_int_equal(store_execution_cancel(f->store, old_id, e), STORE_OK);
    lcx_msg_destroy(&e);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    int64_t saved = 0;
    assert_int_equal(run_text(f, NULL, 0, exec, job, &saved), STORE_OK);
    assert_int_equal(exec->source_version.v, 1);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(versions_grow_per_update, setup, teardown),
        cmocka_unit_test_setup_teardown(one_active_execution_per_session, setup, teardown),
        cmocka_unit_test_setup_teardown(idempotency_key_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(updates_are_idempotent_and_monotonic, setup, teardown),
        cmocka_unit_test_setup_teardown(final_update_on_queued_counts_as_started, setup, teardown),
        cmocka_unit_test_setup_teardown(adoption_is_confirmed_only_for_unfinished_jobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(close_cancels_active_and_blocks_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(list_is_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(run_limits_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(list_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_keeps_output, setup, teardown),
        cmocka_unit_test_setup_teardown(data_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(run_with_source_saves_and_runs_it, setup, teardown),
        cmocka_unit_test_setup_teardown(run_version_must_match, setup, teardown),
        cmocka_unit_test_setup_teardown(run_version_and_source_together, setup, teardown),
        cmocka_unit_test_setup_teardown(savepoint_undoes_a_run_and_its_text, setup, teardown),
        cmocka_unit_test_setup_teardown(schema_v2_is_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(wal_is_copied_back_and_starts_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
