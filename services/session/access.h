/*
 * access: who sends a gateway request and what it may do (PROTOCOL.md 6.1, "The caller").
 *
 * The gateway has checked what it can alone (a token's signature and expiry; that an anonymous
 * caller may use the route). The store checks the rest in the request's own round trip: the
 * key exists, its hash matches, it is neither revoked nor expired, its role allows the
 * command, and the session the request names is the key's own (or the token's, and open).
 * Costs: one primary-key lookup of the key and one of the session the request names.
 */
#ifndef LCX_ACCESS_H
#define LCX_ACCESS_H

#include "keyring.h"
#include "settings.h"
#include "store.h"

typedef struct {
    bool anonymous;
    bool admin;
    char key_id[APIKEY_ID_LEN + 1];
    char owner[80];         /* whose quotas its runs count against: a key id, "addr:<address>", or
                               empty (none) */
    const char *owner_kind; /* "key" or "anon" */
    keyring_defaults_t quotas;
} access_caller_t;

/* Why a request was refused: an ERROR's code, message and reason (static text). */
typedef struct {
    const char *code; /* "unauthorized", "forbidden" or "not_found" */
    const char *message;
    const char *reason; /* for unauthorized: "unknown key", "key revoked", ... */
} access_refusal_t;

/* Decides about req's caller. STORE_OK: *caller says who it is. STORE_INVALID: refused, as
 * *refusal says. STORE_ERROR: the database failed (logged). */
store_rc_t access_check(store_t *store, keyring_t *keys, const lcx_settings_t *settings,
                        const lcx_msg_t *req, access_caller_t *caller, access_refusal_t *refusal);

#endif
