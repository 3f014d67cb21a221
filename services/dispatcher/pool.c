/* pool: the live runners (see pool.h). */
#include "pool.h"
#include "alloc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Most connections remembered as refused at once: beyond, a refused one is a stranger at once. */
#define REFUSED_MAX 4096

struct pool_t {
    zlist_t *runners; /* of runner_t */
    int64_t liveness_ms;
    uint64_t last_serial;
    zhashx_t *refused; /* routing id in hex -> int64_t *until (monotonic ms) */
};

static void free_until(void **item)
{
    free(*item);
    *item = NULL;
}

pool_t *pool_new(int64_t liveness_ms)
{
    pool_t *self = lcx_calloc(1, sizeof *self);
    self->runners = zlist_new();
    self->liveness_ms = liveness_ms;
    self->refused = zhashx_new();
    zhashx_set_destructor(self->refused, free_until);
    return self;
}

void runner_free(runner_t **runner_p)
{
    if (!runner_p || !*runner_p) return;
    runner_t *runner = *runner_p;
    zframe_destroy(&runner->identity);
    zlist_destroy(&runner->languages);
    zlist_destroy(&runner->versions);
    free(runner->name);
    free(runner->sandbox);
    free(runner);
    *runner_p = NULL;
}

void pool_destroy(pool_t **self_p)
{
    if (!self_p || !*self_p) return;
    pool_t *self = *self_p;
    runner_t *runner;
    while ((runner = zlist_pop(self->runners)))
        runner_free(&runner);
    zlist_destroy(&self->runners);
    zhashx_destroy(&self->refused);
    free(self);
    *self_p = NULL;
}

runner_t *pool_find(pool_t *self, zframe_t *identity)
{
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners))
        if (zframe_eq(r->identity, identity)) return r;
    return NULL;
}

static zlist_t *string_list(const lcx_list_t *from)
{
    zlist_t *list = zlist_new();
    zlist_autofree(list);
    for (size_t i = 0; i < from->n; i++)
        zlist_append(list, from->v[i]);
    return list;
}

const char *pool_ready_problem(const lcx_msg_t *ready)
{
    if (ready->slots.v < 1 || ready->slots.v > POOL_MAX_SLOTS) return "bad slot count";
    if ((int64_t)ready->running.n > ready->slots.v) return "more running jobs than slots";
    return NULL;
}

runner_t *pool_join(pool_t *self, const lcx_msg_t *ready)
{
    runner_t *runner = pool_find(self, ready->routing_id);
    if (runner) {
        zlist_remove(self->runners, runner);
        runner_free(&runner);
    }
    runner = lcx_calloc(1, sizeof *runner);
    runner->identity = zframe_dup(ready->routing_id);
    runner->name = lcx_strdup(ready->runner_id.ptr);
    runner->slots = (int)ready->slots.v;
    runner->languages = string_list(&ready->languages);
    runner->versions = string_list(&ready->versions);
    runner->sandbox = lcx_strdup(ready->sandbox.ptr ? ready->sandbox.ptr : "unknown");
    runner->serial = ++self->last_serial;
    zlist_append(self->runners, runner);
    pool_touch(self, runner);
    return runner;
}

void pool_touch(pool_t *self, runner_t *runner)
{
    runner->expires = lcx_mono_ms() + self->liveness_ms;
}

static bool runner_serves(runner_t *runner, const char *language)
{
    for (char *l = zlist_first(runner->languages); l; l = zlist_next(runner->languages))
        if (strcmp(l, language) == 0) return true;
    return false;
}

bool pool_serves(pool_t *self, const char *language)
{
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners))
        if (!r->draining && runner_serves(r, language)) return true;
    return false;
}

runner_t *pool_pick(pool_t *self, const char *language)
{
    runner_t *best = NULL;
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners)) {
        int free_slots = r->slots - r->assigned;
        if (r->draining || free_slots <= 0 || !runner_serves(r, language)) continue;
        if (!best || free_slots > best->slots - best->assigned) best = r;
    }
    return best;
}

runner_t *pool_take_expired(pool_t *self, int64_t now)
{
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners)) {
        if (r->expires > now) continue;
        zlist_remove(self->runners, r);
        return r;
    }
    return NULL;
}

runner_t *pool_remove(pool_t *self, runner_t *runner)
{
    zlist_remove(self->runners, runner);
    return runner;
}

runner_t *pool_first(pool_t *self)
{
    return zlist_first(self->runners);
}

runner_t *pool_next(pool_t *self)
{
    return zlist_next(self->runners);
}

/* Appends text to a LIST field unless it is there already. */
static void append_unique(lcx_msg_t *msg, lcx_field_t field, const lcx_list_t *list,
                          const char *text)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->v[i], text) == 0) return;
    lcx_msg_list_append(msg, field, text);
}

/* One runner as a RUNNER record, for the operator's view. */
static lcx_msg_t *runner_record(runner_t *r)
{
    lcx_msg_t *item = lcx_msg_new(LCX_CMD_RUNNER);
    lcx_msg_set_str(item, LCX_F_runner_id, r->name);
    lcx_msg_set_int(item, LCX_F_slots, r->slots);
    lcx_msg_set_int(item, LCX_F_free_slots, r->slots > r->assigned ? r->slots - r->assigned : 0);
    lcx_msg_set_bool(item, LCX_F_draining, r->draining);
    lcx_msg_set_str(item, LCX_F_sandbox, r->sandbox);
    lcx_msg_list_touch(item, LCX_F_languages);
    for (char *l = zlist_first(r->languages); l; l = zlist_next(r->languages))
        lcx_msg_list_append(item, LCX_F_languages, l);
    return item;
}

runner_t *pool_find_name(pool_t *self, const char *name)
{
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners))
        if (strcmp(r->name, name) == 0) return r;
    return NULL;
}

runner_t *pool_find_serial(pool_t *self, uint64_t serial)
{
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners))
        if (r->serial == serial) return r;
    return NULL;
}

void pool_refuse(pool_t *self, zframe_t *identity, int64_t until)
{
    if (zhashx_size(self->refused) >= REFUSED_MAX) return;
    int64_t *value = lcx_malloc(sizeof *value);
    *value = until;
    char *key = zframe_strhex(identity);
    zhashx_update(self->refused, key, value);
    free(key);
}

bool pool_refused(pool_t *self, zframe_t *identity, int64_t now)
{
    char *key = zframe_strhex(identity);
    const int64_t *until = zhashx_lookup(self->refused, key);
    bool refused = until && now < *until;
    if (until && !refused) zhashx_delete(self->refused, key);
    free(key);
    return refused;
}

void pool_forget_refused(pool_t *self, int64_t now)
{
    zlistx_t *keys = zhashx_keys(self->refused);
    for (const char *key = zlistx_first(keys); key; key = zlistx_next(keys)) {
        const int64_t *until = zhashx_lookup(self->refused, key);
        if (until && now >= *until) zhashx_delete(self->refused, key);
    }
    zlistx_destroy(&keys);
}

size_t pool_refused_count(pool_t *self)
{
    return zhashx_size(self->refused);
}

void pool_describe(pool_t *self, lcx_msg_t *status)
{
    int64_t slots = 0, free_slots = 0;
    lcx_msg_list_touch(status, LCX_F_languages);
    lcx_msg_list_touch(status, LCX_F_versions);
    lcx_msg_list_touch(status, LCX_F_sandboxes);
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners)) {
        slots += r->slots;
        if (!r->draining) free_slots += r->slots - r->assigned > 0 ? r->slots - r->assigned : 0;
        for (char *l = zlist_first(r->languages); l; l = zlist_next(r->languages))
            if (!r->draining) append_unique(status, LCX_F_languages, &status->languages, l);
        for (char *v = zlist_first(r->versions); v; v = zlist_next(r->versions))
            append_unique(status, LCX_F_versions, &status->versions, v);
        append_unique(status, LCX_F_sandboxes, &status->sandboxes, r->sandbox);
    }
    lcx_msg_list_touch(status, LCX_F_items);
    for (runner_t *r = zlist_first(self->runners); r; r = zlist_next(self->runners)) {
        lcx_msg_t *item = runner_record(r);
        if (item) lcx_msg_items_append(status, &item);
    }
    lcx_msg_set_int(status, LCX_F_runners, (int64_t)zlist_size(self->runners));
    lcx_msg_set_int(status, LCX_F_slots, slots);
    lcx_msg_set_int(status, LCX_F_free_slots, free_slots);
}
