/* sse: execution events as Server-Sent Events (see sse.h). */
#include "sse.h"
#include "alloc.h"
#include "render.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECONNECT_MS 2000 /* the `retry:` advice to EventSource clients */

struct sse_t {
    backend_t *backend;
    http_request_t *req;
    char execution_id[LCX_UUID_LEN + 1];
    int64_t after;     /* the last event id sent */
    int64_t result_id; /* the id of the result event: one after the log's last event */
    int64_t keepalive_ms;
    bool started;      /* the 200 and its headers are out */
    lcx_msg_t *caller; /* its caller fields go into every request */
    sse_error_fn *on_error;
    void *app;
};

/* A request to the store, with the caller's fields. */
static lcx_msg_t *request(sse_t *self, lcx_cmd_t cmd)
{
    lcx_msg_t *msg = lcx_msg_new(cmd);
    lcx_msg_set_str(msg, LCX_F_execution_id, self->execution_id);
    if (self->caller) lcx_msg_copy_fields(msg, self->caller);
    return msg;
}

static void poll_events(sse_t *self);

static void write_text(sse_t *self, const char *text)
{
    http_stream_write(self->req, text, strlen(text));
}

/* One event: "id: N\nevent: KIND\ndata: JSON\n\n" (takes data). */
static void write_event(sse_t *self, int64_t id, const char *kind, json_t *data)
{
    char *json = json_dumps(data, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(data);
    if (!json) return;
    size_t size = strlen(json) + strlen(kind) + 64;
    char *text = lcx_malloc(size);
    if (text) {
        snprintf(text, size, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id, kind, json);
        write_text(self, text);
    }
    free(text);
    free(json);
}

static void write_record(sse_t *self, const lcx_msg_t *event)
{
    const char *kind = event->kind.ptr;
    json_t *data = strcmp(kind, "status") == 0
                       ? json_pack("{s:s?, s:I}", "status", event->status.ptr, "attempt",
                                   (json_int_t)event->attempt.v)
                       : json_pack("{s:o}", "text", render_text(&event->data));
    write_event(self, event->event_id.v, kind, data);
    self->after = event->event_id.v;
}

/* The first answer: the stream's headers, and a reconnection hint. */
static void start(sse_t *self)
{
    if (self->started) return;
    self->started = true;
    http_stream_begin(self->req, 200, "text/event-stream");
    char retry[48];
    /* No blank line: the hint joins the first event instead of making an empty one. */
    snprintf(retry, sizeof retry, "retry: %d\n", RECONNECT_MS);
    write_text(self, retry);
}

/* The store failed us: before the stream, a JSON error; inside it, the end (EventSource
 * clients reconnect with Last-Event-ID and resume). */
static void give_up(sse_t *self, const lcx_msg_t *reply)
{
    if (self->started) {
        http_stream_end(self->req);
    } else if (reply && reply->cmd == LCX_CMD_ERROR) {
        self->on_error(self->app, self->req, reply);
    } else {
        http_add_header(self->req, "Retry-After", "1");
        http_respond_error(self->req, 503, "the session store is not available; retry shortly",
                           NULL);
    }
}

static void on_result(void *arg, const lcx_msg_t *reply)
{
    sse_t *self = arg;
    if (reply && reply->cmd == LCX_CMD_EXECUTION)
        write_event(self, self->result_id, "result", render_execution(reply));
    http_stream_end(self->req);
}

static void fetch_result(sse_t *self)
{
    lcx_msg_t *get = request(self, LCX_CMD_EXECUTION_GET);
    backend_call(self->backend, &get, 5000, on_result, self);
}

static void on_events(void *arg, const lcx_msg_t *reply)
{
    sse_t *self = arg;
    if (!reply || reply->cmd != LCX_CMD_EVENTS) {
        give_up(self, reply);
        return;
    }
    if (reply->finished.v) self->result_id = reply->event_id.v + 1;
    if (reply->finished.v && self->after >= self->result_id) {
        /* The client has seen the result: 204 tells an EventSource to stop reconnecting. */
        if (self->started)
            http_stream_end(self->req);
        else
            http_respond(self->req, 204, NULL);
        return;
    }
    start(self);
    for (size_t i = 0; i < reply->items.n; i++)
        write_record(self, reply->items.v[i]);
    if (reply->finished.v) {
        fetch_result(self);
        return;
    }
    if (reply->items.n == 0) write_text(self, ": keep-alive\n\n");
    poll_events(self);
}

static void poll_events(sse_t *self)
{
    lcx_msg_t *get = request(self, LCX_CMD_EVENTS_GET);
    lcx_msg_set_int(get, LCX_F_after, self->after);
    /* The first poll answers at once, so headers go out without delay. */
    lcx_msg_set_int(get, LCX_F_wait_ms, self->started ? self->keepalive_ms : 0);
    backend_call(self->backend, &get, self->keepalive_ms + 5000, on_events, self);
}

sse_t *sse_new(backend_t *backend, http_request_t *req, const char *execution_id, int64_t after,
               int64_t keepalive_ms, const lcx_msg_t *caller, sse_error_fn *on_error, void *app)
{
    sse_t *self = lcx_calloc(1, sizeof *self);
    self->caller = caller ? lcx_msg_dup(caller) : NULL;
    self->on_error = on_error;
    self->app = app;
    self->backend = backend;
    self->req = req;
    snprintf(self->execution_id, sizeof self->execution_id, "%s", execution_id);
    self->after = after;
    self->keepalive_ms = keepalive_ms;
    poll_events(self);
    return self;
}

void sse_destroy(sse_t **self_p)
{
    if (!self_p || !*self_p) return;
    backend_forget((*self_p)->backend, *self_p);
    lcx_msg_destroy(&(*self_p)->caller);
    free(*self_p);
    *self_p = NULL;
}
