/*
 * auth: the gateway's part of access (docs/API.md "Keys and tokens"): the mode (keys or
 * none), the credentials a request presents, the session token secret, and minting tokens.
 *
 * The gateway checks alone what needs no state: a key's shape (and hashes its secret, so the
 * store never sees one), a token's signature and expiry. The store checks the rest in the
 * request's own round trip (PROTOCOL.md 6.1, "The caller"), so revoking a key takes effect on
 * the next request through every gateway and tokens cost no extra round trip.
 */
#ifndef LCX_AUTH_H
#define LCX_AUTH_H

#include "apikey.h"
#include "lcx_proto.h"
#include "settings.h"

typedef enum {
    CRED_NONE,      /* nothing presented */
    CRED_KEY,       /* an API key's shape: the store decides the rest */
    CRED_TOKEN,     /* a session token with a good signature, not expired */
    CRED_MALFORMED, /* an Authorization header that is neither */
    CRED_BAD_TOKEN, /* a token whose signature does not hold */
    CRED_EXPIRED    /* a token past its expiry */
} auth_cred_kind_t;

typedef struct {
    auth_cred_kind_t kind;
    apikey_t key;         /* CRED_KEY */
    token_claims_t token; /* CRED_TOKEN */
} auth_cred_t;

typedef struct auth_t auth_t;

/* Resolves the mode (setting auth; empty: none on a loopback http_host, else keys) and loads
 * or makes the token secret. NULL with a reason in err. */
auth_t *auth_new(const lcx_settings_t *settings, char *err, size_t errlen);
void auth_destroy(auth_t **self_p);

/* True when address (a listen host or a client's address) is this machine's loopback. */
bool auth_loopback(const char *address);
/* True with LCX_AUTH=keys. */
bool auth_keys(const auth_t *self);

/* The credentials of a request: its Authorization header (a key or a token), else its
 * ?access_token= (a token only: keys never travel in URLs). Either may be NULL. */
void auth_read(const auth_t *self, const char *authorization, const char *access_token,
               auth_cred_t *out);
/* The key id a credential names ("" when none), for logs. */
const char *auth_key_id(const auth_cred_t *cred);
/* Adds the caller fields for cred and the client's address to a request for the store. */
void auth_stamp(const auth_cred_t *cred, const char *peer, lcx_msg_t *msg);
/* A token for key_id's session, valid for ttl_s seconds. 0 (token, *expires_ms), or -1. */
int auth_mint(const auth_t *self, const char *key_id, const char *session_id, long ttl_s,
              char *token, size_t size, int64_t *expires_ms);

#endif
