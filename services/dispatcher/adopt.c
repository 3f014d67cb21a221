/* adopt: the jobs a registering runner lists (see adopt.h). */
#include "adopt.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    uint64_t serial;
    int64_t attempt;
} ask_t;

struct adopt_asks_t {
    zhashx_t *by_id; /* execution id -> ask_t */
};

adopt_verdict_t adopt_verdict(jobs_t *jobs, const char *entry, int64_t max_attempts, char *id,
                              int64_t *attempt)
{
    if (!lcx_running_entry_parse(entry, id, attempt) || *attempt > max_attempts)
        return ADOPT_MALFORMED;
    job_t *job = jobs_find(jobs, id);
    if (!job) return ADOPT_ASK;
    if (job->runner) return ADOPT_ELSEWHERE;
    return *attempt < job->job->attempt.v ? ADOPT_STALE : ADOPT_TAKE;
}

const char *adopt_verdict_text(adopt_verdict_t verdict)
{
    switch (verdict) {
    case ADOPT_TAKE:
        return "adopted";
    case ADOPT_ASK:
        return "unknown here: the store is asked";
    case ADOPT_ELSEWHERE:
        return "running on another runner";
    case ADOPT_STALE:
        return "an older attempt than the queued one";
    case ADOPT_MALFORMED:
        break;
    }
    return "not execution_id/attempt with an attempt from 1 to max_attempts";
}

job_t *adopt_take(jobs_t *jobs, runner_t *runner, const char *id, int64_t attempt)
{
    job_t *job = jobs_find(jobs, id);
    if (job && (job->runner || job->job->attempt.v > attempt)) return NULL;
    if (!job) {
        lcx_msg_t *stub = lcx_msg_new(LCX_CMD_JOB); /* details come with the store's JOB */
        lcx_msg_set_str(stub, LCX_F_execution_id, id);
        lcx_msg_set_int(stub, LCX_F_attempt, attempt);
        job = jobs_add(jobs, &stub);
    } else if (job->job->attempt.v < attempt) {
        lcx_msg_set_int(job->job, LCX_F_attempt, attempt);
    }
    jobs_assign(jobs, job, runner);
    return job;
}

static void ask_free(void **item)
{
    free(*item);
    *item = NULL;
}

adopt_asks_t *adopt_asks_new(void)
{
    adopt_asks_t *self = lcx_calloc(1, sizeof *self);
    self->by_id = zhashx_new();
    zhashx_set_destructor(self->by_id, ask_free);
    return self;
}

void adopt_asks_destroy(adopt_asks_t **self_p)
{
    if (!self_p || !*self_p) return;
    zhashx_destroy(&(*self_p)->by_id);
    free(*self_p);
    *self_p = NULL;
}

void adopt_ask(adopt_asks_t *self, const runner_t *runner, const char *id, int64_t attempt)
{
    ask_t *ask = lcx_malloc(sizeof *ask);
    *ask = (ask_t){runner->serial, attempt};
    zhashx_update(self->by_id, id, ask);
}

uint64_t adopt_asker(adopt_asks_t *self, const char *id, int64_t *attempt)
{
    const ask_t *ask = zhashx_lookup(self->by_id, id);
    if (!ask) return 0;
    *attempt = ask->attempt;
    return ask->serial;
}

void adopt_forget(adopt_asks_t *self, const char *id)
{
    zhashx_delete(self->by_id, id);
}

/* The entry text of one question. */
static void entry_of(const char *id, const ask_t *ask, char *out, size_t size)
{
    snprintf(out, size, "%s/%lld", id, (long long)ask->attempt);
}

size_t adopt_entries(adopt_asks_t *self, uint64_t serial, lcx_msg_t *msg)
{
    size_t count = 0;
    for (const ask_t *ask = zhashx_first(self->by_id); ask; ask = zhashx_next(self->by_id)) {
        if (ask->serial != serial) continue;
        char entry[LCX_UUID_LEN + 24];
        entry_of(zhashx_cursor(self->by_id), ask, entry, sizeof entry);
        lcx_msg_list_append(msg, LCX_F_running, entry);
        count++;
    }
    return count;
}

void adopt_take_asks(adopt_asks_t *self, uint64_t serial, zlist_t *out)
{
    zlistx_t *ids = zhashx_keys(self->by_id);
    for (const char *id = zlistx_first(ids); id; id = zlistx_next(ids)) {
        const ask_t *ask = zhashx_lookup(self->by_id, id);
        if (ask->serial != serial) continue;
        char entry[LCX_UUID_LEN + 24];
        entry_of(id, ask, entry, sizeof entry);
        zlist_append(out, entry);
        zhashx_delete(self->by_id, id);
    }
    zlistx_destroy(&ids);
}

size_t adopt_asks_size(adopt_asks_t *self)
{
    return zhashx_size(self->by_id);
}
