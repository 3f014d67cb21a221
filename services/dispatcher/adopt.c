/* adopt: the jobs a registering runner lists (see adopt.h). */
#include "adopt.h"

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
