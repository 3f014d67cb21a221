/*
 * access: the store's part of authentication and authorization (see access.h).
 */
#include "access.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* The calls a session token allows: its session's own, short of closing it or minting more. */
static bool token_allows(lcx_cmd_t cmd)
{
    return cmd == LCX_CMD_SESSION_GET || cmd == LCX_CMD_SESSION_UPDATE || cmd == LCX_CMD_RUN ||
           cmd == LCX_CMD_EXECUTION_LIST || cmd == LCX_CMD_EXECUTION_GET ||
           cmd == LCX_CMD_EXECUTION_CANCEL || cmd == LCX_CMD_EVENTS_GET;
}

static bool admin_only(lcx_cmd_t cmd)
{
    return cmd == LCX_CMD_DRAIN || cmd == LCX_CMD_METRICS || cmd == LCX_CMD_KEY_CREATE ||
           cmd == LCX_CMD_KEY_LIST || cmd == LCX_CMD_KEY_UPDATE || cmd == LCX_CMD_KEY_REVOKE;
}

static store_rc_t refuse(access_refusal_t *refusal, const char *code, const char *message,
                         const char *reason)
{
    *refusal = (access_refusal_t){code, message, reason};
    return STORE_INVALID;
}

static store_rc_t unauthorized(access_refusal_t *refusal, const char *reason)
{
    return refuse(refusal, "unauthorized", "the API key or session token is not valid", reason);
}

/* The session a request names, directly or through one of its executions; false when it
 * names none (SESSION_CREATE, HEALTH, ...). */
static bool names_session(const lcx_msg_t *req)
{
    return req->cmd != LCX_CMD_SESSION_CREATE && req->cmd != LCX_CMD_KEY_CREATE &&
           (req->session_id.ptr || req->execution_id.ptr);
}

/* The key's checks: it exists, the secret's hash matches (or a token vouches), it is live. */
static store_rc_t check_key(keyring_t *keys, const lcx_msg_t *req, keyring_key_t *key,
                            access_refusal_t *refusal)
{
    store_rc_t rc = keyring_find(keys, req->caller_key_id.ptr, key);
    if (rc == STORE_NOT_FOUND) return unauthorized(refusal, "unknown key");
    if (rc != STORE_OK) return rc;
    bool vouched = req->caller_session_id.ptr != NULL;
    if (!vouched && (req->caller_secret.len != APIKEY_HASH_LEN ||
                     !apikey_hash_equal((const uint8_t *)req->caller_secret.ptr, key->hash)))
        return unauthorized(refusal, "unknown key");
    int64_t now = lcx_now_ms();
    if (key->revoked_at) return unauthorized(refusal, "key revoked");
    if (key->expires_at && now >= key->expires_at) return unauthorized(refusal, "key expired");
    return keyring_touch(keys, key, now);
}

/* A token's scope: its own session's calls, while the session is open. */
static store_rc_t check_token(store_t *store, const lcx_msg_t *req, access_refusal_t *refusal)
{
    if (!token_allows(req->cmd) || !names_session(req))
        return refuse(refusal, "forbidden", "a session token allows only its session's calls",
                      NULL);
    store_owner_t owner;
    store_rc_t rc = store_owner_of(store, req->session_id.ptr, req->execution_id.ptr, &owner);
    if (rc == STORE_NOT_FOUND)
        return refuse(refusal, "not_found", "no session or execution has this id", NULL);
    if (rc != STORE_OK) return rc;
    /* Another session of the token's own key: forbidden; anyone else's: not even found. */
    if (strcmp(owner.session_id, req->caller_session_id.ptr) != 0)
        return strcmp(owner.owner, req->caller_key_id.ptr) == 0
                   ? refuse(refusal, "forbidden", "this session token is for another session", NULL)
                   : refuse(refusal, "not_found", "no session or execution has this id", NULL);
    if (!owner.active) return unauthorized(refusal, "session closed");
    return STORE_OK;
}

/* A client key sees only its own sessions: another's are not found (not even "forbidden",
 * which would tell that they exist). */
static store_rc_t check_owner(store_t *store, const lcx_msg_t *req, const char *key_id,
                              access_refusal_t *refusal)
{
    store_owner_t owner;
    store_rc_t rc = store_owner_of(store, req->session_id.ptr, req->execution_id.ptr, &owner);
    if (rc == STORE_NOT_FOUND) return STORE_OK; /* the command itself answers not_found */
    if (rc != STORE_OK) return rc;
    if (strcmp(owner.owner, key_id) != 0)
        return refuse(refusal, "not_found",
                      req->execution_id.ptr ? "no execution has this id" : "no session has this id",
                      NULL);
    return STORE_OK;
}

static void anonymous(const lcx_settings_t *s, const lcx_msg_t *req, access_caller_t *caller)
{
    *caller = (access_caller_t){.anonymous = true, .owner_kind = "anon"};
    caller->quotas = (keyring_defaults_t){s->anon_runs_per_minute, s->anon_concurrent_runs, 0, 0};
    if (req->caller_address.ptr)
        snprintf(caller->owner, sizeof caller->owner, "addr:%.70s", req->caller_address.ptr);
}

store_rc_t access_check(store_t *store, keyring_t *keys, const lcx_settings_t *settings,
                        const lcx_msg_t *req, access_caller_t *caller, access_refusal_t *refusal)
{
    if (!req->caller_key_id.ptr) {
        anonymous(settings, req, caller);
        return STORE_OK;
    }
    keyring_key_t key;
    store_rc_t rc = check_key(keys, req, &key, refusal);
    if (rc == STORE_OK && req->caller_session_id.ptr) rc = check_token(store, req, refusal);
    if (rc == STORE_OK && !key.admin && admin_only(req->cmd))
        rc = refuse(refusal, "forbidden", "this needs an admin key", NULL);
    if (rc == STORE_OK && !key.admin && names_session(req))
        rc = check_owner(store, req, key.id, refusal);
    if (rc != STORE_OK) return rc;
    *caller = (access_caller_t){.admin = key.admin, .owner_kind = "key", .quotas = key.quotas};
    snprintf(caller->key_id, sizeof caller->key_id, "%s", key.id);
    snprintf(caller->owner, sizeof caller->owner, "%s", key.id);
    return STORE_OK;
}
