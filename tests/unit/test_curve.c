/* Unit tests: the CURVE layer's ZAP handler (services/common/curve.c): known keys only, and one
 * key alone on a socket that names it (the dispatcher's store socket admits the session's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "curve.h"
#include "lcx_proto.h"

static char dir[] = "/tmp/lcx-test-curve-XXXXXX";

/* DIR/public/NAME.cert and DIR/secret/NAME.cert_secret, as lcx-keygen writes them. */
static void keygen(const char *name, const char *where)
{
    char path[256];
    zcert_t *cert = zcert_new();
    snprintf(path, sizeof path, "%s/public/%s.cert", where, name);
    assert_int_equal(zcert_save_public(cert, path), 0);
    snprintf(path, sizeof path, "%s/secret/%s.cert_secret", where, name);
    assert_int_equal(zcert_save_secret(cert, path), 0);
    zcert_destroy(&cert);
}

/* Connects as `name` (its secret from `where`) and sends a HEARTBEAT; the User-Id the server
 * saw, or NULL when nothing arrived (the key was refused). */
static char *send_as(zsock_t *server, int port, const char *name, const char *where)
{
    char err[256];
    curve_t *client = curve_new(where, name, "", false, err, sizeof err);
    assert_non_null(client);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    /* The client pins the server's key from its own directory: the tests share DIR's. */
    assert_int_equal(curve_client(client, dealer, "dispatcher", err, sizeof err), 0);
    assert_int_equal(zsock_connect(dealer, "tcp://127.0.0.1:%d", port), 0);
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_HEARTBEAT);
    assert_int_equal(lcx_msg_send(&m, dealer, err, sizeof err), 0);
    zsock_set_rcvtimeo(server, 1500);
    lcx_msg_t *got = lcx_msg_recv(server, err, sizeof err);
    char *user_id = got ? strdup(got->user_id) : NULL;
    lcx_msg_destroy(&got);
    zsock_destroy(&dealer);
    curve_destroy(&client);
    return user_id;
}

static char *public_of(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/public/%s.cert", dir, name);
    zcert_t *cert = zcert_load(path);
    char *key = strdup(zcert_public_txt(cert));
    zcert_destroy(&cert);
    return key;
}

static void only_known_keys_and_one_for_a_named_socket(void **state)
{
    (void)state;
    if (!zsys_has_curve()) skip();
    char err[256], path[256], rogue[] = "/tmp/lcx-test-curve-rogue-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_non_null(mkdtemp(rogue));
    for (const char *d = dir;; d = rogue) {
        snprintf(path, sizeof path, "%s/public", d);
        assert_int_equal(zsys_dir_create(path), 0);
        snprintf(path, sizeof path, "%s/secret", d);
        assert_int_equal(zsys_dir_create(path), 0);
        if (d == rogue) break;
    }
    keygen("session", dir);
    keygen("runner", dir);
    keygen("dispatcher", dir);
    keygen("runner", rogue); /* a key the dispatcher does not know */
    snprintf(path, sizeof path, "cp %s/public/dispatcher.cert %s/public/", dir, rogue);
    assert_int_equal(system(path), 0);

    curve_t *server = curve_new(dir, "dispatcher", "", true, err, sizeof err);
    assert_non_null(server);
    zsock_t *any = zsock_new(ZMQ_ROUTER), *store = zsock_new(ZMQ_ROUTER);
    assert_int_equal(curve_server(server, any, "tcp://127.0.0.1:0", NULL, err, sizeof err), 0);
    assert_int_equal(curve_server(server, store, "tcp://127.0.0.1:0", "session", err, sizeof err),
                     0);
    int any_port = zsock_bind(any, "tcp://127.0.0.1:*");
    int store_port = zsock_bind(store, "tcp://127.0.0.1:*");
    assert_true(any_port > 0 && store_port > 0);
    char *session_key = public_of("session"), *runner_key = public_of("runner");

    char *seen = send_as(any, any_port, "runner", dir); /* a known key, any socket */
    assert_non_null(seen);
    assert_string_equal(seen, runner_key);
    free(seen);
    assert_null(send_as(any, any_port, "runner", rogue));   /* an unknown key */
    assert_null(send_as(store, store_port, "runner", dir)); /* known, but not the session's */
    seen = send_as(store, store_port, "session", dir);
    assert_non_null(seen);
    assert_string_equal(seen, session_key);
    free(seen);
    char key[41];
    assert_int_equal(curve_public_key(server, "session", key, err, sizeof err), 0);
    assert_string_equal(key, session_key);
    assert_int_equal(curve_public_key(server, "nobody", key, err, sizeof err), -1);

    free(session_key);
    free(runner_key);
    zsock_destroy(&any);
    zsock_destroy(&store);
    curve_destroy(&server);
    snprintf(path, sizeof path, "rm -rf %s %s", dir, rogue);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_known_keys_and_one_for_a_named_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
