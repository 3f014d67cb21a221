/* jobs: the dispatcher's table of executions (see jobs.h). */
#include "jobs.h"
#include "alloc.h"

#include <stdlib.h>

struct jobs_t {
    zhashx_t *by_id; /* execution_id -> job_t, owns the jobs */
    zlist_t *queue;  /* job_t waiting for a runner, oldest first */
};

static void job_free(void **item)
{
    job_t *job = *item;
    if (!job) return;
    lcx_msg_destroy(&job->job);
    free(job);
    *item = NULL;
}

jobs_t *jobs_new(void)
{
    jobs_t *self = lcx_calloc(1, sizeof *self);
    self->by_id = zhashx_new();
    zhashx_set_destructor(self->by_id, job_free);
    self->queue = zlist_new();
    return self;
}

void jobs_destroy(jobs_t **self_p)
{
    if (!self_p || !*self_p) return;
    jobs_t *self = *self_p;
    zlist_destroy(&self->queue);
    zhashx_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

job_t *jobs_add(jobs_t *self, lcx_msg_t **job_p)
{
    job_t *job = lcx_calloc(1, sizeof *job);
    job->job = *job_p;
    *job_p = NULL;
    zhashx_insert(self->by_id, job->job->execution_id.ptr, job);
    zlist_append(self->queue, job);
    return job;
}

job_t *jobs_find(jobs_t *self, const char *execution_id)
{
    return zhashx_lookup(self->by_id, execution_id);
}

void jobs_remove(jobs_t *self, job_t *job)
{
    if (!job->runner) zlist_remove(self->queue, job);
    zhashx_delete(self->by_id, job->job->execution_id.ptr);
}

void jobs_requeue(jobs_t *self, job_t *job)
{
    job->runner = NULL;
    zlist_push(self->queue, job);
}

void jobs_assign(jobs_t *self, job_t *job, runner_t *runner)
{
    zlist_remove(self->queue, job);
    job->runner = runner;
}

size_t jobs_queued(jobs_t *self)
{
    return zlist_size(self->queue);
}

job_t *jobs_queue_first(jobs_t *self)
{
    return zlist_first(self->queue);
}

job_t *jobs_queue_next(jobs_t *self)
{
    return zlist_next(self->queue);
}

void jobs_of_runner(jobs_t *self, runner_t *runner, zlist_t *out)
{
    for (job_t *job = zhashx_first(self->by_id); job; job = zhashx_next(self->by_id))
        if (job->runner == runner) zlist_append(out, job);
}
