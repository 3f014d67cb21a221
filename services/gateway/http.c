/*
 * http: libmicrohttpd glue (see http.h).
 */
#include "http.h"
#include "alloc.h"
#include "log.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_HEADERS 8
/* How far past the body limit a client may keep sending before the connection is closed. */
#define DISCARD_FACTOR 8
/* Memory for one connection's request line and headers: more gets 431 (or 414 for a URL).
 * 16 KiB admits about 14 KiB of headers (nginx admits 4 x 8 KiB lines). libmicrohttpd clears
 * the used part of this pool after every request, so a larger pool costs CPU on each one
 * (64 KiB cost about 15 % of the session-create rate). */
#define HEADER_MEMORY 16384

struct http_t {
    const lcx_settings_t *settings;
    struct MHD_Daemon *daemon;
    http_handler_fn *handler;
    http_closed_fn *closed;
    void *app;
    zlistx_t *suspended;   /* http_request_t waiting for an answer */
    zlistx_t *connections; /* conn_t of every open connection */
    char last_error[512];  /* libmicrohttpd's last message: why a start failed */
    int64_t next_deadline; /* ms (monotonic) of the earliest request deadline; 0: none */
};

/* A connection, for the whole-request deadline: libmicrohttpd's own timeout counts only idle
 * time, so a client that trickles one byte a second would hold a request open for ever. */
typedef struct {
    int fd;
    bool receiving;        /* a request (or the wait for the next one) is under way */
    struct timespec since; /* when it began: the connection opened or the last request ended */
    void *handle;          /* our place in http->connections */
} conn_t;

struct http_request_t {
    http_t *http;
    struct MHD_Connection *conn;
    char method[16];
    char *path;
    char *body;
    size_t body_len;
    bool too_large;
    const char *malformed; /* why the request line or headers are refused (400), or NULL */
    size_t received;       /* body bytes read, kept or not */
    bool dispatched;
    bool suspended;
    void *suspended_handle; /* our place in http->suspended */
    void *app_data;
    /* The answer, once known. */
    bool answered;
    unsigned status;
    char *payload;
    size_t payload_len; /* payload is JSON unless content_type says otherwise */
    struct timespec arrived;
    char peer[INET6_ADDRSTRLEN]; /* the client's address, once asked for */
    size_t header_count;
    char *header_names[MAX_HEADERS];
    char *header_values[MAX_HEADERS];
    /* A streamed answer: bytes written and not yet sent are buf[sent..len). */
    bool streaming;
    bool stream_ended;
    char *content_type;
    char *stream_buf;
    size_t stream_len, stream_sent, stream_cap;
};

/* ---------------------------------------------------------------------------------------- */
/* Request accessors                                                                         */

const char *http_method(const http_request_t *req)
{
    return req->method;
}

const char *http_path(const http_request_t *req)
{
    return req->path;
}

const char *http_header(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    const char *const *known;
    const char *unknown;
} query_check_t;

static enum MHD_Result check_query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    query_check_t *check = cls;
    for (const char *const *k = check->known; k && *k; k++)
        if (strcmp(*k, key) == 0) return MHD_YES;
    check->unknown = key;
    return MHD_NO;
}

const char *http_query_unknown(const http_request_t *req, const char *const *known)
{
    query_check_t check = {known, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_query_name, &check);
    return check.unknown;
}

const char *http_peer(http_request_t *req)
{
    if (req->peer[0]) return req->peer;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->peer,
                  sizeof req->peer);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->peer,
                  sizeof req->peer);
    if (!req->peer[0]) snprintf(req->peer, sizeof req->peer, "unknown");
    return req->peer;
}

const char *http_body(const http_request_t *req, size_t *len)
{
    *len = req->body_len;
    return req->body;
}

void *http_app_data(const http_request_t *req)
{
    return req->app_data;
}

void http_set_app_data(http_request_t *req, void *data)
{
    req->app_data = data;
}

bool http_answered(const http_request_t *req)
{
    return req->answered;
}

/* ---------------------------------------------------------------------------------------- */
/* Answers                                                                                   */

static void suspend(http_request_t *req)
{
    if (req->suspended) return;
    req->suspended = true;
    req->suspended_handle = zlistx_add_end(req->http->suspended, req);
    MHD_suspend_connection(req->conn);
}

static void resume(http_request_t *req)
{
    if (!req->suspended) return;
    req->suspended = false;
    zlistx_delete(req->http->suspended, req->suspended_handle);
    MHD_resume_connection(req->conn);
}

void http_add_header(http_request_t *req, const char *name, const char *value)
{
    if (req->header_count == MAX_HEADERS) return;
    req->header_names[req->header_count] = lcx_strdup(name);
    req->header_values[req->header_count] = lcx_strdup(value);
    req->header_count++;
}

void http_respond(http_request_t *req, unsigned status, json_t *body)
{
    if (req->answered) {
        json_decref(body);
        return;
    }
    req->answered = true;
    req->status = status;
    req->payload = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    req->payload_len = req->payload ? strlen(req->payload) : 0;
    json_decref(body);
    resume(req);
}

void http_respond_text(http_request_t *req, unsigned status, const char *content_type,
                       const char *text, size_t len)
{
    if (req->answered) return;
    char *copy = lcx_malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    req->content_type = lcx_strdup(content_type);
    http_respond(req, status, NULL);
    req->payload = copy;
    req->payload_len = len;
}

unsigned http_status(const http_request_t *req)
{
    return req->answered ? req->status : 0;
}

double http_elapsed(const http_request_t *req)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - req->arrived.tv_sec) +
           (double)(now.tv_nsec - req->arrived.tv_nsec) / 1e9;
}

void http_respond_error(http_request_t *req, unsigned status, const char *message, json_t *details)
{
    json_t *body = json_object();
    json_object_set_new(body, "error", json_string(message));
    json_object_set_new(body, "details", details ? details : json_array());
    http_respond(req, status, body);
}

/* The response headers the API documents, which browser code may read (besides the
 * CORS-safelisted ones such as Content-Type). */
#define EXPOSED_HEADERS "Location, Retry-After, Allow, WWW-Authenticate, Link"

bool http_operator_route(const http_request_t *req)
{
    const char *p = req->path ? req->path : "";
    while (*p == '/')
        p++;
    return strncmp(p, "admin", 5) == 0 && (p[5] == '\0' || p[5] == '/');
}

/* CORS: "*" allows every origin; otherwise the request's Origin must be listed. The
 * operator's routes (/admin/...) never answer a browser of another origin. */
static void add_cors(http_request_t *req, struct MHD_Response *response)
{
    const char *allowed = req->http->settings->cors_origins;
    const char *origin = http_header(req, "Origin");
    if (http_operator_route(req)) return;
    if (strcmp(allowed, "*") == 0) {
        MHD_add_response_header(response, "Access-Control-Allow-Origin", "*");
        MHD_add_response_header(response, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
        return;
    }
    if (!origin) return;
    size_t len = strlen(origin);
    for (const char *p = allowed; *p;) {
        size_t n = strcspn(p, ",");
        while (n && *p == ' ')
            p++, n--;
        if (n == len && strncmp(p, origin, len) == 0) {
            MHD_add_response_header(response, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(response, "Vary", "Origin");
            MHD_add_response_header(response, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
            return;
        }
        p += n + (p[n] == ',');
    }
}

/* MHD asks for the next bytes of a stream; with none yet, the connection sleeps until
 * http_stream_write or http_stream_end wakes it (returning 0 without suspending would spin). */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    http_request_t *req = cls;
    size_t waiting = req->stream_len - req->stream_sent;
    if (waiting) {
        size_t n = waiting < max ? waiting : max;
        memcpy(buf, req->stream_buf + req->stream_sent, n);
        req->stream_sent += n;
        if (req->stream_sent == req->stream_len) req->stream_sent = req->stream_len = 0;
        return (ssize_t)n;
    }
    if (req->stream_ended) return MHD_CONTENT_READER_END_OF_STREAM;
    suspend(req);
    return 0;
}

void http_stream_begin(http_request_t *req, unsigned status, const char *content_type)
{
    if (req->answered) return;
    req->streaming = true;
    req->content_type = lcx_strdup(content_type);
    http_respond(req, status, NULL);
}

void http_stream_write(http_request_t *req, const char *data, size_t len)
{
    if (!req->streaming || req->stream_ended) return;
    if (req->stream_len + len > req->stream_cap) {
        size_t cap = (req->stream_len + len) * 2;
        req->stream_buf = lcx_realloc(req->stream_buf, cap);
        req->stream_cap = cap;
    }
    memcpy(req->stream_buf + req->stream_len, data, len);
    req->stream_len += len;
    resume(req);
}

void http_stream_end(http_request_t *req)
{
    if (!req->streaming) return;
    req->stream_ended = true;
    resume(req);
}

/* Adds what every answer carries (CORS, the handler's headers) and queues it. */
static enum MHD_Result send_response(http_request_t *req, struct MHD_Response *response)
{
    add_cors(req, response);
    /* After a malformed request nothing more on the connection can be trusted to be framed
     * as the client meant (a request hidden in the body): it closes. */
    if (req->malformed) MHD_add_response_header(response, "Connection", "close");
    for (size_t i = 0; i < req->header_count; i++)
        MHD_add_response_header(response, req->header_names[i], req->header_values[i]);
    enum MHD_Result rc = MHD_queue_response(req->conn, req->status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result queue_stream(http_request_t *req)
{
    struct MHD_Response *response =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, req, NULL);
    if (!response) return MHD_NO;
    MHD_add_response_header(response, "Content-Type", req->content_type);
    MHD_add_response_header(response, "Cache-Control", "no-cache");
    MHD_add_response_header(response, "X-Accel-Buffering", "no");
    return send_response(req, response);
}

static enum MHD_Result queue_answer(http_request_t *req)
{
    if (req->streaming) return queue_stream(req);
    const char *text = req->payload ? req->payload : "";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(req->payload_len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    if (req->payload)
        MHD_add_response_header(response, "Content-Type",
                                req->content_type ? req->content_type : "application/json");
    return send_response(req, response);
}

/* ---------------------------------------------------------------------------------------- */
/* The whole-request deadline                                                               */

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t request_deadline(const http_t *http, const conn_t *c)
{
    return (int64_t)c->since.tv_sec * 1000 + c->since.tv_nsec / 1000000 +
           http->settings->http_request_s * 1000;
}

/* The connection starts waiting for a request (it opened, or answered the last one). */
static void conn_receive(http_t *http, conn_t *c)
{
    if (http->settings->http_request_s <= 0) return;
    c->receiving = true;
    clock_gettime(CLOCK_MONOTONIC, &c->since);
    int64_t deadline = request_deadline(http, c);
    if (!http->next_deadline || deadline < http->next_deadline) http->next_deadline = deadline;
}

static conn_t *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    http_t *http = cls;
    conn_t *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info) return;
        c = lcx_calloc(1, sizeof *c);
        c->fd = info->connect_fd;
        c->handle = zlistx_add_end(http->connections, c);
        conn_receive(http, c);
        *socket_context = c;
    } else if (c) {
        zlistx_delete(http->connections, c->handle);
        free(c);
        *socket_context = NULL;
    }
}

/* Answers 408 on a connection whose request is late and shuts it: libmicrohttpd is reading
 * there, with nothing of its own to send, and closes it when the read fails. */
static void cut_off(http_t *http, conn_t *c)
{
    char body[128], text[384];
    int body_len = snprintf(body, sizeof body,
                            "{\"error\":\"request not received in time\",\"details\":"
                            "[\"the limit is %ld s for a whole request\"]}",
                            http->settings->http_request_s);
    int len = snprintf(text, sizeof text,
                       "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                       body_len, body);
    if (send(c->fd, text, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        lcx_log(LCX_DEBUG, "408 not sent", "error", strerror(errno), NULL);
    shutdown(c->fd, SHUT_RDWR);
    c->receiving = false;
}

static void expire_requests(http_t *http)
{
    int64_t now = now_ms();
    if (!http->next_deadline || now < http->next_deadline) return;
    http->next_deadline = 0;
    for (conn_t *c = zlistx_first(http->connections); c; c = zlistx_next(http->connections)) {
        if (!c->receiving) continue;
        int64_t deadline = request_deadline(http, c);
        if (deadline <= now)
            cut_off(http, c);
        else if (!http->next_deadline || deadline < http->next_deadline)
            http->next_deadline = deadline;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Checks before the handler                                                                 */

static bool is_json_type(const char *type)
{
    size_t n = strcspn(type, ";");
    while (n && type[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(type, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0);
}

static void answer_preflight(http_request_t *req)
{
    if (http_operator_route(req)) {
        http_respond_error(req, 403,
                           "the operator's routes do not answer browsers of other origins", NULL);
        return;
    }
    http_add_header(req, "Access-Control-Allow-Methods", "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
    http_add_header(req, "Access-Control-Allow-Headers",
                    "Content-Type, Idempotency-Key, Last-Event-ID, Authorization");
    http_add_header(req, "Access-Control-Max-Age", "600");
    http_respond(req, 204, NULL);
}

/* The request is complete: check what applies to every route, then hand it over. */
static void dispatch(http_request_t *req)
{
    req->dispatched = true;
    conn_t *c = conn_of(req->conn);
    if (c) c->receiving = false;
    const char *type = http_header(req, "Content-Type");
    char limit[64];
    if (req->malformed) {
        http_respond_error(req, 400, "malformed request", json_pack("[s]", req->malformed));
    } else if (req->too_large) {
        snprintf(limit, sizeof limit, "the limit is %ld bytes",
                 req->http->settings->max_body_bytes);
        json_t *details = json_pack("[s]", limit);
        http_respond_error(req, 413, "request body too large", details);
    } else if (strcmp(req->method, "OPTIONS") == 0) {
        answer_preflight(req);
    } else if (req->body_len > 0 && type && !is_json_type(type)) {
        http_respond_error(req, 415, "request body must be JSON (Content-Type: application/json)",
                           json_pack("[s]", type));
    } else {
        req->http->handler(req->http->app, req);
    }
}

static bool content_length_too_large(http_request_t *req)
{
    const char *length = http_header(req, "Content-Length");
    return length &&
           strtoull(length, NULL, 10) > (unsigned long long)req->http->settings->max_body_bytes;
}

static void append_body(http_request_t *req, const char *data, size_t size)
{
    if (req->too_large || req->malformed) return;
    if (req->body_len + size > (size_t)req->http->settings->max_body_bytes) {
        req->too_large = true;
        free(req->body);
        req->body = NULL;
        req->body_len = 0;
        return;
    }
    char *grown = lcx_realloc(req->body, req->body_len + size + 1);
    memcpy(grown + req->body_len, data, size);
    req->body = grown;
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

/* ---------------------------------------------------------------------------------------- */
/* MHD callbacks                                                                             */

static http_request_t *request_new(http_t *http, struct MHD_Connection *conn)
{
    http_request_t *req = lcx_calloc(1, sizeof *req);
    req->http = http;
    req->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &req->arrived);
    return req;
}

/* The request line has arrived: libmicrohttpd shows the URI before unescaping it, the one
 * place where a NUL (%00) can still be seen (the unescaped path ends at it). What this returns
 * is the request's context from then on. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_request_t *req = request_new(cls, conn);
    if (req && strstr(uri, "%00")) req->malformed = "the path holds a NUL byte (%00)";
    return req;
}

/* Header checks against request smuggling (RFC 9112, sections 5.1 and 6.3): libmicrohttpd
 * accepts all of these and then frames the body by one reading while a proxy in front may
 * frame it by another. */
typedef struct {
    const char *problem;
    const char *content_length;
    bool chunked;
} header_scan_t;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    header_scan_t *scan = cls;
    if (name[strcspn(name, " \t")] != '\0') {
        scan->problem = "whitespace between a header name and its colon";
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        scan->chunked = true;
    } else if (strcasecmp(name, "Content-Length") == 0) {
        if (scan->content_length && strcmp(scan->content_length, value ? value : "") != 0)
            scan->problem = "two different Content-Length headers";
        scan->content_length = value ? value : "";
    }
    if (!scan->problem && scan->chunked && scan->content_length)
        scan->problem = "both Content-Length and Transfer-Encoding";
    return scan->problem ? MHD_NO : MHD_YES;
}

static const char *header_problem(struct MHD_Connection *conn)
{
    header_scan_t scan = {0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_header, &scan);
    return scan.problem;
}

/* The request's headers are complete: what is known before its body. */
static void request_start(http_request_t *req, const char *url, const char *method)
{
    snprintf(req->method, sizeof req->method, "%s", method);
    req->path = lcx_strdup(url);
    if (!req->malformed) req->malformed = header_problem(req->conn);
    /* A declared body over the limit is refused before it is read. */
    if (content_length_too_large(req)) req->too_large = true;
}

static void request_free(http_request_t *req)
{
    free(req->path);
    free(req->body);
    free(req->payload);
    free(req->content_type);
    free(req->stream_buf);
    for (size_t i = 0; i < req->header_count; i++) {
        free(req->header_names[i]);
        free(req->header_values[i]);
    }
    free(req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    http_t *http = cls;
    http_request_t *req = *con_cls;
    if (!req && !(req = *con_cls = request_new(http, conn))) return MHD_NO;
    if (!req->path) {
        request_start(req, url, method);
        if (!req->path) return MHD_NO;
        if (!req->too_large && !req->malformed) return MHD_YES;
    }
    if (*upload_data_size) {
        /* Past the limit the rest is read and dropped, so the 413 can be sent after it
         * (MHD sends nothing queued mid-upload); a client that keeps going is cut off. */
        req->received += *upload_data_size;
        append_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (req->received > DISCARD_FACTOR * (size_t)http->settings->max_body_bytes) return MHD_NO;
        return MHD_YES;
    }
    if (!req->dispatched) dispatch(req);
    if (req->answered) return queue_answer(req);
    suspend(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    http_t *http = cls;
    http_request_t *req = *con_cls;
    if (!req) return;
    if (req->suspended) zlistx_delete(http->suspended, req->suspended_handle);
    conn_t *c = conn_of(conn);
    if (c) conn_receive(http, c);
    if (http->closed) http->closed(http->app, req);
    request_free(req);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Daemon                                                                                    */

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    http_t *self = cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    snprintf(self->last_error, sizeof self->last_error, "%s", text);
    lcx_log(LCX_DEBUG, "http server", "detail", text, NULL);
}

http_t *http_new(const lcx_settings_t *settings, http_handler_fn *handler, http_closed_fn *closed,
                 void *app, char *err, size_t errlen)
{
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)settings->http_port)};
    if (inet_pton(AF_INET, settings->http_host, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "http_host '%s' is not an IPv4 address", settings->http_host);
        return NULL;
    }
    http_t *self = lcx_calloc(1, sizeof *self);
    *self = (http_t){settings, NULL, handler, closed, app, zlistx_new(), zlistx_new(), "", 0};
    errno = 0;
    self->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access,
        self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)settings->http_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)settings->http_timeout_s, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)settings->http_per_ip_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, self, MHD_OPTION_URI_LOG_CALLBACK, on_uri, self,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, self, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (!self->daemon) {
        /* errno still holds the cause of a failed bind or listen; libmicrohttpd's own message
         * (which names port 0 for a given address) is the fallback. */
        int cause = errno;
        snprintf(err, errlen, "cannot listen on %s:%ld: %s", settings->http_host,
                 settings->http_port, cause ? strerror(cause) : self->last_error);
        http_destroy(&self);
        return NULL;
    }
    return self;
}

void http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p) return;
    http_t *self = *self_p;
    /* MHD must not stop with suspended connections: answer them first. */
    http_request_t *req;
    while ((req = zlistx_first(self->suspended))) {
        if (req->streaming)
            http_stream_end(req);
        else
            http_respond_error(req, 503, "the gateway is shutting down", NULL);
    }
    if (self->daemon) {
        MHD_run(self->daemon);
        MHD_stop_daemon(self->daemon);
    }
    zlistx_destroy(&self->suspended);
    for (conn_t *c = zlistx_first(self->connections); c; c = zlistx_next(self->connections))
        free(c);
    zlistx_destroy(&self->connections);
    free(self);
    *self_p = NULL;
}

int http_fd(http_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

void http_run(http_t *self)
{
    MHD_run(self->daemon);
    expire_requests(self);
}

int64_t http_timeout_ms(http_t *self)
{
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    int64_t ms = MHD_get_timeout(self->daemon, &timeout) == MHD_YES ? (int64_t)timeout : -1;
    if (self->next_deadline) {
        int64_t left = self->next_deadline - now_ms();
        if (left < 0) left = 0;
        if (ms < 0 || left < ms) ms = left;
    }
    return ms;
}
