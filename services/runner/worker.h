/*
 * worker: the runner's main loop and its link to the dispatcher. It announces itself with
 * READY, heartbeats every interval (also while every slot is busy: jobs run on slot threads),
 * starts JOBs on idle slots, reports RUNNING and the final UPDATE, and resends each final
 * UPDATE until the dispatcher acknowledges it. When the dispatcher falls silent or says
 * DISCONNECT, the worker opens a fresh socket and registers again.
 */
#ifndef LCX_WORKER_H
#define LCX_WORKER_H

#include "job.h"
#include "settings.h"

typedef struct worker_t worker_t;

/* ready is the READY message to announce (languages and versions already probed). */
worker_t *worker_new(const lcx_settings_t *settings, const job_context_t *ctx, lcx_msg_t **ready_p,
                     char *err, size_t errlen);
void worker_destroy(worker_t **self_p);
int worker_run(worker_t *self);

#endif
