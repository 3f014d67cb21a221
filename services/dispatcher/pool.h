/*
 * pool: the runners the dispatcher knows, keyed by their routing id. A runner joins with READY
 * (its name, slot count, languages and their versions), stays alive by sending anything at
 * least every heartbeat interval, and is dead after `liveness` silent intervals. Names are unique
 * among registered runners (the broker refuses a READY for a live one's name), and the pool
 * remembers for a while the connections whose READY was refused, so that they are not heard.
 */
#ifndef LCX_POOL_H
#define LCX_POOL_H

#include "lcx_proto.h"

#include <stdbool.h>

typedef struct {
    zframe_t *identity;
    char *name;
    int slots;
    int assigned; /* jobs the dispatcher has handed it and not yet seen finish */
    bool draining;
    zlist_t *languages; /* of char* */
    zlist_t *versions;  /* of "id=version text" */
    char *sandbox;      /* how it isolates programs, as it said in READY */
    int64_t expires;    /* monotonic ms */
    uint64_t serial;    /* this registration's number: the corr of its ADOPT */
    bool ask_unsent;    /* its ADOPT could not go out yet (the store was not connected) */
} runner_t;

/* Most slots a READY may offer (PROTOCOL.md 6.3). */
#define POOL_MAX_SLOTS 1024

typedef struct pool_t pool_t;

pool_t *pool_new(int64_t liveness_ms);
void pool_destroy(pool_t **self_p);

/* Why a READY cannot register anyone (slots outside 1..POOL_MAX_SLOTS, more running jobs than
 * slots), or NULL. */
const char *pool_ready_problem(const lcx_msg_t *ready);
/* Registers (or re-registers) the runner behind ready->routing_id, with the next serial. */
runner_t *pool_join(pool_t *self, const lcx_msg_t *ready);
runner_t *pool_find(pool_t *self, zframe_t *identity);
/* By the name it gave in READY (the operator's handle), or NULL. */
runner_t *pool_find_name(pool_t *self, const char *name);
/* By its registration's serial (runner_t.serial), or NULL when that registration is gone. */
runner_t *pool_find_serial(pool_t *self, uint64_t serial);
/* A connection whose READY was refused: not heard until `until` (monotonic ms). */
void pool_refuse(pool_t *self, zframe_t *identity, int64_t until);
/* True while that connection is refused (forgets it once `until` has passed). */
bool pool_refused(pool_t *self, zframe_t *identity, int64_t now);
/* Forgets every refused connection whose time has passed (the timers call it). */
void pool_forget_refused(pool_t *self, int64_t now);
size_t pool_refused_count(pool_t *self);
/* Any message from a runner proves it alive. */
void pool_touch(pool_t *self, runner_t *runner);
/* The live runner serving `language` with the most free slots, or NULL. */
runner_t *pool_pick(pool_t *self, const char *language);
bool pool_serves(pool_t *self, const char *language);
/* Removes and returns one runner that has been silent too long (caller frees it), or NULL. */
runner_t *pool_take_expired(pool_t *self, int64_t now);
/* Removes the runner and returns it (caller frees it). */
runner_t *pool_remove(pool_t *self, runner_t *runner);
void runner_free(runner_t **runner_p);

runner_t *pool_first(pool_t *self);
runner_t *pool_next(pool_t *self);
/* Fills runners, slots, free_slots, languages, versions, sandboxes and one RUNNER record per
 * runner (items) of a STATUS message. */
void pool_describe(pool_t *self, lcx_msg_t *status);

#endif
