/* Unit tests: the store's API keys (keyring.h), its checks of a request's caller (access.h)
 * and the quota windows of store_execution_create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "access.h"
#include "keyring.h"
#include "store.h"
#include "util.h"

typedef struct {
    char dir[64];
    store_t *store;
    keyring_t *keys;
    lcx_settings_t settings;
    char admin[APIKEY_LEN + 1], client[APIKEY_LEN + 1], other[APIKEY_LEN + 1];
    apikey_t admin_key, client_key, other_key;
    char session_id[LCX_UUID_LEN + 1]; /* the client key's session */
} fixture_t;

static const keyring_defaults_t defaults = {600, 32, 30000, 1024};

static void add_key(fixture_t *f, char *text, apikey_t *key, const char *role)
{
    apikey_generate(text, key);
    lcx_msg_t *req = lcx_msg_new(LCX_CMD_KEY_CREATE), *out = lcx_msg_new(LCX_CMD_KEY);
    lcx_msg_set_str(req, LCX_F_key_id, key->id);
    lcx_msg_set_bytes(req, LCX_F_secret_hash, key->hash, APIKEY_HASH_LEN);
    lcx_msg_set_str(req, LCX_F_name, role);
    lcx_msg_set_str(req, LCX_F_role, role);
    const char *why = NULL;
    assert_int_equal(keyring_create(f->keys, req, out, &why), STORE_OK);
    assert_string_equal(out->key_id.ptr, key->id);
    lcx_msg_destroy(&req);
    lcx_msg_destroy(&out);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lcx-test-access-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    assert_int_equal(apikey_init(), 0);
    f->store = store_new(f->dir, err, sizeof err);
    assert_non_null(f->store);
    f->keys = keyring_new(f->store, &defaults, err, sizeof err);
    assert_non_null(f->keys);
    f->settings.anon_runs_per_minute = 60;
    f->settings.anon_concurrent_runs = 8;
    add_key(f, f->admin, &f->admin_key, "admin");
    add_key(f, f->client, &f->client_key, "client");
    add_key(f, f->other, &f->other_key, "client");
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_create(f->store, "python", "print(1)", f->client_key.id, s),
                     STORE_OK);
    snprintf(f->session_id, sizeof f->session_id, "%s", s->session_id.ptr);
    lcx_msg_destroy(&s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    keyring_destroy(&f->keys);
    store_destroy(&f->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A request of cmd on the fixture's session, from key (NULL: anonymous), through a token of
 * token_session when it is set (then no secret travels). */
static lcx_msg_t *request(lcx_cmd_t cmd, const fixture_t *f, const apikey_t *key,
                          const char *token_session)
{
    lcx_msg_t *req = lcx_msg_new(cmd);
    if (cmd != LCX_CMD_SESSION_CREATE && cmd != LCX_CMD_METRICS && cmd != LCX_CMD_KEY_LIST)
        lcx_msg_set_str(req, LCX_F_session_id, f->session_id);
    lcx_msg_set_str(req, LCX_F_caller_address, "192.0.2.7");
    if (!key) return req;
    lcx_msg_set_str(req, LCX_F_caller_key_id, key->id);
    if (token_session)
        lcx_msg_set_str(req, LCX_F_caller_session_id, token_session);
    else
        lcx_msg_set_bytes(req, LCX_F_caller_secret, key->hash, APIKEY_HASH_LEN);
    return req;
}

/* access_check's verdict: "ok", or the refusal's code (and its reason in *reason). */
static const char *verdict(fixture_t *f, lcx_msg_t **req_p, access_caller_t *caller,
                           const char **reason)
{
    access_refusal_t refusal = {0};
    access_caller_t ignored;
    store_rc_t rc =
        access_check(f->store, f->keys, &f->settings, *req_p, caller ? caller : &ignored, &refusal);
    lcx_msg_destroy(req_p);
    if (reason) *reason = refusal.reason;
    if (rc == STORE_OK) return "ok";
    assert_int_equal(rc, STORE_INVALID);
    return refusal.code;
}

static void anonymous_callers_pass_with_their_address_as_owner(void **state)
{
    fixture_t *f = *state;
    access_caller_t caller;
    lcx_msg_t *req = request(LCX_CMD_SESSION_GET, f, NULL, NULL);
    assert_string_equal(verdict(f, &req, &caller, NULL), "ok");
    assert_true(caller.anonymous);
    assert_string_equal(caller.owner, "addr:192.0.2.7");
    assert_int_equal(caller.quotas.runs_per_minute, 60);
    assert_int_equal(caller.quotas.concurrent_runs, 8);
}

static void the_owning_key_passes_and_others_see_nothing(void **state)
{
    fixture_t *f = *state;
    access_caller_t caller;
    lcx_msg_t *req = request(LCX_CMD_SESSION_GET, f, &f->client_key, NULL);
    assert_string_equal(verdict(f, &req, &caller, NULL), "ok");
    assert_false(caller.admin);
    assert_string_equal(caller.owner, f->client_key.id);
    assert_int_equal(caller.quotas.runs_per_minute, 600);
    req = request(LCX_CMD_RUN, f, &f->other_key, NULL);
    assert_string_equal(verdict(f, &req, NULL, NULL), "not_found");
    req = request(LCX_CMD_SESSION_GET, f, &f->admin_key, NULL);
    assert_string_equal(verdict(f, &req, &caller, NULL), "ok");
    assert_true(caller.admin);
}

static void a_wrong_secret_or_unknown_id_is_unauthorized(void **state)
{
    fixture_t *f = *state;
    const char *reason = NULL;
    apikey_t forged = f->client_key;
    forged.hash[0] ^= 1;
    lcx_msg_t *req = request(LCX_CMD_SESSION_GET, f, &forged, NULL);
    assert_string_equal(verdict(f, &req, NULL, &reason), "unauthorized");
    assert_string_equal(reason, "unknown key");
    char text[APIKEY_LEN + 1];
    apikey_t stranger;
    apikey_generate(text, &stranger);
    req = request(LCX_CMD_SESSION_GET, f, &stranger, NULL);
    assert_string_equal(verdict(f, &req, NULL, &reason), "unauthorized");
    assert_string_equal(reason, "unknown key");
}

static void revoked_and_expired_keys_are_unauthorized(void **state)
{
    fixture_t *f = *state;
    const char *reason = NULL;
    lcx_msg_t *out = lcx_msg_new(LCX_CMD_KEY);
    assert_int_equal(keyring_revoke(f->keys, f->other_key.id, out), STORE_OK);
    assert_true(out->revoked_at.set);
    int64_t first = out->revoked_at.v;
    lcx_msg_destroy(&out);
    out = lcx_msg_new(LCX_CMD_KEY);
    assert_int_equal(keyring_revoke(f->keys, f->other_key.id, out), STORE_OK);
    assert_int_equal(out->revoked_at.v, first); /* idempotent: the first time stays */
    lcx_msg_destroy(&out);
    lcx_msg_t *req = request(LCX_CMD_SESSION_CREATE, f, &f->other_key, NULL);
    assert_string_equal(verdict(f, &req, NULL, &reason), "unauthorized");
    assert_string_equal(reason, "key revoked");
    /* Expiry: a time in the past (the gateway refuses to set one; the store checks anyway). */
    lcx_msg_t *update = lcx_msg_new(LCX_CMD_KEY_UPDATE);
    lcx_msg_set_str(update, LCX_F_key_id, f->client_key.id);
    lcx_msg_set_int(update, LCX_F_expires_at, lcx_now_ms() - 1);
    out = lcx_msg_new(LCX_CMD_KEY);
    const char *why = NULL;
    assert_int_equal(keyring_update(f->keys, update, out, &why), STORE_OK);
    lcx_msg_destroy(&update);
    lcx_msg_destroy(&out);
    req = request(LCX_CMD_SESSION_GET, f, &f->client_key, NULL);
    assert_string_equal(verdict(f, &req, NULL, &reason), "unauthorized");
    assert_string_equal(reason, "key expired");
}

static void client_keys_cannot_use_operator_commands(void **state)
{
    fixture_t *f = *state;
    lcx_cmd_t admin_only[] = {LCX_CMD_METRICS, LCX_CMD_KEY_LIST};
    for (size_t i = 0; i < 2; i++) {
        lcx_msg_t *req = request(admin_only[i], f, &f->client_key, NULL);
        assert_string_equal(verdict(f, &req, NULL, NULL), "forbidden");
        req = request(admin_only[i], f, &f->admin_key, NULL);
        assert_string_equal(verdict(f, &req, NULL, NULL), "ok");
    }
}

static void tokens_open_their_own_session_only(void **state)
{
    fixture_t *f = *state;
    const char *reason = NULL;
    lcx_msg_t *req = request(LCX_CMD_RUN, f, &f->client_key, f->session_id);
    assert_string_equal(verdict(f, &req, NULL, NULL), "ok");
    /* Not closing it, not other sessions. */
    req = request(LCX_CMD_SESSION_CLOSE, f, &f->client_key, f->session_id);
    assert_string_equal(verdict(f, &req, NULL, NULL), "forbidden");
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_create(f->store, "python", "", f->client_key.id, s), STORE_OK);
    req = request(LCX_CMD_SESSION_GET, f, &f->client_key, s->session_id.ptr);
    assert_string_equal(verdict(f, &req, NULL, NULL), "forbidden");
    lcx_msg_destroy(&s);
    /* Another key's session: not even found, whichever way it is asked. */
    s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_create(f->store, "python", "", f->other_key.id, s), STORE_OK);
    req = lcx_msg_new(LCX_CMD_SESSION_GET);
    lcx_msg_set_str(req, LCX_F_session_id, s->session_id.ptr);
    lcx_msg_set_str(req, LCX_F_caller_key_id, f->client_key.id);
    lcx_msg_set_str(req, LCX_F_caller_session_id, f->session_id);
    assert_string_equal(verdict(f, &req, NULL, NULL), "not_found");
    lcx_msg_destroy(&s);
    /* A closed session's tokens are dead. */
    char cancelled[LCX_UUID_LEN + 1];
    s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_close(f->store, f->session_id, s, cancelled), STORE_OK);
    lcx_msg_destroy(&s);
    req = request(LCX_CMD_SESSION_GET, f, &f->client_key, f->session_id);
    assert_string_equal(verdict(f, &req, NULL, &reason), "unauthorized");
    assert_string_equal(reason, "session closed");
}

static void tokens_reach_executions_through_their_session(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *run = request(LCX_CMD_RUN, f, NULL, NULL);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    store_run_limits_t limits = {.cooldown_ms = 0};
    store_refusal_t why;
    bool replayed;
    assert_int_equal(
        store_execution_create(f->store, run, 5000, 256, &limits, exec, job, &replayed, &why),
        STORE_OK);
    lcx_msg_t *get = lcx_msg_new(LCX_CMD_EXECUTION_GET);
    lcx_msg_set_str(get, LCX_F_execution_id, exec->execution_id.ptr);
    lcx_msg_set_str(get, LCX_F_caller_key_id, f->client_key.id);
    lcx_msg_set_str(get, LCX_F_caller_session_id, f->session_id);
    assert_string_equal(verdict(f, &get, NULL, NULL), "ok");
    get = lcx_msg_new(LCX_CMD_EXECUTION_GET);
    lcx_msg_set_str(get, LCX_F_execution_id, exec->execution_id.ptr);
    lcx_msg_set_str(get, LCX_F_caller_key_id, f->other_key.id);
    lcx_msg_set_bytes(get, LCX_F_caller_secret, f->other_key.hash, APIKEY_HASH_LEN);
    assert_string_equal(verdict(f, &get, NULL, NULL), "not_found");
    lcx_msg_destroy(&run);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

static void key_updates_reset_quotas_to_the_defaults(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *update = lcx_msg_new(LCX_CMD_KEY_UPDATE), *out = lcx_msg_new(LCX_CMD_KEY);
    lcx_msg_set_str(update, LCX_F_key_id, f->client_key.id);
    lcx_msg_set_int(update, LCX_F_runs_per_minute, 5);
    lcx_msg_set_str(update, LCX_F_name, "renamed");
    const char *why = NULL;
    assert_int_equal(keyring_update(f->keys, update, out, &why), STORE_OK);
    assert_int_equal(out->runs_per_minute.v, 5);
    assert_string_equal(out->name.ptr, "renamed");
    lcx_msg_destroy(&out);
    lcx_msg_set_int(update, LCX_F_runs_per_minute, -1);
    lcx_msg_clear(update, LCX_F_name);
    out = lcx_msg_new(LCX_CMD_KEY);
    assert_int_equal(keyring_update(f->keys, update, out, &why), STORE_OK);
    assert_int_equal(out->runs_per_minute.v, defaults.runs_per_minute);
    assert_string_equal(out->name.ptr, "renamed");
    lcx_msg_destroy(&out);
    lcx_msg_set_str(update, LCX_F_key_id, "aaaaaaaaaaaaaaaa");
    out = lcx_msg_new(LCX_CMD_KEY);
    assert_int_equal(keyring_update(f->keys, update, out, &why), STORE_NOT_FOUND);
    lcx_msg_destroy(&out);
    lcx_msg_destroy(&update);
}

static void keys_list_without_secrets_and_refuse_duplicates(void **state)
{
    fixture_t *f = *state;
    lcx_msg_t *list = lcx_msg_new(LCX_CMD_KEYS);
    assert_int_equal(keyring_list(f->keys, list), STORE_OK);
    assert_int_equal(list->items.n, 3);
    for (size_t i = 0; i < list->items.n; i++)
        assert_false(list->items.v[i]->secret_hash.ptr);
    lcx_msg_destroy(&list);
    lcx_msg_t *again = lcx_msg_new(LCX_CMD_KEY_CREATE), *out = lcx_msg_new(LCX_CMD_KEY);
    lcx_msg_set_str(again, LCX_F_key_id, f->client_key.id);
    lcx_msg_set_bytes(again, LCX_F_secret_hash, f->client_key.hash, APIKEY_HASH_LEN);
    lcx_msg_set_str(again, LCX_F_name, "dup");
    lcx_msg_set_str(again, LCX_F_role, "client");
    const char *why = NULL;
    assert_int_equal(keyring_create(f->keys, again, out, &why), STORE_CONFLICT);
    lcx_msg_set_str(again, LCX_F_role, "root");
    assert_int_equal(keyring_create(f->keys, again, out, &why), STORE_INVALID);
    assert_non_null(strstr(why, "role"));
    lcx_msg_destroy(&again);
    lcx_msg_destroy(&out);
}

static void the_bootstrap_key_replaces_the_last_one(void **state)
{
    fixture_t *f = *state;
    char text[APIKEY_LEN + 1], err[256];
    apikey_t first, second;
    apikey_generate(text, &first);
    apikey_generate(text, &second);
    assert_int_equal(keyring_bootstrap(f->keys, &first, err, sizeof err), 0);
    assert_int_equal(keyring_bootstrap(f->keys, &first, err, sizeof err), 0); /* restart */
    keyring_key_t k;
    assert_int_equal(keyring_find(f->keys, first.id, &k), STORE_OK);
    assert_true(k.admin);
    assert_int_equal(k.revoked_at, 0);
    assert_int_equal(keyring_bootstrap(f->keys, &second, err, sizeof err), 0);
    assert_int_equal(keyring_find(f->keys, first.id, &k), STORE_OK);
    assert_true(k.revoked_at > 0);
    assert_int_equal(keyring_find(f->keys, second.id, &k), STORE_OK);
    assert_int_equal(k.revoked_at, 0);
}

/* A run of the fixture's session under limits: the store's answer and its refusal. */
static store_rc_t run_as(fixture_t *f, const store_run_limits_t *limits, store_refusal_t *why)
{
    lcx_msg_t *run = lcx_msg_new(LCX_CMD_RUN);
    lcx_msg_set_str(run, LCX_F_session_id, f->session_id);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    bool replayed;
    store_rc_t rc =
        store_execution_create(f->store, run, 5000, 256, limits, exec, job, &replayed, why);
    if (rc == STORE_OK) {
        /* Finish it at once, so only the quotas (not the one-active rule) refuse. */
        lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
        lcx_msg_set_str(u, LCX_F_execution_id, exec->execution_id.ptr);
        lcx_msg_set_int(u, LCX_F_attempt, 1);
        lcx_msg_set_str(u, LCX_F_status, "COMPLETED");
        store_applied_t applied;
        assert_int_equal(store_execution_apply(f->store, u, &applied), STORE_OK);
        lcx_msg_destroy(&u);
    }
    lcx_msg_destroy(&run);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
    return rc;
}

static void quota_per_minute_counts_the_owner_across_sessions(void **state)
{
    fixture_t *f = *state;
    store_run_limits_t limits = {.owner = "k1", .owner_kind = "key", .owner_per_minute = 2};
    store_refusal_t why;
    assert_int_equal(run_as(f, &limits, &why), STORE_OK);
    assert_int_equal(run_as(f, &limits, &why), STORE_OK);
    assert_int_equal(run_as(f, &limits, &why), STORE_RATE_LIMITED);
    assert_string_equal(why.guard, "key_runs_per_minute");
    assert_int_equal(why.guard_limit, 2);
    assert_true(why.retry_after_ms > 55000 && why.retry_after_ms <= 60000);
    /* Another owner is not bound by k1's runs. */
    limits.owner = "addr:192.0.2.9";
    limits.owner_kind = "anon";
    assert_int_equal(run_as(f, &limits, &why), STORE_OK);
}

static void quota_concurrent_counts_queued_and_running(void **state)
{
    fixture_t *f = *state;
    store_run_limits_t limits = {.owner = "k2", .owner_kind = "anon", .owner_concurrent = 1};
    lcx_msg_t *run = lcx_msg_new(LCX_CMD_RUN);
    lcx_msg_set_str(run, LCX_F_session_id, f->session_id);
    lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION), *job = lcx_msg_new(LCX_CMD_JOB);
    store_refusal_t why;
    bool replayed;
    assert_int_equal(
        store_execution_create(f->store, run, 5000, 256, &limits, exec, job, &replayed, &why),
        STORE_OK); /* left QUEUED */
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    assert_int_equal(store_session_create(f->store, "python", "", NULL, s), STORE_OK);
    lcx_msg_set_str(run, LCX_F_session_id, s->session_id.ptr);
    lcx_msg_t *exec2 = lcx_msg_new(LCX_CMD_EXECUTION), *job2 = lcx_msg_new(LCX_CMD_JOB);
    assert_int_equal(
        store_execution_create(f->store, run, 5000, 256, &limits, exec2, job2, &replayed, &why),
        STORE_RATE_LIMITED);
    assert_string_equal(why.guard, "anon_concurrent_runs");
    assert_true(why.retry_after_ms > 0);
    lcx_msg_destroy(&s);
    lcx_msg_destroy(&run);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
    lcx_msg_destroy(&exec2);
    lcx_msg_destroy(&job2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(anonymous_callers_pass_with_their_address_as_owner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_owning_key_passes_and_others_see_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_wrong_secret_or_unknown_id_is_unauthorized, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(revoked_and_expired_keys_are_unauthorized, setup, teardown),
        cmocka_unit_test_setup_teardown(client_keys_cannot_use_operator_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens_open_their_own_session_only, setup, teardown),
        cmocka_unit_test_setup_teardown(tokens_reach_executions_through_their_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(key_updates_reset_quotas_to_the_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(keys_list_without_secrets_and_refuse_duplicates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_bootstrap_key_replaces_the_last_one, setup, teardown),
        cmocka_unit_test_setup_teardown(quota_per_minute_counts_the_owner_across_sessions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(quota_concurrent_counts_queued_and_running, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
