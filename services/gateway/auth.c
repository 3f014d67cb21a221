/*
 * auth: modes, credentials and session tokens (see auth.h).
 */
#include "auth.h"
#include "alloc.h"
#include "log.h"
#include "util.h"

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct auth_t {
    bool keys;
    uint8_t secret[TOKEN_SECRET_LEN];
};

bool auth_loopback(const char *address)
{
    return strncmp(address, "127.", 4) == 0 || strcmp(address, "::1") == 0 ||
           strncmp(address, "::ffff:127.", 11) == 0 || strcmp(address, "localhost") == 0;
}

/* The mode: 0, or -1 with a reason. */
static int resolve_mode(const lcx_settings_t *s, bool *keys, char *err, size_t errlen)
{
    if (!s->auth[0]) {
        *keys = !auth_loopback(s->http_host);
        return 0;
    }
    if (strcmp(s->auth, "keys") == 0 || strcmp(s->auth, "none") == 0) {
        *keys = strcmp(s->auth, "keys") == 0;
        if (!*keys && !auth_loopback(s->http_host))
            lcx_log(LCX_WARN,
                    "LCX_AUTH=none on an address other than loopback: anyone who "
                    "reaches it may use the API without a key",
                    "http_host", s->http_host, NULL);
        return 0;
    }
    snprintf(err, errlen, "auth must be keys or none, not '%s'", s->auth);
    return -1;
}

auth_t *auth_new(const lcx_settings_t *s, char *err, size_t errlen)
{
    if (apikey_init() != 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return NULL;
    }
    auth_t *self = lcx_calloc(1, sizeof *self);
    char path[4096];
    bool own = !s->token_secret_file[0]; /* the default: made at first start */
    snprintf(path, sizeof path, "%s", own ? s->data_dir : s->token_secret_file);
    if (own) {
        zsys_dir_create("%s", path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/token_secret");
    }
    if (resolve_mode(s, &self->keys, err, errlen) != 0 ||
        token_secret_load(path, own, self->secret, err, errlen) != 0) {
        auth_destroy(&self);
        return NULL;
    }
    lcx_log(LCX_INFO, "access", "auth", self->keys ? "keys" : "none", NULL);
    return self;
}

void auth_destroy(auth_t **self_p)
{
    if (!self_p || !*self_p) return;
    sodium_memzero((*self_p)->secret, sizeof(*self_p)->secret);
    free(*self_p);
    *self_p = NULL;
}

bool auth_keys(const auth_t *self)
{
    return self->keys;
}

static void read_token(const auth_t *self, const char *text, auth_cred_t *out)
{
    if (token_verify(self->secret, text, &out->token) != 0)
        out->kind = CRED_BAD_TOKEN;
    else
        out->kind = out->token.expires_ms <= lcx_now_ms() ? CRED_EXPIRED : CRED_TOKEN;
}

void auth_read(const auth_t *self, const char *authorization, const char *access_token,
               auth_cred_t *out)
{
    *out = (auth_cred_t){CRED_NONE};
    if (authorization) {
        const char *value = authorization;
        if (strncasecmp(value, "Bearer ", 7) != 0) {
            out->kind = CRED_MALFORMED;
            return;
        }
        value += 7;
        while (*value == ' ')
            value++;
        if (strncmp(value, "lcxt_", 5) == 0)
            read_token(self, value, out);
        else
            out->kind = apikey_parse(value, &out->key) == 0 ? CRED_KEY : CRED_MALFORMED;
        return;
    }
    if (access_token) read_token(self, access_token, out);
}

const char *auth_key_id(const auth_cred_t *cred)
{
    if (cred->kind == CRED_KEY) return cred->key.id;
    if (cred->kind == CRED_TOKEN) return cred->token.key_id;
    return "";
}

void auth_stamp(const auth_cred_t *cred, const char *peer, lcx_msg_t *msg)
{
    if (peer) lcx_msg_set_str(msg, LCX_F_caller_address, peer);
    if (cred->kind == CRED_KEY) {
        lcx_msg_set_str(msg, LCX_F_caller_key_id, cred->key.id);
        lcx_msg_set_bytes(msg, LCX_F_caller_secret, cred->key.hash, APIKEY_HASH_LEN);
    } else if (cred->kind == CRED_TOKEN) {
        lcx_msg_set_str(msg, LCX_F_caller_key_id, cred->token.key_id);
        lcx_msg_set_str(msg, LCX_F_caller_session_id, cred->token.session_id);
    }
}

int auth_mint(const auth_t *self, const char *key_id, const char *session_id, long ttl_s,
              char *token, size_t size, int64_t *expires_ms)
{
    token_claims_t claims = {.expires_ms = lcx_now_ms() + (int64_t)ttl_s * 1000};
    snprintf(claims.key_id, sizeof claims.key_id, "%s", key_id);
    snprintf(claims.session_id, sizeof claims.session_id, "%s", session_id);
    *expires_ms = claims.expires_ms;
    return token_sign(self->secret, &claims, token, size);
}
