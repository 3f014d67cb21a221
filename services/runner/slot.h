/*
 * slot: one job at a time on its own thread (a czmq actor), so the runner's main loop keeps
 * heartbeating while programs run. The main loop hands a JOB in, polls the slot's socket and
 * takes the final UPDATE out; cancel() kills the running program from any thread.
 */
#ifndef LCX_SLOT_H
#define LCX_SLOT_H

#include "job.h"

typedef struct slot_t slot_t;

/* ctx is copied; its cancel_fd is replaced by the slot's own. */
slot_t *slot_new(const job_context_t *ctx);
/* Cancels a running job and waits for the thread to end. */
void slot_destroy(slot_t **self_p);

bool slot_busy(const slot_t *self);
/* The execution id of the running job, or NULL. */
const char *slot_execution_id(const slot_t *self);
/* Starts *job_p (taking it) on this idle slot; -1 when busy. */
int slot_start(slot_t *self, lcx_msg_t **job_p);
void slot_cancel(slot_t *self);
/* The socket that becomes readable when the job is done. */
zsock_t *slot_socket(slot_t *self);
/* After the socket was readable: the job's final UPDATE (the slot is idle again). */
lcx_msg_t *slot_finish(slot_t *self);

#endif
