/*
 * holds: replies the session store owes but cannot give yet, each parked under an execution
 * id with a deadline:
 *   HOLD_WAIT    a gateway's EXECUTION_GET with wait_ms, answered when the execution finishes
 *                or the deadline passes;
 *   HOLD_SUBMIT  a gateway's RUN, answered when the dispatcher accepts or refuses the job;
 *   HOLD_EVENTS  a gateway's EVENTS_GET, answered when the execution has new events or the
 *                deadline passes (an empty answer: the gateway sends a keep-alive).
 */
#ifndef LCX_HOLDS_H
#define LCX_HOLDS_H

#include "lcx_proto.h"

typedef enum { HOLD_WAIT, HOLD_SUBMIT, HOLD_EVENTS } hold_kind_t;

typedef struct holds_t holds_t;

holds_t *holds_new(void);
void holds_destroy(holds_t **self_p);

/* Parks *reply_p (taking ownership, nulling it) until `deadline` (monotonic ms). */
void holds_add(holds_t *self, hold_kind_t kind, const char *execution_id, lcx_msg_t **reply_p,
               int64_t deadline);
/* Removes and returns one reply of that kind parked under execution_id, or NULL. */
lcx_msg_t *holds_take(holds_t *self, hold_kind_t kind, const char *execution_id);
/* Removes and returns one reply whose deadline is at or before now, with its kind and
 * execution id (LCX_UUID_LEN + 1 bytes), or NULL when none has expired. */
lcx_msg_t *holds_take_expired(holds_t *self, int64_t now, hold_kind_t *kind, char *execution_id);

#endif
