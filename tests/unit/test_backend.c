/* Unit tests: the gateway's client of the session store, against a real ROUTER socket in this
 * process standing in for the store (replies, timeouts, forgotten calls, the expiry clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backend.h"

#define CONNECT_TRIES 250 /* of 20 ms: the DEALER refuses to send until it is connected */

typedef struct {
    int calls;
    bool answered; /* the last call had a reply (not NULL) */
    lcx_cmd_t cmd;
} outcome_t;

static void record(void *arg, const lcx_msg_t *reply)
{
    outcome_t *o = arg;
    o->calls++;
    o->answered = reply != NULL;
    o->cmd = reply ? reply->cmd : LCX_CMD_NONE;
}

typedef struct {
    zsock_t *store;
    backend_t *backend;
} fixture_t;

static void health_call(fixture_t *f, outcome_t *o, int64_t timeout_ms)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_HEALTH);
    backend_call(f->backend, &msg, timeout_ms, record, o);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->store = zsock_new_router("tcp://127.0.0.1:*");
    assert_non_null(f->store);
    char err[256] = "";
    f->backend = backend_new(zsock_endpoint(f->store), "", "", err, sizeof err);
    assert_non_null(f->backend);
    /* Wait until a call goes out: an unconnected backend fails calls at once. */
    outcome_t probe = {0};
    for (int i = 0; i < CONNECT_TRIES; i++) {
        health_call(f, &probe, 1000);
        if (probe.calls == 0) break;
        probe.calls = 0;
        zclock_sleep(20);
    }
    assert_int_equal(probe.calls, 0);
    zmsg_t *drained = zmsg_recv(f->store);
    zmsg_destroy(&drained);
    backend_forget(f->backend, &probe);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    backend_destroy(&f->backend);
    zsock_destroy(&f->store);
    free(f);
    return 0;
}

/* The store answers the request it got: a reply to it, with its corr and routing id. */
static void store_answers(fixture_t *f)
{
    char err[256];
    lcx_msg_t *req = lcx_msg_recv(f->store, err, sizeof err);
    assert_non_null(req);
    assert_int_equal(req->cmd, LCX_CMD_HEALTH);
    lcx_msg_t *reply = lcx_msg_reply(req, LCX_CMD_HEALTH_REPLY);
    lcx_msg_set_bool(reply, LCX_F_dispatcher_up, true);
    assert_int_equal(lcx_msg_send(&reply, f->store, err, sizeof err), 0);
    lcx_msg_destroy(&req);
}

/* Delivers replies as the gateway's loop does, until `o` has a call or 2 s passed. */
static void receive_until_called(fixture_t *f, outcome_t *o)
{
    zpoller_t *poller = zpoller_new(backend_socket(f->backend), NULL);
    for (int i = 0; i < 200 && o->calls == 0; i++) {
        zpoller_wait(poller, 10);
        backend_receive(f->backend);
    }
    zpoller_destroy(&poller);
}

static void test_reply_reaches_its_callback_once(void **state)
{
    fixture_t *f = *state;
    outcome_t o = {0};
    health_call(f, &o, 5000);
    store_answers(f);
    receive_until_called(f, &o);
    assert_int_equal(o.calls, 1);
    assert_true(o.answered);
    assert_int_equal(o.cmd, LCX_CMD_HEALTH_REPLY);
    /* Forgetting an answered request is harmless, and its deadline calls nothing. */
    backend_forget(f->backend, &o);
    backend_expire(f->backend);
    assert_int_equal(o.calls, 1);
}

static void test_unanswered_call_expires_with_null(void **state)
{
    fixture_t *f = *state;
    outcome_t o = {0};
    health_call(f, &o, 50);
    int64_t wait = backend_expire(f->backend);
    assert_true(wait > 0 && wait <= 50);
    zclock_sleep(60);
    assert_int_equal(backend_expire(f->backend), -1);
    assert_int_equal(o.calls, 1);
    assert_false(o.answered);
}

static void test_forgotten_call_never_runs(void **state)
{
    fixture_t *f = *state;
    outcome_t kept = {0}, forgotten = {0};
    health_call(f, &forgotten, 30);
    health_call(f, &kept, 5000);
    backend_forget(f->backend, &forgotten);
    store_answers(f); /* the forgotten call's reply comes, and is dropped */
    store_answers(f);
    receive_until_called(f, &kept);
    zclock_sleep(40);
    backend_expire(f->backend);
    assert_int_equal(forgotten.calls, 0);
    assert_int_equal(kept.calls, 1);
    assert_true(kept.answered);
}

/* An answered call's deadline may wake the loop once; the next deadline then counts. */
static void test_expiry_follows_the_earliest_call_in_flight(void **state)
{
    fixture_t *f = *state;
    outcome_t quick = {0}, slow = {0};
    health_call(f, &quick, 30);
    health_call(f, &slow, 5000);
    store_answers(f);
    receive_until_called(f, &quick);
    assert_true(quick.answered);
    assert_true(backend_expire(f->backend) <= 30);
    zclock_sleep(40);
    int64_t wait = backend_expire(f->backend);
    assert_true(wait > 4000 && wait <= 5000);
    assert_int_equal(slow.calls, 0);
    backend_forget(f->backend, &slow);
    zclock_sleep(1);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply_reaches_its_callback_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_call_expires_with_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forgotten_call_never_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_follows_the_earliest_call_in_flight, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
