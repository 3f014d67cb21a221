/*
 * apikey: the formats of API keys and session tokens, and the cryptography behind them
 * (libsodium).
 *
 * An API key is `lcx_<key_id>_<secret>`. key_id is 16 characters of the RFC 4648 base32
 * alphabet in lower case (a-z, 2-7: 80 random bits) and is public: lists and logs show it. The
 * secret is 52 such characters (256 random bits) and is shown once; only its hash is stored
 * (BLAKE2b-256: the secret is random, so a slow password hash would add nothing but cost).
 * Hashes are compared in constant time.
 *
 * A session token is `lcxt_<key_id>_<session_id>_<expires_ms>_<mac>`: the key it was minted
 * for, the one session it opens, when it expires (ms since the epoch), and an HMAC-SHA-512-256
 * (crypto_auth) of everything before the MAC under the gateways' token secret, in the same
 * base32. A gateway checks a token alone; revocation and the session's state are the store's
 * part (PROTOCOL.md 6.1, "The caller").
 *
 * Every function here is pure apart from the random draws and the file reads it names.
 */
#ifndef LCX_APIKEY_H
#define LCX_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APIKEY_ID_LEN 16
#define APIKEY_SECRET_LEN 52
#define APIKEY_LEN (4 + APIKEY_ID_LEN + 1 + APIKEY_SECRET_LEN) /* lcx_ID_SECRET */
#define APIKEY_HASH_LEN 32
#define TOKEN_SECRET_LEN 32
#define TOKEN_MAX_LEN 160

/* A key as a caller presents it: the public id and the hash of the secret. */
typedef struct {
    char id[APIKEY_ID_LEN + 1];
    uint8_t hash[APIKEY_HASH_LEN];
} apikey_t;

/* What a token says. */
typedef struct {
    char key_id[APIKEY_ID_LEN + 1];
    char session_id[40];
    int64_t expires_ms;
} token_claims_t;

/* Initialises libsodium (idempotent; thread-safe). 0, or -1 when it cannot start. */
int apikey_init(void);

/* A fresh key: its text in key (APIKEY_LEN + 1 bytes) and its parsed form in *out. */
void apikey_generate(char *key, apikey_t *out);
/* Parses a key's text, hashing its secret. 0, or -1 when it is not a key's shape. */
int apikey_parse(const char *text, apikey_t *out);
/* True when id has a key id's shape. */
bool apikey_id_valid(const char *id);
/* Constant-time equality of two hashes. */
bool apikey_hash_equal(const uint8_t *a, const uint8_t *b);
/* Reads the key that a file holds (surrounding whitespace ignored). 0, or -1 with a reason. */
int apikey_read_file(const char *path, apikey_t *out, char *err, size_t errlen);

/* Writes the token for claims into out (TOKEN_MAX_LEN + 1 bytes). 0, or -1 when a claim has
 * the wrong shape. */
int token_sign(const uint8_t *secret, const token_claims_t *claims, char *out, size_t size);
/* Checks a token's shape and MAC (not its expiry: the caller compares expires_ms with its
 * clock). 0 and the claims, or -1. */
int token_verify(const uint8_t *secret, const char *text, token_claims_t *out);
/* The token secret in path (64 hex digits). With create, a missing file is made (mode 0600)
 * with a fresh secret. 0, or -1 with a reason. */
int token_secret_load(const char *path, bool create, uint8_t *secret, char *err, size_t errlen);

#endif
