/*
 * broker: the dispatcher's loop (see broker.h).
 */
#include "broker.h"
#include "adopt.h"
#include "alloc.h"
#include "curve.h"
#include "jobs.h"
#include "log.h"
#include "outbox.h"
#include "pool.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define STORE_IDENTITY "lcx-session"

struct broker_t {
    const lcx_settings_t *settings;
    zsock_t *store_sock;  /* ROUTER: the session store */
    zsock_t *runner_sock; /* ROUTER: runners */
    pool_t *pool;
    jobs_t *jobs;
    outbox_t *outbox;
    curve_t *curve;
    char store_key[41]; /* with CURVE: the session store's public key (Z85), else "" */
    adopt_asks_t *asks; /* what registering runners asked the store about (adopt.h) */
    bool asks_unsent;   /* some runner's ADOPT waits for the store to connect */
    char instance[LCX_UUID_LEN + 1];
    int64_t hold_until; /* re-submitted jobs wait until then: returning runners report theirs */
    int64_t next_heartbeat;
};

/* The store's socket (handover) admits only the session store's key; the runners' any known. */
static zsock_t *bind_router(curve_t *curve, const char *endpoint, bool handover, char *err,
                            size_t errlen)
{
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (!sock) return NULL;
    if (curve_server(curve, sock, endpoint, handover ? "session" : NULL, err, errlen) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    zsock_set_router_mandatory(sock, 1);
    if (handover) zsock_set_router_handover(sock, 1);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
    zsock_set_maxmsgsize(sock, LCX_PROTO_MAX_FRAME + 1024);
    zsock_set_linger(sock, 500);
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

broker_t *broker_new(const lcx_settings_t *settings, char *err, size_t errlen)
{
    broker_t *self = lcx_calloc(1, sizeof *self);
    self->settings = settings;
    lcx_uuid4(self->instance);
    self->hold_until = lcx_mono_ms() + settings->heartbeat_ms * settings->liveness;
    self->curve =
        curve_new(settings->curve_dir, "dispatcher", settings->curve_secret, true, err, errlen);
    /* With CURVE, the store's key is what tells its messages from anyone else's. */
    if (self->curve && curve_enabled(self->curve) &&
        curve_public_key(self->curve, "session", self->store_key, err, errlen) != 0)
        curve_destroy(&self->curve);
    /* The store reconnects under the same routing id; the newest connection takes it over. */
    if (self->curve)
        self->store_sock =
            bind_router(self->curve, settings->dispatcher_endpoint, true, err, errlen);
    if (self->store_sock)
        self->runner_sock = bind_router(self->curve, settings->runner_endpoint, false, err, errlen);
    if (!self->store_sock || !self->runner_sock) {
        broker_destroy(&self);
        return NULL;
    }
    self->pool = pool_new(settings->heartbeat_ms * settings->liveness);
    self->jobs = jobs_new();
    self->asks = adopt_asks_new();
    self->outbox = outbox_new(self->store_sock, STORE_IDENTITY, settings->heartbeat_ms);
    return self;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p) return;
    broker_t *self = *self_p;
    outbox_destroy(&self->outbox);
    jobs_destroy(&self->jobs);
    adopt_asks_destroy(&self->asks);
    pool_destroy(&self->pool);
    zsock_destroy(&self->store_sock);
    zsock_destroy(&self->runner_sock);
    curve_destroy(&self->curve);
    free(self);
    *self_p = NULL;
}

static void send_to(zsock_t *sock, lcx_msg_t **msg_p, const char *peer)
{
    char err[256];
    lcx_cmd_t cmd = (*msg_p)->cmd;
    if (lcx_msg_send(msg_p, sock, err, sizeof err) != 0)
        lcx_log(LCX_WARN, "send failed", "peer", peer, "command", lcx_cmd_name(cmd), "error", err,
                NULL);
}

static void send_to_runner(broker_t *self, runner_t *runner, lcx_msg_t **msg_p)
{
    zframe_destroy(&(*msg_p)->routing_id);
    (*msg_p)->routing_id = zframe_dup(runner->identity);
    send_to(self->runner_sock, msg_p, runner->name);
}

/* An UPDATE for the store about a job the dispatcher itself decided (re-queue, runner_lost). */
static void post_update(broker_t *self, const char *execution_id, int64_t attempt,
                        const char *status, const char *reason)
{
    lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(u, LCX_F_execution_id, execution_id);
    lcx_msg_set_int(u, LCX_F_attempt, attempt);
    lcx_msg_set_str(u, LCX_F_status, status);
    lcx_msg_set_str(u, LCX_F_reason, reason);
    if (reason) lcx_msg_set_int(u, LCX_F_finished_at, lcx_now_ms());
    outbox_post(self->outbox, &u);
}

/* ---------------------------------------------------------------------------------------- */
/* Dispatching                                                                               */

static void dispatch_job(broker_t *self, job_t *job, runner_t *runner)
{
    jobs_assign(self->jobs, job, runner);
    runner->assigned++;
    lcx_log(LCX_DEBUG, "execution dispatched", "execution_id", job->job->execution_id.ptr,
            "session_id", job->job->session_id.ptr, "runner_id", runner->name,
            LCX_LOG_INT("attempt", job->job->attempt.v), NULL);
    lcx_msg_t *copy = lcx_msg_dup(job->job);
    send_to_runner(self, runner, &copy);
}

/* Hands queued jobs, oldest first, to runners with free slots for their language. */
static void dispatch(broker_t *self)
{
    bool holding = lcx_mono_ms() < self->hold_until;
    zlist_t *ready = zlist_new();
    zlist_t *targets = zlist_new();
    /* Decide first, then act: the queue must not change while it is iterated. */
    for (job_t *job = jobs_queue_first(self->jobs); job; job = jobs_queue_next(self->jobs)) {
        if (!job->job->language.ptr) continue; /* adopted by id: waits for the store's JOB */
        if (holding && job->job->resubmit.v) continue;
        runner_t *runner = pool_pick(self->pool, job->job->language.ptr);
        if (!runner) continue;
        runner->assigned++; /* reserve, so the next pick sees the slot taken */
        zlist_append(ready, job);
        zlist_append(targets, runner);
    }
    job_t *job;
    while ((job = zlist_pop(ready))) {
        runner_t *runner = zlist_pop(targets);
        runner->assigned--;
        dispatch_job(self, job, runner);
    }
    zlist_destroy(&ready);
    zlist_destroy(&targets);
}

/* A runner is gone: its jobs go back to the queue, or fail once out of attempts. */
static void runner_lost(broker_t *self, runner_t *runner, const char *why)
{
    bool left = strcmp(why, "runner said goodbye") == 0; /* a drain's end is no trouble */
    lcx_log(left ? LCX_INFO : LCX_WARN, left ? "runner left" : "runner lost", "runner_id",
            runner->name, "why", why, NULL);
    zlist_t *held = zlist_new();
    jobs_of_runner(self->jobs, runner, held);
    job_t *job;
    while ((job = zlist_pop(held))) {
        lcx_msg_t *j = job->job;
        if (j->attempt.v >= self->settings->max_attempts) {
            lcx_log(LCX_WARN, "execution failed: runner lost", "execution_id", j->execution_id.ptr,
                    "runner_id", runner->name, NULL);
            post_update(self, j->execution_id.ptr, j->attempt.v, "FAILED", "runner_lost");
            jobs_remove(self->jobs, job);
            continue;
        }
        lcx_log(LCX_INFO, "execution requeued", "execution_id", j->execution_id.ptr,
                LCX_LOG_INT("attempt", j->attempt.v + 1), "lost_runner", runner->name, NULL);
        lcx_msg_set_int(j, LCX_F_attempt, j->attempt.v + 1);
        jobs_requeue(self->jobs, job);
        post_update(self, j->execution_id.ptr, j->attempt.v, "QUEUED", NULL);
    }
    zlist_destroy(&held);
    zlist_t *asked = zlist_new(); /* its open questions go with it */
    zlist_autofree(asked);
    adopt_take_asks(self->asks, runner->serial, asked);
    zlist_destroy(&asked);
    runner_free(&runner);
}

/* ---------------------------------------------------------------------------------------- */
/* The session store's side                                                                  */

/* The runners' side, below. */
static void on_adopted(broker_t *self, const lcx_msg_t *msg);
static void ask_again(broker_t *self);
static bool vouched_by_resubmit(broker_t *self, const lcx_msg_t *msg);

static void reply_status(broker_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *status = lcx_msg_reply(req, LCX_CMD_STATUS);
    lcx_msg_set_str(status, LCX_F_instance, self->instance);
    lcx_msg_set_int(status, LCX_F_queue_depth, (int64_t)jobs_queued(self->jobs));
    pool_describe(self->pool, status);
    send_to(self->store_sock, &status, "session");
}

static void reply_accept(broker_t *self, const lcx_msg_t *req, const char *error)
{
    lcx_msg_t *msg = lcx_msg_reply(req, error ? LCX_CMD_ERROR : LCX_CMD_ACCEPTED);
    lcx_msg_set_str(msg, LCX_F_execution_id, req->execution_id.ptr);
    if (error) lcx_msg_set_str(msg, LCX_F_error, error);
    send_to(self->store_sock, &msg, "session");
}

static void on_job(broker_t *self, lcx_msg_t **msg_p)
{
    lcx_msg_t *msg = *msg_p;
    /* Known already (a re-submission): accept again. A job a runner reported running when it
     * registered was known by id only: now it gets its details (for a later re-dispatch). */
    job_t *known = jobs_find(self->jobs, msg->execution_id.ptr);
    if (known && !known->job->source_code.ptr) {
        int64_t attempt = known->job->attempt.v;
        lcx_msg_destroy(&known->job);
        known->job = lcx_msg_dup(msg);
        zframe_destroy(&known->job->routing_id);
        known->job->corr = 0;
        if (attempt > known->job->attempt.v) lcx_msg_set_int(known->job, LCX_F_attempt, attempt);
    }
    if (known || outbox_holds(self->outbox, msg->execution_id.ptr) ||
        vouched_by_resubmit(self, msg)) {
        reply_accept(self, msg, NULL);
        return;
    }
    if (!pool_serves(self->pool, msg->language.ptr)) {
        reply_accept(self, msg, "no_runner");
        return;
    }
    if ((long)jobs_queued(self->jobs) >= self->settings->queue_max) {
        reply_accept(self, msg, "queue_full");
        return;
    }
    reply_accept(self, msg, NULL);
    lcx_msg_t *job = lcx_msg_dup(msg);
    zframe_destroy(&job->routing_id);
    job->corr = 0;
    jobs_add(self->jobs, &job);
}

static void on_cancel(broker_t *self, const lcx_msg_t *msg)
{
    job_t *job = jobs_find(self->jobs, msg->execution_id.ptr);
    if (!job) return;
    lcx_log(LCX_DEBUG, "execution cancel", "execution_id", msg->execution_id.ptr, "runner_id",
            job->runner ? job->runner->name : NULL, NULL);
    if (!job->runner) {
        jobs_remove(self->jobs, job);
        return;
    }
    /* The runner kills it and reports; its slot frees when that final update arrives. */
    lcx_msg_t *cancel = lcx_msg_new(LCX_CMD_CANCEL);
    lcx_msg_set_str(cancel, LCX_F_execution_id, msg->execution_id.ptr);
    send_to_runner(self, job->runner, &cancel);
}

/* An operator's drain: no new jobs for that runner, which finishes its jobs and leaves. */
static void on_drain(broker_t *self, const lcx_msg_t *msg)
{
    runner_t *runner = pool_find_name(self->pool, msg->runner_id.ptr);
    if (!runner) return;
    runner->draining = true;
    lcx_log(LCX_INFO, "runner drain requested", "runner_id", runner->name, NULL);
    lcx_msg_t *drain = lcx_msg_new(LCX_CMD_DRAIN);
    lcx_msg_set_str(drain, LCX_F_runner_id, runner->name);
    send_to_runner(self, runner, &drain);
}

static void handle_store(broker_t *self, lcx_msg_t **msg_p)
{
    lcx_msg_t *msg = *msg_p;
    ask_again(self);
    switch (msg->cmd) {
    case LCX_CMD_HEARTBEAT:
        reply_status(self, msg);
        break;
    case LCX_CMD_JOB:
        on_job(self, msg_p);
        break;
    case LCX_CMD_CANCEL:
        on_cancel(self, msg);
        break;
    case LCX_CMD_UPDATE_ACK:
        outbox_ack(self->outbox, msg);
        break;
    case LCX_CMD_DRAIN:
        on_drain(self, msg);
        break;
    case LCX_CMD_ADOPTED:
        on_adopted(self, msg);
        break;
    default:
        lcx_log(LCX_WARN, "unexpected command from session store", "command",
                lcx_cmd_name(msg->cmd), NULL);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The runners' side                                                                         */

/* Makes a job the runner's (PROTOCOL.md 6.3, Adoption): it runs there, and a queued copy is
 * not dispatched again. */
static void adopt(broker_t *self, runner_t *runner, const char *id, int64_t attempt)
{
    if (!adopt_take(self->jobs, runner, id, attempt)) {
        lcx_log(LCX_INFO, "execution not adopted", "execution_id", id, "runner_id", runner->name,
                "why", "dispatched meanwhile", NULL);
        return;
    }
    runner->assigned++;
    lcx_log(LCX_INFO, "execution adopted", "execution_id", id, "runner_id", runner->name,
            LCX_LOG_INT("attempt", attempt), NULL);
}

static void not_adopted(const runner_t *runner, const char *entry, const char *why)
{
    lcx_log(LCX_WARN, "execution not adopted", "entry", entry, "runner_id", runner->name, "why",
            why, NULL);
}

/* Asks the store about the registration's open questions (ADOPT). A dispatcher that has just
 * started may hear a runner before the store has connected: then it asks once the store is
 * heard (ask_again). */
static void send_ask(broker_t *self, runner_t *runner)
{
    lcx_msg_t *ask = lcx_msg_new(LCX_CMD_ADOPT);
    runner->ask_unsent = false;
    if (adopt_entries(self->asks, runner->serial, ask) == 0) {
        lcx_msg_destroy(&ask);
        return;
    }
    lcx_msg_set_str(ask, LCX_F_runner_id, runner->name);
    ask->corr = runner->serial;
    ask->routing_id = zframe_new(STORE_IDENTITY, strlen(STORE_IDENTITY));
    char err[256];
    if (lcx_msg_send(&ask, self->store_sock, err, sizeof err) == 0) return;
    runner->ask_unsent = self->asks_unsent = true;
    lcx_log(LCX_DEBUG, "the store is not connected: its runner's jobs are asked about later",
            "runner_id", runner->name, "error", err, NULL);
}

/* The store is heard: the questions that could not go out go now. */
static void ask_again(broker_t *self)
{
    if (!self->asks_unsent) return;
    self->asks_unsent = false;
    for (runner_t *r = pool_first(self->pool); r; r = pool_next(self->pool))
        if (r->ask_unsent) send_ask(self, r);
}

/* The jobs a (re)registering runner still runs: those queued here become its jobs at once; the
 * store is asked about the ones this dispatcher does not know (ADOPT); the rest are dropped. */
static void adopt_running(broker_t *self, runner_t *runner, const lcx_msg_t *ready)
{
    bool asked = false;
    for (size_t i = 0; i < ready->running.n; i++) {
        const char *entry = ready->running.v[i];
        char id[LCX_UUID_LEN + 1];
        int64_t attempt = 0;
        adopt_verdict_t verdict =
            adopt_verdict(self->jobs, entry, self->settings->max_attempts, id, &attempt);
        if (verdict == ADOPT_TAKE) {
            adopt(self, runner, id, attempt);
        } else if (verdict == ADOPT_ASK) {
            adopt_ask(self->asks, runner, id, attempt);
            asked = true;
        } else {
            not_adopted(runner, entry, adopt_verdict_text(verdict));
        }
    }
    if (asked) send_ask(self, runner);
}

/* The store's answer to ADOPT: the entries it confirms are adopted, the others dropped. */
static void on_adopted(broker_t *self, const lcx_msg_t *msg)
{
    runner_t *runner = pool_find_serial(self->pool, msg->corr);
    if (!runner) return; /* that registration is gone: its jobs were not adopted */
    zlist_t *asked = zlist_new();
    zlist_autofree(asked);
    adopt_take_asks(self->asks, runner->serial, asked);
    char *entry;
    while ((entry = zlist_pop(asked))) {
        bool confirmed = false;
        for (size_t i = 0; i < msg->running.n && !confirmed; i++)
            confirmed = strcmp(msg->running.v[i], entry) == 0;
        char id[LCX_UUID_LEN + 1];
        int64_t attempt = 0;
        if (confirmed && lcx_running_entry_parse(entry, id, &attempt))
            adopt(self, runner, id, attempt);
        else
            not_adopted(runner, entry, "the store does not confirm it");
        free(entry);
    }
    zlist_destroy(&asked);
}

/* A re-submitted JOB (the store vouches that the execution is unfinished) for a job a
 * registering runner asked about: it becomes that runner's at once, instead of waiting in the
 * queue to run a second time. False when no open question fits. */
static bool vouched_by_resubmit(broker_t *self, const lcx_msg_t *msg)
{
    int64_t attempt = 0;
    uint64_t serial =
        msg->resubmit.v ? adopt_asker(self->asks, msg->execution_id.ptr, &attempt) : 0;
    runner_t *runner = serial ? pool_find_serial(self->pool, serial) : NULL;
    if (!serial) return false;
    adopt_forget(self->asks, msg->execution_id.ptr);
    if (!runner || attempt < msg->attempt.v) {
        if (runner) not_adopted(runner, msg->execution_id.ptr, "an older attempt than the store's");
        return false;
    }
    lcx_msg_t *job = lcx_msg_dup(msg);
    zframe_destroy(&job->routing_id);
    job->corr = 0;
    jobs_add(self->jobs, &job);
    adopt(self, runner, msg->execution_id.ptr, attempt);
    return true;
}

/* A READY that registers nobody: logged, and its connection is not heard for a liveness period.
 * No DISCONNECT: a runner would only connect again at once and send the same READY. */
static void refuse_ready(broker_t *self, const lcx_msg_t *msg, const char *why)
{
    lcx_log(LCX_WARN, "runner refused", "runner_id", msg->runner_id.ptr, "why", why,
            LCX_LOG_INT("slots", msg->slots.v), NULL);
    int64_t liveness_ms = self->settings->heartbeat_ms * self->settings->liveness;
    pool_refuse(self->pool, msg->routing_id, lcx_mono_ms() + liveness_ms);
}

/* False once a send to the runner's connection fails with EHOSTUNREACH (it has closed). */
static bool still_connected(broker_t *self, runner_t *runner)
{
    lcx_msg_t *beat = lcx_msg_new(LCX_CMD_HEARTBEAT);
    beat->routing_id = zframe_dup(runner->identity);
    char err[128];
    return lcx_msg_send(&beat, self->runner_sock, err, sizeof err) == 0 ||
           zmq_errno() != EHOSTUNREACH;
}

static void on_ready(broker_t *self, const lcx_msg_t *msg)
{
    const char *problem = pool_ready_problem(msg);
    if (problem) {
        refuse_ready(self, msg, problem);
        return;
    }
    runner_t *old = pool_find(self->pool, msg->routing_id);
    if (old) runner_lost(self, pool_remove(self->pool, old), "registered again");
    /* One live registration per name: a runner that restarts is let in once its old
     * connection is seen closed (or has expired); an impostor never takes a live one's place. */
    runner_t *twin = pool_find_name(self->pool, msg->runner_id.ptr);
    if (twin && !still_connected(self, twin)) {
        runner_lost(self, pool_remove(self->pool, twin), "connection closed");
        twin = NULL;
    }
    if (twin) {
        refuse_ready(self, msg, "runner_id in use by a live runner");
        return;
    }
    runner_t *runner = pool_join(self->pool, msg);
    lcx_log(LCX_INFO, "runner joined", "runner_id", runner->name,
            LCX_LOG_INT("slots", runner->slots), NULL);
    adopt_running(self, runner, msg);
}

/* Forwards a runner's UPDATE to the store and, when final, frees the slot. */
/* A runner's heartbeat tells how many slots it really has busy; jobs this dispatcher does not
 * know (they ran through a restart, or a copy on a runner that was cut off) fill slots too. */
static void count_busy_slots(broker_t *self, runner_t *runner, const lcx_msg_t *beat)
{
    if (!beat->free_slots.set) return;
    zlist_t *held = zlist_new();
    jobs_of_runner(self->jobs, runner, held);
    int known = (int)zlist_size(held), reported = runner->slots - (int)beat->free_slots.v;
    zlist_destroy(&held);
    runner->assigned = known > reported ? known : reported;
}

/* The runner had no free slot for a job (its count was ahead of ours): the job goes back to
 * the head of the queue, and the runner counts as full until its next heartbeat. */
static void take_back(broker_t *self, runner_t *runner, job_t *job)
{
    lcx_log(LCX_INFO, "execution handed back", "execution_id", job->job->execution_id.ptr,
            "runner_id", runner->name, NULL);
    jobs_requeue(self->jobs, job);
    runner->assigned = runner->slots;
}

static void on_runner_update(broker_t *self, runner_t *runner, lcx_msg_t **msg_p)
{
    lcx_msg_t *u = *msg_p;
    bool final = strcmp(u->status.ptr, "RUNNING") != 0;
    job_t *job = jobs_find(self->jobs, u->execution_id.ptr);
    bool current = job && job->runner == runner && job->job->attempt.v == u->attempt.v;
    if (strcmp(u->status.ptr, "QUEUED") == 0) {
        if (current) take_back(self, runner, job);
        return;
    }
    if (job && !current) {
        /* An older attempt reporting late: the store would ignore it anyway. */
        lcx_log(LCX_DEBUG, "stale update dropped", "execution_id", u->execution_id.ptr, NULL);
    } else {
        lcx_msg_t *fwd = lcx_msg_dup(u);
        zframe_destroy(&fwd->routing_id);
        lcx_msg_set_str(fwd, LCX_F_runner_id, runner->name);
        outbox_post(self->outbox, &fwd);
    }
    if (final && current) {
        runner->assigned--;
        jobs_remove(self->jobs, job);
    }
    if (final) {
        lcx_msg_t *ack = lcx_msg_reply(u, LCX_CMD_UPDATE_ACK);
        lcx_msg_set_str(ack, LCX_F_execution_id, u->execution_id.ptr);
        lcx_msg_set_int(ack, LCX_F_attempt, u->attempt.v);
        lcx_msg_set_str(ack, LCX_F_status, u->status.ptr);
        send_to(self->runner_sock, &ack, runner->name);
    }
}

/* Live output goes on to the store at once and is not resent: it only feeds live views, and
 * the final UPDATE carries the whole output anyway. */
static void forward_output(broker_t *self, lcx_msg_t **msg_p)
{
    zframe_destroy(&(*msg_p)->routing_id);
    (*msg_p)->routing_id = zframe_new(STORE_IDENTITY, strlen(STORE_IDENTITY));
    char err[128];
    if (lcx_msg_send(msg_p, self->store_sock, err, sizeof err) != 0)
        lcx_log(LCX_DEBUG, "output not relayed", "error", err, NULL);
}

/* A message from a routing id the pool does not know (e.g. after a dispatcher restart). */
static void on_stranger(broker_t *self, const lcx_msg_t *msg)
{
    if (msg->cmd == LCX_CMD_DISCONNECT) return;
    lcx_msg_t *bye = lcx_msg_reply(msg, LCX_CMD_DISCONNECT);
    lcx_msg_set_str(bye, LCX_F_message, "unknown runner: register again with READY");
    send_to(self->runner_sock, &bye, "unknown runner");
}

static void handle_runner(broker_t *self, lcx_msg_t **msg_p)
{
    lcx_msg_t *msg = *msg_p;
    if (msg->cmd == LCX_CMD_READY) {
        on_ready(self, msg);
        return;
    }
    runner_t *runner = pool_find(self->pool, msg->routing_id);
    if (!runner && pool_refused(self->pool, msg->routing_id, lcx_mono_ms())) return;
    if (!runner) {
        on_stranger(self, msg);
        return;
    }
    pool_touch(self->pool, runner);
    switch (msg->cmd) {
    case LCX_CMD_HEARTBEAT:
        count_busy_slots(self, runner, msg);
        if (msg->draining.v && !runner->draining) {
            runner->draining = true; /* no new jobs; the running ones finish */
            lcx_log(LCX_INFO, "runner draining", "runner_id", runner->name, NULL);
        }
        break;
    case LCX_CMD_OUTPUT:
        forward_output(self, msg_p);
        break;
    case LCX_CMD_UPDATE:
        on_runner_update(self, runner, msg_p);
        break;
    case LCX_CMD_DISCONNECT:
        runner_lost(self, pool_remove(self->pool, runner), "runner said goodbye");
        break;
    default:
        lcx_log(LCX_WARN, "unexpected command from runner", "command", lcx_cmd_name(msg->cmd),
                "runner_id", runner->name, NULL);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The loop                                                                                  */

static void heartbeat_runners(broker_t *self)
{
    zlist_t *unreachable = zlist_new();
    for (runner_t *r = pool_first(self->pool); r; r = pool_next(self->pool)) {
        lcx_msg_t *beat = lcx_msg_new(LCX_CMD_HEARTBEAT);
        beat->routing_id = zframe_dup(r->identity);
        char err[128];
        if (lcx_msg_send(&beat, self->runner_sock, err, sizeof err) != 0 &&
            zmq_errno() == EHOSTUNREACH)
            zlist_append(unreachable, r);
    }
    runner_t *gone;
    while ((gone = zlist_pop(unreachable)))
        runner_lost(self, pool_remove(self->pool, gone), "connection closed");
    zlist_destroy(&unreachable);
}

static void timers(broker_t *self)
{
    int64_t now = lcx_mono_ms();
    runner_t *dead;
    while ((dead = pool_take_expired(self->pool, now)))
        runner_lost(self, dead, "heartbeats stopped");
    if (now >= self->next_heartbeat) {
        heartbeat_runners(self);
        pool_forget_refused(self->pool, now);
        self->next_heartbeat = now + self->settings->heartbeat_ms;
    }
    outbox_flush(self->outbox, now);
}

/* Only the session store speaks on the store socket (PROTOCOL.md 2): its routing id and, with
 * CURVE, its key. NULL, or why a message is not the store's. */
static const char *not_the_store(const broker_t *self, const lcx_msg_t *msg)
{
    if (!msg->routing_id || !zframe_streq(msg->routing_id, STORE_IDENTITY))
        return "not the store's routing id";
    if (self->store_key[0] && strcmp(msg->user_id, self->store_key) != 0)
        return "not the session store's CURVE key";
    return NULL;
}

static void drop_stranger(const lcx_msg_t *msg, const char *why)
{
    char *peer = msg->routing_id ? zframe_strhex(msg->routing_id) : NULL;
    lcx_log(LCX_WARN, "message from a stranger on the store socket dropped", "command",
            lcx_cmd_name(msg->cmd), "why", why, "peer", peer, "execution_id", msg->execution_id.ptr,
            NULL);
    free(peer);
}

static void receive(broker_t *self, zsock_t *sock)
{
    char err[256];
    while (zsock_events(sock) & ZMQ_POLLIN) {
        lcx_msg_t *msg = lcx_msg_recv(sock, err, sizeof err);
        if (!msg) {
            if (!err[0]) return;
            lcx_log(LCX_WARN, "malformed message dropped", "peer",
                    sock == self->store_sock ? "session" : "runner", "error", err, NULL);
            continue;
        }
        const char *stranger = sock == self->store_sock ? not_the_store(self, msg) : NULL;
        if (stranger)
            drop_stranger(msg, stranger);
        else if (sock == self->store_sock)
            handle_store(self, &msg);
        else
            handle_runner(self, &msg);
        lcx_msg_destroy(&msg);
    }
}

int broker_run(broker_t *self)
{
    zpoller_t *poller = zpoller_new(self->store_sock, self->runner_sock, NULL);
    if (!poller) return -1;
    lcx_log(LCX_INFO, "dispatcher ready", "instance", self->instance, "store_endpoint",
            self->settings->dispatcher_endpoint, "runner_endpoint", self->settings->runner_endpoint,
            NULL);
    while (!zsys_interrupted) {
        zpoller_wait(poller, 100);
        if (zpoller_terminated(poller)) break;
        receive(self, self->store_sock);
        receive(self, self->runner_sock);
        timers(self);
        /* Once per turn, whatever changed: a job re-queued, a runner joined or freed a slot. */
        dispatch(self);
    }
    zpoller_destroy(&poller);
    lcx_log(LCX_INFO, "dispatcher stopping", NULL);
    return 0;
}
