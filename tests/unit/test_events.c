/* Unit tests: the session store's live event logs (numbering, output continuity, expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "events.h"
#include "util.h"

#define EXEC_A "00000000-0000-4000-8000-00000000000a"
#define EXEC_B "00000000-0000-4000-8000-00000000000b"

static lcx_msg_t *output(const char *id, const char *stream, int64_t offset, const char *data)
{
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_OUTPUT);
    lcx_msg_set_str(m, LCX_F_execution_id, id);
    lcx_msg_set_str(m, LCX_F_stream, stream);
    lcx_msg_set_int(m, LCX_F_attempt, 1);
    lcx_msg_set_int(m, LCX_F_offset, offset);
    lcx_msg_set_bytes(m, LCX_F_data, data, strlen(data));
    return m;
}

/* The number of events after `after`, and whether the log is known and ended. */
static size_t count_after(events_t *ev, const char *id, int64_t after, bool *known, bool *ended)
{
    lcx_msg_t *reply = lcx_msg_new(LCX_CMD_EVENTS);
    size_t n = events_fill(ev, id, after, reply, known, ended);
    lcx_msg_destroy(&reply);
    return n;
}

static void test_events_are_numbered_and_output_must_continue(void **state)
{
    (void)state;
    events_t *ev = events_new(60000);
    events_status(ev, EXEC_A, "QUEUED", 1);
    events_status(ev, EXEC_A, "RUNNING", 1);
    lcx_msg_t *first = output(EXEC_A, "stdout", 0, "hello"),
              *again = output(EXEC_A, "stdout", 0, "hello"),
              *gap = output(EXEC_A, "stdout", 9, "late"), *next = output(EXEC_A, "stdout", 5, "!");
    assert_true(events_output(ev, first));
    assert_false(events_output(ev, again)); /* resent: never shown twice */
    assert_false(events_output(ev, gap));   /* out of order: never shown with a hole */
    assert_true(events_output(ev, next));
    events_status(ev, EXEC_A, "COMPLETED", 1);
    bool known, ended;
    assert_int_equal(count_after(ev, EXEC_A, 0, &known, &ended), 5);
    assert_true(known && ended);
    assert_int_equal(count_after(ev, EXEC_A, 3, &known, &ended), 2);
    assert_int_equal(count_after(ev, EXEC_B, 0, &known, &ended), 0);
    assert_false(known);
    lcx_msg_destroy(&first);
    lcx_msg_destroy(&again);
    lcx_msg_destroy(&gap);
    lcx_msg_destroy(&next);
    events_destroy(&ev);
    assert_null(ev);
}

/* The data of event `id` (1-based) of a log, NULL when it has none. */
static char *event_data(events_t *ev, const char *id, int64_t event_id)
{
    lcx_msg_t *reply = lcx_msg_new(LCX_CMD_EVENTS);
    bool known, ended;
    char *data = NULL;
    if (events_fill(ev, id, event_id - 1, reply, &known, &ended) > 0) {
        const lcx_msg_t *e = reply->items.v[0];
        if (e->data.ptr) data = strdup(e->data.ptr);
    }
    lcx_msg_destroy(&reply);
    return data;
}

static lcx_msg_t *final_update(const char *id, int64_t attempt, const char *out, const char *err)
{
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(m, LCX_F_execution_id, id);
    lcx_msg_set_int(m, LCX_F_attempt, attempt);
    lcx_msg_set_str(m, LCX_F_status, "COMPLETED");
    lcx_msg_set_bytes(m, LCX_F_stdout, out, strlen(out));
    lcx_msg_set_bytes(m, LCX_F_stderr, err, strlen(err));
    return m;
}

/* The output the runner still held when the run ended arrives in the final UPDATE only. */
static void test_final_update_brings_the_output_tail(void **state)
{
    (void)state;
    events_t *ev = events_new(60000);
    events_status(ev, EXEC_A, "RUNNING", 1);
    lcx_msg_t *first = output(EXEC_A, "stdout", 0, "hello ");
    assert_true(events_output(ev, first));
    lcx_msg_t *update = final_update(EXEC_A, 1, "hello world\n", "oops\n");
    assert_true(events_final_output(ev, update));
    events_status(ev, EXEC_A, "COMPLETED", 1);
    char *tail = event_data(ev, EXEC_A, 3), *err = event_data(ev, EXEC_A, 4);
    assert_string_equal(tail, "world\n"); /* only what the log did not hold */
    assert_string_equal(err, "oops\n");
    bool known, ended;
    assert_int_equal(count_after(ev, EXEC_A, 0, &known, &ended), 5);
    assert_false(events_final_output(ev, update)); /* ended: nothing more */
    lcx_msg_t *stale = final_update(EXEC_B, 2, "x", "");
    events_status(ev, EXEC_B, "RUNNING", 3);
    assert_false(events_final_output(ev, stale)); /* another attempt's output */
    free(tail);
    free(err);
    lcx_msg_destroy(&first);
    lcx_msg_destroy(&update);
    lcx_msg_destroy(&stale);
    events_destroy(&ev);
}

static void test_ended_logs_expire_in_order_running_ones_stay(void **state)
{
    (void)state;
    events_t *ev = events_new(20);
    events_status(ev, EXEC_A, "COMPLETED", 1);
    events_status(ev, EXEC_A, "FAILED", 1); /* ignored: a log ends once */
    events_status(ev, EXEC_B, "RUNNING", 1);
    bool known, ended;
    events_expire(ev, lcx_mono_ms());
    assert_int_equal(count_after(ev, EXEC_A, 0, &known, &ended), 1);
    assert_true(known);
    usleep(40 * 1000);
    events_expire(ev, lcx_mono_ms());
    count_after(ev, EXEC_A, 0, &known, &ended);
    assert_false(known);
    count_after(ev, EXEC_B, 0, &known, &ended);
    assert_true(known); /* still running: kept */
    events_status(ev, EXEC_B, "COMPLETED", 1);
    events_expire(ev, lcx_mono_ms() + 1000);
    count_after(ev, EXEC_B, 0, &known, &ended);
    assert_false(known);
    events_destroy(&ev);
}

/* The last id names the final status (the result event follows it); the shown output is the
 * latest attempt's, as a cancel keeps it. */
static void test_last_id_and_shown_output_of_the_latest_attempt(void **state)
{
    (void)state;
    events_t *ev = events_new(60000);
    assert_int_equal(events_last_id(ev, EXEC_A), 0);
    lcx_msg_t *shown = lcx_msg_new(LCX_CMD_EXECUTION);
    assert_false(events_shown_output(ev, EXEC_A, shown));
    events_status(ev, EXEC_A, "RUNNING", 1);
    lcx_msg_t *old = output(EXEC_A, "stdout", 0, "first try");
    assert_true(events_output(ev, old));
    events_status(ev, EXEC_A, "QUEUED", 2); /* a re-queue: attempt 2 starts its output anew */
    events_status(ev, EXEC_A, "RUNNING", 2);
    lcx_msg_t *a = output(EXEC_A, "stdout", 0, "1\n"), *b = output(EXEC_A, "stderr", 0, "e"),
              *c = output(EXEC_A, "stdout", 2, "2\n");
    a->attempt.v = b->attempt.v = c->attempt.v = 2;
    assert_true(events_output(ev, a) && events_output(ev, b) && events_output(ev, c));
    events_status(ev, EXEC_A, "CANCELLED", 0);
    assert_int_equal(events_last_id(ev, EXEC_A), 8);
    assert_true(events_shown_output(ev, EXEC_A, shown));
    assert_int_equal(shown->stdout.len, 4);
    assert_memory_equal(shown->stdout.ptr, "1\n2\n", 4);
    assert_int_equal(shown->stderr.len, 1);
    lcx_msg_t *none = lcx_msg_new(LCX_CMD_EXECUTION);
    events_status(ev, EXEC_B, "RUNNING", 1);
    assert_true(events_shown_output(ev, EXEC_B, none));
    assert_null(none->stdout.ptr);
    assert_null(none->stderr.ptr);
    lcx_msg_destroy(&none);
    lcx_msg_destroy(&old);
    lcx_msg_destroy(&a);
    lcx_msg_destroy(&b);
    lcx_msg_destroy(&c);
    lcx_msg_destroy(&shown);
    events_destroy(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_are_numbered_and_output_must_continue),
        cmocka_unit_test(test_final_update_brings_the_output_tail),
        cmocka_unit_test(test_ended_logs_expire_in_order_running_ones_stay),
        cmocka_unit_test(test_last_id_and_shown_output_of_the_latest_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
