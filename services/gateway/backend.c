/* backend: calls to the session store (see backend.h). */
#include "backend.h"
#include "alloc.h"
#include "curve.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>

typedef struct {
    uint64_t corr;
    int64_t deadline;
    backend_fn *fn;
    void *arg;
} call_t;

struct backend_t {
    curve_t *curve;
    zsock_t *sock;
    zactor_t *monitor; /* zmonitor of sock: DISCONNECTED events */
    uint64_t next_corr;
    zhashx_t *calls;    /* corr (as key) -> call_t */
    zhashx_t *per_arg;  /* arg (as key) -> its number of calls in flight (as value) */
    int64_t next_check; /* monotonic ms before which no call expires (-1: none in flight) */
};

static size_t key_hash(const void *key)
{
    return (size_t)(uintptr_t)key;
}

static int key_cmp(const void *a, const void *b)
{
    return a == b ? 0 : (uintptr_t)a < (uintptr_t)b ? -1 : 1;
}

static void call_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* A hash table keyed by the pointer or number itself, owning neither keys nor values. */
static zhashx_t *plain_table(void)
{
    zhashx_t *table = zhashx_new();
    if (!table) return NULL;
    zhashx_set_key_hasher(table, key_hash);
    zhashx_set_key_comparator(table, key_cmp);
    zhashx_set_key_duplicator(table, NULL);
    zhashx_set_key_destructor(table, NULL);
    return table;
}

static zactor_t *start_monitor(zsock_t *sock)
{
    zactor_t *monitor = zactor_new(zmonitor, sock);
    if (!monitor) return NULL;
    zstr_sendx(monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx(monitor, "START", NULL);
    if (zsock_wait(monitor) != 0) zactor_destroy(&monitor);
    return monitor;
}

backend_t *backend_new(const char *endpoint, const char *curve_dir, const char *curve_secret,
                       char *err, size_t errlen)
{
    backend_t *self = lcx_calloc(1, sizeof *self);
    self->next_corr = 1;
    self->next_check = -1;
    self->calls = plain_table();
    self->per_arg = plain_table();
    if (!self->calls || !self->per_arg) {
        backend_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->calls, call_free);
    self->curve = curve_new(curve_dir, "gateway", curve_secret, false, err, errlen);
    self->sock = self->curve ? zsock_new(ZMQ_DEALER) : NULL;
    if (self->sock && curve_client(self->curve, self->sock, "session", err, errlen) != 0) {
        backend_destroy(&self);
        return NULL;
    }
    if (self->sock) {
        zsock_set_immediate(self->sock, 1); /* fail fast while the store is away */
        zsock_set_linger(self->sock, 0);
        zsock_set_sndhwm(self->sock, 100000);
        zsock_set_rcvhwm(self->sock, 100000);
        zsock_set_maxmsgsize(self->sock, LCX_PROTO_MAX_FRAME + 1024);
        zsock_set_reconnect_ivl_max(self->sock, 1000);
    }
    if (self->sock && !(self->monitor = start_monitor(self->sock))) {
        snprintf(err, errlen, "cannot monitor the session store socket");
        backend_destroy(&self);
        return NULL;
    }
    if (!self->sock || zsock_connect(self->sock, "%s", endpoint) != 0) {
        if (self->curve)
            snprintf(err, errlen, "cannot connect to the session store at %s", endpoint);
        backend_destroy(&self);
    }
    return self;
}

void backend_destroy(backend_t **self_p)
{
    if (!self_p || !*self_p) return;
    backend_t *self = *self_p;
    zhashx_destroy(&self->calls);
    zhashx_destroy(&self->per_arg);
    zactor_destroy(&self->monitor);
    zsock_destroy(&self->sock);
    curve_destroy(&self->curve);
    free(self);
    *self_p = NULL;
}

zsock_t *backend_socket(backend_t *self)
{
    return self->sock;
}

void backend_call(backend_t *self, lcx_msg_t **request_p, int64_t timeout_ms, backend_fn *fn,
                  void *arg)
{
    uint64_t corr = self->next_corr++;
    lcx_cmd_t cmd = (*request_p)->cmd;
    (*request_p)->corr = corr;
    char err[256];
    if (lcx_msg_send(request_p, self->sock, err, sizeof err) != 0) {
        lcx_log(LCX_WARN, "session store unreachable", "command", lcx_cmd_name(cmd), "error", err,
                NULL);
        fn(arg, NULL);
        return;
    }
    call_t *call = lcx_calloc(1, sizeof *call);
    *call = (call_t){corr, lcx_mono_ms() + timeout_ms, fn, arg};
    zhashx_insert(self->calls, (void *)(uintptr_t)corr, call);
    uintptr_t count = (uintptr_t)zhashx_lookup(self->per_arg, arg);
    zhashx_update(self->per_arg, arg, (void *)(count + 1));
    if (self->next_check < 0 || call->deadline < self->next_check)
        self->next_check = call->deadline;
}

/* Removes the call (without running it). */
static void remove_call(backend_t *self, call_t *call)
{
    uintptr_t count = (uintptr_t)zhashx_lookup(self->per_arg, call->arg);
    if (count > 1)
        zhashx_update(self->per_arg, call->arg, (void *)(count - 1));
    else
        zhashx_delete(self->per_arg, call->arg);
    zhashx_delete(self->calls, (void *)(uintptr_t)call->corr);
}

/* Every answered request asks this; only one that closed while waiting has calls to drop. */
void backend_forget(backend_t *self, void *arg)
{
    if (!zhashx_lookup(self->per_arg, arg)) return;
    zlistx_t *keys = zhashx_keys(self->calls);
    for (void *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        call_t *call = zhashx_lookup(self->calls, key);
        if (call && call->arg == arg) remove_call(self, call);
    }
    zlistx_destroy(&keys);
}

/* Removes the call and runs its callback. */
static void complete(backend_t *self, call_t *call, const lcx_msg_t *reply)
{
    call_t done = *call;
    remove_call(self, call);
    done.fn(done.arg, reply);
}

void backend_receive(backend_t *self)
{
    char err[256];
    while (zsock_events(self->sock) & ZMQ_POLLIN) {
        lcx_msg_t *reply = lcx_msg_recv(self->sock, err, sizeof err);
        if (!reply) {
            if (err[0]) lcx_log(LCX_WARN, "malformed reply dropped", "error", err, NULL);
            if (!err[0]) return;
            continue;
        }
        call_t *call = zhashx_lookup(self->calls, (void *)(uintptr_t)reply->corr);
        if (call) complete(self, call, reply); /* else: a reply after its timeout */
        lcx_msg_destroy(&reply);
    }
}

/* Scans the calls only once the earliest deadline is due. next_check may be earlier than the
 * earliest call still in flight (that call was answered since), never later. */
int64_t backend_expire(backend_t *self)
{
    int64_t now = lcx_mono_ms();
    if (self->next_check < 0 || now < self->next_check)
        return self->next_check < 0 ? -1 : self->next_check - now;
    int64_t next = -1;
    zlistx_t *expired = zlistx_new();
    for (call_t *call = zhashx_first(self->calls); call; call = zhashx_next(self->calls)) {
        if (call->deadline <= now)
            zlistx_add_end(expired, (void *)(uintptr_t)call->corr);
        else if (next < 0 || call->deadline < next)
            next = call->deadline;
    }
    self->next_check = next; /* callbacks below that call again lower it (backend_call) */
    for (void *key = zlistx_first(expired); key; key = zlistx_next(expired)) {
        call_t *call = zhashx_lookup(self->calls, key);
        if (call) complete(self, call, NULL);
    }
    zlistx_destroy(&expired);
    return self->next_check < 0 ? -1 : self->next_check > now ? self->next_check - now : 0;
}

zsock_t *backend_monitor(backend_t *self)
{
    return zactor_sock(self->monitor);
}

void backend_monitor_event(backend_t *self)
{
    zmsg_t *event = zmsg_recv(self->monitor);
    char *name = event ? zmsg_popstr(event) : NULL;
    if (name && streq(name, "DISCONNECTED") && zhashx_size(self->calls)) {
        lcx_log(LCX_WARN, "session store connection lost: failing calls in flight",
                LCX_LOG_INT("calls", zhashx_size(self->calls)), NULL);
        zlistx_t *keys = zhashx_keys(self->calls);
        for (void *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
            call_t *call = zhashx_lookup(self->calls, key);
            if (call) complete(self, call, NULL);
        }
        zlistx_destroy(&keys);
    }
    zstr_free(&name);
    zmsg_destroy(&event);
}
