/*
 * job: one execution from JOB message to final UPDATE message: a fresh scratch directory, the
 * source (and stdin) written into it without following links, the compile step when the
 * language has one, the run, the verdict (status and reason as in the HTTP contract), and the
 * scratch directory readied for the next job or removed (possibly after the UPDATE has been
 * sent: job_scratch_recycle, job_scratch_remove).
 */
#ifndef LCX_JOB_H
#define LCX_JOB_H

#include "languages.h"
#include "lcx_proto.h"
#include "sandbox.h"
#include "settings.h"

#include <limits.h>
#include <stdbool.h>

typedef struct {
    sandbox_t *sandbox;
    const lcx_languages_t *languages;
    const lcx_settings_t *settings; /* compile_time_ms, output_bytes, ... */
    const char *scratch_dir;        /* where job directories go: the runner's own (scratch.h) */
    int cancel_fd;                  /* readable: cancel the job; -1: none */
    sandbox_output_fn *on_output;   /* live stdout/stderr of the run step; may be NULL */
    void *output_arg;
} job_context_t;

/* A job's scratch directory, left for removal after its UPDATE is on its way: unmounting its
 * tmpfs waits for an RCU grace period (a few hundred microseconds here), which the result need
 * not wait for. */
typedef struct {
    int parent_fd; /* ctx->scratch_dir; -1: nothing to remove */
    char name[128];
    char dir[PATH_MAX]; /* for log messages */
    bool mounted;       /* the sandbox's tmpfs is on it */
} job_scratch_t;

/*
 * Executes `job` (an LCX_CMD_JOB message) and returns an LCX_CMD_UPDATE message carrying
 * execution_id, attempt, status (COMPLETED, FAILED, TIMEOUT or CANCELLED), reason when not
 * COMPLETED (exit_code, signal, compile_error, memory_limit, output_limit, internal_error),
 * stdout, stderr, compile_output, exit_code, signal, execution_time_ms, cpu_time_ms, memory_kb,
 * stdout_truncated, stderr_truncated, started_at and finished_at. Never NULL: a failure of
 * our own becomes FAILED/internal_error with a message.
 *
 * `scratch`, when not NULL, brings a directory from job_scratch_prepare (or one with parent_fd
 * -1: the job makes its own) and takes back the job's, for job_scratch_recycle or
 * job_scratch_remove once the UPDATE is on its way. NULL: the job makes its own and removes it
 * before the return.
 */
lcx_msg_t *job_execute(const job_context_t *ctx, const lcx_msg_t *job, job_scratch_t *scratch);

/* Whether every language's run command and environment, with max_args arguments of
 * max_args_bytes in all (the gateway's limits), fit in what the sandbox hands to a run
 * (keeper.h). 0, or -1 naming the language that does not fit in err. */
int job_check_args_room(const lcx_settings_t *settings, const lcx_languages_t *languages, char *err,
                        size_t errlen);

/* Makes an empty scratch directory with its tmpfs for the next job, while the slot is idle.
 * 0, or -1 (logged; *scratch then holds nothing and the job makes its own). */
int job_scratch_prepare(const job_context_t *ctx, job_scratch_t *scratch);

/* Readies the directory a job left (its `scratch`) for the next job: the job's tmpfs, and
 * whatever the job wrote on it, goes, and a fresh one is mounted on the same directory. A
 * directory the job made itself, or one that does not empty or mount, is removed and a new
 * one prepared. 0, or -1 as job_scratch_prepare. */
int job_scratch_recycle(const job_context_t *ctx, job_scratch_t *scratch);

/* Unmounts and removes a scratch directory job_execute or job_scratch_prepare left; then there
 * is nothing to remove. */
void job_scratch_remove(const job_context_t *ctx, job_scratch_t *scratch);

#endif
