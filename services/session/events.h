/*
 * events: the live event log of each execution, for Server-Sent Events. Every state change and
 * every chunk of output gets the next event id of its execution (1, 2, 3, ...), so a client
 * that reconnects with Last-Event-ID misses nothing and sees nothing twice.
 *
 * The log lives in memory only: the database keeps the execution's final record, which is what
 * a client reads after a store restart. A finished execution's log is kept for `keep_ms`.
 */
#ifndef LCX_EVENTS_H
#define LCX_EVENTS_H

#include "lcx_proto.h"

#include <stdbool.h>

typedef struct events_t events_t;

events_t *events_new(int64_t keep_ms);
void events_destroy(events_t **self_p);

/* A state change (QUEUED, RUNNING, ..., the final status); attempt 0 keeps the current one. */
void events_status(events_t *self, const char *execution_id, const char *status, int64_t attempt);
/* An OUTPUT message; kept only when it continues its stream exactly (offset == bytes so far
 * in this attempt), so a resent or late chunk is never shown twice. True when kept. */
bool events_output(events_t *self, const lcx_msg_t *output);

/* A final UPDATE: what its stdout and stderr hold beyond the bytes logged of each stream
 * becomes the stream's last chunk (the runner sends no OUTPUT for what is still waiting when
 * the run ends, PROTOCOL.md 6.3). Call before the final status. True when output was added. */
bool events_final_output(events_t *self, const lcx_msg_t *update);

/* Appends to `reply` (an EVENTS message) every event after `after`; returns how many.
 * *known tells whether the log exists; *ended whether its final status is among them or
 * before them. A reply holds at most LCX_PROTO_MAX_LIST events and about 4 MiB of output;
 * *ended is false while more remain. */
size_t events_fill(events_t *self, const char *execution_id, int64_t after, lcx_msg_t *reply,
                   bool *known, bool *ended);

/* A log rebuilt from the database (after a store restart, or expired) numbers its events from
 * next_id on, so a client resuming after event next_id - 1 sees the new ones. No effect when
 * the log exists. */
void events_resume_at(events_t *self, const char *execution_id, int64_t next_id);

/* The id of the log's last event; 0 when there is no log. */
int64_t events_last_id(events_t *self, const char *execution_id);

/* What the log shows of the latest attempt's output, as `into`'s stdout and stderr (a stream
 * with nothing logged is left unset). False when there is no log. */
bool events_shown_output(events_t *self, const char *execution_id, lcx_msg_t *into);

/* Drops logs finished more than keep_ms ago. */
void events_expire(events_t *self, int64_t now);

#endif
