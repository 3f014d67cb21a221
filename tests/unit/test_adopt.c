/* Unit tests: the dispatcher's registration rules (pool) and how it settles the jobs a
 * registering runner lists (adopt): PROTOCOL.md 6.3, Refusal and Adoption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "adopt.h"
#include "pool.h"

#define ID_A "0b6f2c1e-1111-4222-8333-44445555aaaa"
#define ID_B "0b6f2c1e-1111-4222-8333-44445555bbbb"
#define ID_C "0b6f2c1e-1111-4222-8333-44445555cccc"

static lcx_msg_t *ready(const char *routing_id, const char *name, int64_t slots, int running)
{
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_READY);
    m->routing_id = zframe_new(routing_id, strlen(routing_id));
    lcx_msg_set_str(m, LCX_F_runner_id, name);
    lcx_msg_set_int(m, LCX_F_slots, slots);
    lcx_msg_list_append(m, LCX_F_languages, "python");
    for (int i = 0; i < running; i++)
        lcx_msg_list_append(m, LCX_F_running, ID_A "/1");
    return m;
}

static job_t *queue_job(jobs_t *jobs, const char *id, int64_t attempt)
{
    lcx_msg_t *job = lcx_msg_new(LCX_CMD_JOB);
    lcx_msg_set_str(job, LCX_F_execution_id, id);
    lcx_msg_set_str(job, LCX_F_language, "python");
    lcx_msg_set_str(job, LCX_F_source_code, "print(1)");
    lcx_msg_set_int(job, LCX_F_attempt, attempt);
    return jobs_add(jobs, &job);
}

/* A READY offers 1..1024 slots and lists at most that many running jobs. */
static void ready_is_bounded(void **state)
{
    (void)state;
    static const struct {
        int64_t slots;
        int running;
        bool ok;
    } cases[] = {{1, 0, true},       {1, 1, true},       {1, 2, false},    {0, 0, false},
                 {-1, 0, false},     {1024, 0, true},    {1025, 0, false}, {2, 3, false},
                 {1024, 1024, true}, {1024, 1100, false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lcx_msg_t *m = ready("r", "runner", cases[i].slots, cases[i].running);
        const char *problem = pool_ready_problem(m);
        if ((problem == NULL) != cases[i].ok)
            fail_msg("slots %lld, %d running: %s", (long long)cases[i].slots, cases[i].running,
                     problem ? problem : "accepted");
        lcx_msg_destroy(&m);
    }
}

/* Each registration has its own serial; a gone one is not found by it. */
static void registrations_have_serials(void **state)
{
    (void)state;
    pool_t *pool = pool_new(3000);
    lcx_msg_t *a = ready("conn-a", "runner-a", 2, 0), *b = ready("conn-b", "runner-b", 2, 0);
    runner_t *ra = pool_join(pool, a), *rb = pool_join(pool, b);
    assert_true(ra->serial != rb->serial);
    assert_ptr_equal(pool_find_serial(pool, ra->serial), ra);
    assert_ptr_equal(pool_find_name(pool, "runner-b"), rb);
    uint64_t gone = ra->serial;
    runner_t *removed = pool_remove(pool, ra);
    runner_free(&removed);
    assert_null(pool_find_serial(pool, gone));
    runner_t *again = pool_join(pool, a); /* the same connection registers again */
    assert_true(again->serial != gone);
    lcx_msg_destroy(&a);
    lcx_msg_destroy(&b);
    pool_destroy(&pool);
}

/* A refused connection is not heard until its time is up, then forgotten. */
static void refused_connections_expire(void **state)
{
    (void)state;
    pool_t *pool = pool_new(3000);
    zframe_t *x = zframe_new("conn-x", 6), *y = zframe_new("conn-y", 6);
    pool_refuse(pool, x, 1000);
    assert_true(pool_refused(pool, x, 999));
    assert_false(pool_refused(pool, y, 999));
    assert_false(pool_refused(pool, x, 1000));
    assert_int_equal(pool_refused_count(pool), 0); /* forgotten once looked at too late */
    pool_refuse(pool, x, 2000);
    pool_refuse(pool, y, 5000);
    pool_forget_refused(pool, 3000);
    assert_int_equal(pool_refused_count(pool), 1);
    assert_true(pool_refused(pool, y, 3000));
    zframe_destroy(&x);
    zframe_destroy(&y);
    pool_destroy(&pool);
}

/* The verdicts: queued here -> adopt (unless older); running elsewhere -> keep it there;
 * unknown -> ask the store; malformed or beyond max_attempts -> drop. */
static void entries_are_settled(void **state)
{
    (void)state;
    jobs_t *jobs = jobs_new();
    pool_t *pool = pool_new(3000);
    lcx_msg_t *m = ready("conn-a", "runner-a", 2, 0);
    runner_t *other = pool_join(pool, m);
    queue_job(jobs, ID_A, 2);
    job_t *b = queue_job(jobs, ID_B, 1);
    jobs_assign(jobs, b, other);
    char id[LCX_UUID_LEN + 1];
    int64_t attempt = 0;
    assert_int_equal(adopt_verdict(jobs, ID_A "/2", 3, id, &attempt), ADOPT_TAKE);
    assert_string_equal(id, ID_A);
    assert_int_equal(attempt, 2);
    assert_int_equal(adopt_verdict(jobs, ID_A "/3", 3, id, &attempt), ADOPT_TAKE);
    assert_int_equal(adopt_verdict(jobs, ID_A "/1", 3, id, &attempt), ADOPT_STALE);
    assert_int_equal(adopt_verdict(jobs, ID_B "/1", 3, id, &attempt), ADOPT_ELSEWHERE);
    assert_int_equal(adopt_verdict(jobs, ID_C "/1", 3, id, &attempt), ADOPT_ASK);
    assert_int_equal(adopt_verdict(jobs, ID_C "/4", 3, id, &attempt), ADOPT_MALFORMED);
    assert_int_equal(adopt_verdict(jobs, ID_C "/0", 3, id, &attempt), ADOPT_MALFORMED);
    assert_int_equal(adopt_verdict(jobs, "invented", 3, id, &attempt), ADOPT_MALFORMED);
    assert_non_null(adopt_verdict_text(ADOPT_MALFORMED));
    assert_int_equal(jobs_queued(jobs), 1); /* judging changes nothing */
    lcx_msg_destroy(&m);
    jobs_destroy(&jobs);
    pool_destroy(&pool);
}

/* Taking a job: a queued one leaves the queue (attempt raised to the runner's); an unknown one
 * is recorded by id and never queued; one that runs elsewhere or moved on is not taken. */
static void adopted_jobs_never_occupy_the_queue(void **state)
{
    (void)state;
    jobs_t *jobs = jobs_new();
    pool_t *pool = pool_new(3000);
    lcx_msg_t *ma = ready("conn-a", "runner-a", 2, 0), *mb = ready("conn-b", "runner-b", 2, 0);
    runner_t *ra = pool_join(pool, ma), *rb = pool_join(pool, mb);
    queue_job(jobs, ID_A, 1);
    job_t *a = adopt_take(jobs, ra, ID_A, 2);
    assert_non_null(a);
    assert_ptr_equal(a->runner, ra);
    assert_int_equal(a->job->attempt.v, 2);
    assert_int_equal(jobs_queued(jobs), 0);
    assert_null(adopt_take(jobs, rb, ID_A, 2)); /* ra holds it */
    job_t *c = adopt_take(jobs, rb, ID_C, 1);   /* confirmed by the store, unknown here */
    assert_non_null(c);
    assert_ptr_equal(c->runner, rb);
    assert_null(c->job->language.ptr); /* details come with the store's JOB */
    assert_int_equal(jobs_queued(jobs), 0);
    queue_job(jobs, ID_B, 3);
    assert_null(adopt_take(jobs, rb, ID_B, 2)); /* re-queued at a later attempt meanwhile */
    assert_int_equal(jobs_queued(jobs), 1);
    zlist_t *held = zlist_new();
    jobs_of_runner(jobs, rb, held);
    assert_int_equal(zlist_size(held), 1);
    zlist_destroy(&held);
    lcx_msg_destroy(&ma);
    lcx_msg_destroy(&mb);
    jobs_destroy(&jobs);
    pool_destroy(&pool);
}

/* The open questions: by id, of one registration each; taken out when the store answers. */
static void asks_are_kept_per_registration(void **state)
{
    (void)state;
    pool_t *pool = pool_new(3000);
    lcx_msg_t *ma = ready("conn-a", "runner-a", 2, 0), *mb = ready("conn-b", "runner-b", 2, 0);
    runner_t *ra = pool_join(pool, ma), *rb = pool_join(pool, mb);
    adopt_asks_t *asks = adopt_asks_new();
    adopt_ask(asks, ra, ID_A, 1);
    adopt_ask(asks, ra, ID_B, 2);
    adopt_ask(asks, rb, ID_C, 1);
    int64_t attempt = 0;
    assert_int_equal(adopt_asker(asks, ID_B, &attempt), ra->serial);
    assert_int_equal(attempt, 2);
    assert_int_equal(adopt_asker(asks, "0b6f2c1e-1111-4222-8333-44445555dddd", &attempt), 0);
    lcx_msg_t *ask = lcx_msg_new(LCX_CMD_ADOPT);
    assert_int_equal(adopt_entries(asks, ra->serial, ask), 2);
    assert_int_equal(ask->running.n, 2);
    assert_true(strcmp(ask->running.v[0], ID_A "/1") == 0 ||
                strcmp(ask->running.v[1], ID_A "/1") == 0);
    adopt_forget(asks, ID_A); /* the store's re-submitted JOB settled it */
    zlist_t *taken = zlist_new();
    zlist_autofree(taken);
    adopt_take_asks(asks, ra->serial, taken);
    assert_int_equal(zlist_size(taken), 1);
    assert_string_equal(zlist_first(taken), ID_B "/2");
    assert_int_equal(adopt_asks_size(asks), 1); /* runner-b's is still open */
    zlist_destroy(&taken);
    lcx_msg_destroy(&ask);
    adopt_asks_destroy(&asks);
    lcx_msg_destroy(&ma);
    lcx_msg_destroy(&mb);
    pool_destroy(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ready_is_bounded),
        cmocka_unit_test(registrations_have_serials),
        cmocka_unit_test(refused_connections_expire),
        cmocka_unit_test(entries_are_settled),
        cmocka_unit_test(adopted_jobs_never_occupy_the_queue),
        cmocka_unit_test(asks_are_kept_per_registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
