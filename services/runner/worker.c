/*
 * worker: the runner's loop (see worker.h).
 */
#include "worker.h"
#include "alloc.h"
#include "curve.h"
#include "log.h"
#include "slot.h"
#include "util.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* After the running jobs finish, how long a draining runner waits for its results' acks. */
#define DRAIN_ACK_WAIT_MS 10000

/* A job's RUNNING update and when it goes out (monotonic ms). */
typedef struct {
    lcx_msg_t *update;
    int64_t due;
} held_running_t;

struct worker_t {
    const lcx_settings_t *settings;
    lcx_msg_t *ready; /* READY, re-sent on every (re)connection */
    zsock_t *sock;    /* DEALER to the dispatcher; replaced on reconnection */
    curve_t *curve;
    slot_t **slots;
    int slot_count;
    held_running_t *held; /* per slot: its job's RUNNING while it is held back */
    zlistx_t *unacked;    /* final UPDATEs not yet acknowledged */
    int64_t dispatcher_seen;
    int64_t next_heartbeat;
    int64_t next_resend;
    bool dispatcher_silent; /* reconnecting until it answers: the retries log at debug */
    bool draining;          /* SIGTERM: take no new jobs, finish the running ones, leave */
    int64_t idle_since;     /* monotonic ms since a draining runner has had no job */
};

/* SIGTERM asks for a drain; SIGINT still stops at once (czmq's own flag). */
static volatile sig_atomic_t drain_requested;

static void on_sigterm(int sig)
{
    (void)sig;
    drain_requested = 1;
}

static void on_sigint(int sig)
{
    (void)sig;
    zsys_interrupted = 1;
}

/* Must run before the first czmq socket: czmq would install its own handlers then. */
static void install_signal_handlers(void)
{
    zsys_handler_set(NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigterm;
    sigaction(SIGTERM, &action, NULL);
    action.sa_handler = on_sigint;
    sigaction(SIGINT, &action, NULL);
}

static void update_free(void **item)
{
    lcx_msg_destroy((lcx_msg_t **)item);
}

static void send_heartbeat(worker_t *self);

static int connect_dispatcher(worker_t *self)
{
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock) return -1;
    char err[256];
    if (curve_client(self->curve, self->sock, "dispatcher", err, sizeof err) != 0) {
        lcx_log(LCX_ERROR, "CURVE", "error", err, NULL);
        return -1;
    }
    zsock_set_linger(self->sock, 0);
    zsock_set_maxmsgsize(self->sock, LCX_PROTO_MAX_FRAME + 1024);
    zsock_set_sndhwm(self->sock, 10000);
    if (zsock_connect(self->sock, "%s", self->settings->runner_endpoint) != 0) return -1;
    lcx_msg_t *ready = lcx_msg_dup(self->ready);
    /* Jobs still running (the dispatcher restarted, or our link came back): the dispatcher
     * takes them as ours instead of running them again elsewhere. */
    for (int i = 0; i < self->slot_count; i++) {
        const lcx_msg_t *job = slot_job(self->slots[i]);
        char entry[96];
        if (!job) continue;
        snprintf(entry, sizeof entry, "%s/%lld", job->execution_id.ptr, (long long)job->attempt.v);
        lcx_msg_list_append(ready, LCX_F_running, entry);
    }
    if (lcx_msg_send(&ready, self->sock, err, sizeof err) != 0)
        lcx_log(LCX_WARN, "READY not sent", "error", err, NULL);
    send_heartbeat(self); /* at once: slots still busy from before must count as busy */
    self->dispatcher_seen = lcx_mono_ms();
    self->next_heartbeat = self->dispatcher_seen + self->settings->heartbeat_ms;
    lcx_log(self->dispatcher_silent ? LCX_DEBUG : LCX_INFO, "registering with dispatcher",
            "endpoint", self->settings->runner_endpoint, "runner_id", self->ready->runner_id.ptr,
            NULL);
    return 0;
}

static void send_msg(worker_t *self, lcx_msg_t **msg_p)
{
    char err[256];
    lcx_cmd_t cmd = (*msg_p)->cmd;
    if (lcx_msg_send(msg_p, self->sock, err, sizeof err) != 0)
        lcx_log(LCX_WARN, "send to dispatcher failed", "command", lcx_cmd_name(cmd), "error", err,
                NULL);
}

/*
 * RUNNING is held back for running_report_ms. A run that ends sooner reports only its final
 * update, which carries started_at and makes the store log RUNNING before the final state
 * (PROTOCOL.md 6.3): two messages and a commit fewer for the short runs that are most of a
 * learner's, and nothing a client can tell from a RUNNING state that lasted a few ms.
 */
static void send_running(worker_t *self, int slot)
{
    if (self->held[slot].update) send_msg(self, &self->held[slot].update);
}

static void send_due_running(worker_t *self, int64_t now)
{
    for (int i = 0; i < self->slot_count; i++)
        if (self->held[i].update && now >= self->held[i].due) send_running(self, i);
}

static int slot_of_job(const worker_t *self, const lcx_msg_t *job)
{
    for (int i = 0; i < self->slot_count; i++)
        if (slot_job(self->slots[i]) == job) return i;
    return -1;
}

/* slot_relay_fn: live output goes to the dispatcher as OUTPUT, best effort; the job's RUNNING
 * goes first, so that every view sees the run start before its output. */
static void relay_output(void *arg, const lcx_msg_t *job, const char *stream, const char *data,
                         size_t len, int64_t offset)
{
    worker_t *self = arg;
    int slot = slot_of_job(self, job);
    if (slot >= 0) send_running(self, slot);
    lcx_msg_t *out = lcx_msg_new(LCX_CMD_OUTPUT);
    lcx_msg_set_str(out, LCX_F_execution_id, job->execution_id.ptr);
    lcx_msg_set_int(out, LCX_F_attempt, job->attempt.v);
    lcx_msg_set_str(out, LCX_F_stream, stream);
    lcx_msg_set_bytes(out, LCX_F_data, data, len);
    lcx_msg_set_int(out, LCX_F_offset, offset);
    char err[128];
    if (lcx_msg_send(&out, self->sock, err, sizeof err) != 0)
        lcx_log(LCX_DEBUG, "output not relayed", "error", err, NULL);
}

worker_t *worker_new(const lcx_settings_t *settings, const job_context_t *ctx, lcx_msg_t **ready_p,
                     char *err, size_t errlen)
{
    worker_t *self = lcx_calloc(1, sizeof *self);
    install_signal_handlers();
    self->settings = settings;
    if (!(self->curve = curve_new(settings->curve_dir, "runner", settings->curve_secret, false, err,
                                  errlen))) {
        lcx_msg_destroy(ready_p);
        free(self);
        return NULL;
    }
    self->ready = *ready_p;
    *ready_p = NULL;
    self->unacked = zlistx_new();
    zlistx_set_destructor(self->unacked, update_free);
    self->slot_count = (int)self->ready->slots.v;
    self->slots = lcx_calloc((size_t)self->slot_count, sizeof *self->slots);
    self->held = lcx_calloc((size_t)self->slot_count, sizeof *self->held);
    for (int i = 0; i < self->slot_count; i++) {
        if (!(self->slots[i] = slot_new(ctx, relay_output, self))) {
            snprintf(err, errlen, "cannot start slot %d", i);
            worker_destroy(&self);
            return NULL;
        }
    }
    if (connect_dispatcher(self) != 0) {
        snprintf(err, errlen, "cannot connect to %s", settings->runner_endpoint);
        worker_destroy(&self);
        return NULL;
    }
    return self;
}

void worker_destroy(worker_t **self_p)
{
    if (!self_p || !*self_p) return;
    worker_t *self = *self_p;
    for (int i = 0; self->slots && i < self->slot_count; i++)
        slot_destroy(&self->slots[i]);
    for (int i = 0; self->held && i < self->slot_count; i++)
        lcx_msg_destroy(&self->held[i].update);
    free(self->slots);
    free(self->held);
    zlistx_destroy(&self->unacked);
    zsock_destroy(&self->sock);
    curve_destroy(&self->curve);
    lcx_msg_destroy(&self->ready);
    free(self);
    *self_p = NULL;
}

static int free_slots(const worker_t *self)
{
    int n = 0;
    for (int i = 0; i < self->slot_count; i++)
        n += !slot_busy(self->slots[i]);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Messages from the dispatcher                                                              */

/* An UPDATE of the job's attempt to `status`. */
static lcx_msg_t *job_update(const lcx_msg_t *job, const char *status)
{
    lcx_msg_t *u = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_str(u, LCX_F_execution_id, job->execution_id.ptr);
    lcx_msg_set_int(u, LCX_F_attempt, job->attempt.v);
    lcx_msg_set_str(u, LCX_F_status, status);
    return u;
}

static void on_job(worker_t *self, lcx_msg_t **job_p)
{
    lcx_msg_t *job = *job_p;
    for (int i = 0; i < self->slot_count; i++) {
        if (slot_busy(self->slots[i])) continue;
        lcx_log(LCX_DEBUG, "execution started", "execution_id", job->execution_id.ptr, "session_id",
                job->session_id.ptr, "language", job->language.ptr, LCX_LOG_INT("slot", i), NULL);
        held_running_t *held = &self->held[i];
        lcx_msg_destroy(&held->update);
        held->update = job_update(job, "RUNNING");
        lcx_msg_set_int(held->update, LCX_F_started_at, lcx_now_ms());
        held->due = lcx_mono_ms() + self->settings->running_report_ms;
        zframe_destroy(&job->routing_id);
        slot_start(self->slots[i], job_p);
        /* after the slot has the job: the program starts first */
        if (self->settings->running_report_ms == 0) send_running(self, i);
        return;
    }
    /* The dispatcher's count of our busy slots was behind (e.g. we registered again while
     * jobs ran): hand the job back to its queue; our next heartbeat corrects the count. */
    lcx_log(LCX_WARN, "job handed back: no free slot", "execution_id", job->execution_id.ptr, NULL);
    lcx_msg_t *u = job_update(job, "QUEUED");
    lcx_msg_set_str(u, LCX_F_message, "no free slot");
    send_msg(self, &u);
    send_heartbeat(self);
}

static void on_cancel(worker_t *self, const lcx_msg_t *msg)
{
    for (int i = 0; i < self->slot_count; i++) {
        const char *id = slot_execution_id(self->slots[i]);
        if (id && strcmp(id, msg->execution_id.ptr) == 0) {
            lcx_log(LCX_DEBUG, "execution cancel requested", "execution_id", id, NULL);
            slot_cancel(self->slots[i]);
        }
    }
}

static void on_ack(worker_t *self, const lcx_msg_t *ack)
{
    for (lcx_msg_t *u = zlistx_first(self->unacked); u; u = zlistx_next(self->unacked)) {
        if (strcmp(u->execution_id.ptr, ack->execution_id.ptr) == 0 &&
            u->attempt.v == ack->attempt.v) {
            zlistx_delete(self->unacked, zlistx_cursor(self->unacked));
            return;
        }
    }
}

static void handle_dispatcher(worker_t *self)
{
    char err[256];
    lcx_msg_t *msg = lcx_msg_recv(self->sock, err, sizeof err);
    if (!msg) {
        if (err[0]) lcx_log(LCX_WARN, "malformed message dropped", "error", err, NULL);
        return;
    }
    self->dispatcher_seen = lcx_mono_ms();
    if (self->dispatcher_silent) {
        lcx_log(LCX_INFO, "dispatcher answers again", NULL);
        self->dispatcher_silent = false;
    }
    switch (msg->cmd) {
    case LCX_CMD_JOB:
        on_job(self, &msg);
        break;
    case LCX_CMD_CANCEL:
        on_cancel(self, msg);
        break;
    case LCX_CMD_UPDATE_ACK:
        on_ack(self, msg);
        break;
    case LCX_CMD_HEARTBEAT:
        break;
    case LCX_CMD_DRAIN:
        drain_requested = 1; /* as SIGTERM: an operator drains this runner */
        break;
    case LCX_CMD_DISCONNECT:
        lcx_log(LCX_INFO, "dispatcher asked us to register again", NULL);
        connect_dispatcher(self);
        break;
    default:
        lcx_log(LCX_WARN, "unexpected command from dispatcher", "command", lcx_cmd_name(msg->cmd),
                NULL);
    }
    lcx_msg_destroy(&msg);
}

/* ---------------------------------------------------------------------------------------- */
/* Slots, timers, loop                                                                       */

static void on_slot_message(worker_t *self, int slot)
{
    lcx_msg_t *update = slot_receive(self->slots[slot]);
    if (!update) return;                       /* live output, already relayed */
    lcx_msg_destroy(&self->held[slot].update); /* the final update stands for it */
    lcx_log(LCX_DEBUG, "execution finished", "execution_id", update->execution_id.ptr, "status",
            update->status.ptr, "reason", update->reason.ptr,
            LCX_LOG_INT("cpu_time_ms", update->cpu_time_ms.v), NULL);
    lcx_msg_set_str(update, LCX_F_runner_id, self->ready->runner_id.ptr);
    lcx_msg_set_str(update, LCX_F_sandbox, self->ready->sandbox.ptr); /* shown in every result */
    zlistx_add_end(self->unacked, lcx_msg_dup(update));
    send_msg(self, &update);
}

static void resend_unacked(worker_t *self)
{
    for (lcx_msg_t *u = zlistx_first(self->unacked); u; u = zlistx_next(self->unacked)) {
        lcx_msg_t *copy = lcx_msg_dup(u);
        send_msg(self, &copy);
    }
}

static void send_heartbeat(worker_t *self)
{
    lcx_msg_t *beat = lcx_msg_new(LCX_CMD_HEARTBEAT);
    lcx_msg_set_int(beat, LCX_F_free_slots, self->draining ? 0 : free_slots(self));
    if (self->draining) lcx_msg_set_bool(beat, LCX_F_draining, true);
    send_msg(self, &beat);
}

/* Drain: tell the dispatcher at once, then leave when every job is done and acknowledged
 * (or the acks do not come: the dispatcher then re-queues those jobs itself). */
static bool drain_step(worker_t *self)
{
    if (drain_requested && !self->draining) {
        self->draining = true;
        lcx_log(LCX_INFO, "draining: no new jobs, finishing the running ones", NULL);
        send_heartbeat(self);
    }
    if (!self->draining) return false;
    if (free_slots(self) < self->slot_count) {
        self->idle_since = 0;
        return false;
    }
    int64_t now = lcx_mono_ms();
    if (!self->idle_since) self->idle_since = now;
    if (zlistx_size(self->unacked) && now - self->idle_since < DRAIN_ACK_WAIT_MS) return false;
    lcx_msg_t *bye = lcx_msg_new(LCX_CMD_DISCONNECT);
    lcx_msg_set_str(bye, LCX_F_message, "drained");
    send_msg(self, &bye);
    return true;
}

static void timers(worker_t *self)
{
    const lcx_settings_t *s = self->settings;
    int64_t now = lcx_mono_ms();
    send_due_running(self, now);
    if (now - self->dispatcher_seen > s->heartbeat_ms * s->liveness) {
        lcx_log(self->dispatcher_silent ? LCX_DEBUG : LCX_WARN, "dispatcher silent: reconnecting",
                NULL);
        self->dispatcher_silent = true;
        connect_dispatcher(self);
        resend_unacked(self);
        return;
    }
    if (now >= self->next_heartbeat) {
        send_heartbeat(self);
        self->next_heartbeat = now + s->heartbeat_ms;
    }
    if (now >= self->next_resend) {
        resend_unacked(self);
        self->next_resend = now + s->heartbeat_ms * 2;
    }
}

/* The loop sleeps at most 100 ms, and less when live output or a RUNNING is due. */
static int64_t poll_timeout(const worker_t *self)
{
    int64_t timeout = 100, now = lcx_mono_ms();
    for (int i = 0; i < self->slot_count; i++) {
        int64_t due = slot_pending(self->slots[i]);
        if (due >= 0 && due < timeout) timeout = due;
        if (self->held[i].update) {
            due = self->held[i].due > now ? self->held[i].due - now : 0;
            if (due < timeout) timeout = due;
        }
    }
    return timeout;
}

/* The poller is rebuilt each turn: the dispatcher socket changes on reconnection. */
static zpoller_t *make_poller(worker_t *self)
{
    zpoller_t *poller = zpoller_new(self->sock, NULL);
    for (int i = 0; poller && i < self->slot_count; i++)
        zpoller_add(poller, slot_socket(self->slots[i]));
    return poller;
}

int worker_run(worker_t *self)
{
    while (!zsys_interrupted) {
        zpoller_t *poller = make_poller(self);
        if (!poller) return -1;
        void *which = zpoller_wait(poller, (int)poll_timeout(self));
        /* zpoller calls any interrupted poll "terminated": SIGTERM (a drain) is not a stop. */
        bool stop = zsys_interrupted || (zpoller_terminated(poller) && zmq_errno() != EINTR);
        zpoller_destroy(&poller);
        if (stop) break;
        if (which == self->sock) {
            while (zsock_events(self->sock) & ZMQ_POLLIN)
                handle_dispatcher(self);
        }
        for (int i = 0; i < self->slot_count; i++)
            while (slot_busy(self->slots[i]) &&
                   (zsock_events(slot_socket(self->slots[i])) & ZMQ_POLLIN))
                on_slot_message(self, i);
        for (int i = 0; i < self->slot_count; i++)
            slot_flush(self->slots[i]);
        timers(self);
        if (drain_step(self)) break;
    }
    lcx_log(LCX_INFO, "runner stopping", NULL);
    return 0;
}
