/*
 * lcx_proto: encode and strictly decode lcx messages (see lcx_proto.h and PROTOCOL.md).
 */
#include "lcx_proto.h"
#include "alloc.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A set of fields, one bit each (gcc and clang have 128-bit integers on every lcx target). */
__extension__ typedef unsigned __int128 field_mask_t;
_Static_assert(LCX_F_COUNT <= 128, "field masks are 128 bits");

/* ---------------------------------------------------------------------------------------- */
/* Tables: commands, fields, schemas                                                         */

static const char *const cmd_names[LCX_CMD_COUNT] = {[LCX_CMD_NONE] = "NONE",
#define LCX_X_NAME(name) [LCX_CMD_##name] = #name,
                                                     LCX_COMMANDS(LCX_X_NAME)
#undef LCX_X_NAME
};

typedef struct {
    const char *name;
    lcx_type_t type;
    size_t offset;
} field_def_t;

static const field_def_t field_defs[LCX_F_COUNT] = {
#define LCX_X_DEF(name, type) {#name, LCX_T_##type, offsetof(lcx_msg_t, name)},
    LCX_FIELDS(LCX_X_DEF)
#undef LCX_X_DEF
};

/* Which fields a command requires and which more it allows; ITEMS records have kind `item`. */
typedef struct {
    field_mask_t required;
    field_mask_t optional;
    lcx_cmd_t item;
} schema_t;

#define F(f) ((field_mask_t)1 << LCX_F_##f)
#define OUTCOME_FIELDS                                                                             \
    (F(reason) | F(stdout) | F(stderr) | F(compile_output) | F(exit_code) | F(signal) |            \
     F(execution_time_ms) | F(cpu_time_ms) | F(memory_kb) | F(stdout_truncated) |                  \
     F(stderr_truncated) | F(started_at) | F(finished_at) | F(sandbox))
#define POOL_FIELDS (F(runners) | F(slots) | F(free_slots) | F(queue_depth))
/* Who sends a gateway request (PROTOCOL.md 6.1, "The caller"): allowed in every one. */
#define CALLER_FIELDS                                                                              \
    (F(caller_key_id) | F(caller_secret) | F(caller_session_id) | F(caller_address))
#define QUOTA_FIELDS (F(runs_per_minute) | F(concurrent_runs) | F(max_time_ms) | F(max_memory_mb))
#define KEY_SETTABLE (QUOTA_FIELDS | F(expires_at) | F(webhook_url))

static const schema_t schemas[LCX_CMD_COUNT] = {
    [LCX_CMD_HEALTH] = {0, CALLER_FIELDS, 0},
    [LCX_CMD_RUNNER] = {F(runner_id) | F(slots) | F(free_slots) | F(draining),
                        F(languages) | F(sandbox), 0},
    [LCX_CMD_DRAIN] = {F(runner_id), CALLER_FIELDS, 0},
    [LCX_CMD_HEALTH_REPLY] = {F(dispatcher_up),
                              F(instance) | POOL_FIELDS | F(languages) | F(versions) |
                                  F(sandboxes) | F(items) | F(caller_role),
                              LCX_CMD_RUNNER},
    [LCX_CMD_SESSION_CREATE] = {F(language) | F(source_code), CALLER_FIELDS, 0},
    [LCX_CMD_SESSION_GET] = {F(session_id), CALLER_FIELDS, 0},
    [LCX_CMD_SESSION_UPDATE] = {F(session_id), F(language) | F(source_code) | CALLER_FIELDS, 0},
    [LCX_CMD_SESSION_CLOSE] = {F(session_id), CALLER_FIELDS, 0},
    [LCX_CMD_SESSION] = {F(session_id) | F(status) | F(language) | F(source_code) | F(version) |
                             F(created_at) | F(updated_at),
                         0, 0},
    [LCX_CMD_RUN] = {F(session_id),
                     F(stdin) | F(args) | F(time_ms) | F(memory_mb) | F(idempotency_key) |
                         F(source_code) | F(version) | CALLER_FIELDS,
                     0},
    [LCX_CMD_EXECUTION_GET] = {F(execution_id), F(wait_ms) | CALLER_FIELDS, 0},
    [LCX_CMD_EXECUTION_LIST] = {F(session_id), F(limit) | F(before) | CALLER_FIELDS, 0},
    [LCX_CMD_EXECUTION_CANCEL] = {F(execution_id), CALLER_FIELDS, 0},
    [LCX_CMD_EXECUTION] = {F(execution_id) | F(session_id) | F(language) | F(status) | F(attempts) |
                               F(queued_at),
                           OUTCOME_FIELDS | F(source_version), 0},
    [LCX_CMD_EXECUTIONS] = {F(items), 0, LCX_CMD_EXECUTION},
    [LCX_CMD_EVENTS_GET] = {F(execution_id), F(after) | F(wait_ms) | CALLER_FIELDS, 0},
    [LCX_CMD_EVENTS] = {F(execution_id) | F(items) | F(finished), F(after) | F(event_id),
                        LCX_CMD_EVENT},
    [LCX_CMD_EVENT] = {F(event_id) | F(kind), F(data) | F(status) | F(attempt), 0},
    [LCX_CMD_METRICS] = {0, CALLER_FIELDS, 0},
    [LCX_CMD_METRICS_REPLY] = {F(text), 0, 0},
    [LCX_CMD_ERROR] = {F(error),
                       F(message) | F(details) | F(execution_id) | F(retry_after_ms) | F(version) |
                           F(reason),
                       0},
    [LCX_CMD_JOB] = {F(execution_id) | F(session_id) | F(language) | F(source_code) | F(attempt) |
                         F(time_ms) | F(memory_mb),
                     F(stdin) | F(args) | F(resubmit), 0},
    [LCX_CMD_ACCEPTED] = {F(execution_id), 0, 0},
    [LCX_CMD_CANCEL] = {F(execution_id), 0, 0},
    [LCX_CMD_HEARTBEAT] = {0, F(free_slots) | F(draining), 0},
    [LCX_CMD_STATUS] = {F(instance) | POOL_FIELDS,
                        F(languages) | F(versions) | F(sandboxes) | F(items), LCX_CMD_RUNNER},
    [LCX_CMD_READY] = {F(runner_id) | F(slots),
                       F(languages) | F(versions) | F(sandbox) | F(running), 0},
    [LCX_CMD_UPDATE] = {F(execution_id) | F(attempt) | F(status),
                        OUTCOME_FIELDS | F(runner_id) | F(message), 0},
    [LCX_CMD_UPDATE_ACK] = {F(execution_id) | F(attempt) | F(status), 0, 0},
    [LCX_CMD_OUTPUT] = {F(execution_id) | F(attempt) | F(stream) | F(data) | F(offset), 0, 0},
    [LCX_CMD_DISCONNECT] = {0, F(message), 0},
    [LCX_CMD_KEY_CREATE] = {F(key_id) | F(secret_hash) | F(name) | F(role),
                            KEY_SETTABLE | CALLER_FIELDS, 0},
    [LCX_CMD_KEY_LIST] = {0, CALLER_FIELDS, 0},
    [LCX_CMD_KEY_UPDATE] = {F(key_id), F(name) | KEY_SETTABLE | CALLER_FIELDS, 0},
    [LCX_CMD_KEY_REVOKE] = {F(key_id), CALLER_FIELDS, 0},
    [LCX_CMD_KEY] = {F(key_id) | F(name) | F(role) | F(created_at),
                     KEY_SETTABLE | F(revoked_at) | F(last_used_at), 0},
    [LCX_CMD_KEYS] = {F(items), 0, LCX_CMD_KEY},
    [LCX_CMD_ADOPT] = {F(runner_id) | F(running), 0, 0},
    [LCX_CMD_ADOPTED] = {F(runner_id) | F(running), 0, 0},
};

/* The lowest field in a non-empty mask. */
static int lowest_field(field_mask_t mask)
{
    int f = 0;
    while (!(mask & 1)) {
        mask >>= 1;
        f++;
    }
    return f;
}

static field_mask_t allowed_mask(lcx_cmd_t cmd)
{
    return schemas[cmd].required | schemas[cmd].optional;
}

const char *lcx_cmd_name(lcx_cmd_t cmd)
{
    return cmd > LCX_CMD_NONE && cmd < LCX_CMD_COUNT ? cmd_names[cmd] : "NONE";
}

lcx_cmd_t lcx_cmd_from_name(const char *name, size_t len)
{
    for (int c = LCX_CMD_NONE + 1; c < LCX_CMD_COUNT; c++)
        if (strlen(cmd_names[c]) == len && memcmp(cmd_names[c], name, len) == 0)
            return (lcx_cmd_t)c;
    return LCX_CMD_NONE;
}

const char *lcx_field_name(lcx_field_t field)
{
    return field_defs[field].name;
}

lcx_type_t lcx_field_type(lcx_field_t field)
{
    return field_defs[field].type;
}

static void *field_ptr(const lcx_msg_t *self, lcx_field_t field)
{
    return (char *)self + field_defs[field].offset;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle and setters                                                                     */

lcx_msg_t *lcx_msg_new(lcx_cmd_t cmd)
{
    lcx_msg_t *self = lcx_calloc(1, sizeof *self);
    self->cmd = cmd;
    return self;
}

void lcx_msg_clear(lcx_msg_t *self, lcx_field_t field)
{
    void *slot = field_ptr(self, field);
    switch (field_defs[field].type) {
    case LCX_T_STR:
    case LCX_T_BIN: {
        lcx_buf_t *buf = slot;
        free(buf->ptr);
        *buf = (lcx_buf_t){0};
        break;
    }
    case LCX_T_INT:
    case LCX_T_BOOL:
        *(lcx_int_t *)slot = (lcx_int_t){0};
        break;
    case LCX_T_LIST: {
        lcx_list_t *list = slot;
        for (size_t i = 0; i < list->n; i++)
            free(list->v[i]);
        free(list->v);
        *list = (lcx_list_t){0};
        break;
    }
    case LCX_T_ITEMS: {
        lcx_items_t *items = slot;
        for (size_t i = 0; i < items->n; i++)
            lcx_msg_destroy(&items->v[i]);
        free(items->v);
        *items = (lcx_items_t){0};
        break;
    }
    }
}

void lcx_msg_destroy(lcx_msg_t **self_p)
{
    if (!self_p || !*self_p) return;
    lcx_msg_t *self = *self_p;
    for (int f = 0; f < LCX_F_COUNT; f++)
        lcx_msg_clear(self, (lcx_field_t)f);
    zframe_destroy(&self->routing_id);
    free(self);
    *self_p = NULL;
}

lcx_msg_t *lcx_msg_reply(const lcx_msg_t *request, lcx_cmd_t cmd)
{
    lcx_msg_t *self = lcx_msg_new(cmd);
    self->corr = request->corr;
    if (request->routing_id) self->routing_id = zframe_dup(request->routing_id);
    return self;
}

bool lcx_msg_has(const lcx_msg_t *self, lcx_field_t field)
{
    const void *slot = field_ptr(self, field);
    switch (field_defs[field].type) {
    case LCX_T_STR:
    case LCX_T_BIN:
        return ((const lcx_buf_t *)slot)->ptr != NULL;
    case LCX_T_INT:
    case LCX_T_BOOL:
        return ((const lcx_int_t *)slot)->set;
    case LCX_T_LIST:
        return ((const lcx_list_t *)slot)->set;
    case LCX_T_ITEMS:
        return ((const lcx_items_t *)slot)->set;
    }
    return false;
}

int lcx_msg_set_bytes(lcx_msg_t *self, lcx_field_t field, const void *data, size_t len)
{
    lcx_type_t type = field_defs[field].type;
    if (type != LCX_T_STR && type != LCX_T_BIN) return -1;
    char *copy = lcx_malloc(len + 1);
    if (len) memcpy(copy, data, len);
    copy[len] = '\0';
    lcx_msg_clear(self, field);
    *(lcx_buf_t *)field_ptr(self, field) = (lcx_buf_t){copy, len};
    /* cppcheck cannot see that the field now owns the copy */
    // cppcheck-suppress memleak
    return 0;
}

int lcx_msg_set_str(lcx_msg_t *self, lcx_field_t field, const char *text)
{
    lcx_type_t type = field_defs[field].type;
    if (type != LCX_T_STR && type != LCX_T_BIN) return -1;
    if (!text) {
        lcx_msg_clear(self, field);
        return 0;
    }
    return lcx_msg_set_bytes(self, field, text, strlen(text));
}

int lcx_msg_set_int(lcx_msg_t *self, lcx_field_t field, int64_t value)
{
    if (field_defs[field].type != LCX_T_INT) return -1;
    *(lcx_int_t *)field_ptr(self, field) = (lcx_int_t){value, true};
    return 0;
}

int lcx_msg_set_bool(lcx_msg_t *self, lcx_field_t field, bool value)
{
    if (field_defs[field].type != LCX_T_BOOL) return -1;
    *(lcx_int_t *)field_ptr(self, field) = (lcx_int_t){value ? 1 : 0, true};
    return 0;
}

int lcx_msg_list_touch(lcx_msg_t *self, lcx_field_t field)
{
    lcx_type_t type = field_defs[field].type;
    if (type == LCX_T_LIST)
        ((lcx_list_t *)field_ptr(self, field))->set = true;
    else if (type == LCX_T_ITEMS)
        ((lcx_items_t *)field_ptr(self, field))->set = true;
    else
        return -1;
    return 0;
}

int lcx_msg_list_append(lcx_msg_t *self, lcx_field_t field, const char *text)
{
    if (field_defs[field].type != LCX_T_LIST) return -1;
    lcx_list_t *list = field_ptr(self, field);
    char **grown = lcx_realloc(list->v, (list->n + 1) * sizeof *grown);
    list->v = grown;
    list->v[list->n] = lcx_strdup(text);
    list->n++;
    list->set = true;
    return 0;
}

int lcx_msg_items_append(lcx_msg_t *self, lcx_msg_t **item_p)
{
    if (!item_p || !*item_p) return -1;
    lcx_items_t *items = &self->items;
    lcx_msg_t **grown = lcx_realloc(items->v, (items->n + 1) * sizeof *grown);
    items->v = grown;
    items->v[items->n++] = *item_p;
    items->set = true;
    *item_p = NULL;
    return 0;
}

/* Copies one field of `from` into self (same field, same type). */
static int copy_field(lcx_msg_t *self, const lcx_msg_t *from, lcx_field_t field)
{
    const void *src = field_ptr(from, field);
    switch (field_defs[field].type) {
    case LCX_T_STR:
    case LCX_T_BIN: {
        const lcx_buf_t *buf = src;
        return lcx_msg_set_bytes(self, field, buf->ptr, buf->len);
    }
    case LCX_T_INT:
    case LCX_T_BOOL:
        *(lcx_int_t *)field_ptr(self, field) = *(const lcx_int_t *)src;
        return 0;
    case LCX_T_LIST: {
        const lcx_list_t *list = src;
        lcx_msg_clear(self, field);
        lcx_msg_list_touch(self, field);
        for (size_t i = 0; i < list->n; i++)
            if (lcx_msg_list_append(self, field, list->v[i]) != 0) return -1;
        return 0;
    }
    case LCX_T_ITEMS: {
        const lcx_items_t *items = src;
        lcx_msg_clear(self, field);
        lcx_msg_list_touch(self, field);
        for (size_t i = 0; i < items->n; i++) {
            lcx_msg_t *copy = lcx_msg_dup(items->v[i]);
            lcx_msg_items_append(self, &copy);
        }
        return 0;
    }
    }
    return -1;
}

void lcx_msg_copy_fields(lcx_msg_t *self, const lcx_msg_t *from)
{
    if (self == from) return; /* clearing a list before copying it would empty it */
    field_mask_t allowed = allowed_mask(self->cmd);
    /* Records of another kind do not belong in this command's items. */
    if (schemas[self->cmd].item != schemas[from->cmd].item) allowed &= ~F(items);
    for (int f = 0; f < LCX_F_COUNT; f++)
        if ((allowed & ((field_mask_t)1 << f)) && lcx_msg_has(from, (lcx_field_t)f))
            copy_field(self, from, (lcx_field_t)f);
}

lcx_msg_t *lcx_msg_dup(const lcx_msg_t *self)
{
    lcx_msg_t *copy = lcx_msg_new(self->cmd);
    copy->corr = self->corr;
    if (self->routing_id) copy->routing_id = zframe_dup(self->routing_id);
    memcpy(copy->user_id, self->user_id, sizeof copy->user_id);
    /* A field copied to the same command always fits: copy_field fails on no other case. */
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (lcx_msg_has(self, (lcx_field_t)f)) copy_field(copy, self, (lcx_field_t)f);
    return copy;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                  */

static void pack_text(msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, text, len);
}

static int pack_body(msgpack_packer *pk, const lcx_msg_t *self, char *err, size_t errlen);

static int pack_field(msgpack_packer *pk, const lcx_msg_t *self, lcx_field_t field, char *err,
                      size_t errlen)
{
    const void *slot = field_ptr(self, field);
    switch (field_defs[field].type) {
    case LCX_T_STR: {
        const lcx_buf_t *buf = slot;
        pack_text(pk, buf->ptr, buf->len);
        return 0;
    }
    case LCX_T_BIN: {
        const lcx_buf_t *buf = slot;
        msgpack_pack_bin(pk, buf->len);
        msgpack_pack_bin_body(pk, buf->ptr, buf->len);
        return 0;
    }
    case LCX_T_INT:
        msgpack_pack_int64(pk, ((const lcx_int_t *)slot)->v);
        return 0;
    case LCX_T_BOOL:
        if (((const lcx_int_t *)slot)->v)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    case LCX_T_LIST: {
        const lcx_list_t *list = slot;
        if (list->n > LCX_PROTO_MAX_LIST) {
            set_err(err, errlen, "field '%s': %zu elements exceed %d", field_defs[field].name,
                    list->n, LCX_PROTO_MAX_LIST);
            return -1;
        }
        msgpack_pack_array(pk, list->n);
        for (size_t i = 0; i < list->n; i++)
            pack_text(pk, list->v[i], strlen(list->v[i]));
        return 0;
    }
    case LCX_T_ITEMS: {
        const lcx_items_t *items = slot;
        if (items->n > LCX_PROTO_MAX_LIST) {
            set_err(err, errlen, "field 'items': %zu elements exceed %d", items->n,
                    LCX_PROTO_MAX_LIST);
            return -1;
        }
        msgpack_pack_array(pk, items->n);
        for (size_t i = 0; i < items->n; i++) {
            if (items->v[i]->cmd != schemas[self->cmd].item) {
                set_err(err, errlen, "%s: item %zu is a %s, not a %s", lcx_cmd_name(self->cmd), i,
                        lcx_cmd_name(items->v[i]->cmd), lcx_cmd_name(schemas[self->cmd].item));
                return -1;
            }
            if (pack_body(pk, items->v[i], err, errlen) != 0) return -1;
        }
        return 0;
    }
    }
    return -1;
}

/* Writes the body map of self, checking its schema. */
static int pack_body(msgpack_packer *pk, const lcx_msg_t *self, char *err, size_t errlen)
{
    const schema_t *schema = &schemas[self->cmd];
    field_mask_t allowed = schema->required | schema->optional;
    size_t count = 0;
    for (int f = 0; f < LCX_F_COUNT; f++) {
        field_mask_t bit = (field_mask_t)1 << f;
        bool has = lcx_msg_has(self, (lcx_field_t)f);
        if ((schema->required & bit) && !has) {
            set_err(err, errlen, "%s: required field '%s' is missing", lcx_cmd_name(self->cmd),
                    field_defs[f].name);
            return -1;
        }
        if (has && !(allowed & bit)) {
            set_err(err, errlen, "%s: field '%s' is not part of this command",
                    lcx_cmd_name(self->cmd), field_defs[f].name);
            return -1;
        }
        count += has;
    }
    msgpack_pack_map(pk, count);
    for (int f = 0; f < LCX_F_COUNT; f++) {
        if (!lcx_msg_has(self, (lcx_field_t)f)) continue;
        pack_text(pk, field_defs[f].name, strlen(field_defs[f].name));
        if (pack_field(pk, self, (lcx_field_t)f, err, errlen) != 0) return -1;
    }
    return 0;
}

int lcx_msg_encode(const lcx_msg_t *self, char **buf_p, size_t *len_p, char *err, size_t errlen)
{
    if (self->cmd <= LCX_CMD_NONE || self->cmd >= LCX_CMD_COUNT) {
        set_err(err, errlen, "cannot encode command %d", (int)self->cmd);
        return -1;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_unsigned_int(&pk, LCX_PROTO_VERSION);
    pack_text(&pk, cmd_names[self->cmd], strlen(cmd_names[self->cmd]));
    msgpack_pack_uint64(&pk, self->corr);
    if (pack_body(&pk, self, err, errlen) != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    if (sbuf.size > LCX_PROTO_MAX_FRAME) {
        set_err(err, errlen, "%s: %zu bytes exceed the frame limit", lcx_cmd_name(self->cmd),
                sbuf.size);
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    *len_p = sbuf.size;
    *buf_p = msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Decoding                                                                                  */

/*
 * A cheap structural pre-check, before msgpack-c sees the frame: msgpack-c allocates a
 * container's elements when it reads the header, so a 5-byte frame claiming 4 billion
 * elements would make it allocate gigabytes. Every element takes at least one byte, so a
 * count larger than the bytes left is a lie. Walks the frame without allocating.
 */
#define SCAN_MAX_DEPTH 8
/* msgpack-c spends 24 bytes per element: a cap on elements bounds memory per frame (~6 MiB). */
#define SCAN_MAX_ELEMENTS (256 * 1024)

typedef struct {
    const unsigned char *p;
    size_t len;
    size_t pos;
    size_t elements; /* values seen so far */
} scan_t;

static int scan_value(scan_t *s, int depth);

static int scan_skip(scan_t *s, uint64_t n)
{
    if (n > s->len - s->pos) return -1;
    s->pos += (size_t)n;
    return 0;
}

/* Reads a big-endian length of `bytes` bytes. */
static int scan_len(scan_t *s, int bytes, uint64_t *out)
{
    if ((size_t)bytes > s->len - s->pos) return -1;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | s->p[s->pos + (size_t)i];
    s->pos += (size_t)bytes;
    *out = v;
    return 0;
}

static int scan_container(scan_t *s, int depth, uint64_t count, int per)
{
    if (depth >= SCAN_MAX_DEPTH) return -1;
    if (count > (s->len - s->pos) / (uint64_t)per) return -1;
    for (uint64_t i = 0; i < count * (uint64_t)per; i++)
        if (scan_value(s, depth + 1) != 0) return -1;
    return 0;
}

/* A value whose header holds a `bytes`-byte length, then that many bytes (plus `extra`). */
static int scan_sized(scan_t *s, int bytes, uint64_t extra)
{
    uint64_t n = 0;
    return scan_len(s, bytes, &n) != 0 ? -1 : scan_skip(s, n + extra);
}

/* A container whose header holds a `bytes`-byte count of elements (pairs when per is 2). */
static int scan_counted(scan_t *s, int depth, int bytes, int per)
{
    uint64_t n = 0;
    return scan_len(s, bytes, &n) != 0 ? -1 : scan_container(s, depth, n, per);
}

static int scan_value(scan_t *s, int depth)
{
    if (s->pos >= s->len || ++s->elements > SCAN_MAX_ELEMENTS) return -1;
    unsigned char b = s->p[s->pos++];
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return 0;
    if ((b & 0xf0) == 0x80) return scan_container(s, depth, b & 0x0f, 2);
    if ((b & 0xf0) == 0x90) return scan_container(s, depth, b & 0x0f, 1);
    if ((b & 0xe0) == 0xa0) return scan_skip(s, b & 0x1f);
    switch (b) {
    case 0xc4:
    case 0xd9:
        return scan_sized(s, 1, 0); /* bin8, str8 */
    case 0xc5:
    case 0xda:
        return scan_sized(s, 2, 0);
    case 0xc6:
    case 0xdb:
        return scan_sized(s, 4, 0);
    case 0xc7:
        return scan_sized(s, 1, 1); /* ext: length, type byte, data */
    case 0xc8:
        return scan_sized(s, 2, 1);
    case 0xc9:
        return scan_sized(s, 4, 1);
    case 0xcc:
    case 0xd0:
        return scan_skip(s, 1);
    case 0xcd:
    case 0xd1:
    case 0xd4:
        return scan_skip(s, 2);
    case 0xd5:
        return scan_skip(s, 3);
    case 0xca:
    case 0xce:
    case 0xd2:
        return scan_skip(s, 4);
    case 0xd6:
        return scan_skip(s, 5);
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return scan_skip(s, 8);
    case 0xd7:
        return scan_skip(s, 9);
    case 0xd8:
        return scan_skip(s, 17);
    case 0xdc:
        return scan_counted(s, depth, 2, 1);
    case 0xdd:
        return scan_counted(s, depth, 4, 1);
    case 0xde:
        return scan_counted(s, depth, 2, 2);
    case 0xdf:
        return scan_counted(s, depth, 4, 2);
    default:
        return -1; /* 0xc1: never used */
    }
}

static int decode_body(lcx_msg_t *self, const msgpack_object *map, char *err, size_t errlen);

static bool key_is(const msgpack_object *key, const char *name)
{
    return key->via.str.size == strlen(name) &&
           memcmp(key->via.str.ptr, name, key->via.str.size) == 0;
}

static int field_by_key(const msgpack_object *key)
{
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (key_is(key, field_defs[f].name)) return f;
    return -1;
}

static int decode_list(lcx_msg_t *self, lcx_field_t field, const msgpack_object *value, char *err,
                       size_t errlen)
{
    const msgpack_object_array *array = &value->via.array;
    if (array->size > LCX_PROTO_MAX_LIST) {
        set_err(err, errlen, "field '%s': %u elements exceed %d", field_defs[field].name,
                array->size, LCX_PROTO_MAX_LIST);
        return -1;
    }
    lcx_msg_list_touch(self, field);
    for (uint32_t i = 0; i < array->size; i++) {
        const msgpack_object *el = &array->ptr[i];
        if (el->type != MSGPACK_OBJECT_STR) {
            set_err(err, errlen, "field '%s': element %u is not a string", field_defs[field].name,
                    i);
            return -1;
        }
        char *text = lcx_strndup(el->via.str.ptr, el->via.str.size);
        if (memchr(el->via.str.ptr, '\0', el->via.str.size) ||
            lcx_msg_list_append(self, field, text) != 0) {
            free(text);
            set_err(err, errlen, "field '%s': element %u is not usable text",
                    field_defs[field].name, i);
            return -1;
        }
        free(text);
    }
    return 0;
}

static int decode_items(lcx_msg_t *self, const msgpack_object *value, char *err, size_t errlen)
{
    const msgpack_object_array *array = &value->via.array;
    lcx_cmd_t kind = schemas[self->cmd].item;
    if (kind == LCX_CMD_NONE || array->size > LCX_PROTO_MAX_LIST) {
        set_err(err, errlen, "field 'items': not allowed here or too many");
        return -1;
    }
    lcx_msg_list_touch(self, LCX_F_items);
    for (uint32_t i = 0; i < array->size; i++) {
        if (array->ptr[i].type != MSGPACK_OBJECT_MAP) {
            set_err(err, errlen, "field 'items': element %u is not a map", i);
            return -1;
        }
        lcx_msg_t *item = lcx_msg_new(kind);
        char reason[200] = "";
        if (decode_body(item, &array->ptr[i], reason, sizeof reason) != 0 ||
            lcx_msg_items_append(self, &item) != 0) {
            set_err(err, errlen, "field 'items': element %u: %s", i, reason);
            lcx_msg_destroy(&item);
            return -1;
        }
    }
    return 0;
}

/* The msgpack type each field type accepts, and the value put in place. */
static int decode_value(lcx_msg_t *self, lcx_field_t field, const msgpack_object *value, char *err,
                        size_t errlen)
{
    const char *name = field_defs[field].name;
    switch (field_defs[field].type) {
    case LCX_T_STR:
        if (value->type != MSGPACK_OBJECT_STR) break;
        /* Text is read as C strings everywhere: a NUL inside would cut it silently. */
        if (memchr(value->via.str.ptr, '\0', value->via.str.size)) {
            set_err(err, errlen, "field '%s': text contains a NUL byte", name);
            return -1;
        }
        return lcx_msg_set_bytes(self, field, value->via.str.ptr, value->via.str.size);
    case LCX_T_BIN:
        if (value->type != MSGPACK_OBJECT_BIN) break;
        return lcx_msg_set_bytes(self, field, value->via.bin.ptr, value->via.bin.size);
    case LCX_T_INT:
        if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return lcx_msg_set_int(self, field, value->via.i64);
        if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER) break;
        if (value->via.u64 > INT64_MAX) {
            set_err(err, errlen, "field '%s': integer out of range", name);
            return -1;
        }
        return lcx_msg_set_int(self, field, (int64_t)value->via.u64);
    case LCX_T_BOOL:
        if (value->type != MSGPACK_OBJECT_BOOLEAN) break;
        return lcx_msg_set_bool(self, field, value->via.boolean);
    case LCX_T_LIST:
        if (value->type != MSGPACK_OBJECT_ARRAY) break;
        return decode_list(self, field, value, err, errlen);
    case LCX_T_ITEMS:
        if (value->type != MSGPACK_OBJECT_ARRAY) break;
        return decode_items(self, value, err, errlen);
    }
    set_err(err, errlen, "field '%s' has the wrong type", name);
    return -1;
}

static int decode_body(lcx_msg_t *self, const msgpack_object *map, char *err, size_t errlen)
{
    const schema_t *schema = &schemas[self->cmd];
    field_mask_t allowed = schema->required | schema->optional, seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            set_err(err, errlen, "%s: a field name is not a string", cmd_names[self->cmd]);
            return -1;
        }
        int f = field_by_key(&kv->key);
        if (f < 0 || !(allowed & ((field_mask_t)1 << f))) continue; /* unknown: ignored */
        if (seen & ((field_mask_t)1 << f)) {
            set_err(err, errlen, "%s: field '%s' appears twice", cmd_names[self->cmd],
                    field_defs[f].name);
            return -1;
        }
        seen |= (field_mask_t)1 << f;
        if (decode_value(self, (lcx_field_t)f, &kv->val, err, errlen) != 0) return -1;
    }
    field_mask_t missing = schema->required & ~seen;
    if (missing) {
        set_err(err, errlen, "%s: required field '%s' is missing", cmd_names[self->cmd],
                field_defs[lowest_field(missing)].name);
        return -1;
    }
    return 0;
}

/* Checks the envelope [version, command, corr, body] and returns the body, or NULL. */
static const msgpack_object *decode_envelope(const msgpack_object *root, lcx_cmd_t *cmd,
                                             uint64_t *corr, char *err, size_t errlen)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 4) {
        set_err(err, errlen, "frame is not an array of 4 [version, command, corr, body]");
        return NULL;
    }
    const msgpack_object *el = root->via.array.ptr;
    if (el[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || el[0].via.u64 != LCX_PROTO_VERSION) {
        set_err(err, errlen, "unsupported protocol version (expected %d)", LCX_PROTO_VERSION);
        return NULL;
    }
    if (el[1].type != MSGPACK_OBJECT_STR) {
        set_err(err, errlen, "command is not a string");
        return NULL;
    }
    *cmd = lcx_cmd_from_name(el[1].via.str.ptr, el[1].via.str.size);
    if (*cmd == LCX_CMD_NONE) {
        set_err(err, errlen, "unknown command '%.*s'",
                (int)(el[1].via.str.size > 40 ? 40 : el[1].via.str.size), el[1].via.str.ptr);
        return NULL;
    }
    if (el[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        set_err(err, errlen, "corr is not an unsigned integer");
        return NULL;
    }
    *corr = el[2].via.u64;
    if (el[3].type != MSGPACK_OBJECT_MAP) {
        set_err(err, errlen, "body is not a map");
        return NULL;
    }
    return &el[3];
}

lcx_msg_t *lcx_msg_decode(const void *buf, size_t len, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (len == 0 || len > LCX_PROTO_MAX_FRAME) {
        set_err(err, errlen, "frame of %zu bytes is empty or over the limit", len);
        return NULL;
    }
    scan_t scan = {buf, len, 0, 0};
    if (scan_value(&scan, 0) != 0 || scan.pos != len) {
        set_err(err, errlen, "frame is truncated, malformed or nested too deep");
        return NULL;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    lcx_msg_t *self = NULL;
    if (msgpack_unpack_next(&unpacked, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        set_err(err, errlen, "frame is not valid msgpack");
        goto done;
    }
    lcx_cmd_t cmd = LCX_CMD_NONE;
    uint64_t corr = 0;
    const msgpack_object *body = decode_envelope(&unpacked.data, &cmd, &corr, err, errlen);
    if (!body) goto done;
    self = lcx_msg_new(cmd);
    self->corr = corr;
    if (decode_body(self, body, err, errlen) != 0) lcx_msg_destroy(&self);
done:
    msgpack_unpacked_destroy(&unpacked);
    return self;
}

/* ---------------------------------------------------------------------------------------- */
/* Socket I/O                                                                                */

static bool is_router(zsock_t *sock)
{
    return zsock_type(sock) == ZMQ_ROUTER;
}

lcx_msg_t *lcx_msg_recv(zsock_t *sock, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    zmsg_t *frames = zmsg_recv(sock);
    if (!frames) return NULL;
    zframe_t *routing_id = is_router(sock) ? zmsg_pop(frames) : NULL;
    lcx_msg_t *self = NULL;
    if (zmsg_size(frames) != 1) {
        set_err(err, errlen, "expected 1 body frame, got %zu", zmsg_size(frames));
    } else {
        zframe_t *body = zmsg_first(frames);
        self = lcx_msg_decode(zframe_data(body), zframe_size(body), err, errlen);
        const char *user_id = self ? zframe_meta(body, "User-Id") : NULL;
        if (user_id && strlen(user_id) <= LCX_USER_ID_MAX) strcpy(self->user_id, user_id);
    }
    if (self)
        self->routing_id = routing_id;
    else
        zframe_destroy(&routing_id);
    zmsg_destroy(&frames);
    return self;
}

int lcx_msg_send(lcx_msg_t **self_p, zsock_t *sock, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    lcx_msg_t *self = *self_p;
    char *buf = NULL;
    size_t len = 0;
    int rc = lcx_msg_encode(self, &buf, &len, err, errlen);
    if (rc == 0) {
        void *handle = zsock_resolve(sock);
        if (is_router(sock)) {
            if (!self->routing_id) {
                set_err(err, errlen, "%s: no routing id for a ROUTER socket", cmd_names[self->cmd]);
                rc = -1;
            } else {
                rc = zmq_send(handle, zframe_data(self->routing_id), zframe_size(self->routing_id),
                              ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
                         ? -1
                         : 0;
            }
        }
        if (rc == 0 && zmq_send(handle, buf, len, ZMQ_DONTWAIT) < 0) rc = -1;
        if (rc != 0 && err && !err[0])
            set_err(err, errlen, "%s: send failed: %s", cmd_names[self->cmd],
                    zmq_strerror(zmq_errno()));
    }
    free(buf);
    lcx_msg_destroy(self_p);
    return rc;
}
