/*
 * api: routes and handlers (see api.h).
 */
#include "api.h"
#include "alloc.h"
#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "sse.h"
#include "util.h"
#include "validate.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 4
/* The longest id a path segment captures: a UUID (LCX_UUID_LEN) or a runner name, which
 * valid_name accepts up to 64 characters. */
#define ROUTE_ID_MAX 64

/* A document served as it is (the OpenAPI description, the docs page). */
typedef struct {
    char *text;
    size_t len;
} document_t;

struct api_t {
    const lcx_settings_t *settings;
    const lcx_languages_t *languages;
    backend_t *backend;
    auth_t *auth;
    validate_ctx_t validate;
    metrics_t *metrics;
    document_t openapi;
    document_t docs;
};

/* What a request waits for: how to turn the store's reply into the HTTP answer. */
typedef void(reply_fn)(api_t *api, http_request_t *req, const lcx_msg_t *reply);

/* Who may use a route (docs/API.md "Keys and tokens"). */
typedef enum {
    ACCESS_PUBLIC,  /* anyone */
    ACCESS_SESSION, /* a key, or a session token of the session */
    ACCESS_KEY,     /* a key */
    ACCESS_ADMIN    /* an admin key; without keys, a loopback client */
} access_t;

typedef struct {
    api_t *api;
    reply_fn *on_reply;
    auth_cred_t cred;             /* what the caller presented */
    lcx_msg_t *caller;            /* its caller fields, for every request to the store */
    sse_t *sse;                   /* an event stream's driver, when the request is one */
    const char *route;            /* the route's pattern, for metrics */
    int64_t limit;                /* a list's page size */
    char id[ROUTE_ID_MAX + 1];    /* the id in the path, when there is one */
    char new_key[APIKEY_LEN + 1]; /* POST /admin/keys: the key, until the reply shows it */
} call_t;

typedef void(route_fn)(api_t *api, http_request_t *req, const char *id);

typedef struct {
    const char *method;
    const char *pattern; /* segments separated by '/', "{id}" captures a UUID */
    route_fn *handler;
    const char *const *query; /* the query parameters it takes (NULL-terminated; NULL: none) */
    access_t access;
} route_t;

api_t *api_new(const lcx_settings_t *settings, const lcx_languages_t *languages, backend_t *backend,
               auth_t *auth)
{
    api_t *self = lcx_calloc(1, sizeof *self);
    *self =
        (api_t){settings, languages, backend, auth, {settings, languages}, metrics_new(), {0}, {0}};
    char path[4096];
    self->openapi.text =
        lcx_read_file(lcx_etc_path("openapi.json", path, sizeof path), &self->openapi.len);
    self->docs.text = lcx_read_file(lcx_etc_path("docs.html", path, sizeof path), &self->docs.len);
    if (!self->openapi.text || !self->docs.text)
        lcx_log(LCX_WARN, "API documents not installed (make copies them to build/etc)", NULL);
    return self;
}

void api_destroy(api_t **self_p)
{
    if (!self_p || !*self_p) return;
    metrics_destroy(&(*self_p)->metrics);
    free((*self_p)->openapi.text);
    free((*self_p)->docs.text);
    free(*self_p);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Talking to the store                                                                      */

static void retry_after(api_t *api, http_request_t *req, int64_t ms)
{
    char seconds[24];
    int64_t s = ms > 0 ? (ms + 999) / 1000 : api->settings->retry_after_s;
    http_add_header(req, "Retry-After", lcx_itoa(s, seconds, sizeof seconds));
}

static void respond_unavailable(api_t *api, http_request_t *req, const char *message)
{
    retry_after(api, req, 0);
    http_respond_error(req, 503, message, NULL);
}

/* The metrics of refusals: 401 and 403 by reason, 429 and capped runs by quota. */
static void count_refusal(api_t *api, unsigned status, const char *reason)
{
    if (status == 401 || status == 403)
        metrics_auth_failure(api->metrics, status == 403 ? "forbidden" : reason ? reason : "");
    else if (reason && (strncmp(reason, "key_", 4) == 0 || strncmp(reason, "anon_", 5) == 0))
        metrics_quota_rejection(api->metrics, strchr(reason, '_') + 1);
}

/* An ERROR reply from the store, as its HTTP status. */
static void respond_store_error(api_t *api, http_request_t *req, const lcx_msg_t *err)
{
    const char *code = err->error.ptr, *message = err->message.ptr ? err->message.ptr : code;
    json_t *details = json_array();
    if (err->execution_id.ptr) {
        char text[80];
        snprintf(text, sizeof text, "execution_id: %s", err->execution_id.ptr);
        json_array_append_new(details, json_string(text));
    }
    if (err->version.set) {
        char text[48];
        snprintf(text, sizeof text, "saved version: %lld", (long long)err->version.v);
        json_array_append_new(details, json_string(text));
    }
    for (size_t i = 0; i < err->details.n; i++)
        json_array_append_new(details, json_string(err->details.v[i]));
    unsigned status = 500;
    if (strcmp(code, "not_found") == 0)
        status = 404;
    else if (strcmp(code, "inactive") == 0 || strcmp(code, "conflict") == 0 ||
             strcmp(code, "version_mismatch") == 0)
        status = 409;
    else if (strcmp(code, "invalid") == 0)
        status = 400;
    else if (strcmp(code, "rate_limited") == 0)
        status = 429;
    else if (strcmp(code, "unavailable") == 0)
        status = 503;
    else if (strcmp(code, "unauthorized") == 0)
        status = 401;
    else if (strcmp(code, "forbidden") == 0)
        status = 403;
    count_refusal(api, status, err->reason.ptr);
    if (status == 401) http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    /* A 429 that no wait lifts (runs_per_session) has no Retry-After. */
    if (status == 503 || (status == 429 && err->retry_after_ms.set))
        retry_after(api, req, err->retry_after_ms.v);
    if ((status == 409 && err->execution_id.ptr) || err->version.set) {
        /* The body names what the client must know to go on: the active execution, or the
         * session's saved version. */
        json_t *body = json_pack("{s:s, s:o}", "error", message, "details", details);
        if (err->execution_id.ptr)
            json_object_set_new(body, "execution_id", json_string(err->execution_id.ptr));
        if (err->version.set) json_object_set_new(body, "version", json_integer(err->version.v));
        http_respond(req, status, body);
        return;
    }
    http_respond_error(req, status, message, details);
}

static void on_backend_reply(void *arg, const lcx_msg_t *reply)
{
    http_request_t *req = arg;
    call_t *call = http_app_data(req);
    if (!reply)
        respond_unavailable(call->api, req, "the session store is not available; retry shortly");
    else if (reply->cmd == LCX_CMD_ERROR)
        respond_store_error(call->api, req, reply);
    else
        call->on_reply(call->api, req, reply);
}

/* Sends *msg_p, with the caller's fields, to the store; fn gets the answer. */
static void call_store(api_t *api, http_request_t *req, lcx_msg_t **msg_p, int64_t timeout_ms,
                       backend_fn *fn)
{
    call_t *call = http_app_data(req);
    lcx_msg_copy_fields(*msg_p, call->caller);
    backend_call(api->backend, msg_p, timeout_ms, fn, req);
}

/* Sends *msg_p to the store; on_reply renders the answer (an ERROR becomes its status). */
static void ask_store(api_t *api, http_request_t *req, lcx_msg_t **msg_p, reply_fn *on_reply,
                      int64_t extra_ms)
{
    call_t *call = http_app_data(req);
    call->on_reply = on_reply;
    call_store(api, req, msg_p, api->settings->backend_timeout_ms + extra_ms, on_backend_reply);
}

static lcx_msg_t *msg_with_id(lcx_cmd_t cmd, lcx_field_t field, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(cmd);
    lcx_msg_set_str(msg, field, id);
    return msg;
}

static void respond_invalid(http_request_t *req, json_t *details)
{
    http_respond_error(req, 400, "the request is not valid", details);
}

/* The body as a JSON object, or NULL after answering 400. */
static json_t *body_object(http_request_t *req, bool allow_empty, json_t *details)
{
    size_t len;
    const char *body = http_body(req, &len);
    json_t *object = validate_parse_object(body, len, allow_empty, details);
    if (!object) respond_invalid(req, json_incref(details));
    return object;
}

/* ---------------------------------------------------------------------------------------- */
/* Sessions                                                                                  */

/* A fresh session token for the caller's key and session into body (session_token and
 * session_token_expires_at). False when it cannot be made. */
static bool add_token(api_t *api, const call_t *call, const char *session_id, long ttl_s,
                      json_t *body)
{
    char token[TOKEN_MAX_LEN + 1];
    int64_t expires;
    if (auth_mint(api->auth, auth_key_id(&call->cred), session_id, ttl_s, token, sizeof token,
                  &expires) != 0)
        return false;
    lcx_int_t at = {expires, true};
    json_object_set_new(body, "session_token", json_string(token));
    json_object_set_new(body, "session_token_expires_at", render_time(&at));
    return true;
}

static void reply_session_created(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    call_t *call = http_app_data(req);
    char location[64];
    snprintf(location, sizeof location, "/code-sessions/%s", reply->session_id.ptr);
    http_add_header(req, "Location", location);
    json_t *body = render_session(reply);
    /* Made with a key: the token a learner's browser may hold instead of the key. */
    if (call->cred.kind == CRED_KEY)
        add_token(api, call, reply->session_id.ptr, api->settings->token_ttl_s, body);
    http_respond(req, 201, body);
}

static void reply_token(api_t *api, http_request_t *req, const lcx_msg_t *session)
{
    call_t *call = http_app_data(req);
    json_t *body = json_object();
    if (strcmp(session->status.ptr, "ACTIVE") != 0) {
        json_decref(body);
        http_respond_error(req, 409, "the session is closed (INACTIVE): its tokens would not work",
                           NULL);
    } else if (!add_token(api, call, session->session_id.ptr, (long)call->limit, body)) {
        json_decref(body);
        http_respond_error(req, 500, "the token could not be made", NULL);
    } else {
        http_respond(req, 201, body);
    }
}

/* POST /code-sessions/{id}/tokens: the store confirms the session is the key's, then the
 * gateway signs. */
static void mint_token(api_t *api, http_request_t *req, const char *id)
{
    call_t *call = http_app_data(req);
    json_t *details = json_array();
    json_t *body = body_object(req, true, details);
    long ttl = body ? validate_token_ttl(&api->validate, body, details) : -1;
    if (body && ttl < 0) respond_invalid(req, json_incref(details));
    json_decref(body);
    json_decref(details);
    if (ttl < 0) return;
    if (call->cred.kind != CRED_KEY) {
        http_respond_error(req, 400, "session tokens are made with an API key",
                           json_pack("[s]", "this gateway runs without keys (LCX_AUTH=none)"));
        return;
    }
    call->limit = ttl;
    lcx_msg_t *msg = msg_with_id(LCX_CMD_SESSION_GET, LCX_F_session_id, id);
    ask_store(api, req, &msg, reply_token, 0);
}

static void reply_session(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    http_respond(req, 200, render_session(reply));
}

static void reply_session_saved(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    http_respond(req, 200, render_session_saved(reply));
}

static void reply_session_closed(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    http_respond(
        req, 200,
        json_pack("{s:s, s:s}", "session_id", reply->session_id.ptr, "status", reply->status.ptr));
}

static void create_session(api_t *api, http_request_t *req, const char *id)
{
    json_t *details = json_array();
    json_t *body = body_object(req, true, details);
    lcx_msg_t *msg = body ? validate_session_create(&api->validate, body, details) : NULL;
    if (body && !msg) respond_invalid(req, json_incref(details));
    if (msg) ask_store(api, req, &msg, reply_session_created, 0);
    json_decref(body);
    json_decref(details);
}

static void get_session(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = msg_with_id(LCX_CMD_SESSION_GET, LCX_F_session_id, id);
    ask_store(api, req, &msg, reply_session, 0);
}

static void patch_session(api_t *api, http_request_t *req, const char *id)
{
    json_t *details = json_array();
    json_t *body = body_object(req, false, details);
    lcx_msg_t *msg = body ? validate_session_update(&api->validate, body, id, details) : NULL;
    if (body && !msg) respond_invalid(req, json_incref(details));
    if (msg) ask_store(api, req, &msg, reply_session_saved, 0);
    json_decref(body);
    json_decref(details);
}

static void delete_session(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = msg_with_id(LCX_CMD_SESSION_CLOSE, LCX_F_session_id, id);
    ask_store(api, req, &msg, reply_session_closed, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Executions                                                                                */

/* A full page links to the next one (RFC 8288): the same list, before its last execution. */
static void reply_executions(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    call_t *call = http_app_data(req);
    size_t n = reply->items.n;
    if (n > 0 && (int64_t)n == call->limit) {
        char link[256];
        snprintf(link, sizeof link, "<%s?limit=%lld&before=%s>; rel=\"next\"", http_path(req),
                 (long long)call->limit, reply->items.v[n - 1]->execution_id.ptr);
        http_add_header(req, "Link", link);
    }
    http_respond(req, 200, render_executions(reply));
}

static void reply_execution(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    http_respond(req, 200, render_execution(reply));
}

static void reply_run_accepted(api_t *api, http_request_t *req, const lcx_msg_t *reply)
{
    char location[64];
    snprintf(location, sizeof location, "/executions/%s", reply->execution_id.ptr);
    http_add_header(req, "Location", location);
    http_respond(req, 202,
                 json_pack("{s:s, s:s, s:o}", "execution_id", reply->execution_id.ptr, "status",
                           reply->status.ptr, "queued_at", render_time(&reply->queued_at)));
}

static void list_executions(api_t *api, http_request_t *req, const char *id)
{
    call_t *call = http_app_data(req);
    json_t *details = json_array();
    const char *before = http_query(req, "before");
    call->limit = validate_limit(&api->validate, http_query(req, "limit"), details);
    if (before && !lcx_uuid_valid(before))
        json_array_append_new(details, json_string("'before' must be an execution id (a UUID)"));
    if (json_array_size(details) > 0) {
        respond_invalid(req, details);
        return;
    }
    json_decref(details);
    lcx_msg_t *msg = msg_with_id(LCX_CMD_EXECUTION_LIST, LCX_F_session_id, id);
    lcx_msg_set_int(msg, LCX_F_limit, call->limit);
    if (before) lcx_msg_set_str(msg, LCX_F_before, before);
    ask_store(api, req, &msg, reply_executions, 0);
}

static void run_session(api_t *api, http_request_t *req, const char *id)
{
    json_t *details = json_array();
    json_t *body = body_object(req, true, details);
    lcx_msg_t *msg =
        body ? validate_run(&api->validate, body, id, http_header(req, "Idempotency-Key"), details)
             : NULL;
    if (body && !msg) respond_invalid(req, json_incref(details));
    if (msg) ask_store(api, req, &msg, reply_run_accepted, 0);
    json_decref(body);
    json_decref(details);
}

static void get_execution(api_t *api, http_request_t *req, const char *id)
{
    json_t *details = json_array();
    long wait = validate_wait(&api->validate, http_query(req, "wait"), details);
    if (wait < 0) {
        respond_invalid(req, details);
        return;
    }
    json_decref(details);
    lcx_msg_t *msg = msg_with_id(LCX_CMD_EXECUTION_GET, LCX_F_execution_id, id);
    if (wait > 0) lcx_msg_set_int(msg, LCX_F_wait_ms, wait);
    ask_store(api, req, &msg, reply_execution, wait);
}

/* Event ids stay far below INT64_MAX, so one more never overflows. */
#define EVENT_ID_MAX (INT64_C(1) << 62)

/* Last-Event-ID: the last event the client saw (0: none); -1 when it is not an event id. */
static int64_t last_event_id(http_request_t *req)
{
    const char *text = http_header(req, "Last-Event-ID");
    if (!text || !*text) return 0;
    char *end = NULL;
    errno = 0;
    long long id = strtoll(text, &end, 10);
    return errno || *end || id < 0 || id > EVENT_ID_MAX ? -1 : id;
}

static void respond_sse_error(void *app, http_request_t *req, const lcx_msg_t *error)
{
    respond_store_error(app, req, error);
}

static void stream_events(api_t *api, http_request_t *req, const char *id)
{
    call_t *call = http_app_data(req);
    int64_t after = last_event_id(req);
    if (after < 0) {
        char detail[96];
        snprintf(detail, sizeof detail,
                 "Last-Event-ID must be an event id: an integer from 0 to %lld",
                 (long long)EVENT_ID_MAX);
        respond_invalid(req, json_pack("[s]", detail));
        return;
    }
    call->sse = sse_new(api->backend, req, id, after, api->settings->sse_keepalive_ms, call->caller,
                        respond_sse_error, api);
}

static void cancel_execution(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = msg_with_id(LCX_CMD_EXECUTION_CANCEL, LCX_F_execution_id, id);
    ask_store(api, req, &msg, reply_execution, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Languages and health                                                                      */

static void reply_languages(api_t *api, http_request_t *req, const lcx_msg_t *health)
{
    http_respond(req, 200, render_languages(api->languages, health));
}

/* /languages answers even when the store is away: versions are then null. */
static void on_languages_health(void *arg, const lcx_msg_t *reply)
{
    http_request_t *req = arg;
    call_t *call = http_app_data(req);
    reply_languages(call->api, req, reply && reply->cmd == LCX_CMD_HEALTH_REPLY ? reply : NULL);
}

static void get_languages(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_HEALTH);
    call_store(api, req, &msg, 1000, on_languages_health);
}

static json_t *component(bool up, const char *detail)
{
    json_t *o = json_pack("{s:s}", "status", up ? "ok" : "down");
    if (detail) json_object_set_new(o, "detail", json_string(detail));
    return o;
}

/* The health body for a HEALTH_REPLY (or NULL: the store did not answer). */
static json_t *health_body(const lcx_msg_t *h, bool *healthy)
{
    bool store = h != NULL, dispatcher = h && h->dispatcher_up.v;
    int64_t runners = dispatcher && h->runners.set ? h->runners.v : 0;
    json_t *components = json_object();
    json_object_set_new(components, "gateway", component(true, NULL));
    json_object_set_new(components, "session_store",
                        component(store, store ? NULL : "not answering"));
    json_t *d = component(dispatcher, dispatcher ? NULL : "not reachable from the session store");
    if (dispatcher) json_object_set_new(d, "queue_depth", json_integer(h->queue_depth.v));
    json_object_set_new(components, "dispatcher", d);
    json_t *r = component(runners > 0, runners > 0 ? NULL : "no runner connected");
    json_object_set_new(r, "count", json_integer(runners));
    json_object_set_new(r, "slots", json_integer(dispatcher ? h->slots.v : 0));
    json_object_set_new(r, "free_slots", json_integer(dispatcher ? h->free_slots.v : 0));
    json_t *langs = json_array();
    for (size_t i = 0; dispatcher && i < h->languages.n; i++)
        json_array_append_new(langs, json_string(h->languages.v[i]));
    json_object_set_new(r, "languages", langs);
    json_t *modes = json_array();
    for (size_t i = 0; dispatcher && i < h->sandboxes.n; i++)
        json_array_append_new(modes, json_string(h->sandboxes.v[i]));
    json_object_set_new(r, "sandbox", modes);
    json_object_set_new(components, "runners", r);
    *healthy = store && dispatcher && runners > 0;
    return json_pack("{s:s, s:o}", "status", *healthy ? "ok" : "unavailable", "components",
                     components);
}

static bool reply_is_refusal(const lcx_msg_t *reply)
{
    return strcmp(reply->error.ptr, "unauthorized") == 0 ||
           strcmp(reply->error.ptr, "forbidden") == 0;
}

static void on_health(void *arg, const lcx_msg_t *reply)
{
    http_request_t *req = arg;
    call_t *call = http_app_data(req);
    bool healthy = false;
    if (reply && reply->cmd == LCX_CMD_ERROR && reply_is_refusal(reply)) {
        respond_store_error(call->api, req, reply);
        return;
    }
    const lcx_msg_t *h = reply && reply->cmd == LCX_CMD_HEALTH_REPLY ? reply : NULL;
    json_t *body = health_body(h, &healthy);
    /* With keys, the components are for admins: others learn only whether lcx is up. */
    bool detailed = !auth_keys(call->api->auth) ||
                    (h && h->caller_role.ptr && strcmp(h->caller_role.ptr, "admin") == 0);
    if (!detailed) json_object_del(body, "components");
    if (!healthy) retry_after(call->api, req, 0);
    http_respond(req, healthy ? 200 : 503, body);
}

static void get_health(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_HEALTH);
    call_store(api, req, &msg, 1000, on_health);
}

/* /metrics: the gateway's own, then the store's (with the dispatcher's pool). */
static void on_store_metrics(void *arg, const lcx_msg_t *reply)
{
    http_request_t *req = arg;
    call_t *call = http_app_data(req);
    if (reply && reply->cmd == LCX_CMD_ERROR) {
        respond_store_error(call->api, req, reply);
        return;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out) {
        http_respond_error(req, 500, "out of memory", NULL);
        return;
    }
    metrics_write(call->api->metrics, out);
    bool store = reply && reply->cmd == LCX_CMD_METRICS_REPLY;
    fprintf(out,
            "# HELP lcx_session_store_up Whether the session store answered.\n"
            "# TYPE lcx_session_store_up gauge\nlcx_session_store_up %d\n",
            store);
    if (store) fputs(reply->text.ptr, out);
    fclose(out);
    http_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
    free(text);
}

static void get_metrics(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_METRICS);
    call_store(api, req, &msg, 2000, on_store_metrics);
}

static void respond_document(http_request_t *req, const document_t *doc, const char *type)
{
    if (doc->text)
        http_respond_text(req, 200, type, doc->text, doc->len);
    else
        http_respond_error(req, 404, "this document is not installed", NULL);
}

static void get_openapi(api_t *api, http_request_t *req, const char *id)
{
    respond_document(req, &api->openapi, "application/json");
}

static void get_docs(api_t *api, http_request_t *req, const char *id)
{
    respond_document(req, &api->docs, "text/html; charset=utf-8");
}

/* ---------------------------------------------------------------------------------------- */
/* Operator view                                                                             */

static void respond_forbidden(api_t *api, http_request_t *req, const char *message);

/* /admin/runners and /admin/queue read HEALTH, which anyone may send: with keys, the store's
 * answer names the caller's role, and only an admin sees these. False after refusing. */
static bool admin_may_see(api_t *api, http_request_t *req, const lcx_msg_t *health)
{
    if (!auth_keys(api->auth) ||
        (health->caller_role.ptr && strcmp(health->caller_role.ptr, "admin") == 0))
        return true;
    respond_forbidden(api, req, "this needs an admin key");
    return false;
}

static void reply_runners(api_t *api, http_request_t *req, const lcx_msg_t *health)
{
    if (!admin_may_see(api, req, health)) return;
    json_t *runners = json_array();
    for (size_t i = 0; i < health->items.n; i++)
        json_array_append_new(runners, render_runner(health->items.v[i]));
    http_respond(req, 200, runners);
}

static void reply_queue(api_t *api, http_request_t *req, const lcx_msg_t *h)
{
    if (!admin_may_see(api, req, h)) return;
    bool up = h->dispatcher_up.v;
    http_respond(req, up ? 200 : 503,
                 json_pack("{s:b, s:I, s:I, s:I, s:I}", "dispatcher_up", up, "queue_depth",
                           (json_int_t)h->queue_depth.v, "runners", (json_int_t)h->runners.v,
                           "slots", (json_int_t)h->slots.v, "free_slots",
                           (json_int_t)h->free_slots.v));
}

static void reply_drained(api_t *api, http_request_t *req, const lcx_msg_t *runner)
{
    http_respond(req, 202, render_runner(runner));
}

static void get_admin_runners(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_HEALTH);
    ask_store(api, req, &msg, reply_runners, 0);
}

static void get_admin_queue(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_HEALTH);
    ask_store(api, req, &msg, reply_queue, 0);
}

static void drain_runner(api_t *api, http_request_t *req, const char *name)
{
    lcx_msg_t *msg = msg_with_id(LCX_CMD_DRAIN, LCX_F_runner_id, name);
    ask_store(api, req, &msg, reply_drained, 0);
}

/* The operator's keys. The gateway draws the key and sends only its hash to the store; the
 * secret exists in this reply and nowhere else. */
static void reply_key_created(api_t *api, http_request_t *req, const lcx_msg_t *key)
{
    call_t *call = http_app_data(req);
    json_t *body = render_key(key);
    json_object_set_new(body, "key", json_string(call->new_key));
    sodium_memzero(call->new_key, sizeof call->new_key);
    char location[64];
    snprintf(location, sizeof location, "/admin/keys/%s", key->key_id.ptr);
    http_add_header(req, "Location", location);
    http_add_header(req, "Cache-Control", "no-store");
    http_respond(req, 201, body);
}

static void reply_key(api_t *api, http_request_t *req, const lcx_msg_t *key)
{
    http_respond(req, 200, render_key(key));
}

static void reply_keys(api_t *api, http_request_t *req, const lcx_msg_t *keys)
{
    http_respond(req, 200, render_keys(keys));
}

static void create_key(api_t *api, http_request_t *req, const char *id)
{
    call_t *call = http_app_data(req);
    json_t *details = json_array();
    json_t *body = body_object(req, false, details);
    lcx_msg_t *msg = body ? validate_key(&api->validate, body, true, details) : NULL;
    if (body && !msg) respond_invalid(req, json_incref(details));
    json_decref(body);
    json_decref(details);
    if (!msg) return;
    apikey_t key;
    apikey_generate(call->new_key, &key);
    lcx_msg_set_str(msg, LCX_F_key_id, key.id);
    lcx_msg_set_bytes(msg, LCX_F_secret_hash, key.hash, APIKEY_HASH_LEN);
    ask_store(api, req, &msg, reply_key_created, 0);
}

static void list_keys(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = lcx_msg_new(LCX_CMD_KEY_LIST);
    ask_store(api, req, &msg, reply_keys, 0);
}

static void update_key(api_t *api, http_request_t *req, const char *id)
{
    json_t *details = json_array();
    json_t *body = body_object(req, false, details);
    lcx_msg_t *msg = body ? validate_key(&api->validate, body, false, details) : NULL;
    if (body && !msg) respond_invalid(req, json_incref(details));
    if (msg) {
        lcx_msg_set_str(msg, LCX_F_key_id, id);
        ask_store(api, req, &msg, reply_key, 0);
    }
    json_decref(body);
    json_decref(details);
}

static void revoke_key(api_t *api, http_request_t *req, const char *id)
{
    lcx_msg_t *msg = msg_with_id(LCX_CMD_KEY_REVOKE, LCX_F_key_id, id);
    ask_store(api, req, &msg, reply_key, 0);
}

static void get_live(api_t *api, http_request_t *req, const char *id)
{
    http_respond(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---------------------------------------------------------------------------------------- */
/* Routing                                                                                   */

/* Query parameters. A session token may come as ?access_token= (EventSource cannot send
 * headers), so every route a token opens takes it. */
static const char *const waiting[] = {"wait", "access_token", NULL};
static const char *const paging[] = {"limit", "before", "access_token", NULL};
static const char *const token_only[] = {"access_token", NULL};

static const route_t routes[] = {
    {"POST", "code-sessions", create_session, NULL, ACCESS_KEY},
    {"GET", "code-sessions/{id}", get_session, token_only, ACCESS_SESSION},
    {"PATCH", "code-sessions/{id}", patch_session, token_only, ACCESS_SESSION},
    {"DELETE", "code-sessions/{id}", delete_session, NULL, ACCESS_KEY},
    {"GET", "code-sessions/{id}/executions", list_executions, paging, ACCESS_SESSION},
    {"POST", "code-sessions/{id}/run", run_session, token_only, ACCESS_SESSION},
    {"POST", "code-sessions/{id}/tokens", mint_token, NULL, ACCESS_KEY},
    {"GET", "executions/session/{id}", list_executions, paging, ACCESS_SESSION},
    {"GET", "executions/{id}", get_execution, waiting, ACCESS_SESSION},
    {"POST", "executions/{id}/cancel", cancel_execution, token_only, ACCESS_SESSION},
    {"GET", "executions/{id}/events", stream_events, token_only, ACCESS_SESSION},
    {"GET", "languages", get_languages, NULL, ACCESS_PUBLIC},
    {"GET", "health", get_health, NULL, ACCESS_PUBLIC},
    {"GET", "health/live", get_live, NULL, ACCESS_PUBLIC},
    {"GET", "health/ready", get_health, NULL, ACCESS_PUBLIC},
    {"GET", "metrics", get_metrics, NULL, ACCESS_ADMIN},
    {"GET", "openapi.json", get_openapi, NULL, ACCESS_PUBLIC},
    {"GET", "docs", get_docs, NULL, ACCESS_PUBLIC},
    {"GET", "admin/runners", get_admin_runners, NULL, ACCESS_ADMIN},
    {"POST", "admin/runners/{name}/drain", drain_runner, NULL, ACCESS_ADMIN},
    {"GET", "admin/queue", get_admin_queue, NULL, ACCESS_ADMIN},
    {"POST", "admin/keys", create_key, NULL, ACCESS_ADMIN},
    {"GET", "admin/keys", list_keys, NULL, ACCESS_ADMIN},
    {"PATCH", "admin/keys/{key}", update_key, NULL, ACCESS_ADMIN},
    {"DELETE", "admin/keys/{key}", revoke_key, NULL, ACCESS_ADMIN},
};
#define ROUTE_COUNT (sizeof routes / sizeof routes[0])

/* Matches path against pattern; a "{id}" or "{name}" segment is copied into id (whatever it
 * holds: the caller checks it). */
static bool match(const char *pattern, const char *path, char *id, size_t id_size)
{
    while (*path == '/')
        path++;
    while (*pattern && *path) {
        size_t p = strcspn(pattern, "/"), s = strcspn(path, "/");
        if (pattern[0] == '{' && s >= id_size)
            return false; /* longer than any id: cut short, it could name another one */
        else if (pattern[0] == '{')
            snprintf(id, id_size, "%.*s", (int)s, path);
        else if (p != s || strncmp(pattern, path, p) != 0)
            return false;
        pattern += p + (pattern[p] == '/');
        path += s + (path[s] == '/');
    }
    return *pattern == '\0' && *path == '\0';
}

/* An unknown query parameter is refused like an unknown field: a typo (?wiat=) must not pass
 * for the default. */
static bool unknown_query(http_request_t *req, const route_t *route)
{
    const char *unknown = http_query_unknown(req, route->query);
    if (!unknown) return false;
    char message[160], allowed[96] = "";
    snprintf(message, sizeof message, "unknown query parameter '%.100s'", unknown);
    for (const char *const *q = route->query; q && *q; q++)
        snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                 allowed[0] ? ", " : "allowed: ", *q);
    http_respond_error(
        req, 400, message,
        json_pack("[s]", allowed[0] ? allowed : "this route takes no query parameters"));
    return true;
}

static void respond_not_found(http_request_t *req, const char *what)
{
    http_respond_error(req, 404, what, NULL);
}

/* Known path, wrong method: 405 with Allow. */
static bool method_not_allowed(http_request_t *req)
{
    char allow[64] = "", id[ROUTE_ID_MAX + 1];
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!match(routes[i].pattern, http_path(req), id, sizeof id)) continue;
        if (allow[0]) strncat(allow, ", ", sizeof allow - strlen(allow) - 1);
        strncat(allow, routes[i].method, sizeof allow - strlen(allow) - 1);
        if (strcmp(routes[i].method, "GET") == 0)
            strncat(allow, ", HEAD", sizeof allow - strlen(allow) - 1);
    }
    if (!allow[0]) return false;
    strncat(allow, ", OPTIONS", sizeof allow - strlen(allow) - 1);
    http_add_header(req, "Allow", allow);
    char message[128], detail[80];
    snprintf(message, sizeof message, "method %s is not allowed here", http_method(req));
    snprintf(detail, sizeof detail, "allowed: %s", allow);
    http_respond_error(req, 405, message, json_pack("[s]", detail));
    return true;
}

/* Runner names: 1 to ROUTE_ID_MAX of [A-Za-z0-9._-]. */
static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= ROUTE_ID_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void respond_unauthorized(api_t *api, http_request_t *req, const char *reason,
                                 const char *message)
{
    metrics_auth_failure(api->metrics, reason);
    bool token = strstr(reason, "token") != NULL;
    http_add_header(req, "WWW-Authenticate",
                    token ? "Bearer error=\"invalid_token\"" : "Bearer realm=\"lcx\"");
    http_respond_error(req, 401, message, json_pack("[s]", reason));
}

static void respond_forbidden(api_t *api, http_request_t *req, const char *message)
{
    metrics_auth_failure(api->metrics, "forbidden");
    http_respond_error(req, 403, message, NULL);
}

/* A browser's request from a page of another origin (its Origin is not this gateway's). */
static bool foreign_origin(http_request_t *req)
{
    const char *origin = http_header(req, "Origin"), *host = http_header(req, "Host");
    if (!origin) return false;
    if (!host) return true;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return !rest || strcmp(rest, host) != 0;
}

/* The credentials a bad request presented: true after answering 401. */
static bool refuse_bad_credentials(api_t *api, http_request_t *req, const auth_cred_t *cred)
{
    if (cred->kind == CRED_MALFORMED)
        respond_unauthorized(api, req, "malformed",
                             "Authorization must be \"Bearer \" and an API key or session token");
    else if (cred->kind == CRED_BAD_TOKEN)
        respond_unauthorized(api, req, "invalid token", "the session token is not valid");
    else if (cred->kind == CRED_EXPIRED)
        respond_unauthorized(api, req, "token expired", "the session token has expired");
    else
        return false;
    return true;
}

/* Who may use the route (docs/API.md "Keys and tokens"): false after refusing. What the
 * gateway cannot tell alone (the key is known and live, its role, the session is its own)
 * the store checks in the same round trip. */
static bool admit(api_t *api, http_request_t *req, const route_t *route, call_t *call)
{
    bool keys = auth_keys(api->auth);
    call->caller = lcx_msg_new(LCX_CMD_HEALTH);
    /* Public routes need no key; /health reads one to show an admin the components. */
    bool reads_cred = keys && (route->access != ACCESS_PUBLIC || route->handler == get_health);
    if (reads_cred && strcmp(route->pattern, "health/ready") != 0)
        auth_read(api->auth, http_header(req, "Authorization"), http_query(req, "access_token"),
                  &call->cred);
    /* On /health a token is no admin: the status alone, as for anyone without a key. */
    if (route->access == ACCESS_PUBLIC && call->cred.kind == CRED_TOKEN)
        call->cred.kind = CRED_NONE;
    auth_stamp(&call->cred, http_peer(req), call->caller);
    if (route->access == ACCESS_ADMIN && foreign_origin(req)) {
        respond_forbidden(api, req,
                          "the operator's routes do not answer browsers of other origins");
        return false;
    }
    if (!keys) {
        if (!http_operator_route(req) || auth_loopback(http_peer(req))) return true;
        respond_forbidden(api, req,
                          "without keys (LCX_AUTH=none) the operator's routes answer loopback "
                          "clients only");
        return false;
    }
    if (refuse_bad_credentials(api, req, &call->cred)) return false;
    if (route->access == ACCESS_PUBLIC) return true;
    if (call->cred.kind == CRED_NONE) {
        respond_unauthorized(api, req, "no credentials",
                             "this route needs an API key or a session token "
                             "(Authorization: Bearer ...)");
        return false;
    }
    if (call->cred.kind == CRED_TOKEN && route->access != ACCESS_SESSION) {
        respond_forbidden(api, req,
                          "a session token cannot do this: it opens its session's "
                          "own calls only");
        return false;
    }
    return true;
}

void api_handle(void *app, http_request_t *req)
{
    api_t *api = app;
    char id[ROUTE_ID_MAX + 1] = "";
    /* HEAD is GET without the body (libmicrohttpd leaves the body out). */
    const char *method = strcmp(http_method(req), "HEAD") == 0 ? "GET" : http_method(req);
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const route_t *route = &routes[i];
        if (strcmp(route->method, method) != 0 ||
            !match(route->pattern, http_path(req), id, sizeof id))
            continue;
        if (strstr(route->pattern, "{id}") && !lcx_uuid_valid(id)) {
            respond_not_found(req, "no such id (ids are UUIDs)");
            return;
        }
        if (strstr(route->pattern, "{name}") && !valid_name(id)) {
            respond_not_found(req, "no such name");
            return;
        }
        if (strstr(route->pattern, "{key}") && !apikey_id_valid(id)) {
            respond_not_found(req, "no API key has this id");
            return;
        }
        if (unknown_query(req, route)) return;
        call_t *call = lcx_calloc(1, sizeof *call);
        call->api = api;
        call->route = route->pattern;
        snprintf(call->id, sizeof call->id, "%s", id);
        http_set_app_data(req, call);
        if (admit(api, req, route, call)) route->handler(api, req, call->id);
        return;
    }
    if (!method_not_allowed(req)) respond_not_found(req, "no such route");
}

/* The access log: one line per request, by route pattern (the path itself may hold ids and,
 * in a query string, tokens). */
static void log_access(http_request_t *req, const char *route, const call_t *call)
{
    lcx_log(LCX_INFO, "request", "method", http_method(req), "route", route,
            LCX_LOG_INT("status", http_status(req)), "key_id", call ? auth_key_id(&call->cred) : "",
            LCX_LOG_REAL("duration_ms", http_elapsed(req) * 1000.0), NULL);
}

void api_closed(void *app, http_request_t *req)
{
    api_t *api = app;
    call_t *call = http_app_data(req);
    backend_forget(api->backend, req);
    char route[128];
    snprintf(route, sizeof route, "/%s", call ? call->route : "unmatched");
    if (http_status(req)) {
        metrics_observe(api->metrics, http_method(req), route, http_status(req), http_elapsed(req));
        log_access(req, route, call);
    }
    if (call) sse_destroy(&call->sse);
    if (call) lcx_msg_destroy(&call->caller);
    free(call);
}
