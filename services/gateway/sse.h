/*
 * sse: GET /executions/{id}/events as Server-Sent Events. The stream follows the session
 * store's event log of the execution by long polling it (EVENTS_GET after the last event id):
 *
 *   id: 3                         event ids count 1, 2, 3, ... per execution, so a client
 *   event: stdout                 that reconnects with Last-Event-ID resumes without
 *   data: {"text":"hello\n"}      duplicates
 *
 * `status` events carry {"status", "attempt"}; `stdout`/`stderr` carry {"text"}; the last
 * event is `result` with the whole execution (its id one after the log's last event), then
 * the stream ends; a request that resumes at or past the result gets 204. A poll that comes back
 * empty becomes a comment line (": keep-alive"), which is how a dead client is noticed.
 */
#ifndef LCX_SSE_H
#define LCX_SSE_H

#include "backend.h"
#include "http.h"

typedef struct sse_t sse_t;

/* Answers req with the store's ERROR reply (the api's mapping of codes to statuses). */
typedef void(sse_error_fn)(void *app, http_request_t *req, const lcx_msg_t *error);

/* Starts following execution_id for req, after event `after` (0: from the start). The first
 * answer decides: an error (on_error, with app), 503, or the stream. caller (copied; may be
 * NULL) holds the caller fields that go into every request. */
sse_t *sse_new(backend_t *backend, http_request_t *req, const char *execution_id, int64_t after,
               int64_t keepalive_ms, const lcx_msg_t *caller, sse_error_fn *on_error, void *app);
/* The request ended (answered or the client left): stop polling. */
void sse_destroy(sse_t **self_p);

#endif
