/* Unit tests: the gateway's part of access (services/gateway/auth.h): the mode, reading
 * credentials, minting and checking tokens, and the caller fields it stamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"
#include "util.h"

static const char *SESSION = "0b5c4f2e-8a6d-4e1f-9c3b-2d7a1e6f5b4c";

typedef struct {
    char dir[64];
    lcx_settings_t settings;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lcx-test-auth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    char *argv[] = {"test"};
    FILE *sink = fopen("/dev/null", "w");
    assert_int_equal(lcx_settings_load(&f->settings, 'G', 1, argv, sink, err, sizeof err), 0);
    fclose(sink);
    f->settings.data_dir = f->dir;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static auth_t *auth_with(fixture_t *f, const char *mode, const char *host)
{
    f->settings.auth = mode;
    f->settings.http_host = host;
    char err[256];
    return auth_new(&f->settings, err, sizeof err);
}

static void keys_are_the_default_off_loopback(void **state)
{
    fixture_t *f = *state;
    auth_t *a = auth_with(f, "", "127.0.0.1");
    assert_non_null(a);
    assert_false(auth_keys(a));
    auth_destroy(&a);
    a = auth_with(f, "", "0.0.0.0");
    assert_true(auth_keys(a));
    auth_destroy(&a);
    a = auth_with(f, "none", "0.0.0.0"); /* asked for: allowed, with a warning */
    assert_false(auth_keys(a));
    auth_destroy(&a);
    a = auth_with(f, "keys", "127.0.0.1");
    assert_true(auth_keys(a));
    auth_destroy(&a);
    assert_null(auth_with(f, "open", "127.0.0.1"));
}

static void credentials_are_read_by_shape(void **state)
{
    fixture_t *f = *state;
    auth_t *a = auth_with(f, "keys", "127.0.0.1");
    char key[APIKEY_LEN + 1], header[APIKEY_LEN + 16];
    apikey_t made;
    apikey_generate(key, &made);
    auth_cred_t c;
    snprintf(header, sizeof header, "Bearer %s", key);
    auth_read(a, header, NULL, &c);
    assert_int_equal(c.kind, CRED_KEY);
    assert_string_equal(auth_key_id(&c), made.id);
    snprintf(header, sizeof header, "bearer  %s", key); /* the scheme in any case */
    auth_read(a, header, NULL, &c);
    assert_int_equal(c.kind, CRED_KEY);
    auth_read(a, key, NULL, &c); /* no scheme */
    assert_int_equal(c.kind, CRED_MALFORMED);
    auth_read(a, "Basic dXNlcjpwYXNz", NULL, &c);
    assert_int_equal(c.kind, CRED_MALFORMED);
    auth_read(a, "Bearer lcx_nope", NULL, &c);
    assert_int_equal(c.kind, CRED_MALFORMED);
    auth_read(a, NULL, NULL, &c);
    assert_int_equal(c.kind, CRED_NONE);
    assert_string_equal(auth_key_id(&c), "");
    /* A key in the URL is never taken: ?access_token= is for tokens. */
    auth_read(a, NULL, key, &c);
    assert_int_equal(c.kind, CRED_BAD_TOKEN);
    auth_destroy(&a);
}

static void minted_tokens_are_read_back_until_they_expire(void **state)
{
    fixture_t *f = *state;
    auth_t *a = auth_with(f, "keys", "127.0.0.1");
    char token[TOKEN_MAX_LEN + 1], header[TOKEN_MAX_LEN + 16];
    int64_t expires;
    assert_int_equal(auth_mint(a, "abcdefghijklmn27", SESSION, 60, token, sizeof token, &expires),
                     0);
    assert_true(expires > lcx_now_ms() + 59000);
    auth_cred_t c;
    auth_read(a, NULL, token, &c);
    assert_int_equal(c.kind, CRED_TOKEN);
    assert_string_equal(c.token.session_id, SESSION);
    snprintf(header, sizeof header, "Bearer %s", token);
    auth_read(a, header, "ignored when a header is there", &c);
    assert_int_equal(c.kind, CRED_TOKEN);
    assert_string_equal(auth_key_id(&c), "abcdefghijklmn27");
    assert_int_equal(auth_mint(a, "abcdefghijklmn27", SESSION, -1, token, sizeof token, &expires),
                     0);
    auth_read(a, NULL, token, &c);
    assert_int_equal(c.kind, CRED_EXPIRED);
    /* Another gateway with another secret: the token is not its. */
    auth_destroy(&a);
    char path[128];
    snprintf(path, sizeof path, "%s/token_secret", f->dir);
    remove(path);
    a = auth_with(f, "keys", "127.0.0.1");
    auth_read(a, header, NULL, &c);
    assert_int_equal(c.kind, CRED_BAD_TOKEN);
    auth_destroy(&a);
}

static void the_store_gets_a_hash_never_a_secret(void **state)
{
    fixture_t *f = *state;
    auth_t *a = auth_with(f, "keys", "127.0.0.1");
    char key[APIKEY_LEN + 1], header[APIKEY_LEN + 16];
    apikey_t made;
    apikey_generate(key, &made);
    snprintf(header, sizeof header, "Bearer %s", key);
    auth_cred_t c;
    auth_read(a, header, NULL, &c);
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_SESSION_GET);
    auth_stamp(&c, "192.0.2.1", msg);
    assert_string_equal(msg->caller_key_id.ptr, made.id);
    assert_int_equal(msg->caller_secret.len, APIKEY_HASH_LEN);
    assert_memory_equal(msg->caller_secret.ptr, made.hash, APIKEY_HASH_LEN);
    assert_null(memmem(msg->caller_secret.ptr, msg->caller_secret.len, key + 21, 8));
    assert_string_equal(msg->caller_address.ptr, "192.0.2.1");
    assert_null(msg->caller_session_id.ptr);
    lcx_msg_destroy(&msg);
    auth_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(keys_are_the_default_off_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(credentials_are_read_by_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(minted_tokens_are_read_back_until_they_expire, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_store_gets_a_hash_never_a_secret, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
