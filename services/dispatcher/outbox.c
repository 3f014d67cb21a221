/* outbox: updates resent until the store acknowledges them (see outbox.h). */
#include "outbox.h"
#include "alloc.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char key[96]; /* execution_id/attempt/status */
    lcx_msg_t *update;
    int64_t due;
} entry_t;

struct outbox_t {
    zsock_t *sock;
    zframe_t *identity;
    int64_t interval_ms;
    zlistx_t *entries; /* of entry_t, oldest first, so updates go out in order */
};

static void entry_free(void **item)
{
    entry_t *entry = *item;
    if (!entry) return;
    lcx_msg_destroy(&entry->update);
    free(entry);
    *item = NULL;
}

outbox_t *outbox_new(zsock_t *store_socket, const char *store_identity, int64_t interval_ms)
{
    outbox_t *self = lcx_calloc(1, sizeof *self);
    self->sock = store_socket;
    self->identity = zframe_new(store_identity, strlen(store_identity));
    self->interval_ms = interval_ms;
    self->entries = zlistx_new();
    zlistx_set_destructor(self->entries, entry_free);
    return self;
}

void outbox_destroy(outbox_t **self_p)
{
    if (!self_p || !*self_p) return;
    outbox_t *self = *self_p;
    zlistx_destroy(&self->entries);
    zframe_destroy(&self->identity);
    free(self);
    *self_p = NULL;
}

static void make_key(char *key, size_t size, const char *id, int64_t attempt, const char *status)
{
    snprintf(key, size, "%s/%lld/%s", id, (long long)attempt, status);
}

/* Sends a copy; the entry keeps the original for the next resend. */
static void send_entry(outbox_t *self, entry_t *entry, int64_t now)
{
    lcx_msg_t *copy = lcx_msg_dup(entry->update);
    entry->due = now + self->interval_ms;
    zframe_destroy(&copy->routing_id);
    copy->routing_id = zframe_dup(self->identity);
    char err[256];
    if (lcx_msg_send(&copy, self->sock, err, sizeof err) != 0)
        lcx_log(LCX_DEBUG, "update not delivered yet", "key", entry->key, "error", err, NULL);
}

void outbox_post(outbox_t *self, lcx_msg_t **update_p)
{
    entry_t *entry = lcx_calloc(1, sizeof *entry);
    lcx_msg_t *u = *update_p;
    make_key(entry->key, sizeof entry->key, u->execution_id.ptr, u->attempt.v, u->status.ptr);
    entry->update = u;
    *update_p = NULL;
    zlistx_add_end(self->entries, entry);
    send_entry(self, entry, lcx_mono_ms());
}

void outbox_ack(outbox_t *self, const lcx_msg_t *ack)
{
    char key[96];
    make_key(key, sizeof key, ack->execution_id.ptr, ack->attempt.v, ack->status.ptr);
    for (entry_t *e = zlistx_first(self->entries); e; e = zlistx_next(self->entries)) {
        if (strcmp(e->key, key) != 0) continue;
        zlistx_delete(self->entries, zlistx_cursor(self->entries));
        return;
    }
}

void outbox_flush(outbox_t *self, int64_t now)
{
    for (entry_t *e = zlistx_first(self->entries); e; e = zlistx_next(self->entries))
        if (e->due <= now) send_entry(self, e, now);
}

bool outbox_holds(outbox_t *self, const char *execution_id)
{
    size_t len = strlen(execution_id);
    for (entry_t *e = zlistx_first(self->entries); e; e = zlistx_next(self->entries))
        if (strncmp(e->key, execution_id, len) == 0 && e->key[len] == '/') return true;
    return false;
}
