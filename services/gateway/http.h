/*
 * http: the gateway's HTTP server on libmicrohttpd, driven by the gateway's own event loop
 * (MHD in epoll mode without threads of its own). Requests arrive complete (headers and body)
 * at one handler. A handler answers at once or later: a request without an answer when the
 * handler returns is suspended (no thread waits for it) and resumed when it is answered.
 *
 * Every response is JSON, carries the CORS headers, and every error has the shape
 * {"error": "...", "details": ["...", ...]}. Body size (413), content type (415), preflight
 * (OPTIONS) are handled here, before the handler sees the request.
 */
#ifndef LCX_HTTP_H
#define LCX_HTTP_H

#include "settings.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct http_t http_t;
typedef struct http_request_t http_request_t;

typedef void(http_handler_fn)(void *app, http_request_t *req);
/* Called when a request ends (answered and sent, or the client left) so the app can forget it. */
typedef void(http_closed_fn)(void *app, http_request_t *req);

http_t *http_new(const lcx_settings_t *settings, http_handler_fn *handler, http_closed_fn *closed,
                 void *app, char *err, size_t errlen);
/* Answers every suspended request with 503 and stops. */
void http_destroy(http_t **self_p);

/* Event loop hooks: the fd to poll for input, one processing step, and the longest the loop
 * may sleep before http_run must be called again (ms, or -1 for no limit). */
int http_fd(http_t *self);
void http_run(http_t *self);
int64_t http_timeout_ms(http_t *self);

/* The request. */
const char *http_method(const http_request_t *req);
const char *http_path(const http_request_t *req);
const char *http_header(const http_request_t *req, const char *name);
const char *http_query(const http_request_t *req, const char *name);
/* The first query parameter whose name is not in `known` (NULL-terminated), or NULL. */
const char *http_query_unknown(const http_request_t *req, const char *const *known);
const char *http_body(const http_request_t *req, size_t *len);
/* The client's IP address as text ("unknown" when the socket does not say). */
const char *http_peer(http_request_t *req);
/* The request is for an operator's route (/admin/...): no CORS, no preflight. */
bool http_operator_route(const http_request_t *req);
/* Per-request space for the app (e.g. an id parsed from the path). */
void *http_app_data(const http_request_t *req);
void http_set_app_data(http_request_t *req, void *data);

/* Answers. Headers added before the answer go out with it. */
void http_add_header(http_request_t *req, const char *name, const char *value);
/* Takes ownership of body (NULL: no body). */
void http_respond(http_request_t *req, unsigned status, json_t *body);
/* {"error": message, "details": details or []}; takes details. */
void http_respond_error(http_request_t *req, unsigned status, const char *message, json_t *details);
bool http_answered(const http_request_t *req);
/* A text answer with its own content type (copied). */
void http_respond_text(http_request_t *req, unsigned status, const char *content_type,
                       const char *text, size_t len);
/* For metrics: the status answered, and seconds since the request arrived. */
unsigned http_status(const http_request_t *req);
double http_elapsed(const http_request_t *req);

/*
 * Streams: an answer whose body is written over time (Server-Sent Events). begin sends the
 * status and headers; write queues bytes (the connection wakes to send them); end finishes
 * the body once everything queued is sent. A stream that waits for data costs no thread.
 */
void http_stream_begin(http_request_t *req, unsigned status, const char *content_type);
void http_stream_write(http_request_t *req, const char *data, size_t len);
void http_stream_end(http_request_t *req);

#endif
