/*
 * keyring: the API keys table of the store's database (PROTOCOL.md 6.1, KEY_* and "The
 * caller"). Each key is its public id, a name, a role, the hash of its secret (never the
 * secret), its quotas (NULL columns: the defaults), and its times.
 *
 * It shares the store's connection and transactions (store_db): a key created, changed or
 * revoked commits with the batch that holds the request. Looking a key up is one primary-key
 * step (about 5 us here), and a key is remembered for a second (a hash lookup), so a busy key
 * costs one step a second; a change made through this store takes effect at once. The
 * caller's use is recorded at most once a minute, so a busy key costs no write per request.
 */
#ifndef LCX_KEYRING_H
#define LCX_KEYRING_H

#include "apikey.h"
#include "lcx_proto.h"
#include "store.h"

/* A key's defaults: the quotas a key gets where it sets none. */
typedef struct {
    long runs_per_minute;
    long concurrent_runs;
    long max_time_ms;
    long max_memory_mb;
} keyring_defaults_t;

/* A key as the store checks it. */
typedef struct {
    char id[APIKEY_ID_LEN + 1];
    bool admin;
    uint8_t hash[APIKEY_HASH_LEN];
    int64_t expires_at; /* 0: never */
    int64_t revoked_at; /* 0: not revoked */
    int64_t last_used_at;
    keyring_defaults_t quotas; /* as they apply: the defaults filled in */
} keyring_key_t;

typedef struct keyring_t keyring_t;

/* Prepares its statements on the store's connection. NULL with a reason in err. */
keyring_t *keyring_new(store_t *store, const keyring_defaults_t *defaults, char *err,
                       size_t errlen);
void keyring_destroy(keyring_t **self_p);

/* STORE_OK and *out, or STORE_NOT_FOUND. */
store_rc_t keyring_find(keyring_t *self, const char *key_id, keyring_key_t *out);
/* Forgets the keys it remembers (after a rollback: what it read may not have been kept). */
void keyring_forget(keyring_t *self);
/* Records that the key was used now, when it was last recorded more than a minute ago. */
store_rc_t keyring_touch(keyring_t *self, keyring_key_t *key, int64_t now);

/* The KEY_* commands: out is the KEY (or KEYS) reply to fill. STORE_INVALID (a role or quota
 * that does not fit: *why says which), STORE_CONFLICT (KEY_CREATE, id in use),
 * STORE_NOT_FOUND. */
store_rc_t keyring_create(keyring_t *self, const lcx_msg_t *req, lcx_msg_t *out, const char **why);
store_rc_t keyring_list(keyring_t *self, lcx_msg_t *out);
store_rc_t keyring_update(keyring_t *self, const lcx_msg_t *req, lcx_msg_t *out, const char **why);
store_rc_t keyring_revoke(keyring_t *self, const char *key_id, lcx_msg_t *out);

/* Registers key as the admin key named "bootstrap" (the operator's admin_key_file), replacing
 * an earlier bootstrap key of another id. Runs its own transaction. 0, or -1 with a reason. */
int keyring_bootstrap(keyring_t *self, const apikey_t *key, char *err, size_t errlen);

#endif
