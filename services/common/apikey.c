/*
 * apikey: API keys and session tokens (see apikey.h).
 */
#include "apikey.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char BASE32[] = "abcdefghijklmnopqrstuvwxyz234567";

int apikey_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* The first `chars` base32 characters of bytes (most significant bits first). */
static void base32_encode(const uint8_t *bytes, size_t n, char *out, size_t chars)
{
    for (size_t c = 0; c < chars; c++) {
        size_t bit = c * 5;
        unsigned v = 0;
        for (int i = 0; i < 5; i++, bit++)
            v = (v << 1) | (bit / 8 < n ? (bytes[bit / 8] >> (7 - bit % 8)) & 1u : 0u);
        out[c] = BASE32[v];
    }
    out[chars] = '\0';
}

static bool base32_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(BASE32, s[i])) return false;
    return true;
}

bool apikey_id_valid(const char *id)
{
    return id && strlen(id) == APIKEY_ID_LEN && base32_run(id, APIKEY_ID_LEN);
}

static void hash_secret(const char *secret, size_t len, uint8_t *hash)
{
    crypto_generichash(hash, APIKEY_HASH_LEN, (const unsigned char *)secret, len, NULL, 0);
}

void apikey_generate(char *key, apikey_t *out)
{
    uint8_t id[10], secret[32];
    randombytes_buf(id, sizeof id);
    randombytes_buf(secret, sizeof secret);
    char id_text[APIKEY_ID_LEN + 1], secret_text[APIKEY_SECRET_LEN + 1];
    base32_encode(id, sizeof id, id_text, APIKEY_ID_LEN);
    base32_encode(secret, sizeof secret, secret_text, APIKEY_SECRET_LEN);
    snprintf(key, APIKEY_LEN + 1, "lcx_%s_%s", id_text, secret_text);
    sodium_memzero(secret, sizeof secret);
    apikey_parse(key, out);
    sodium_memzero(secret_text, sizeof secret_text);
}

int apikey_parse(const char *text, apikey_t *out)
{
    if (!text || strlen(text) != APIKEY_LEN || strncmp(text, "lcx_", 4) != 0 ||
        text[4 + APIKEY_ID_LEN] != '_')
        return -1;
    const char *id = text + 4, *secret = id + APIKEY_ID_LEN + 1;
    if (!base32_run(id, APIKEY_ID_LEN) || !base32_run(secret, APIKEY_SECRET_LEN)) return -1;
    memcpy(out->id, id, APIKEY_ID_LEN);
    out->id[APIKEY_ID_LEN] = '\0';
    hash_secret(secret, APIKEY_SECRET_LEN, out->hash);
    return 0;
}

bool apikey_hash_equal(const uint8_t *a, const uint8_t *b)
{
    return sodium_memcmp(a, b, APIKEY_HASH_LEN) == 0;
}

/* The file's first line, trimmed, into line. 0, or -1 with a reason. */
static int read_line(const char *path, char *line, size_t size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    bool got = fgets(line, (int)size, f) != NULL;
    fclose(f);
    if (!got) {
        snprintf(err, errlen, "%s is empty", path);
        return -1;
    }
    char *start = line;
    while (isspace((unsigned char)*start))
        start++;
    memmove(line, start, strlen(start) + 1);
    size_t n = strlen(line);
    while (n > 0 && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    return 0;
}

int apikey_read_file(const char *path, apikey_t *out, char *err, size_t errlen)
{
    char line[APIKEY_LEN + 64];
    if (read_line(path, line, sizeof line, err, errlen) != 0) return -1;
    int rc = apikey_parse(line, out);
    sodium_memzero(line, sizeof line);
    if (rc != 0)
        snprintf(err, errlen,
                 "%s does not hold an API key (lcx_<id>_<secret>, from lcx-keygen "
                 "api-key)",
                 path);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Session tokens                                                                            */

#define MAC_CHARS 52 /* 32 bytes in base32 */

static void token_mac(const uint8_t *secret, const char *signed_part, size_t len, char *out)
{
    uint8_t mac[crypto_auth_BYTES];
    crypto_auth(mac, (const unsigned char *)signed_part, len, secret);
    base32_encode(mac, sizeof mac, out, MAC_CHARS);
}

int token_sign(const uint8_t *secret, const token_claims_t *claims, char *out, size_t size)
{
    if (!apikey_id_valid(claims->key_id) || !lcx_uuid_valid(claims->session_id) ||
        claims->expires_ms <= 0 || size < TOKEN_MAX_LEN + 1)
        return -1;
    int n = snprintf(out, size, "lcxt_%s_%s_%" PRId64 "_", claims->key_id, claims->session_id,
                     claims->expires_ms);
    token_mac(secret, out, (size_t)n - 1, out + n);
    return 0;
}

int token_verify(const uint8_t *secret, const char *text, token_claims_t *out)
{
    size_t len = text ? strlen(text) : 0;
    if (len > TOKEN_MAX_LEN || len < 5 + MAC_CHARS || strncmp(text, "lcxt_", 5) != 0) return -1;
    const char *mac = text + len - MAC_CHARS;
    if (mac[-1] != '_') return -1;
    char expected[MAC_CHARS + 1];
    token_mac(secret, text, (size_t)(mac - 1 - text), expected);
    if (sodium_memcmp(expected, mac, MAC_CHARS) != 0) return -1;
    /* Signed by a gateway: the claims have the shape token_sign gave them. */
    token_claims_t c = {0};
    const char *id = text + 5, *sid = id + APIKEY_ID_LEN + 1;
    if (id[APIKEY_ID_LEN] != '_' || sid + LCX_UUID_LEN >= mac || sid[LCX_UUID_LEN] != '_')
        return -1;
    memcpy(c.key_id, id, APIKEY_ID_LEN);
    memcpy(c.session_id, sid, LCX_UUID_LEN);
    char *end = NULL;
    c.expires_ms = strtoll(sid + LCX_UUID_LEN + 1, &end, 10);
    if (end != mac - 1 || !apikey_id_valid(c.key_id) || !lcx_uuid_valid(c.session_id)) return -1;
    *out = c;
    return 0;
}

/* A fresh secret into path, created exclusively with mode 0600. */
static int create_secret(const char *path, uint8_t *secret, char *err, size_t errlen)
{
    randombytes_buf(secret, TOKEN_SECRET_LEN);
    char hex[2 * TOKEN_SECRET_LEN + 2];
    sodium_bin2hex(hex, sizeof hex, secret, TOKEN_SECRET_LEN);
    strcat(hex, "\n");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, hex, strlen(hex)) == (ssize_t)strlen(hex);
    if (fd >= 0 && close(fd) != 0) ok = false;
    sodium_memzero(hex, sizeof hex);
    if (!ok) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return ok ? 0 : -1;
}

int token_secret_load(const char *path, bool create, uint8_t *secret, char *err, size_t errlen)
{
    if (create && access(path, F_OK) != 0 && errno == ENOENT &&
        create_secret(path, secret, err, errlen) == 0)
        return 0;
    char line[2 * TOKEN_SECRET_LEN + 64];
    if (read_line(path, line, sizeof line, err, errlen) != 0) return -1;
    size_t bin_len = 0;
    int rc = sodium_hex2bin(secret, TOKEN_SECRET_LEN, line, strlen(line), NULL, &bin_len, NULL);
    sodium_memzero(line, sizeof line);
    if (rc != 0 || bin_len != TOKEN_SECRET_LEN) {
        snprintf(err, errlen, "%s does not hold a token secret (64 hex digits)", path);
        return -1;
    }
    return 0;
}
