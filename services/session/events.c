/* events: per-execution event logs in memory (see events.h). */
#include "events.h"
#include "alloc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zlistx_t *events; /* of lcx_msg_t (EVENT records), oldest first */
    int64_t next_id;
    int64_t attempt;  /* the attempt whose output is being logged */
    int64_t bytes[2]; /* stdout and stderr bytes logged in this attempt */
    int64_t ended_at; /* monotonic ms of the final status, 0 while running */
} log_t;

#define EVENTS_REPLY_BYTES (4 * 1024 * 1024) /* output bytes in one EVENTS reply, at most */

struct events_t {
    zhashx_t *logs; /* execution_id -> log_t */
    zlist_t *ended; /* ids of ended logs, in the order they ended: the next to expire first */
    int64_t keep_ms;
};

static void log_free(void **item)
{
    log_t *log = *item;
    if (!log) return;
    zlistx_destroy(&log->events);
    free(log);
    *item = NULL;
}

static void event_free(void **item)
{
    lcx_msg_destroy((lcx_msg_t **)item);
}

events_t *events_new(int64_t keep_ms)
{
    events_t *self = lcx_calloc(1, sizeof *self);
    self->logs = zhashx_new();
    zhashx_set_destructor(self->logs, log_free);
    self->ended = zlist_new();
    zlist_autofree(self->ended); /* zlist_append copies each id */
    self->keep_ms = keep_ms;
    return self;
}

void events_destroy(events_t **self_p)
{
    if (!self_p || !*self_p) return;
    zhashx_destroy(&(*self_p)->logs);
    zlist_destroy(&(*self_p)->ended);
    free(*self_p);
    *self_p = NULL;
}

static log_t *log_of(events_t *self, const char *execution_id)
{
    log_t *log = zhashx_lookup(self->logs, execution_id);
    if (log) return log;
    log = lcx_calloc(1, sizeof *log);
    log->events = zlistx_new();
    zlistx_set_destructor(log->events, event_free);
    log->next_id = 1;
    zhashx_insert(self->logs, execution_id, log);
    return log;
}

static lcx_msg_t *append(log_t *log, const char *kind)
{
    lcx_msg_t *event = lcx_msg_new(LCX_CMD_EVENT);
    lcx_msg_set_int(event, LCX_F_event_id, log->next_id++);
    lcx_msg_set_str(event, LCX_F_kind, kind);
    zlistx_add_end(log->events, event);
    return event;
}

void events_status(events_t *self, const char *execution_id, const char *status, int64_t attempt)
{
    log_t *log = log_of(self, execution_id);
    if (!log || log->ended_at) return;
    if (attempt > 0 && attempt != log->attempt) { /* a new attempt starts its output anew */
        log->attempt = attempt;
        log->bytes[0] = log->bytes[1] = 0;
    }
    lcx_msg_t *event = append(log, "status");
    lcx_msg_set_str(event, LCX_F_status, status);
    lcx_msg_set_int(event, LCX_F_attempt, attempt);
    if (store_status_terminal(status)) {
        log->ended_at = lcx_mono_ms();
        zlist_append(self->ended, (void *)execution_id);
    }
}

/* The log of a message's execution while it logs output of the message's attempt, else NULL. */
static log_t *open_log(events_t *self, const lcx_msg_t *msg)
{
    log_t *log = zhashx_lookup(self->logs, msg->execution_id.ptr);
    return log && !log->ended_at && msg->attempt.v == log->attempt ? log : NULL;
}

static void add_output(log_t *log, int stream, const char *data, size_t len)
{
    static const char *const kinds[2] = {"stdout", "stderr"};
    lcx_msg_t *event = append(log, kinds[stream]);
    lcx_msg_set_bytes(event, LCX_F_data, data, len);
    log->bytes[stream] += (int64_t)len;
}

bool events_output(events_t *self, const lcx_msg_t *output)
{
    log_t *log = open_log(self, output);
    bool is_stdout = strcmp(output->stream.ptr, "stdout") == 0;
    if (!log || (!is_stdout && strcmp(output->stream.ptr, "stderr") != 0)) return false;
    int stream = is_stdout ? 0 : 1;
    if (output->offset.v != log->bytes[stream]) return false;
    add_output(log, stream, output->data.ptr, output->data.len);
    return true;
}

bool events_final_output(events_t *self, const lcx_msg_t *update)
{
    log_t *log = open_log(self, update);
    const lcx_buf_t *streams[2] = {&update->stdout, &update->stderr};
    bool added = false;
    for (int s = 0; log && s < 2; s++) {
        int64_t held = log->bytes[s];
        if (!streams[s]->ptr || (int64_t)streams[s]->len <= held) continue;
        add_output(log, s, streams[s]->ptr + held, streams[s]->len - (size_t)held);
        added = true;
    }
    return added;
}

size_t events_fill(events_t *self, const char *execution_id, int64_t after, lcx_msg_t *reply,
                   bool *known, bool *ended)
{
    log_t *log = zhashx_lookup(self->logs, execution_id);
    *known = log != NULL;
    *ended = log && log->ended_at;
    lcx_msg_list_touch(reply, LCX_F_items);
    size_t count = 0, bytes = 0;
    for (lcx_msg_t *e = log ? zlistx_first(log->events) : NULL; e; e = zlistx_next(log->events)) {
        if (e->event_id.v <= after) continue;
        /* One reply stays well inside a frame; the rest comes with the next poll. */
        if (count == LCX_PROTO_MAX_LIST || bytes + e->data.len > EVENTS_REPLY_BYTES) {
            *ended = false;
            break;
        }
        lcx_msg_t *copy = lcx_msg_dup(e);
        lcx_msg_items_append(reply, &copy);
        count++, bytes += e->data.len;
    }
    return count;
}

int64_t events_last_id(events_t *self, const char *execution_id)
{
    const log_t *log = zhashx_lookup(self->logs, execution_id);
    return log ? log->next_id - 1 : 0;
}

bool events_shown_output(events_t *self, const char *execution_id, lcx_msg_t *into)
{
    log_t *log = zhashx_lookup(self->logs, execution_id);
    if (!log) return false;
    /* The latest attempt's chunks follow its last status event that started an attempt. */
    zchunk_t *streams[2] = {zchunk_new(NULL, 0), zchunk_new(NULL, 0)};
    int64_t attempt = -1;
    for (lcx_msg_t *e = zlistx_first(log->events); e; e = zlistx_next(log->events)) {
        if (strcmp(e->kind.ptr, "status") == 0) {
            if (e->attempt.v > 0 && e->attempt.v != attempt) {
                attempt = e->attempt.v;
                zchunk_set(streams[0], NULL, 0);
                zchunk_set(streams[1], NULL, 0);
            }
            continue;
        }
        zchunk_extend(streams[strcmp(e->kind.ptr, "stdout") == 0 ? 0 : 1], e->data.ptr,
                      e->data.len);
    }
    static const lcx_field_t fields[2] = {LCX_F_stdout, LCX_F_stderr};
    for (int s = 0; s < 2; s++) {
        if (zchunk_size(streams[s]) > 0)
            lcx_msg_set_bytes(into, fields[s], zchunk_data(streams[s]), zchunk_size(streams[s]));
        zchunk_destroy(&streams[s]);
    }
    return true;
}

/* Logs end once and keep_ms is fixed, so they expire in the order they ended: the scan stops
 * at the first one still kept, and a turn with nothing to expire costs one look. */
void events_expire(events_t *self, int64_t now)
{
    const char *id;
    while ((id = zlist_first(self->ended))) {
        const log_t *log = zhashx_lookup(self->logs, id);
        if (log && now - log->ended_at <= self->keep_ms) break;
        zhashx_delete(self->logs, id);
        free(zlist_pop(self->ended));
    }
}

void events_resume_at(events_t *self, const char *execution_id, int64_t next_id)
{
    if (zhashx_lookup(self->logs, execution_id)) return;
    log_t *log = log_of(self, execution_id);
    if (log && next_id > 1) log->next_id = next_id;
}
