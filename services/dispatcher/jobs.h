/*
 * jobs: every execution the dispatcher is responsible for, queued or running, by execution
 * id, plus the FIFO order of the queued ones.
 */
#ifndef LCX_JOBS_H
#define LCX_JOBS_H

#include "lcx_proto.h"
#include "pool.h"

typedef struct {
    lcx_msg_t *job;   /* the JOB message (its attempt field is the current attempt) */
    runner_t *runner; /* NULL while queued */
} job_t;

typedef struct jobs_t jobs_t;

jobs_t *jobs_new(void);
void jobs_destroy(jobs_t **self_p);

/* Takes *job_p (a JOB message) and queues it at the tail. */
job_t *jobs_add(jobs_t *self, lcx_msg_t **job_p);
job_t *jobs_find(jobs_t *self, const char *execution_id);
/* Forgets a job (queued or running) and frees it. */
void jobs_remove(jobs_t *self, job_t *job);
/* Puts a job (back) at the head of the queue, as no runner holds it now. */
void jobs_requeue(jobs_t *self, job_t *job);
/* Marks a queued job as running on runner. */
void jobs_assign(jobs_t *self, job_t *job, runner_t *runner);

size_t jobs_queued(jobs_t *self);
/* Iterates the queue in order (do not add or remove while iterating; collect first). */
job_t *jobs_queue_first(jobs_t *self);
job_t *jobs_queue_next(jobs_t *self);
/* Every job held by runner, moved into `out` (a zlist of job_t*) for the caller to handle. */
void jobs_of_runner(jobs_t *self, runner_t *runner, zlist_t *out);

#endif
