/*
 * server: the session store's message loop (see server.h).
 */
#include "server.h"
#include "access.h"
#include "alloc.h"
#include "apikey.h"
#include "curve.h"
#include "events.h"
#include "holds.h"
#include "keyring.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 512 /* messages handled in one transaction */
#define STORE_IDENTITY "lcx-session"
#define EVENTS_KEEP_MS (5 * 60 * 1000) /* how long a finished execution's live log is kept */

struct server_t {
    const lcx_settings_t *settings;
    store_t *store;
    keyring_t *keys;
    access_caller_t caller; /* who sent the gateway request being handled */
    curve_t *curve;
    zsock_t *frontend;   /* ROUTER: gateways */
    zsock_t *dispatcher; /* DEALER: the dispatcher */
    holds_t *holds;
    events_t *events;        /* live event logs for Server-Sent Events */
    zlist_t *to_frontend;    /* replies waiting for the commit */
    zlist_t *to_dispatcher;  /* messages waiting for the commit */
    zlist_t *submitted;      /* ids of jobs sent in this batch, before its commit */
    zlist_t *finished;       /* ids of executions that became terminal in this batch */
    zlist_t *touched;        /* ids of executions with new events in this batch */
    lcx_msg_t *status;       /* the dispatcher's latest STATUS, or NULL */
    int64_t dispatcher_seen; /* monotonic ms of its latest message */
    int64_t next_heartbeat;
    int64_t next_reconcile;
    int64_t begin_backoff_ms; /* while BEGIN fails: the wait before the next try, else 0 */
    int64_t next_begin;       /* monotonic ms of that next try */
    char instance[64];        /* the dispatcher instance we last reconciled with */
};

/* ---------------------------------------------------------------------------------------- */
/* Set-up                                                                                    */

static zsock_t *open_dispatcher_socket(curve_t *curve, const char *endpoint, char *err,
                                       size_t errlen)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) return NULL;
    if (curve_client(curve, sock, "dispatcher", err, errlen) != 0) {
        zsock_destroy(&sock);
        return NULL;
    }
    zsock_set_identity(sock, STORE_IDENTITY);
    zsock_set_immediate(sock, 1); /* never queue toward a dispatcher that is not there */
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 10000);
    zsock_set_maxmsgsize(sock, LCX_PROTO_MAX_FRAME + 1024);
    zsock_set_reconnect_ivl_max(sock, 2000);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s", endpoint);
        zsock_destroy(&sock);
    }
    return sock;
}

/* The API keys, with the operator's bootstrap key registered. */
static keyring_t *open_keyring(const lcx_settings_t *s, store_t *store, char *err, size_t errlen)
{
    if (apikey_init() != 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return NULL;
    }
    keyring_defaults_t defaults = {s->key_runs_per_minute, s->key_concurrent_runs, s->max_time_ms,
                                   s->max_memory_mb};
    keyring_t *keys = keyring_new(store, &defaults, err, errlen);
    if (!keys || !s->admin_key_file[0]) return keys;
    apikey_t bootstrap;
    if (apikey_read_file(s->admin_key_file, &bootstrap, err, errlen) != 0 ||
        keyring_bootstrap(keys, &bootstrap, err, errlen) != 0) {
        keyring_destroy(&keys);
        return NULL;
    }
    lcx_log(LCX_INFO, "bootstrap admin key registered", "key_id", bootstrap.id, NULL);
    return keys;
}

server_t *server_new(const lcx_settings_t *settings, store_t *store, char *err, size_t errlen)
{
    server_t *self = lcx_calloc(1, sizeof *self);
    self->settings = settings;
    self->store = store;
    self->holds = holds_new();
    self->events = events_new(EVENTS_KEEP_MS);
    self->touched = zlist_new();
    zlist_autofree(self->touched);
    self->to_frontend = zlist_new();
    self->to_dispatcher = zlist_new();
    self->finished = zlist_new();
    zlist_autofree(self->finished); /* zlist_append copies each id */
    self->submitted = zlist_new();
    zlist_autofree(self->submitted);
    if (!(self->keys = open_keyring(settings, store, err, errlen))) {
        server_destroy(&self);
        return NULL;
    }
    self->curve =
        curve_new(settings->curve_dir, "session", settings->curve_secret, true, err, errlen);
    if (!self->curve) {
        server_destroy(&self);
        return NULL;
    }
    self->frontend = zsock_new(ZMQ_ROUTER);
    if (self->frontend && curve_server(self->curve, self->frontend, settings->session_endpoint,
                                       NULL, err, errlen) != 0) {
        server_destroy(&self);
        return NULL;
    }
    if (self->frontend) {
        zsock_set_router_mandatory(self->frontend, 1);
        zsock_set_sndhwm(self->frontend, 100000);
        zsock_set_maxmsgsize(self->frontend, LCX_PROTO_MAX_FRAME + 1024);
        zsock_set_linger(self->frontend, 500);
    }
    if (!self->frontend || zsock_bind(self->frontend, "%s", settings->session_endpoint) < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", settings->session_endpoint,
                 zmq_strerror(zmq_errno()));
        server_destroy(&self);
        return NULL;
    }
    self->dispatcher =
        open_dispatcher_socket(self->curve, settings->dispatcher_endpoint, err, errlen);
    if (!self->dispatcher) {
        server_destroy(&self);
        return NULL;
    }
    return self;
}

static void drop_all(zlist_t *list)
{
    lcx_msg_t *msg;
    while ((msg = zlist_pop(list)))
        lcx_msg_destroy(&msg);
}

void server_destroy(server_t **self_p)
{
    if (!self_p || !*self_p) return;
    server_t *self = *self_p;
    holds_destroy(&self->holds);
    events_destroy(&self->events);
    zlist_destroy(&self->touched);
    if (self->to_frontend) drop_all(self->to_frontend);
    if (self->to_dispatcher) drop_all(self->to_dispatcher);
    zlist_destroy(&self->to_frontend);
    zlist_destroy(&self->to_dispatcher);
    zlist_destroy(&self->finished);
    zlist_destroy(&self->submitted);
    lcx_msg_destroy(&self->status);
    keyring_destroy(&self->keys);
    zsock_destroy(&self->frontend);
    zsock_destroy(&self->dispatcher);
    curve_destroy(&self->curve);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Replies                                                                                   */

static void reply(server_t *self, lcx_msg_t **msg_p)
{
    zlist_append(self->to_frontend, *msg_p);
    *msg_p = NULL;
}

static void to_dispatcher(server_t *self, lcx_msg_t **msg_p)
{
    zlist_append(self->to_dispatcher, *msg_p);
    *msg_p = NULL;
}

static lcx_msg_t *error_reply(const lcx_msg_t *request, const char *code, const char *message)
{
    lcx_msg_t *msg = lcx_msg_reply(request, LCX_CMD_ERROR);
    lcx_msg_set_str(msg, LCX_F_error, code);
    lcx_msg_set_str(msg, LCX_F_message, message);
    return msg;
}

static void reply_error(server_t *self, const lcx_msg_t *request, const char *code,
                        const char *message)
{
    lcx_msg_t *msg = error_reply(request, code, message);
    reply(self, &msg);
}

/* An "unavailable" ERROR: the caller may retry after retry_after_s. */
static lcx_msg_t *unavailable_reply(const server_t *self, const lcx_msg_t *request,
                                    const char *message)
{
    lcx_msg_t *msg = error_reply(request, "unavailable", message);
    lcx_msg_set_int(msg, LCX_F_retry_after_ms, self->settings->retry_after_s * 1000);
    return msg;
}

static void reply_unavailable(server_t *self, const lcx_msg_t *request, const char *message)
{
    lcx_msg_t *msg = unavailable_reply(self, request, message);
    reply(self, &msg);
}

/* Maps a store result that is not STORE_OK to an ERROR reply. */
static void reply_store_error(server_t *self, const lcx_msg_t *request, store_rc_t rc,
                              const char *what)
{
    switch (rc) {
    case STORE_NOT_FOUND:
        reply_error(self, request, "not_found", what);
        break;
    case STORE_INACTIVE:
        reply_error(self, request, "inactive", "the session is closed (INACTIVE)");
        break;
    default:
        reply_error(self, request, "internal", "the session store could not complete this");
        break;
    }
}

/* A CANCEL telling the dispatcher to drop or stop an execution. */
static lcx_msg_t *cancel_of(const char *execution_id)
{
    lcx_msg_t *cancel = lcx_msg_new(LCX_CMD_CANCEL);
    lcx_msg_set_str(cancel, LCX_F_execution_id, execution_id);
    return cancel;
}

static void send_now(lcx_msg_t **msg_p, zsock_t *sock, const char *peer)
{
    char err[256];
    lcx_cmd_t cmd = (*msg_p)->cmd;
    if (lcx_msg_send(msg_p, sock, err, sizeof err) != 0)
        lcx_log(LCX_WARN, "send failed", "peer", peer, "command", lcx_cmd_name(cmd), "error", err,
                NULL);
}

static void send_all(zlist_t *list, zsock_t *sock, const char *peer)
{
    lcx_msg_t *msg;
    while ((msg = zlist_pop(list)))
        send_now(&msg, sock, peer);
}

/* A job goes to the dispatcher at once, before its row is durable: the client's 202 waits for
 * the dispatcher's ACCEPTED, which a later turn answers after this turn's commit. Should the
 * commit fail (or the store die first), the job is cancelled (or its results find no row and
 * are dropped), and the client, answered nothing, retries. */
static void submit_job(server_t *self, lcx_msg_t **job_p)
{
    zlist_append(self->submitted, (void *)(*job_p)->execution_id.ptr);
    send_now(job_p, self->dispatcher, "dispatcher");
}

#define UNSAVED_MESSAGE "the session store could not save this; retry shortly"

/* Sends an "unavailable" ERROR in place of *answer_p, the reply to a request whose batch was
 * not saved. */
static void send_unsaved(server_t *self, lcx_msg_t **answer_p)
{
    lcx_msg_t *msg = unavailable_reply(self, *answer_p, UNSAVED_MESSAGE);
    lcx_msg_destroy(answer_p);
    send_now(&msg, self->frontend, "gateway");
}

/* The batch's commit failed: every reply it made becomes an "unavailable" ERROR. */
static void send_all_unsaved(server_t *self)
{
    lcx_msg_t *msg;
    while ((msg = zlist_pop(self->to_frontend)))
        send_unsaved(self, &msg);
}

/* The batch's commit failed: its jobs must not run, and their RUNs hear that they may retry. */
static void retract_jobs(server_t *self)
{
    char *id;
    while ((id = zlist_pop(self->submitted))) {
        lcx_msg_t *parked = holds_take(self->holds, HOLD_SUBMIT, id);
        if (parked) send_unsaved(self, &parked);
        lcx_msg_t *cancel = cancel_of(id);
        send_now(&cancel, self->dispatcher, "dispatcher");
        free(id);
    }
}

/* A state change for the live event log; waiting EVENTS_GETs are answered after the commit. */
static void note_status(server_t *self, const char *execution_id, const char *status,
                        int64_t attempt)
{
    events_status(self->events, execution_id, status, attempt);
    zlist_append(self->touched, (void *)execution_id);
}

/* ---------------------------------------------------------------------------------------- */
/* Dispatcher link                                                                           */

static bool dispatcher_up(const server_t *self)
{
    int64_t silence = lcx_mono_ms() - self->dispatcher_seen;
    return self->status && silence <= self->settings->heartbeat_ms * self->settings->liveness;
}

/* True when the dispatcher's latest STATUS lists a runner for the language. */
static bool language_served(const server_t *self, const char *language)
{
    const lcx_list_t *langs = &self->status->languages;
    for (size_t i = 0; i < langs->n; i++)
        if (strcmp(langs->v[i], language) == 0) return true;
    return false;
}

static void resubmit_job(void *arg, lcx_msg_t **job_p)
{
    server_t *self = arg;
    lcx_log(LCX_INFO, "execution resubmitted", "execution_id", (*job_p)->execution_id.ptr,
            "session_id", (*job_p)->session_id.ptr, NULL);
    lcx_msg_set_bool(*job_p, LCX_F_resubmit, true); /* may still run on some runner */
    to_dispatcher(self, job_p);
}

/* Re-submits every unfinished execution; the dispatcher ignores ones it already holds. */
static void reconcile(server_t *self)
{
    store_active_jobs(self->store, resubmit_job, self);
    self->next_reconcile = lcx_mono_ms() + self->settings->reconcile_ms;
}

static void on_status(server_t *self, lcx_msg_t **msg_p)
{
    lcx_msg_t *status = *msg_p;
    *msg_p = NULL;
    bool restarted = strcmp(self->instance, status->instance.ptr) != 0;
    if (restarted) {
        lcx_log(LCX_INFO, "dispatcher instance seen", "instance", status->instance.ptr, NULL);
        snprintf(self->instance, sizeof self->instance, "%s", status->instance.ptr);
        reconcile(self);
    }
    lcx_msg_destroy(&self->status);
    self->status = status;
}

/* "unavailable" for a RUN, or for a parked RUN (its EXECUTION) that the queue turned away after
 * its batch had committed: the text that RUN saved stays saved, so the reply names the saved
 * version (source_version). With a language instead of a message: no runner serves it, and
 * both the message and a detail name it. */
static void reply_run_unavailable(server_t *self, const lcx_msg_t *parked, const char *message,
                                  const char *language)
{
    char text[160], detail[96] = "";
    if (language) {
        snprintf(text, sizeof text, "no runner serves %s right now", language);
        snprintf(detail, sizeof detail, "language: %s", language);
    }
    lcx_msg_t *msg = unavailable_reply(self, parked, language ? text : message);
    if (detail[0]) lcx_msg_list_append(msg, LCX_F_details, detail);
    if (parked->source_version.set) lcx_msg_set_int(msg, LCX_F_version, parked->source_version.v);
    reply(self, &msg);
}

/* The dispatcher took (ACCEPTED) or refused (ERROR) a job: answer the parked RUN. */
static void on_submit_answer(server_t *self, const lcx_msg_t *msg)
{
    if (!msg->execution_id.ptr) return;
    lcx_msg_t *parked = holds_take(self->holds, HOLD_SUBMIT, msg->execution_id.ptr);
    if (!parked) return; /* an answer to a reconciliation, or too late */
    if (msg->cmd == LCX_CMD_ACCEPTED) {
        note_status(self, parked->execution_id.ptr, "QUEUED", 1);
        reply(self, &parked);
        return;
    }
    store_execution_discard(self->store, msg->execution_id.ptr);
    lcx_log(LCX_INFO, "execution refused by dispatcher", "execution_id", msg->execution_id.ptr,
            "error", msg->error.ptr, NULL);
    if (msg->error.ptr && strcmp(msg->error.ptr, "queue_full") == 0)
        reply_run_unavailable(self, parked, "the execution queue is full", NULL);
    else
        reply_run_unavailable(self, parked, NULL, parked->language.ptr);
    lcx_msg_destroy(&parked);
}

static void on_update(server_t *self, const lcx_msg_t *update)
{
    store_applied_t applied;
    store_rc_t rc = store_execution_apply(self->store, update, &applied);
    if (rc != STORE_OK && rc != STORE_NOT_FOUND) return; /* not acknowledged: it comes again */
    bool terminal = applied.terminal;
    if (applied.changed) {
        lcx_log(LCX_DEBUG, "execution state", "execution_id", update->execution_id.ptr, "status",
                update->status.ptr, "reason", update->reason.ptr, "runner_id",
                update->runner_id.ptr, LCX_LOG_INT("attempt", update->attempt.v), NULL);
        if (applied.started) /* the run ended before it reported RUNNING (PROTOCOL.md 6.3) */
            events_status(self->events, update->execution_id.ptr, "RUNNING", update->attempt.v);
        if (terminal) events_final_output(self->events, update); /* the output's tail */
        note_status(self, update->execution_id.ptr, update->status.ptr, update->attempt.v);
        if (terminal) zlist_append(self->finished, (void *)update->execution_id.ptr);
    }
    lcx_msg_t *ack = lcx_msg_reply(update, LCX_CMD_UPDATE_ACK);
    lcx_msg_set_str(ack, LCX_F_execution_id, update->execution_id.ptr);
    lcx_msg_set_int(ack, LCX_F_attempt, update->attempt.v);
    lcx_msg_set_str(ack, LCX_F_status, update->status.ptr);
    to_dispatcher(self, &ack);
}

/* The dispatcher asks which jobs a registering runner really runs (PROTOCOL.md 6.2, ADOPT): the
 * answer lists those the store confirms. */
static void on_adopt(server_t *self, const lcx_msg_t *ask)
{
    lcx_msg_t *answer = lcx_msg_reply(ask, LCX_CMD_ADOPTED);
    lcx_msg_set_str(answer, LCX_F_runner_id, ask->runner_id.ptr);
    lcx_msg_list_touch(answer, LCX_F_running);
    for (size_t i = 0; i < ask->running.n; i++) {
        const char *entry = ask->running.v[i];
        char id[LCX_UUID_LEN + 1];
        int64_t attempt = 0;
        bool confirmed = lcx_running_entry_parse(entry, id, &attempt) &&
                         store_execution_adoptable(self->store, id, attempt, ask->runner_id.ptr);
        if (confirmed) lcx_msg_list_append(answer, LCX_F_running, entry);
        lcx_log(LCX_DEBUG, confirmed ? "adoption confirmed" : "adoption not confirmed", "entry",
                entry, "runner_id", ask->runner_id.ptr, NULL);
    }
    to_dispatcher(self, &answer);
}

static void handle_dispatcher(server_t *self, lcx_msg_t **msg_p)
{
    lcx_msg_t *msg = *msg_p;
    self->dispatcher_seen = lcx_mono_ms();
    switch (msg->cmd) {
    case LCX_CMD_STATUS:
        on_status(self, msg_p);
        return;
    case LCX_CMD_ACCEPTED:
    case LCX_CMD_ERROR:
        on_submit_answer(self, msg);
        break;
    case LCX_CMD_UPDATE:
        on_update(self, msg);
        break;
    case LCX_CMD_OUTPUT:
        if (events_output(self->events, msg))
            zlist_append(self->touched, (void *)msg->execution_id.ptr);
        break;
    case LCX_CMD_ADOPT:
        on_adopt(self, msg);
        break;
    default:
        lcx_log(LCX_WARN, "unexpected command from dispatcher", "command", lcx_cmd_name(msg->cmd),
                NULL);
        break;
    }
    lcx_msg_destroy(msg_p);
}

/* ---------------------------------------------------------------------------------------- */
/* Gateway requests                                                                          */

static void on_health(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_HEALTH_REPLY);
    bool up = dispatcher_up(self);
    lcx_msg_set_bool(msg, LCX_F_dispatcher_up, up);
    if (up) lcx_msg_copy_fields(msg, self->status);
    if (!self->caller.anonymous)
        lcx_msg_set_str(msg, LCX_F_caller_role, self->caller.admin ? "admin" : "client");
    reply(self, &msg);
}

/* A cancelled execution keeps the output its stream showed (PROTOCOL.md 6.1,
 * EXECUTION_CANCEL). True when there was some. */
static bool keep_shown_output(server_t *self, const char *execution_id)
{
    lcx_msg_t *shown = lcx_msg_new(LCX_CMD_EXECUTION);
    bool some = events_shown_output(self->events, execution_id, shown) &&
                (shown->stdout.ptr || shown->stderr.ptr);
    if (some) some = store_execution_keep_output(self->store, execution_id, shown) == STORE_OK;
    lcx_msg_destroy(&shown);
    return some;
}

static void on_session(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_SESSION);
    store_rc_t rc = STORE_ERROR;
    char cancelled[LCX_UUID_LEN + 1] = "";
    const char *sid = req->session_id.ptr;
    if (req->cmd == LCX_CMD_SESSION_CREATE)
        rc = store_session_create(self->store, req->language.ptr, req->source_code.ptr,
                                  self->caller.anonymous ? NULL : self->caller.key_id, msg);
    else if (req->cmd == LCX_CMD_SESSION_GET)
        rc = store_session_get(self->store, sid, msg);
    else if (req->cmd == LCX_CMD_SESSION_UPDATE)
        rc = store_session_update(self->store, sid, req->language.ptr, req->source_code.ptr, msg);
    else if (req->cmd == LCX_CMD_SESSION_CLOSE)
        rc = store_session_close(self->store, sid, msg, cancelled);
    if (rc != STORE_OK) {
        lcx_msg_destroy(&msg);
        reply_store_error(self, req, rc, "no session has this id");
        return;
    }
    if (cancelled[0]) {
        lcx_log(LCX_DEBUG, "execution cancelled", "execution_id", cancelled, "session_id", sid,
                "why", "session closed", NULL);
        keep_shown_output(self, cancelled);
        lcx_msg_t *cancel = cancel_of(cancelled);
        to_dispatcher(self, &cancel);
        zlist_append(self->finished, (void *)cancelled);
        note_status(self, cancelled, "CANCELLED", 0);
    }
    reply(self, &msg);
}

static store_run_limits_t run_limits(const server_t *self)
{
    const lcx_settings_t *s = self->settings;
    const access_caller_t *c = &self->caller;
    return (store_run_limits_t){s->run_cooldown_ms,
                                s->runs_per_minute,
                                s->runs_per_session,
                                c->owner[0] ? c->owner : NULL,
                                c->owner_kind,
                                c->quotas.runs_per_minute,
                                c->quotas.concurrent_runs};
}

/* Reply for a RUN the store refused. */
/* The rate_limited ERROR: its detail names the guard, its limit and what lifts it. */
static lcx_msg_t *rate_limited_reply(const lcx_msg_t *req, const store_refusal_t *why)
{
    char detail[200];
    const char *g = why->guard, *message = "this session runs too often";
    long n = why->guard_limit;
    if (strcmp(g, "runs_per_session") == 0)
        snprintf(detail, sizeof detail,
                 "runs_per_session: a session runs at most %ld times; open a new session", n);
    else if (strcmp(g, "runs_per_minute") == 0)
        snprintf(detail, sizeof detail, "runs_per_minute: at most %ld runs a minute", n);
    else if (strcmp(g, "cooldown") == 0)
        snprintf(detail, sizeof detail, "cooldown: at least %ld ms between runs", n);
    else {
        /* A quota: "key_runs_per_minute" is the key's quota runs_per_minute. */
        bool key = strncmp(g, "key_", 4) == 0, minute = strstr(g, "per_minute") != NULL;
        const char *who = key ? "this API key" : "this client address";
        message = key ? "this API key is over a quota" : "this client address is over a quota";
        if (minute)
            snprintf(detail, sizeof detail, "runs_per_minute: %s starts at most %ld runs a minute",
                     who, n);
        else
            snprintf(detail, sizeof detail,
                     "concurrent_runs: %s has at most %ld runs queued or running at once", who, n);
    }
    lcx_msg_t *msg = error_reply(req, "rate_limited", message);
    lcx_msg_list_append(msg, LCX_F_details, detail);
    lcx_msg_set_str(msg, LCX_F_reason, g);
    if (why->retry_after_ms > 0) lcx_msg_set_int(msg, LCX_F_retry_after_ms, why->retry_after_ms);
    return msg;
}

static void reply_run_refused(server_t *self, const lcx_msg_t *req, store_rc_t rc,
                              const store_refusal_t *why)
{
    if (rc == STORE_VERSION_MISMATCH) {
        lcx_msg_t *msg = error_reply(req, "version_mismatch",
                                     "the session's saved version is not the one this run names");
        lcx_msg_set_int(msg, LCX_F_version, why->saved_version);
        reply(self, &msg);
    } else if (rc == STORE_CONFLICT) {
        lcx_msg_t *msg = error_reply(req, "conflict",
                                     "the session already has an execution "
                                     "that is QUEUED or RUNNING");
        lcx_msg_set_str(msg, LCX_F_execution_id, why->active_id);
        reply(self, &msg);
    } else if (rc == STORE_RATE_LIMITED) {
        lcx_msg_t *msg = rate_limited_reply(req, why);
        reply(self, &msg);
    } else {
        reply_store_error(self, req, rc, "no session has this id");
    }
}

/* A RUN is one unit inside the batch: a savepoint around it undoes all of its writes (the
 * execution, and the text it saved) when the store refuses it at once, so a refused run with
 * source_code saves nothing and can be sent again as it was. */
/* A key's max_time_ms and max_memory_mb cap what its runs ask (400 naming the cap) and lower
 * the defaults to the caps. False after replying. */
static bool within_caps(server_t *self, const lcx_msg_t *req, long *time_ms, long *memory_mb)
{
    const keyring_defaults_t *q = &self->caller.quotas;
    const lcx_settings_t *s = self->settings;
    *time_ms = q->max_time_ms > 0 && q->max_time_ms < s->time_ms ? q->max_time_ms : s->time_ms;
    *memory_mb =
        q->max_memory_mb > 0 && q->max_memory_mb < s->memory_mb ? q->max_memory_mb : s->memory_mb;
    char detail[128] = "";
    if (q->max_time_ms > 0 && req->time_ms.set && req->time_ms.v > q->max_time_ms)
        snprintf(detail, sizeof detail,
                 "time_ms: this API key's runs may ask for at most %ld ms "
                 "(its quota max_time_ms)",
                 q->max_time_ms);
    else if (q->max_memory_mb > 0 && req->memory_mb.set && req->memory_mb.v > q->max_memory_mb)
        snprintf(detail, sizeof detail,
                 "memory_mb: this API key's runs may ask for at most %ld MB "
                 "(its quota max_memory_mb)",
                 q->max_memory_mb);
    if (!detail[0]) return true;
    lcx_msg_t *msg = error_reply(req, "invalid", "the run asks for more than its API key allows");
    lcx_msg_list_append(msg, LCX_F_details, detail);
    lcx_msg_set_str(msg, LCX_F_reason, detail[0] == 't' ? "key_max_time_ms" : "key_max_memory_mb");
    reply(self, &msg);
    return false;
}

static void on_run(server_t *self, const lcx_msg_t *req)
{
    long time_ms, memory_mb;
    if (!within_caps(self, req, &time_ms, &memory_mb)) return;
    lcx_msg_t *exec = lcx_msg_reply(req, LCX_CMD_EXECUTION);
    lcx_msg_t *job = lcx_msg_new(LCX_CMD_JOB);
    store_run_limits_t limits = run_limits(self);
    store_refusal_t why = {0};
    bool replayed = false;
    bool savepoint = store_savepoint(self->store) == 0;
    store_rc_t rc = savepoint ? STORE_OK : STORE_ERROR;
    if (savepoint)
        rc = store_execution_create(self->store, req, time_ms, memory_mb, &limits, exec, job,
                                    &replayed, &why);
    bool queued = false;
    if (rc == STORE_OK && !replayed && !dispatcher_up(self)) {
        reply_unavailable(self, req, "the dispatcher is not reachable");
    } else if (rc == STORE_OK && !replayed && !language_served(self, job->language.ptr)) {
        reply_run_unavailable(self, req, NULL, job->language.ptr);
    } else if (rc == STORE_OK && !replayed) {
        queued = true;
        lcx_log(LCX_DEBUG, "execution queued", "execution_id", exec->execution_id.ptr, "session_id",
                req->session_id.ptr, "language", job->language.ptr, NULL);
        job->corr = 1;
        holds_add(self->holds, HOLD_SUBMIT, exec->execution_id.ptr, &exec,
                  lcx_mono_ms() + self->settings->submit_timeout_ms);
        submit_job(self, &job);
    } else if (rc == STORE_OK) {
        queued = true; /* a replay wrote nothing; keep the savepoint's (empty) work */
        reply(self, &exec);
    } else {
        reply_run_refused(self, req, rc, &why);
    }
    if (savepoint) store_savepoint_end(self->store, !queued);
    lcx_msg_destroy(&exec);
    lcx_msg_destroy(&job);
}

static void on_execution_get(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_EXECUTION);
    store_rc_t rc = store_execution_get(self->store, req->execution_id.ptr, msg);
    if (rc != STORE_OK) {
        lcx_msg_destroy(&msg);
        reply_store_error(self, req, rc, "no execution has this id");
        return;
    }
    if (req->wait_ms.v > 0 && !store_status_terminal(msg->status.ptr)) {
        /* Park an empty reply; it is filled from the store when answered. */
        lcx_msg_t *parked = lcx_msg_reply(req, LCX_CMD_EXECUTION);
        holds_add(self->holds, HOLD_WAIT, req->execution_id.ptr, &parked,
                  lcx_mono_ms() + req->wait_ms.v);
        lcx_msg_destroy(&msg);
        return;
    }
    reply(self, &msg);
}

static void on_execution_list(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_EXECUTIONS);
    long limit = req->limit.v > 0 ? (long)req->limit.v : self->settings->list_limit;
    store_rc_t rc =
        store_execution_list(self->store, req->session_id.ptr, limit, req->before.ptr, msg);
    if (rc == STORE_INVALID) {
        lcx_msg_destroy(&msg);
        reply_error(self, req, "invalid", "before: no execution of this session has this id");
        return;
    }
    if (rc != STORE_OK) {
        lcx_msg_destroy(&msg);
        reply_store_error(self, req, rc, "no session has this id");
        return;
    }
    reply(self, &msg);
}

static void on_execution_cancel(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_EXECUTION);
    store_rc_t rc = store_execution_cancel(self->store, req->execution_id.ptr, msg);
    if (rc == STORE_CONFLICT) {
        lcx_msg_destroy(&msg);
        lcx_msg_t *err = error_reply(req, "conflict", "the execution has already finished");
        lcx_msg_set_str(err, LCX_F_execution_id, req->execution_id.ptr);
        reply(self, &err);
        return;
    }
    if (rc != STORE_OK) {
        lcx_msg_destroy(&msg);
        reply_store_error(self, req, rc, "no execution has this id");
        return;
    }
    lcx_log(LCX_DEBUG, "execution cancelled", "execution_id", req->execution_id.ptr, NULL);
    if (keep_shown_output(self, req->execution_id.ptr))
        store_execution_get(self->store, req->execution_id.ptr, msg);
    lcx_msg_t *cancel = cancel_of(req->execution_id.ptr);
    to_dispatcher(self, &cancel);
    zlist_append(self->finished, (void *)req->execution_id.ptr);
    note_status(self, req->execution_id.ptr, "CANCELLED", msg->attempts.v);
    reply(self, &msg);
}

/* Fills an EVENTS reply after reply->after.v. Without a live log (a store restart, or a
 * finished execution's log expired) the database gives the state: a finished execution then
 * answers with its final status as one event. STORE_NOT_FOUND for an unknown execution. */
static store_rc_t fill_events(server_t *self, lcx_msg_t *reply, size_t *count)
{
    const char *id = reply->execution_id.ptr;
    bool known = false, ended = false;
    *count = events_fill(self->events, id, reply->after.v, reply, &known, &ended);
    if (!known) {
        lcx_msg_t *exec = lcx_msg_new(LCX_CMD_EXECUTION);
        store_rc_t rc = store_execution_get(self->store, id, exec);
        if (rc == STORE_OK) {
            events_resume_at(self->events, id, reply->after.v + 1);
            note_status(self, id, exec->status.ptr, exec->attempts.v);
            *count = events_fill(self->events, id, reply->after.v, reply, &known, &ended);
        }
        lcx_msg_destroy(&exec);
        if (rc != STORE_OK) return rc;
    }
    lcx_msg_set_bool(reply, LCX_F_finished, ended);
    if (ended) lcx_msg_set_int(reply, LCX_F_event_id, events_last_id(self->events, id));
    return STORE_OK;
}

/* Answers a parked request with its filled reply, or with the error that kept it from being
 * filled (a request is never dropped unanswered). */
static void answer_parked(server_t *self, lcx_msg_t **parked, store_rc_t rc)
{
    if (rc == STORE_OK)
        reply(self, parked);
    else
        reply_store_error(self, *parked, rc, "no execution has this id");
}

static void on_events_get(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_EVENTS);
    lcx_msg_set_str(msg, LCX_F_execution_id, req->execution_id.ptr);
    lcx_msg_set_int(msg, LCX_F_after, req->after.set ? req->after.v : 0);
    size_t count = 0;
    store_rc_t rc = fill_events(self, msg, &count);
    if (rc != STORE_OK) {
        lcx_msg_destroy(&msg);
        reply_store_error(self, req, rc, "no execution has this id");
        return;
    }
    if (count == 0 && !msg->finished.v && req->wait_ms.v > 0) {
        lcx_msg_clear(msg, LCX_F_items);
        holds_add(self->holds, HOLD_EVENTS, req->execution_id.ptr, &msg,
                  lcx_mono_ms() + req->wait_ms.v);
        return;
    }
    reply(self, &msg);
}

/* The dispatcher's pool as gauges, from its latest STATUS. */
static char *pool_metrics(const server_t *self)
{
    bool up = dispatcher_up(self);
    const lcx_msg_t *s = self->status;
    return zsys_sprintf(
        "# HELP lcx_dispatcher_up Whether the dispatcher answers the session store.\n"
        "# TYPE lcx_dispatcher_up gauge\nlcx_dispatcher_up %d\n"
        "# HELP lcx_queue_depth Jobs waiting for a runner.\n"
        "# TYPE lcx_queue_depth gauge\nlcx_queue_depth %lld\n"
        "# HELP lcx_runners Runners connected to the dispatcher.\n"
        "# TYPE lcx_runners gauge\nlcx_runners %lld\n"
        "# HELP lcx_runner_slots Job slots of all runners.\n"
        "# TYPE lcx_runner_slots gauge\nlcx_runner_slots %lld\n"
        "# HELP lcx_runner_free_slots Job slots free now.\n"
        "# TYPE lcx_runner_free_slots gauge\nlcx_runner_free_slots %lld\n",
        up, up ? (long long)s->queue_depth.v : 0, up ? (long long)s->runners.v : 0,
        up ? (long long)s->slots.v : 0, up ? (long long)s->free_slots.v : 0);
}

/* An operator's drain of one runner: forwarded when the dispatcher's latest STATUS knows it;
 * the answer is that runner's record, now draining. */
static void on_drain(server_t *self, const lcx_msg_t *req)
{
    const lcx_items_t *runners = self->status && dispatcher_up(self) ? &self->status->items : NULL;
    for (size_t i = 0; runners && i < runners->n; i++) {
        if (strcmp(runners->v[i]->runner_id.ptr, req->runner_id.ptr) != 0) continue;
        lcx_msg_t *drain = lcx_msg_new(LCX_CMD_DRAIN);
        lcx_msg_set_str(drain, LCX_F_runner_id, req->runner_id.ptr);
        to_dispatcher(self, &drain);
        lcx_msg_t *record = lcx_msg_dup(runners->v[i]);
        zframe_destroy(&record->routing_id);
        record->routing_id = zframe_dup(req->routing_id);
        record->corr = req->corr;
        lcx_msg_set_bool(record, LCX_F_draining, true);
        reply(self, &record);
        return;
    }
    reply_error(self, req, "not_found", "no connected runner has this name");
}

static void on_metrics(server_t *self, const lcx_msg_t *req)
{
    char *pool = pool_metrics(self), *store = store_metrics(self->store);
    char *text = pool && store ? zsys_sprintf("%s%s", pool, store) : NULL;
    zstr_free(&pool);
    free(store);
    if (!text) {
        reply_error(self, req, "internal", "metrics are not available");
        return;
    }
    lcx_msg_t *msg = lcx_msg_reply(req, LCX_CMD_METRICS_REPLY);
    lcx_msg_set_str(msg, LCX_F_text, text);
    free(text);
    reply(self, &msg);
}

/* The KEY_* commands (keyring.h): a KEY or KEYS, or the ERROR that says why not. */
static void on_key(server_t *self, const lcx_msg_t *req)
{
    lcx_msg_t *out = lcx_msg_reply(req, req->cmd == LCX_CMD_KEY_LIST ? LCX_CMD_KEYS : LCX_CMD_KEY);
    const char *why = NULL;
    store_rc_t rc = STORE_ERROR;
    if (req->cmd == LCX_CMD_KEY_CREATE)
        rc = keyring_create(self->keys, req, out, &why);
    else if (req->cmd == LCX_CMD_KEY_LIST)
        rc = keyring_list(self->keys, out);
    else if (req->cmd == LCX_CMD_KEY_UPDATE)
        rc = keyring_update(self->keys, req, out, &why);
    else if (req->cmd == LCX_CMD_KEY_REVOKE)
        rc = keyring_revoke(self->keys, req->key_id.ptr, out);
    if (rc == STORE_OK) {
        reply(self, &out);
        return;
    }
    lcx_msg_destroy(&out);
    if (rc == STORE_CONFLICT) {
        reply_error(self, req, "conflict", "an API key has this id already");
    } else if (rc == STORE_INVALID) {
        lcx_msg_t *msg = error_reply(req, "invalid", "the request is not valid");
        lcx_msg_list_append(msg, LCX_F_details, why);
        reply(self, &msg);
    } else {
        reply_store_error(self, req, rc, "no API key has this id");
    }
}

/* Who sent req (access.h), in self->caller. False after refusing it. */
static bool authorize(server_t *self, const lcx_msg_t *req)
{
    access_refusal_t refusal = {0};
    store_rc_t rc =
        access_check(self->store, self->keys, self->settings, req, &self->caller, &refusal);
    if (rc == STORE_OK) return true;
    if (rc != STORE_INVALID) {
        reply_store_error(self, req, rc, "");
        return false;
    }
    lcx_msg_t *msg = error_reply(req, refusal.code, refusal.message);
    if (refusal.reason) {
        lcx_msg_set_str(msg, LCX_F_reason, refusal.reason);
        lcx_msg_list_append(msg, LCX_F_details, refusal.reason);
    }
    reply(self, &msg);
    return false;
}

static void handle_frontend(server_t *self, const lcx_msg_t *req)
{
    if (!authorize(self, req)) return;
    switch (req->cmd) {
    case LCX_CMD_HEALTH:
        on_health(self, req);
        break;
    case LCX_CMD_SESSION_CREATE:
    case LCX_CMD_SESSION_GET:
    case LCX_CMD_SESSION_UPDATE:
    case LCX_CMD_SESSION_CLOSE:
        on_session(self, req);
        break;
    case LCX_CMD_RUN:
        on_run(self, req);
        break;
    case LCX_CMD_EXECUTION_GET:
        on_execution_get(self, req);
        break;
    case LCX_CMD_EXECUTION_LIST:
        on_execution_list(self, req);
        break;
    case LCX_CMD_EXECUTION_CANCEL:
        on_execution_cancel(self, req);
        break;
    case LCX_CMD_EVENTS_GET:
        on_events_get(self, req);
        break;
    case LCX_CMD_METRICS:
        on_metrics(self, req);
        break;
    case LCX_CMD_DRAIN:
        on_drain(self, req);
        break;
    case LCX_CMD_KEY_CREATE:
    case LCX_CMD_KEY_LIST:
    case LCX_CMD_KEY_UPDATE:
    case LCX_CMD_KEY_REVOKE:
        on_key(self, req);
        break;
    default:
        reply_error(self, req, "invalid", "this command is not served by the session store");
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The loop                                                                                  */

/* Answers every waiting EXECUTION_GET of each execution that finished in this batch. */
static void wake_waiters(server_t *self)
{
    char *id;
    while ((id = zlist_pop(self->finished))) {
        lcx_msg_t *parked;
        while ((parked = holds_take(self->holds, HOLD_WAIT, id))) {
            answer_parked(self, &parked, store_execution_get(self->store, id, parked));
            lcx_msg_destroy(&parked);
        }
        free(id);
    }
}

/* Answers every waiting EVENTS_GET of each execution that has new events. */
static void wake_event_waiters(server_t *self)
{
    char *id;
    while ((id = zlist_pop(self->touched))) {
        lcx_msg_t *parked;
        size_t count;
        while ((parked = holds_take(self->holds, HOLD_EVENTS, id))) {
            answer_parked(self, &parked, fill_events(self, parked, &count));
            lcx_msg_destroy(&parked);
        }
        free(id);
    }
}

/* Deadlines: a waiter gets the execution as it is; an unanswered RUN gets 503. */
static void expire_holds(server_t *self)
{
    hold_kind_t kind;
    char id[LCX_UUID_LEN + 1];
    lcx_msg_t *parked;
    while ((parked = holds_take_expired(self->holds, lcx_mono_ms(), &kind, id))) {
        size_t count;
        if (kind == HOLD_WAIT) {
            answer_parked(self, &parked, store_execution_get(self->store, id, parked));
        } else if (kind == HOLD_EVENTS) {
            answer_parked(self, &parked, fill_events(self, parked, &count));
        } else {
            store_execution_discard(self->store, id);
            lcx_log(LCX_WARN, "dispatcher did not take the job in time", "execution_id", id, NULL);
            lcx_msg_t *cancel = cancel_of(id);
            to_dispatcher(self, &cancel);
            reply_run_unavailable(self, parked, "the dispatcher did not answer in time", NULL);
        }
        lcx_msg_destroy(&parked);
    }
}

static void timers(server_t *self)
{
    int64_t now = lcx_mono_ms();
    if (now >= self->next_heartbeat) {
        lcx_msg_t *beat = lcx_msg_new(LCX_CMD_HEARTBEAT);
        to_dispatcher(self, &beat);
        self->next_heartbeat = now + self->settings->heartbeat_ms;
    }
    if (self->status && now >= self->next_reconcile && dispatcher_up(self)) reconcile(self);
    expire_holds(self);
    events_expire(self->events, now);
}

/* Reads one message from sock and handles it; false when nothing was waiting. */
static bool handle_one(server_t *self, zsock_t *sock)
{
    if (!(zsock_events(sock) & ZMQ_POLLIN)) return false;
    char err[256];
    lcx_msg_t *msg = lcx_msg_recv(sock, err, sizeof err);
    if (!msg) {
        if (err[0])
            lcx_log(LCX_WARN, "malformed message dropped", "peer",
                    sock == self->frontend ? "gateway" : "dispatcher", "error", err, NULL);
        return err[0] != '\0';
    }
    if (sock == self->frontend)
        handle_frontend(self, msg);
    else
        handle_dispatcher(self, &msg);
    lcx_msg_destroy(&msg);
    return true;
}

#define BEGIN_BACKOFF_MAX_MS 1000

/* BEGIN failed (the write lock still taken after store_busy_ms, an I/O error). No message can
 * be handled, since each may write, so they wait in their sockets; but the timers run
 * (turn_without_store), so the dispatcher keeps hearing heartbeats and held requests still
 * expire. The next try backs off, and only the first failure of a streak is logged. */
static void begin_failed(server_t *self, const char *why)
{
    if (!self->begin_backoff_ms)
        lcx_log(LCX_ERROR, "the database refused a transaction; retrying", "error", why, NULL);
    self->begin_backoff_ms = self->begin_backoff_ms ? self->begin_backoff_ms * 2 : 50;
    if (self->begin_backoff_ms > BEGIN_BACKOFF_MAX_MS)
        self->begin_backoff_ms = BEGIN_BACKOFF_MAX_MS;
    self->next_begin = lcx_mono_ms() + self->begin_backoff_ms;
}

/* A turn without a transaction: the timers, and what they produced, at once. */
static void turn_without_store(server_t *self)
{
    timers(self);
    send_all(self->to_frontend, self->frontend, "gateway");
    send_all(self->to_dispatcher, self->dispatcher, "dispatcher");
}

/* Starts the turn's transaction; false (after begin_failed) when it cannot. */
static bool begin(server_t *self)
{
    char why[256];
    bool waiting = self->begin_backoff_ms && lcx_mono_ms() < self->next_begin;
    if (waiting || store_begin(self->store, why, sizeof why) != 0) {
        if (!waiting) begin_failed(self, why);
        turn_without_store(self);
        return false;
    }
    if (self->begin_backoff_ms) lcx_log(LCX_INFO, "the database takes transactions again", NULL);
    self->begin_backoff_ms = 0;
    return true;
}

/* One turn: every waiting message in one transaction, then the replies. */
static void turn(server_t *self)
{
    if (!begin(self)) return;
    int handled = 0;
    bool more = true;
    while (more && handled < BATCH_MAX) {
        more = false;
        if (handle_one(self, self->frontend)) more = true, handled++;
        if (handle_one(self, self->dispatcher)) more = true, handled++;
    }
    timers(self);
    wake_waiters(self);
    wake_event_waiters(self);
    if (store_commit(self->store) != 0) {
        /* Nothing of this batch is durable (a full disk, an I/O error): its callers hear at
         * once that they may retry, rather than at their timeout; the dispatcher resends what
         * it sent, since nothing is acknowledged. */
        store_rollback(self->store);
        keyring_forget(self->keys);
        send_all_unsaved(self);
        drop_all(self->to_dispatcher);
        retract_jobs(self);
        return;
    }
    zlist_purge(self->submitted);
    send_all(self->to_frontend, self->frontend, "gateway");
    send_all(self->to_dispatcher, self->dispatcher, "dispatcher");
}

int server_run(server_t *self)
{
    zpoller_t *poller = zpoller_new(self->frontend, self->dispatcher, NULL);
    if (!poller) return -1;
    lcx_log(LCX_INFO, "session store ready", "endpoint", self->settings->session_endpoint,
            "dispatcher", self->settings->dispatcher_endpoint, NULL);
    while (!zsys_interrupted) {
        /* While BEGIN fails the sockets stay readable: sleeping instead of polling them keeps
         * the loop from spinning. */
        if (self->begin_backoff_ms)
            zclock_sleep(20);
        else
            zpoller_wait(poller, 50);
        if (zpoller_terminated(poller)) break;
        turn(self);
    }
    zpoller_destroy(&poller);
    lcx_log(LCX_INFO, "session store stopping", NULL);
    return 0;
}
