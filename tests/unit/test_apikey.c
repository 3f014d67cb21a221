/* Unit tests: API keys and session tokens (services/common/apikey.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "apikey.h"

static const char *SESSION = "0b5c4f2e-8a6d-4e1f-9c3b-2d7a1e6f5b4c";

static int setup(void **state)
{
    (void)state;
    return apikey_init();
}

static void generated_keys_parse_back_to_their_id_and_hash(void **state)
{
    (void)state;
    char key[APIKEY_LEN + 1];
    apikey_t made, parsed;
    apikey_generate(key, &made);
    assert_int_equal(strlen(key), APIKEY_LEN);
    assert_memory_equal(key, "lcx_", 4);
    assert_true(apikey_id_valid(made.id));
    assert_int_equal(apikey_parse(key, &parsed), 0);
    assert_string_equal(parsed.id, made.id);
    assert_true(apikey_hash_equal(parsed.hash, made.hash));
}

static void two_keys_differ_in_id_and_secret(void **state)
{
    (void)state;
    char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];
    apikey_t ka, kb;
    apikey_generate(a, &ka);
    apikey_generate(b, &kb);
    assert_string_not_equal(ka.id, kb.id);
    assert_string_not_equal(a + 4 + APIKEY_ID_LEN, b + 4 + APIKEY_ID_LEN);
    assert_false(apikey_hash_equal(ka.hash, kb.hash));
}

static void a_changed_secret_changes_the_hash(void **state)
{
    (void)state;
    char key[APIKEY_LEN + 1];
    apikey_t made, parsed;
    apikey_generate(key, &made);
    key[APIKEY_LEN - 1] = key[APIKEY_LEN - 1] == 'a' ? 'b' : 'a';
    assert_int_equal(apikey_parse(key, &parsed), 0);
    assert_string_equal(parsed.id, made.id);
    assert_false(apikey_hash_equal(parsed.hash, made.hash));
}

static void malformed_keys_are_refused(void **state)
{
    (void)state;
    char key[APIKEY_LEN + 1];
    apikey_t k;
    apikey_generate(key, &k);
    char bad[APIKEY_LEN + 8];
    const char *cases[] = {"", "lcx_", "Bearer", "lcx_short_secret", NULL};
    for (int i = 0; cases[i]; i++)
        assert_int_equal(apikey_parse(cases[i], &k), -1);
    assert_int_equal(apikey_parse(NULL, &k), -1);
    snprintf(bad, sizeof bad, "%sx", key); /* one too long */
    assert_int_equal(apikey_parse(bad, &k), -1);
    snprintf(bad, sizeof bad, "%s", key);
    bad[0] = 'L'; /* wrong prefix */
    assert_int_equal(apikey_parse(bad, &k), -1);
    snprintf(bad, sizeof bad, "%s", key);
    bad[4 + APIKEY_ID_LEN] = '-'; /* wrong separator */
    assert_int_equal(apikey_parse(bad, &k), -1);
    snprintf(bad, sizeof bad, "%s", key);
    bad[10] = '1'; /* not in the alphabet */
    assert_int_equal(apikey_parse(bad, &k), -1);
    snprintf(bad, sizeof bad, "%s", key);
    bad[30] = 'A'; /* upper case */
    assert_int_equal(apikey_parse(bad, &k), -1);
    assert_false(apikey_id_valid("abc"));
    assert_false(apikey_id_valid("ABCDEFGHIJKLMNOP"));
    assert_true(apikey_id_valid("abcdefghijklmn27"));
}

static void key_files_are_read_trimmed(void **state)
{
    (void)state;
    char key[APIKEY_LEN + 1], path[] = "/tmp/lcx-test-key-XXXXXX", err[256];
    apikey_t made, read;
    apikey_generate(key, &made);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    dprintf(fd, "  %s \n", key);
    close(fd);
    assert_int_equal(apikey_read_file(path, &read, err, sizeof err), 0);
    assert_string_equal(read.id, made.id);
    assert_true(apikey_hash_equal(read.hash, made.hash));
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(apikey_read_file(path, &read, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not hold an API key"));
    unlink(path);
    assert_int_equal(apikey_read_file(path, &read, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
}

static void tokens_verify_and_carry_their_claims(void **state)
{
    (void)state;
    uint8_t secret[TOKEN_SECRET_LEN] = {1, 2, 3};
    token_claims_t claims = {"abcdefghijklmn27", "", 1800000000123};
    strcpy(claims.session_id, SESSION);
    char token[TOKEN_MAX_LEN + 1];
    assert_int_equal(token_sign(secret, &claims, token, sizeof token), 0);
    assert_memory_equal(token, "lcxt_", 5);
    token_claims_t got;
    assert_int_equal(token_verify(secret, token, &got), 0);
    assert_string_equal(got.key_id, claims.key_id);
    assert_string_equal(got.session_id, SESSION);
    assert_int_equal(got.expires_ms, claims.expires_ms);
}

static void tampered_tokens_fail(void **state)
{
    (void)state;
    uint8_t secret[TOKEN_SECRET_LEN] = {1, 2, 3}, other[TOKEN_SECRET_LEN] = {9};
    token_claims_t claims = {"abcdefghijklmn27", "", 1800000000123}, got;
    strcpy(claims.session_id, SESSION);
    char token[TOKEN_MAX_LEN + 1], bad[TOKEN_MAX_LEN + 8];
    assert_int_equal(token_sign(secret, &claims, token, sizeof token), 0);
    assert_int_equal(token_verify(other, token, &got), -1); /* another gateway secret */
    /* Every single-character change: the id, the session, the expiry or the MAC. */
    for (size_t i = 5; i < strlen(token); i++) {
        snprintf(bad, sizeof bad, "%s", token);
        bad[i] = bad[i] == '2' ? '3' : '2';
        assert_int_equal(token_verify(secret, bad, &got), -1);
    }
    snprintf(bad, sizeof bad, "%sa", token);
    assert_int_equal(token_verify(secret, bad, &got), -1);
    assert_int_equal(token_verify(secret, "lcxt_", &got), -1);
    assert_int_equal(token_verify(secret, "", &got), -1);
    assert_int_equal(token_verify(secret, NULL, &got), -1);
}

static void tokens_refuse_claims_of_the_wrong_shape(void **state)
{
    (void)state;
    uint8_t secret[TOKEN_SECRET_LEN] = {0};
    char token[TOKEN_MAX_LEN + 1];
    token_claims_t bad_id = {"short", "", 1}, bad_session = {"abcdefghijklmn27", "x", 1};
    strcpy(bad_id.session_id, SESSION);
    assert_int_equal(token_sign(secret, &bad_id, token, sizeof token), -1);
    assert_int_equal(token_sign(secret, &bad_session, token, sizeof token), -1);
}

static void token_secrets_are_made_once_and_read_back(void **state)
{
    (void)state;
    char dir[] = "/tmp/lcx-test-secret-XXXXXX", path[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token_secret", dir);
    uint8_t a[TOKEN_SECRET_LEN], b[TOKEN_SECRET_LEN];
    assert_int_equal(token_secret_load(path, false, a, err, sizeof err), -1); /* no file */
    assert_int_equal(token_secret_load(path, true, a, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(token_secret_load(path, true, b, err, sizeof err), 0);
    assert_memory_equal(a, b, TOKEN_SECRET_LEN);
    FILE *f = fopen(path, "w");
    fputs("abcd\n", f);
    fclose(f);
    assert_int_equal(token_secret_load(path, false, b, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_keys_parse_back_to_their_id_and_hash),
        cmocka_unit_test(two_keys_differ_in_id_and_secret),
        cmocka_unit_test(a_changed_secret_changes_the_hash),
        cmocka_unit_test(malformed_keys_are_refused),
        cmocka_unit_test(key_files_are_read_trimmed),
        cmocka_unit_test(tokens_verify_and_carry_their_claims),
        cmocka_unit_test(tampered_tokens_fail),
        cmocka_unit_test(tokens_refuse_claims_of_the_wrong_shape),
        cmocka_unit_test(token_secrets_are_made_once_and_read_back),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
