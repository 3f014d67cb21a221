/*
 * adopt: how the dispatcher settles the jobs a registering runner says it runs (READY.running,
 * PROTOCOL.md 6.3 "Adoption"). A runner's word alone never puts a job in the dispatcher's
 * tables: a job the dispatcher holds (the store's JOB brought it) is adopted at once, one it
 * does not know only once the store vouches for it, anything else is dropped. The store vouches
 * by confirming it (ADOPT -> ADOPTED), or by sending its JOB (it re-submits every unfinished
 * execution to a dispatcher that has restarted) while the question is open: the asks table
 * keeps the open questions, which take no place in the queue.
 */
#ifndef LCX_ADOPT_H
#define LCX_ADOPT_H

#include "jobs.h"
#include "util.h"

typedef enum {
    ADOPT_TAKE,      /* queued here, the runner's attempt not older: adopt it now */
    ADOPT_ASK,       /* unknown here: ask the store */
    ADOPT_ELSEWHERE, /* running on another registration, which keeps it */
    ADOPT_STALE,     /* queued here at a later attempt than the runner's */
    ADOPT_MALFORMED  /* not "execution_id/attempt", or the attempt is outside 1..max_attempts */
} adopt_verdict_t;

/* The verdict on one entry; for every verdict but ADOPT_MALFORMED, its id (LCX_UUID_LEN + 1
 * bytes) and attempt. */
adopt_verdict_t adopt_verdict(jobs_t *jobs, const char *entry, int64_t max_attempts, char *id,
                              int64_t *attempt);
/* Why an entry was not adopted, for the log. */
const char *adopt_verdict_text(adopt_verdict_t verdict);
/* Makes the job runner's (a record by id alone when it is unknown, for the store's JOB to fill
 * in), at `attempt` when that is later than its own; the job, or NULL when it is not to be
 * adopted now (running elsewhere, or at a later attempt). */
job_t *adopt_take(jobs_t *jobs, runner_t *runner, const char *id, int64_t attempt);

/* The open questions: one per execution id, of one registration (its serial), at an attempt. */
typedef struct adopt_asks_t adopt_asks_t;

adopt_asks_t *adopt_asks_new(void);
void adopt_asks_destroy(adopt_asks_t **self_p);
/* Records that runner is asking about id at attempt (a later ask for the same id replaces it). */
void adopt_ask(adopt_asks_t *self, const runner_t *runner, const char *id, int64_t attempt);
/* The registration asking about id (its serial, 0 when none) and the attempt it runs. */
uint64_t adopt_asker(adopt_asks_t *self, const char *id, int64_t *attempt);
void adopt_forget(adopt_asks_t *self, const char *id);
/* Appends every entry "id/attempt" the registration asks about to the running list of msg (an
 * ADOPT); the number appended. */
size_t adopt_entries(adopt_asks_t *self, uint64_t serial, lcx_msg_t *msg);
/* Takes the registration's questions out of the table, as "id/attempt" strings in out (a zlist
 * the caller frees, autofree): when the store answers, or the runner is gone. */
void adopt_take_asks(adopt_asks_t *self, uint64_t serial, zlist_t *out);
size_t adopt_asks_size(adopt_asks_t *self);

#endif
