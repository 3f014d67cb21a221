/*
 * slot: one job at a time on its own thread (a czmq actor), so the runner's main loop keeps
 * heartbeating while programs run. The main loop hands a JOB in and polls the slot's socket;
 * what comes out is live output (passed to the relay callback, on the main thread) and, at the
 * end, the final UPDATE. cancel() kills the running program from any thread.
 */
#ifndef LCX_SLOT_H
#define LCX_SLOT_H

#include "job.h"

/* Live output of `job` on the main thread: `len` bytes of `stream` ("stdout"/"stderr")
 * starting at byte `offset` of that stream. */
typedef void(slot_relay_fn)(void *arg, const lcx_msg_t *job, const char *stream, const char *data,
                            size_t len, int64_t offset);

typedef struct slot_t slot_t;

/* ctx is copied; its cancel_fd and output callback are replaced by the slot's own. */
slot_t *slot_new(const job_context_t *ctx, slot_relay_fn *relay, void *relay_arg);
/* Cancels a running job and waits for the thread to end. */
void slot_destroy(slot_t **self_p);

bool slot_busy(const slot_t *self);
/* The execution id of the running job, or NULL. */
const char *slot_execution_id(const slot_t *self);
/* The running JOB message (read only), or NULL. */
const lcx_msg_t *slot_job(const slot_t *self);
/* Starts *job_p (taking it) on this idle slot; -1 when busy. */
int slot_start(slot_t *self, lcx_msg_t **job_p);
void slot_cancel(slot_t *self);
/* The socket that becomes readable when the slot has something to say. */
zsock_t *slot_socket(slot_t *self);
/* After the socket was readable: the job's final UPDATE (the slot is idle again; output not
 * yet relayed is dropped, since the UPDATE carries all of it), or NULL when the message was
 * live output. */
lcx_msg_t *slot_receive(slot_t *self);

/* After a run, the slot leaves its teardown (the sandbox's settle, the swap of the work
 * directory's tmpfs) for SLOT_TEARDOWN_DELAY_MS while no job comes. The result's way out (the
 * runner's main thread, the dispatcher, the store, the gateway) takes about a millisecond, and
 * the teardown competes with it for the CPUs: the unmount waits for an expedited RCU grace
 * period, which interrupts every CPU. On two CPUs that cost the result about 0.3 ms at the median
 * (docs/PERFORMANCE.md, round 11). A job that comes meanwhile ends the wait at once; it then waits
 * for the teardown, as a job that came before the teardown ended always did (under saturation the
 * run rate was the same within the noise). */
#define SLOT_TEARDOWN_DELAY_MS 3

/* Live output is gathered briefly so that a program writing a line in pieces makes one
 * chunk: it goes to the relay once SLOT_FLUSH_BYTES are waiting or the oldest waiting byte
 * is SLOT_FLUSH_MS old. flush() relays what is due; pending() says how many ms until
 * something is due (-1: nothing waits). */
#define SLOT_FLUSH_BYTES 16384
#define SLOT_FLUSH_MS 20
void slot_flush(slot_t *self);
int64_t slot_pending(const slot_t *self);

#endif
