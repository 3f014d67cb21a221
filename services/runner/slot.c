/* slot: a job thread (see slot.h). Pointers cross the actor pipe: both ends live in this
 * process and each message has exactly one owner at a time. */
#include "slot.h"
#include "alloc.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Output of one stream waiting to be relayed: bytes [offset, offset + len) of the stream. */
typedef struct {
    char *data;
    size_t len, cap;
    int64_t offset;
    int64_t since; /* monotonic ms of the oldest waiting byte */
} pending_t;

struct slot_t {
    job_context_t ctx;
    zactor_t *actor;
    zsock_t *thread_pipe; /* the actor's end, used only on the slot thread */
    lcx_msg_t *running;   /* the JOB being executed (read-only while it runs) */
    int64_t sent[2];      /* stdout and stderr bytes received for the running job */
    pending_t pending[2]; /* stdout and stderr waiting to be relayed */
    slot_relay_fn *relay;
    void *relay_arg;
};

static void drain_eventfd(int fd)
{
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    (void)n;
}

/* sandbox_output_fn on the slot thread: the chunk goes to the main thread as "OUT". */
static void on_output(void *arg, int stream, const char *data, size_t len)
{
    slot_t *self = arg;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "OUT");
    zmsg_addstr(msg, stream == SANDBOX_STDOUT ? "stdout" : "stderr");
    zmsg_addmem(msg, data, len);
    zmsg_send(&msg, self->thread_pipe);
}

/* Holds the last run's teardown back for SLOT_TEARDOWN_DELAY_MS, or until the next message
 * (a job, or the end) comes in: see slot.h. */
static void wait_for_result_to_leave(zsock_t *pipe)
{
    zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
    zmq_poll(&item, 1, SLOT_TEARDOWN_DELAY_MS);
}

/* The thread: receives "JOB" + pointer, sends "OUT" chunks, then "DONE" + the UPDATE. Between
 * jobs, once the result is on its way, it readies the last job's directory for the next. */
static void slot_actor(zsock_t *pipe, void *arg)
{
    slot_t *self = arg;
    self->thread_pipe = pipe;
    zsock_signal(pipe, 0);
    job_scratch_t scratch;
    job_scratch_prepare(&self->ctx, &scratch);
    while (true) {
        char *command = NULL;
        void *job = NULL;
        if (zsock_recv(pipe, "sp", &command, &job) != 0) break;
        bool term = streq(command, "$TERM");
        zstr_free(&command);
        if (term) break;
        drain_eventfd(self->ctx.cancel_fd); /* a cancel meant for an earlier job */
        lcx_msg_t *update = job_execute(&self->ctx, job, &scratch);
        zsock_send(pipe, "sp", "DONE", update);
        wait_for_result_to_leave(pipe);
        sandbox_settle(self->ctx.sandbox); /* what the run left is gone before its scratch */
        job_scratch_recycle(&self->ctx, &scratch); /* before the next job: this slot's work */
    }
    job_scratch_remove(&self->ctx, &scratch);
}

slot_t *slot_new(const job_context_t *ctx, slot_relay_fn *relay, void *relay_arg)
{
    slot_t *self = lcx_calloc(1, sizeof *self);
    self->ctx = *ctx;
    self->relay = relay;
    self->relay_arg = relay_arg;
    self->ctx.on_output = on_output;
    self->ctx.output_arg = self;
    self->ctx.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (self->ctx.cancel_fd < 0 || !(self->actor = zactor_new(slot_actor, self))) {
        if (self->ctx.cancel_fd >= 0) close(self->ctx.cancel_fd);
        free(self);
        return NULL;
    }
    return self;
}

void slot_destroy(slot_t **self_p)
{
    if (!self_p || !*self_p) return;
    slot_t *self = *self_p;
    self->relay = NULL; /* nobody listens any more */
    while (self->running) {
        slot_cancel(self);
        lcx_msg_t *update = slot_receive(self);
        lcx_msg_destroy(&update);
    }
    zactor_destroy(&self->actor);
    close(self->ctx.cancel_fd);
    free(self->pending[0].data);
    free(self->pending[1].data);
    free(self);
    *self_p = NULL;
}

bool slot_busy(const slot_t *self)
{
    return self->running != NULL;
}

const char *slot_execution_id(const slot_t *self)
{
    return self->running ? self->running->execution_id.ptr : NULL;
}

const lcx_msg_t *slot_job(const slot_t *self)
{
    return self->running;
}

int slot_start(slot_t *self, lcx_msg_t **job_p)
{
    if (self->running) return -1;
    self->running = *job_p;
    self->sent[0] = self->sent[1] = 0;
    self->pending[0].len = self->pending[1].len = 0;
    *job_p = NULL;
    return zsock_send(self->actor, "sp", "JOB", self->running);
}

void slot_cancel(slot_t *self)
{
    uint64_t one = 1;
    ssize_t n = write(self->ctx.cancel_fd, &one, sizeof one);
    (void)n;
}

zsock_t *slot_socket(slot_t *self)
{
    return zactor_sock(self->actor);
}

static const char *const stream_names[2] = {"stdout", "stderr"};

/* Relays a stream's waiting output, but for the start of a character its next bytes will
 * complete: a live view then never shows a character cut in two. */
static void relay_pending(slot_t *self, int stream)
{
    pending_t *p = &self->pending[stream];
    size_t keep = lcx_utf8_partial_tail(p->data, p->len), ready = p->len - keep;
    if (ready && self->relay && self->running)
        self->relay(self->relay_arg, self->running, stream_names[stream], p->data, ready,
                    p->offset);
    p->len = keep;
    p->offset += (int64_t)ready;
    if (keep) { /* the kept bytes wait a flush interval of their own */
        memmove(p->data, p->data + ready, keep);
        p->since = lcx_mono_ms();
    }
}

void slot_flush(slot_t *self)
{
    int64_t now = lcx_mono_ms();
    for (int s = 0; s < 2; s++) {
        pending_t *p = &self->pending[s];
        if (p->len && (p->len >= SLOT_FLUSH_BYTES || now - p->since >= SLOT_FLUSH_MS))
            relay_pending(self, s);
    }
}

int64_t slot_pending(const slot_t *self)
{
    int64_t wait = -1, now = lcx_mono_ms();
    for (int s = 0; s < 2; s++) {
        const pending_t *p = &self->pending[s];
        if (!p->len) continue;
        int64_t due = p->since + SLOT_FLUSH_MS - now;
        if (due < 0) due = 0;
        if (wait < 0 || due < wait) wait = due;
    }
    return wait;
}

/* Adds bytes to a stream's waiting output (relaying first what would not fit). */
static void gather(slot_t *self, int stream, const void *data, size_t len)
{
    pending_t *p = &self->pending[stream];
    if (p->len + len > p->cap) {
        relay_pending(self, stream);
        size_t need = p->len + len;
        if (need > p->cap) {
            size_t cap = need > SLOT_FLUSH_BYTES ? need : SLOT_FLUSH_BYTES;
            p->data = lcx_realloc(p->data, cap);
            p->cap = cap;
        }
    }
    if (p->len == 0) {
        p->offset = self->sent[stream];
        p->since = lcx_mono_ms();
    }
    memcpy(p->data + p->len, data, len);
    p->len += len;
    self->sent[stream] += (int64_t)len;
    if (p->len >= SLOT_FLUSH_BYTES) relay_pending(self, stream);
}

/* An "OUT" message: [stream, bytes]. */
static void take_output(slot_t *self, zmsg_t *msg)
{
    char *stream = zmsg_popstr(msg);
    zframe_t *data = zmsg_pop(msg);
    if (stream && data && self->running)
        gather(self, strcmp(stream, "stdout") == 0 ? 0 : 1, zframe_data(data), zframe_size(data));
    zstr_free(&stream);
    zframe_destroy(&data);
}

/* A "DONE" message: [pointer to the UPDATE] (zsock_send's "p" picture: the pointer's bytes). */
static lcx_msg_t *take_update(slot_t *self, zmsg_t *msg)
{
    zframe_t *frame = zmsg_pop(msg);
    lcx_msg_t *update = NULL;
    if (frame && zframe_size(frame) == sizeof update)
        memcpy(&update, zframe_data(frame), sizeof update);
    zframe_destroy(&frame);
    /* Output still waiting rides in the result, which carries all of it: the store logs the
     * tail from there (PROTOCOL.md 6.3), and a short run sends no OUTPUT at all. */
    self->pending[0].len = self->pending[1].len = 0;
    lcx_msg_destroy(&self->running);
    return update;
}

lcx_msg_t *slot_receive(slot_t *self)
{
    zmsg_t *msg = zmsg_recv(self->actor);
    if (!msg) return NULL;
    char *command = zmsg_popstr(msg);
    lcx_msg_t *update = NULL;
    if (command && streq(command, "OUT"))
        take_output(self, msg);
    else if (command && streq(command, "DONE"))
        update = take_update(self, msg);
    zstr_free(&command);
    zmsg_destroy(&msg);
    return update;
}
