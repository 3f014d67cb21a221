/* slot: a job thread (see slot.h). Pointers cross the actor pipe: both ends live in this
 * process and each message has exactly one owner at a time. */
#include "slot.h"
#include "log.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct slot_t {
    job_context_t ctx;
    zactor_t *actor;
    lcx_msg_t *running; /* the JOB being executed, owned by the main thread's view */
};

static void drain_eventfd(int fd)
{
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    (void)n;
}

/* The thread: receives "JOB" + pointer, answers "DONE" + pointer to the UPDATE. */
static void slot_actor(zsock_t *pipe, void *arg)
{
    slot_t *self = arg;
    zsock_signal(pipe, 0);
    while (true) {
        char *command = NULL;
        void *job = NULL;
        if (zsock_recv(pipe, "sp", &command, &job) != 0) break;
        bool term = streq(command, "$TERM");
        zstr_free(&command);
        if (term) break;
        drain_eventfd(self->ctx.cancel_fd); /* a cancel meant for an earlier job */
        lcx_msg_t *update = job_execute(&self->ctx, job);
        zsock_send(pipe, "sp", "DONE", update);
    }
}

slot_t *slot_new(const job_context_t *ctx)
{
    slot_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->ctx = *ctx;
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
    if (self->running) {
        slot_cancel(self);
        lcx_msg_t *update = slot_finish(self);
        lcx_msg_destroy(&update);
    }
    zactor_destroy(&self->actor);
    close(self->ctx.cancel_fd);
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

int slot_start(slot_t *self, lcx_msg_t **job_p)
{
    if (self->running) return -1;
    self->running = *job_p;
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

lcx_msg_t *slot_finish(slot_t *self)
{
    char *command = NULL;
    void *update = NULL;
    if (zsock_recv(self->actor, "sp", &command, &update) != 0) return NULL;
    zstr_free(&command);
    lcx_msg_destroy(&self->running);
    return update;
}
