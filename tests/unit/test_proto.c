/*
 * test_proto: the lcx wire codec (proto/lcx_proto.c, specified in proto/PROTOCOL.md).
 *
 *   - every command round-trips with its required fields, and with all its optional ones;
 *   - encode refuses a missing required field and a field the command does not allow;
 *   - decode refuses every malformed frame cleanly (built by hand with msgpack_packer: only
 *     tests may pack by hand), and ignores fields it does not know;
 *   - the helpers (reply, dup, copy_fields, setters, names) and socket I/O over a real inproc
 *     DEALER <-> ROUTER pair.
 *
 * The SPEC table below is an independent transcription of the schema in PROTOCOL.md, so a
 * change of the codec's schema that the specification does not follow fails here.
 */
#include "lcx_proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* ---------------------------------------------------------------------------------------- */
/* The schema, as PROTOCOL.md states it                                                      */

__extension__ typedef unsigned __int128 mask_t;
#define FB(f) ((mask_t)1 << LCX_F_##f)
#define OUTCOME                                                                                    \
    (FB(reason) | FB(stdout) | FB(stderr) | FB(compile_output) | FB(exit_code) | FB(signal) |      \
     FB(execution_time_ms) | FB(cpu_time_ms) | FB(memory_kb) | FB(stdout_truncated) |              \
     FB(stderr_truncated) | FB(started_at) | FB(finished_at) | FB(sandbox))
#define POOL (FB(runners) | FB(slots) | FB(free_slots) | FB(queue_depth))
#define CALLER (FB(caller_key_id) | FB(caller_secret) | FB(caller_session_id) | FB(caller_address))
#define QUOTAS (FB(runs_per_minute) | FB(concurrent_runs) | FB(max_time_ms) | FB(max_memory_mb))

typedef struct {
    lcx_cmd_t cmd;
    mask_t req;
    mask_t opt;
} spec_t;

static const spec_t SPEC[] = {
    {LCX_CMD_HEALTH, 0, CALLER},
    {LCX_CMD_HEALTH_REPLY, FB(dispatcher_up),
     FB(instance) | POOL | FB(languages) | FB(versions) | FB(sandboxes) | FB(items) |
         FB(caller_role)},
    {LCX_CMD_SESSION_CREATE, FB(language) | FB(source_code), CALLER},
    {LCX_CMD_SESSION_GET, FB(session_id), CALLER},
    {LCX_CMD_SESSION_UPDATE, FB(session_id), FB(language) | FB(source_code) | CALLER},
    {LCX_CMD_SESSION_CLOSE, FB(session_id), CALLER},
    {LCX_CMD_SESSION,
     FB(session_id) | FB(status) | FB(language) | FB(source_code) | FB(version) | FB(created_at) |
         FB(updated_at),
     0},
    {LCX_CMD_RUN, FB(session_id),
     FB(stdin) | FB(args) | FB(time_ms) | FB(memory_mb) | FB(idempotency_key) | FB(source_code) |
         FB(version) | CALLER},
    {LCX_CMD_EXECUTION_GET, FB(execution_id), FB(wait_ms) | CALLER},
    {LCX_CMD_EXECUTION_LIST, FB(session_id), FB(limit) | FB(before) | CALLER},
    {LCX_CMD_EXECUTION_CANCEL, FB(execution_id), CALLER},
    {LCX_CMD_EXECUTION,
     FB(execution_id) | FB(session_id) | FB(language) | FB(status) | FB(attempts) | FB(queued_at),
     OUTCOME | FB(source_version)},
    {LCX_CMD_EXECUTIONS, FB(items), 0},
    {LCX_CMD_EVENTS_GET, FB(execution_id), FB(after) | FB(wait_ms) | CALLER},
    {LCX_CMD_EVENTS, FB(execution_id) | FB(items) | FB(finished), FB(after) | FB(event_id)},
    {LCX_CMD_EVENT, FB(event_id) | FB(kind), FB(data) | FB(status) | FB(attempt)},
    {LCX_CMD_METRICS, 0, CALLER},
    {LCX_CMD_METRICS_REPLY, FB(text), 0},
    {LCX_CMD_ERROR, FB(error),
     FB(message) | FB(details) | FB(execution_id) | FB(retry_after_ms) | FB(version) | FB(reason)},
    {LCX_CMD_JOB,
     FB(execution_id) | FB(session_id) | FB(language) | FB(source_code) | FB(attempt) |
         FB(time_ms) | FB(memory_mb),
     FB(stdin) | FB(args) | FB(resubmit)},
    {LCX_CMD_ACCEPTED, FB(execution_id), 0},
    {LCX_CMD_CANCEL, FB(execution_id), 0},
    {LCX_CMD_HEARTBEAT, 0, FB(free_slots) | FB(draining)},
    {LCX_CMD_STATUS, FB(instance) | POOL, FB(languages) | FB(versions) | FB(sandboxes) | FB(items)},
    {LCX_CMD_READY, FB(runner_id) | FB(slots),
     FB(languages) | FB(versions) | FB(sandbox) | FB(running)},
    {LCX_CMD_UPDATE, FB(execution_id) | FB(attempt) | FB(status),
     OUTCOME | FB(runner_id) | FB(message)},
    {LCX_CMD_UPDATE_ACK, FB(execution_id) | FB(attempt) | FB(status), 0},
    {LCX_CMD_OUTPUT, FB(execution_id) | FB(attempt) | FB(stream) | FB(data) | FB(offset), 0},
    {LCX_CMD_DISCONNECT, 0, FB(message)},
    {LCX_CMD_RUNNER, FB(runner_id) | FB(slots) | FB(free_slots) | FB(draining),
     FB(languages) | FB(sandbox)},
    {LCX_CMD_DRAIN, FB(runner_id), CALLER},
    {LCX_CMD_KEY_CREATE, FB(key_id) | FB(secret_hash) | FB(name) | FB(role),
     QUOTAS | FB(expires_at) | FB(webhook_url) | CALLER},
    {LCX_CMD_KEY_LIST, 0, CALLER},
    {LCX_CMD_KEY_UPDATE, FB(key_id), FB(name) | QUOTAS | FB(expires_at) | FB(webhook_url) | CALLER},
    {LCX_CMD_KEY_REVOKE, FB(key_id), CALLER},
    {LCX_CMD_KEY, FB(key_id) | FB(name) | FB(role) | FB(created_at),
     QUOTAS | FB(expires_at) | FB(webhook_url) | FB(revoked_at) | FB(last_used_at)},
    {LCX_CMD_KEYS, FB(items), 0},
    {LCX_CMD_ADOPT, FB(runner_id) | FB(running), 0},
    {LCX_CMD_ADOPTED, FB(runner_id) | FB(running), 0},
};
#define NSPEC (sizeof SPEC / sizeof SPEC[0])

static const spec_t *spec_of(lcx_cmd_t cmd)
{
    for (size_t i = 0; i < NSPEC; i++)
        if (SPEC[i].cmd == cmd) return &SPEC[i];
    fail_msg("no spec for command %d", (int)cmd);
    return NULL;
}

static bool in_mask(mask_t mask, int f)
{
    return (mask >> f) & 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Generic field access, filling and comparison                                              */

static const size_t OFF[LCX_F_COUNT] = {
#define T_OFF(name, type) offsetof(lcx_msg_t, name),
    LCX_FIELDS(T_OFF)
#undef T_OFF
};

static void *slot(const lcx_msg_t *m, int f)
{
    return (char *)m + OFF[f];
}

static bool has(const lcx_msg_t *m, int f)
{
    return lcx_msg_has(m, (lcx_field_t)f);
}

static lcx_msg_t *make_msg(lcx_cmd_t cmd, mask_t mask, uint64_t corr);
static lcx_cmd_t item_kind(lcx_cmd_t cmd);

/* A distinct sample value per field: negative, extreme and ordinary integers, both booleans. */
static int64_t sample_int(int f)
{
    if (f == LCX_F_signal) return INT64_MIN;
    if (f == LCX_F_exit_code) return -1;
    if (f == LCX_F_offset) return 0;
    switch (f % 3) {
    case 0:
        return -((int64_t)f + 1) * 1000000007;
    case 1:
        return INT64_MAX - f;
    default:
        return f;
    }
}

/* Bytes with embedded NULs, a 0xff and the field name. */
static size_t sample_bytes(int f, unsigned char *out)
{
    const char *name = lcx_field_name((lcx_field_t)f);
    size_t n = 0;
    out[n++] = 0;
    out[n++] = 'x';
    out[n++] = 0;
    out[n++] = 0xff;
    out[n++] = (unsigned char)f;
    memcpy(out + n, name, strlen(name));
    n += strlen(name);
    out[n++] = 0;
    return n;
}

static void fill_field(lcx_msg_t *m, int f)
{
    lcx_field_t field = (lcx_field_t)f;
    const char *name = lcx_field_name(field);
    switch (lcx_field_type(field)) {
    case LCX_T_STR: {
        char text[96];
        snprintf(text, sizeof text, "%s \xc3\xa9\xe2\x9c\x93 %d", name, f); /* é✓: UTF-8 */
        assert_int_equal(lcx_msg_set_str(m, field, text), 0);
        break;
    }
    case LCX_T_BIN: {
        unsigned char bytes[64];
        size_t n = sample_bytes(f, bytes);
        assert_int_equal(lcx_msg_set_bytes(m, field, bytes, n), 0);
        break;
    }
    case LCX_T_INT:
        assert_int_equal(lcx_msg_set_int(m, field, sample_int(f)), 0);
        break;
    case LCX_T_BOOL:
        assert_int_equal(lcx_msg_set_bool(m, field, f & 1), 0);
        break;
    case LCX_T_LIST:
        if (f == LCX_F_details) { /* an empty list that is present */
            assert_int_equal(lcx_msg_list_touch(m, field), 0);
            break;
        }
        assert_int_equal(lcx_msg_list_append(m, field, ""), 0);
        assert_int_equal(lcx_msg_list_append(m, field, "\xc3\xa9\xe2\x9c\x93"), 0);
        assert_int_equal(lcx_msg_list_append(m, field, name), 0);
        break;
    case LCX_T_ITEMS: {
        /* The record kind each ITEMS-carrying command holds. */
        lcx_cmd_t kind = item_kind(m->cmd) ? item_kind(m->cmd) : LCX_CMD_EXECUTION;
        const spec_t *rec = spec_of(kind);
        lcx_msg_t *a = make_msg(kind, rec->req, 0);
        lcx_msg_t *b = make_msg(kind, rec->req | rec->opt, 0);
        assert_int_equal(lcx_msg_items_append(m, &a), 0);
        assert_int_equal(lcx_msg_items_append(m, &b), 0);
        assert_null(a);
        assert_null(b);
        break;
    }
    }
    assert_true(has(m, f));
}

static lcx_msg_t *make_msg(lcx_cmd_t cmd, mask_t mask, uint64_t corr)
{
    lcx_msg_t *m = lcx_msg_new(cmd);
    assert_non_null(m);
    m->corr = corr;
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (in_mask(mask, f)) fill_field(m, f);
    return m;
}

/* The record kind a command's items hold (LCX_CMD_NONE when it has none). */
static lcx_cmd_t item_kind(lcx_cmd_t cmd)
{
    if (cmd == LCX_CMD_EXECUTIONS) return LCX_CMD_EXECUTION;
    if (cmd == LCX_CMD_EVENTS) return LCX_CMD_EVENT;
    if (cmd == LCX_CMD_STATUS || cmd == LCX_CMD_HEALTH_REPLY) return LCX_CMD_RUNNER;
    if (cmd == LCX_CMD_KEYS) return LCX_CMD_KEY;
    return LCX_CMD_NONE;
}

static lcx_msg_t *make_full(lcx_cmd_t cmd)
{
    const spec_t *s = spec_of(cmd);
    return make_msg(cmd, s->req | s->opt, 1000 + (uint64_t)cmd);
}

static void assert_msg_equal(const lcx_msg_t *a, const lcx_msg_t *b)
{
    assert_int_equal(a->cmd, b->cmd);
    if (a->corr != b->corr)
        fail_msg("corr %llu vs %llu", (unsigned long long)a->corr, (unsigned long long)b->corr);
    for (int f = 0; f < LCX_F_COUNT; f++) {
        const char *name = lcx_field_name((lcx_field_t)f);
        if (has(a, f) != has(b, f))
            fail_msg("%s.%s: present %d vs %d", lcx_cmd_name(a->cmd), name, has(a, f), has(b, f));
        if (!has(a, f)) continue;
        switch (lcx_field_type((lcx_field_t)f)) {
        case LCX_T_STR:
        case LCX_T_BIN: {
            const lcx_buf_t *x = slot(a, f), *y = slot(b, f);
            if (x->len != y->len) fail_msg("%s: length %zu vs %zu", name, x->len, y->len);
            if (x->len) assert_memory_equal(x->ptr, y->ptr, x->len);
            assert_int_equal(x->ptr[x->len], '\0');
            assert_int_equal(y->ptr[y->len], '\0');
            break;
        }
        case LCX_T_INT:
        case LCX_T_BOOL: {
            const lcx_int_t *x = slot(a, f), *y = slot(b, f);
            if (x->v != y->v) fail_msg("%s: %lld vs %lld", name, (long long)x->v, (long long)y->v);
            break;
        }
        case LCX_T_LIST: {
            const lcx_list_t *x = slot(a, f), *y = slot(b, f);
            if (x->n != y->n) fail_msg("%s: %zu vs %zu elements", name, x->n, y->n);
            for (size_t i = 0; i < x->n; i++)
                assert_string_equal(x->v[i], y->v[i]);
            break;
        }
        case LCX_T_ITEMS: {
            const lcx_items_t *x = slot(a, f), *y = slot(b, f);
            if (x->n != y->n) fail_msg("%s: %zu vs %zu items", name, x->n, y->n);
            for (size_t i = 0; i < x->n; i++)
                assert_msg_equal(x->v[i], y->v[i]);
            break;
        }
        }
    }
}

/* Encodes m (which must succeed), decodes the frame, and checks the copy equals m. */
static void assert_round_trip(const lcx_msg_t *m)
{
    char err[256] = "";
    char *buf = NULL;
    size_t len = 0;
    if (lcx_msg_encode(m, &buf, &len, err, sizeof err) != 0)
        fail_msg("%s: encode failed: %s", lcx_cmd_name(m->cmd), err);
    lcx_msg_t *back = lcx_msg_decode(buf, len, err, sizeof err);
    if (!back) fail_msg("%s: decode failed: %s", lcx_cmd_name(m->cmd), err);
    assert_string_equal(err, "");
    assert_null(back->routing_id);
    assert_msg_equal(m, back);
    lcx_msg_destroy(&back);
    assert_null(back);
    free(buf);
}

/* ---------------------------------------------------------------------------------------- */
/* Packing frames by hand                                                                    */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} raw_t;

static void raw_init(raw_t *r)
{
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
}

static void raw_free(raw_t *r)
{
    msgpack_sbuffer_destroy(&r->sb);
}

static void pk_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    pk_strn(pk, s, strlen(s));
}

static void pk_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static void raw_envelope(raw_t *r, const char *cmd, uint64_t corr)
{
    msgpack_pack_array(&r->pk, 4);
    msgpack_pack_uint8(&r->pk, LCX_PROTO_VERSION);
    pk_str(&r->pk, cmd);
    msgpack_pack_uint64(&r->pk, corr);
}

typedef void (*pack_fn)(msgpack_packer *pk);

typedef struct {
    int skip;     /* field left out, or -1 */
    int dup;      /* field packed twice, or -1 */
    int override; /* field whose value override_fn packs instead, or -1 */
    pack_fn override_fn;
    bool reverse; /* fields in the opposite order */
    int extra;    /* pairs extra_fn appends */
    void (*extra_fn)(msgpack_packer *pk, const lcx_msg_t *m);
} body_opts_t;

#define OPTS ((body_opts_t){.skip = -1, .dup = -1, .override = -1})

static void raw_body(msgpack_packer *pk, const lcx_msg_t *m, body_opts_t o);

static void raw_value(msgpack_packer *pk, const lcx_msg_t *m, int f)
{
    switch (lcx_field_type((lcx_field_t)f)) {
    case LCX_T_STR: {
        const lcx_buf_t *b = slot(m, f);
        pk_strn(pk, b->ptr, b->len);
        break;
    }
    case LCX_T_BIN: {
        const lcx_buf_t *b = slot(m, f);
        pk_bin(pk, b->ptr, b->len);
        break;
    }
    case LCX_T_INT:
        /* Deliberately not the shortest form: 0xd3 for every value. */
        msgpack_pack_fix_int64(pk, ((const lcx_int_t *)slot(m, f))->v);
        break;
    case LCX_T_BOOL:
        if (((const lcx_int_t *)slot(m, f))->v)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case LCX_T_LIST: {
        const lcx_list_t *l = slot(m, f);
        msgpack_pack_array(pk, l->n);
        for (size_t i = 0; i < l->n; i++)
            pk_str(pk, l->v[i]);
        break;
    }
    case LCX_T_ITEMS: {
        const lcx_items_t *it = slot(m, f);
        msgpack_pack_array(pk, it->n);
        for (size_t i = 0; i < it->n; i++)
            raw_body(pk, it->v[i], OPTS);
        break;
    }
    }
}

static void raw_body(msgpack_packer *pk, const lcx_msg_t *m, body_opts_t o)
{
    size_t count = 0;
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (has(m, f)) count += f == o.skip ? 0 : f == o.dup ? 2 : 1;
    msgpack_pack_map(pk, count + (size_t)o.extra);
    for (int i = 0; i < LCX_F_COUNT; i++) {
        int f = o.reverse ? LCX_F_COUNT - 1 - i : i;
        if (!has(m, f) || f == o.skip) continue;
        for (int times = f == o.dup ? 2 : 1; times > 0; times--) {
            pk_str(pk, lcx_field_name((lcx_field_t)f));
            if (f == o.override)
                o.override_fn(pk);
            else
                raw_value(pk, m, f);
        }
    }
    if (o.extra) o.extra_fn(pk, m);
}

static void raw_frame(raw_t *r, const lcx_msg_t *m, body_opts_t o)
{
    raw_init(r);
    raw_envelope(r, lcx_cmd_name(m->cmd), m->corr);
    raw_body(&r->pk, m, o);
}

/* Decoding must fail, with a reason (containing `substr` when given). The frame is copied
 * into a buffer of exactly its size so valgrind sees any read past the end. */
static void expect_reject(const void *buf, size_t len, const char *substr, const char *what)
{
    char err[256] = "untouched";
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len) memcpy(copy, buf, len);
    lcx_msg_t *m = lcx_msg_decode(copy, len, err, sizeof err);
    free(copy);
    if (m) {
        lcx_msg_destroy(&m);
        fail_msg("%s: decoded, expected a rejection", what);
    }
    if (!err[0] || strcmp(err, "untouched") == 0) fail_msg("%s: rejected without a reason", what);
    if (substr && !strstr(err, substr))
        fail_msg("%s: reason '%s' does not mention '%s'", what, err, substr);
}

static void expect_reject_raw(raw_t *r, const char *substr, const char *what)
{
    expect_reject(r->sb.data, r->sb.size, substr, what);
    raw_free(r);
}

static lcx_msg_t *expect_accept(const void *buf, size_t len, const char *what)
{
    char err[256] = "untouched";
    lcx_msg_t *m = lcx_msg_decode(buf, len, err, sizeof err);
    if (!m) fail_msg("%s: rejected: %s", what, err);
    assert_string_equal(err, "");
    return m;
}

/* ---------------------------------------------------------------------------------------- */
/* Names and tables                                                                          */

static void test_spec_covers_every_command(void **state)
{
    (void)state;
    assert_int_equal(NSPEC, LCX_CMD_COUNT - 1);
    for (int c = LCX_CMD_NONE + 1; c < LCX_CMD_COUNT; c++) {
        const spec_t *s = spec_of((lcx_cmd_t)c);
        assert_int_equal(s->req & s->opt, 0);
    }
}

static void test_names(void **state)
{
    (void)state;
    for (int c = LCX_CMD_NONE + 1; c < LCX_CMD_COUNT; c++) {
        const char *name = lcx_cmd_name((lcx_cmd_t)c);
        assert_int_equal(lcx_cmd_from_name(name, strlen(name)), c);
        /* A prefix of a name is not that name (EXECUTION is a prefix of EXECUTIONS). */
        assert_int_not_equal(lcx_cmd_from_name(name, strlen(name) - 1), c);
    }
    assert_int_equal(lcx_cmd_from_name("NONE", 4), LCX_CMD_NONE);
    assert_int_equal(lcx_cmd_from_name("health", 6), LCX_CMD_NONE);
    assert_int_equal(lcx_cmd_from_name("HEALTHX", 7), LCX_CMD_NONE);
    assert_int_equal(lcx_cmd_from_name("HEALTH_REPLY", 6), LCX_CMD_HEALTH);
    assert_string_equal(lcx_cmd_name(LCX_CMD_NONE), "NONE");
    assert_string_equal(lcx_cmd_name(LCX_CMD_COUNT), "NONE");
    assert_string_equal(lcx_cmd_name(LCX_CMD_UPDATE_ACK), "UPDATE_ACK");
    assert_string_equal(lcx_field_name(LCX_F_session_id), "session_id");
    assert_string_equal(lcx_field_name(LCX_F_items), "items");
    assert_int_equal(lcx_field_type(LCX_F_stdin), LCX_T_BIN);
    assert_int_equal(lcx_field_type(LCX_F_stream), LCX_T_STR);
    assert_int_equal(lcx_field_type(LCX_F_offset), LCX_T_INT);
    assert_int_equal(lcx_field_type(LCX_F_dispatcher_up), LCX_T_BOOL);
    assert_int_equal(lcx_field_type(LCX_F_versions), LCX_T_LIST);
    assert_int_equal(lcx_field_type(LCX_F_items), LCX_T_ITEMS);
}

/* ---------------------------------------------------------------------------------------- */
/* Round trips                                                                               */

static void test_round_trip_required_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_msg(SPEC[i].cmd, SPEC[i].req, i);
        assert_round_trip(m);
        lcx_msg_destroy(&m);
    }
}

static void test_round_trip_all_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        assert_round_trip(m);
        lcx_msg_destroy(&m);
    }
}

static void test_round_trip_values(void **state)
{
    (void)state;
    /* corr at both ends of its range. */
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_HEALTH);
    m->corr = UINT64_MAX;
    assert_round_trip(m);
    m->corr = 0;
    assert_round_trip(m);
    lcx_msg_destroy(&m);

    /* Integers at every msgpack width boundary, both signs. */
    static const int64_t ints[] = {
        0,         1,          -1,          -32,       -33,       127,       128,         255,
        256,       -128,       -129,        65535,     65536,     -32768,    -32769,      INT32_MAX,
        INT32_MIN, UINT32_MAX, -2147483649, INT64_MAX, INT64_MIN, 1LL << 53, -(1LL << 53)};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        m = make_msg(LCX_CMD_UPDATE, spec_of(LCX_CMD_UPDATE)->req, 1);
        lcx_msg_set_int(m, LCX_F_exit_code, ints[i]);
        lcx_msg_set_int(m, LCX_F_attempt, ints[i]);
        assert_round_trip(m);
        lcx_msg_destroy(&m);
    }

    /* Booleans both ways, empty text, empty bytes, bytes that are all NULs, bytes of every
     * value, an empty list and an empty items array. */
    m = make_msg(LCX_CMD_UPDATE, spec_of(LCX_CMD_UPDATE)->req, 2);
    lcx_msg_set_bool(m, LCX_F_stdout_truncated, true);
    lcx_msg_set_bool(m, LCX_F_stderr_truncated, false);
    lcx_msg_set_str(m, LCX_F_reason, "");
    lcx_msg_set_bytes(m, LCX_F_stdout, "", 0);
    lcx_msg_set_bytes(m, LCX_F_stderr, "\0\0\0\0", 4);
    unsigned char every[256];
    for (int i = 0; i < 256; i++)
        every[i] = (unsigned char)i;
    lcx_msg_set_bytes(m, LCX_F_compile_output, every, sizeof every);
    assert_round_trip(m);
    lcx_msg_destroy(&m);

    m = lcx_msg_new(LCX_CMD_EXECUTIONS);
    lcx_msg_list_touch(m, LCX_F_items);
    assert_round_trip(m);
    lcx_msg_destroy(&m);

    m = make_msg(LCX_CMD_READY, spec_of(LCX_CMD_READY)->req, 3);
    lcx_msg_list_touch(m, LCX_F_languages);
    lcx_msg_list_append(m, LCX_F_versions, "python=Python 3.11.2");
    lcx_msg_list_append(m, LCX_F_versions, "c=gcc (Debian 12.2.0-14) 12.2.0");
    assert_round_trip(m);
    lcx_msg_destroy(&m);

    /* Large bins: str8/str16/str32 and bin8/bin16/bin32 headers. */
    static const size_t sizes[] = {31, 32, 255, 256, 65535, 65536, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *big = malloc(sizes[i] + 1);
        assert_non_null(big);
        for (size_t j = 0; j < sizes[i]; j++)
            big[j] = (char)('a' + j % 26);
        big[sizes[i]] = '\0';
        big[sizes[i] / 2] = '\0'; /* an embedded NUL in the bin */
        m = make_msg(LCX_CMD_JOB, spec_of(LCX_CMD_JOB)->req, 4);
        lcx_msg_set_bytes(m, LCX_F_stdin, big, sizes[i]);
        big[sizes[i] / 2] = 'z';
        lcx_msg_set_str(m, LCX_F_source_code, big);
        assert_round_trip(m);
        lcx_msg_destroy(&m);
        free(big);
    }
}

/* A frame packed by hand, fields in reverse order and integers in their longest form, decodes
 * to the same message: order and integer width are not part of the contract. */
static void test_decode_any_order_and_width(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        for (int reverse = 0; reverse < 2; reverse++) {
            raw_t r;
            body_opts_t o = OPTS;
            o.reverse = reverse;
            raw_frame(&r, m, o);
            lcx_msg_t *back = expect_accept(r.sb.data, r.sb.size, lcx_cmd_name(m->cmd));
            assert_msg_equal(m, back);
            lcx_msg_destroy(&back);
            raw_free(&r);
        }
        lcx_msg_destroy(&m);
    }
    /* The version and corr in their longest forms too. */
    raw_t r;
    raw_init(&r);
    msgpack_pack_array(&r.pk, 4);
    msgpack_pack_fix_uint64(&r.pk, 1);
    pk_str(&r.pk, "HEALTH");
    msgpack_pack_fix_uint64(&r.pk, 7);
    msgpack_pack_map(&r.pk, 0);
    lcx_msg_t *m = expect_accept(r.sb.data, r.sb.size, "long version");
    assert_int_equal(m->cmd, LCX_CMD_HEALTH);
    assert_int_equal(m->corr, 7);
    lcx_msg_destroy(&m);
    raw_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* Encode refusals                                                                           */

static void test_encode_rejects_missing_required(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!in_mask(SPEC[i].req, f)) continue;
            lcx_msg_t *m = make_full(SPEC[i].cmd);
            lcx_msg_clear(m, (lcx_field_t)f);
            char err[256] = "";
            char *buf = (char *)"sentinel";
            size_t len = 12345;
            assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
            assert_string_equal(buf, "sentinel"); /* untouched, nothing to free */
            assert_int_equal(len, 12345);
            assert_non_null(strstr(err, lcx_field_name((lcx_field_t)f)));
            assert_non_null(strstr(err, "missing"));
            lcx_msg_destroy(&m);
        }
    }
}

static void test_encode_rejects_disallowed_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (in_mask(SPEC[i].req | SPEC[i].opt, f)) continue;
            lcx_msg_t *m = make_full(SPEC[i].cmd);
            fill_field(m, f);
            char err[256] = "";
            char *buf = NULL;
            size_t len = 0;
            if (lcx_msg_encode(m, &buf, &len, err, sizeof err) != -1)
                fail_msg("%s accepted field %s", lcx_cmd_name(m->cmd),
                         lcx_field_name((lcx_field_t)f));
            assert_null(buf);
            assert_non_null(strstr(err, lcx_field_name((lcx_field_t)f)));
            lcx_msg_destroy(&m);
        }
    }
}

static void test_encode_rejects_bad_items_and_commands(void **state)
{
    (void)state;
    char err[256];
    char *buf = NULL;
    size_t len = 0;

    /* An item of the wrong record kind. */
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_EXECUTIONS);
    lcx_msg_t *item = make_full(LCX_CMD_SESSION);
    lcx_msg_items_append(m, &item);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "SESSION"));
    lcx_msg_destroy(&m);

    /* An item missing a required field of its record. */
    m = lcx_msg_new(LCX_CMD_EXECUTIONS);
    item = make_full(LCX_CMD_EXECUTION);
    lcx_msg_clear(item, LCX_F_queued_at);
    lcx_msg_items_append(m, &item);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "queued_at"));
    lcx_msg_destroy(&m);

    /* An item carrying a field its record does not allow. */
    m = lcx_msg_new(LCX_CMD_EXECUTIONS);
    item = make_full(LCX_CMD_EXECUTION);
    lcx_msg_set_int(item, LCX_F_offset, 1);
    lcx_msg_items_append(m, &item);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "offset"));
    lcx_msg_destroy(&m);

    /* No command, or one out of range. */
    m = lcx_msg_new(LCX_CMD_NONE);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    m->cmd = LCX_CMD_COUNT;
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    lcx_msg_destroy(&m);
    assert_null(buf);

    /* err may be NULL. */
    m = lcx_msg_new(LCX_CMD_SESSION_GET);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, NULL, 0), -1);
    lcx_msg_destroy(&m);
}

/* The frame limit: a frame of exactly LCX_PROTO_MAX_FRAME bytes passes both ways, one byte
 * more fails both ways. */
static void test_frame_limit(void **state)
{
    (void)state;
    char err[256];
    char *buf = NULL;
    size_t len = 0;
    lcx_msg_t *m = make_msg(LCX_CMD_JOB, spec_of(LCX_CMD_JOB)->req, 9);
    size_t probe = 100000;
    char *data = calloc(1, LCX_PROTO_MAX_FRAME + 1);
    assert_non_null(data);
    lcx_msg_set_bytes(m, LCX_F_stdin, data, probe);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), 0);
    size_t overhead = len - probe;
    free(buf);

    size_t fit = LCX_PROTO_MAX_FRAME - overhead;
    lcx_msg_set_bytes(m, LCX_F_stdin, data, fit);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), 0);
    assert_int_equal(len, LCX_PROTO_MAX_FRAME);
    lcx_msg_t *back = expect_accept(buf, len, "frame at the limit");
    assert_int_equal(back->stdin.len, fit);
    lcx_msg_destroy(&back);

    /* The same frame with one trailing byte is over the limit (and trailing). */
    char *over = malloc(len + 1);
    assert_non_null(over);
    memcpy(over, buf, len);
    over[len] = (char)0xc0;
    expect_reject(over, len + 1, "limit", "frame one byte over the limit");
    free(over);
    free(buf);
    buf = NULL;

    lcx_msg_set_bytes(m, LCX_F_stdin, data, fit + 1);
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "limit"));
    assert_null(buf);

    /* A well-formed frame over the limit, packed by hand, is refused on size alone. */
    raw_t r;
    raw_frame(&r, m, OPTS);
    assert_true(r.sb.size > LCX_PROTO_MAX_FRAME);
    expect_reject_raw(&r, "limit", "oversize frame");

    lcx_msg_destroy(&m);
    free(data);
}

/* ---------------------------------------------------------------------------------------- */
/* Decode refusals: the envelope                                                             */

static void test_decode_rejects_empty_and_garbage(void **state)
{
    (void)state;
    char err[64] = "untouched";
    assert_null(lcx_msg_decode(NULL, 0, err, sizeof err));
    assert_true(err[0] && strcmp(err, "untouched") != 0);
    expect_reject("", 0, NULL, "empty frame");
    expect_reject("\xc1", 1, NULL, "never-used byte 0xc1");
    expect_reject("\x94\x01\xa6HEALTH\x00\xc1", 11, NULL, "0xc1 as the body");
    expect_reject("hello, world", 12, NULL, "text");
    /* err may be NULL or tiny. */
    assert_null(lcx_msg_decode("\x90", 1, NULL, 0));
    char tiny[1];
    assert_null(lcx_msg_decode("\x90", 1, tiny, sizeof tiny));
    assert_int_equal(tiny[0], '\0');

    /* Deterministic pseudo-random frames. */
    uint64_t x = 0x9e3779b97f4a7c15u;
    unsigned char buf[80];
    for (int n = 0; n < 20000; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t len = 1 + x % 64;
        uint64_t y = x;
        for (size_t i = 0; i < len; i++) {
            y ^= y << 13;
            y ^= y >> 7;
            y ^= y << 17;
            buf[i] = (unsigned char)(y >> 24);
        }
        if (n % 2) { /* half of them start like a real frame */
            buf[0] = 0x94;
            if (len > 1) buf[1] = 0x01;
        }
        expect_reject(buf, len, NULL, "random bytes");
    }
}

/* Every proper prefix of a valid frame of every command fails cleanly. */
static void test_decode_rejects_truncated(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        char err[256];
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), 0);
        for (size_t cut = 0; cut < len; cut++)
            expect_reject(buf, cut, NULL, "truncated frame");
        lcx_msg_t *whole = expect_accept(buf, len, "whole frame");
        lcx_msg_destroy(&whole);
        free(buf);
        lcx_msg_destroy(&m);
    }
}

static void test_decode_rejects_trailing_bytes(void **state)
{
    (void)state;
    lcx_msg_t *m = make_full(LCX_CMD_RUN);
    char err[256];
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), 0);
    char *two = malloc(2 * len);
    assert_non_null(two);
    memcpy(two, buf, len);
    memcpy(two + len, buf, len);
    expect_reject(two, len + 1, NULL, "one trailing byte");
    expect_reject(two, 2 * len, NULL, "two frames in one");
    two[len] = (char)0xc0; /* nil */
    expect_reject(two, len + 1, NULL, "trailing nil");
    free(two);
    free(buf);
    lcx_msg_destroy(&m);
}

static void test_decode_rejects_bad_root(void **state)
{
    (void)state;
    raw_t r;

    raw_init(&r); /* a map, not an array */
    msgpack_pack_map(&r.pk, 1);
    pk_str(&r.pk, "command");
    pk_str(&r.pk, "HEALTH");
    expect_reject_raw(&r, "array of 4", "map root");

    raw_init(&r);
    pk_str(&r.pk, "HEALTH");
    expect_reject_raw(&r, "array of 4", "string root");

    raw_init(&r);
    msgpack_pack_nil(&r.pk);
    expect_reject_raw(&r, "array of 4", "nil root");

    raw_init(&r);
    msgpack_pack_int(&r.pk, 1);
    expect_reject_raw(&r, "array of 4", "integer root");

    raw_init(&r);
    msgpack_pack_array(&r.pk, 0);
    expect_reject_raw(&r, "array of 4", "empty array");

    raw_init(&r); /* 3 elements */
    msgpack_pack_array(&r.pk, 3);
    msgpack_pack_uint8(&r.pk, 1);
    pk_str(&r.pk, "HEALTH");
    msgpack_pack_map(&r.pk, 0);
    expect_reject_raw(&r, "array of 4", "array of 3");

    raw_init(&r); /* 5 elements */
    msgpack_pack_array(&r.pk, 5);
    msgpack_pack_uint8(&r.pk, 1);
    pk_str(&r.pk, "HEALTH");
    msgpack_pack_uint8(&r.pk, 0);
    msgpack_pack_map(&r.pk, 0);
    msgpack_pack_nil(&r.pk);
    expect_reject_raw(&r, "array of 4", "array of 5");

    raw_init(&r); /* the envelope as array16 of 4 is still an array of 4: fine */
    r.pk.callback(r.pk.data, "\xdc\x00\x04\x01\xa6HEALTH\x00\x80", 13);
    lcx_msg_t *m = expect_accept(r.sb.data, r.sb.size, "array16 envelope");
    lcx_msg_destroy(&m);
    raw_free(&r);
}

static void pack_version(raw_t *r, int kind)
{
    switch (kind) {
    case 0:
        msgpack_pack_uint8(&r->pk, 0);
        break;
    case 1:
        msgpack_pack_uint8(&r->pk, 2);
        break;
    case 2:
        msgpack_pack_int(&r->pk, -1);
        break;
    case 3:
        pk_str(&r->pk, "1");
        break;
    case 4:
        msgpack_pack_nil(&r->pk);
        break;
    case 5:
        msgpack_pack_double(&r->pk, 1.0);
        break;
    case 6:
        msgpack_pack_true(&r->pk);
        break;
    default:
        msgpack_pack_uint64(&r->pk, UINT64_MAX);
        break;
    }
}

static void test_decode_rejects_bad_version(void **state)
{
    (void)state;
    for (int kind = 0; kind < 8; kind++) {
        raw_t r;
        raw_init(&r);
        msgpack_pack_array(&r.pk, 4);
        pack_version(&r, kind);
        pk_str(&r.pk, "HEALTH");
        msgpack_pack_uint8(&r.pk, 0);
        msgpack_pack_map(&r.pk, 0);
        expect_reject_raw(&r, "version", "bad version");
    }
}

static void test_decode_rejects_bad_command(void **state)
{
    (void)state;
    static const char *const unknown[] = {"NONE",    "health", "HEALTH ",       "",
                                          "HEALTHX", "HEALT",  "SESSION_DELETE"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        raw_t r;
        raw_init(&r);
        raw_envelope(&r, unknown[i], 1);
        msgpack_pack_map(&r.pk, 0);
        expect_reject_raw(&r, "unknown command", unknown[i]);
    }
    /* A command name with a NUL inside is not the name before the NUL. */
    raw_t r;
    raw_init(&r);
    msgpack_pack_array(&r.pk, 4);
    msgpack_pack_uint8(&r.pk, 1);
    pk_strn(&r.pk, "HEALTH\0X", 8);
    msgpack_pack_uint8(&r.pk, 0);
    msgpack_pack_map(&r.pk, 0);
    expect_reject_raw(&r, "unknown command", "command with a NUL");

    /* Not a string: bin, integer, nil, array. */
    for (int kind = 0; kind < 4; kind++) {
        raw_init(&r);
        msgpack_pack_array(&r.pk, 4);
        msgpack_pack_uint8(&r.pk, 1);
        if (kind == 0) pk_bin(&r.pk, "HEALTH", 6);
        if (kind == 1) msgpack_pack_int(&r.pk, LCX_CMD_HEALTH);
        if (kind == 2) msgpack_pack_nil(&r.pk);
        if (kind == 3) {
            msgpack_pack_array(&r.pk, 1);
            pk_str(&r.pk, "HEALTH");
        }
        msgpack_pack_uint8(&r.pk, 0);
        msgpack_pack_map(&r.pk, 0);
        expect_reject_raw(&r, "command is not a string", "non-string command");
    }
}

static void test_decode_rejects_bad_corr(void **state)
{
    (void)state;
    for (int kind = 0; kind < 4; kind++) {
        raw_t r;
        raw_init(&r);
        msgpack_pack_array(&r.pk, 4);
        msgpack_pack_uint8(&r.pk, 1);
        pk_str(&r.pk, "HEALTH");
        if (kind == 0) msgpack_pack_int(&r.pk, -1);
        if (kind == 1) pk_str(&r.pk, "7");
        if (kind == 2) msgpack_pack_nil(&r.pk);
        if (kind == 3) msgpack_pack_double(&r.pk, 7.0);
        msgpack_pack_map(&r.pk, 0);
        expect_reject_raw(&r, "corr", "bad corr");
    }
}

static void test_decode_rejects_bad_body(void **state)
{
    (void)state;
    for (int kind = 0; kind < 5; kind++) {
        raw_t r;
        raw_init(&r);
        raw_envelope(&r, "HEALTH", 0);
        if (kind == 0) msgpack_pack_array(&r.pk, 0);
        if (kind == 1) msgpack_pack_nil(&r.pk);
        if (kind == 2) pk_str(&r.pk, "{}");
        if (kind == 3) pk_bin(&r.pk, "\x80", 1);
        if (kind == 4) msgpack_pack_int(&r.pk, 0);
        expect_reject_raw(&r, "body is not a map", "body not a map");
    }
}

static void extra_int_key(msgpack_packer *pk, const lcx_msg_t *m)
{
    (void)m;
    msgpack_pack_int(pk, 1);
    pk_str(pk, "value");
}

static void extra_bin_key(msgpack_packer *pk, const lcx_msg_t *m)
{
    (void)m;
    pk_bin(pk, "session_id", 10);
    pk_str(pk, "value");
}

static void extra_nil_key(msgpack_packer *pk, const lcx_msg_t *m)
{
    (void)m;
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
}

static void test_decode_rejects_non_string_key(void **state)
{
    (void)state;
    void (*extras[])(msgpack_packer *, const lcx_msg_t *) = {extra_int_key, extra_bin_key,
                                                             extra_nil_key};
    for (size_t k = 0; k < sizeof extras / sizeof extras[0]; k++) {
        for (size_t i = 0; i < NSPEC; i++) {
            lcx_msg_t *m = make_full(SPEC[i].cmd);
            raw_t r;
            body_opts_t o = OPTS;
            o.extra = 1;
            o.extra_fn = extras[k];
            raw_frame(&r, m, o);
            expect_reject_raw(&r, "not a string", "non-string key");
            lcx_msg_destroy(&m);
        }
    }
    /* Also inside an EXECUTIONS item. */
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_EXECUTIONS);
    lcx_msg_list_touch(m, LCX_F_items);
    raw_t r;
    raw_init(&r);
    raw_envelope(&r, "EXECUTIONS", 0);
    msgpack_pack_map(&r.pk, 1);
    pk_str(&r.pk, "items");
    msgpack_pack_array(&r.pk, 1);
    lcx_msg_t *item = make_full(LCX_CMD_EXECUTION);
    body_opts_t o = OPTS;
    o.extra = 1;
    o.extra_fn = extra_int_key;
    raw_body(&r.pk, item, o);
    expect_reject_raw(&r, "not a string", "non-string key in an item");
    lcx_msg_destroy(&item);
    lcx_msg_destroy(&m);
}

/* ---------------------------------------------------------------------------------------- */
/* Decode refusals: field values                                                             */

static void pv_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void pv_true(msgpack_packer *pk)
{
    msgpack_pack_true(pk);
}
static void pv_int0(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 0);
}
static void pv_int1(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 1);
}
static void pv_float(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}
static void pv_float32(msgpack_packer *pk)
{
    msgpack_pack_float(pk, 2.0f);
}
static void pv_str(msgpack_packer *pk)
{
    pk_str(pk, "text");
}
static void pv_str_true(msgpack_packer *pk)
{
    pk_str(pk, "true");
}
static void pv_str_num(msgpack_packer *pk)
{
    pk_str(pk, "42");
}
static void pv_bin(msgpack_packer *pk)
{
    pk_bin(pk, "a\0b", 3);
}
static void pv_ext(msgpack_packer *pk)
{
    msgpack_pack_ext(pk, 2, 5);
    msgpack_pack_ext_body(pk, "ab", 2);
}
static void pv_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pk_str(pk, "a");
    msgpack_pack_int(pk, 1);
}
static void pv_arr_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_str(pk, "a");
}
static void pv_arr_str_int(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pk_str(pk, "a");
    msgpack_pack_int(pk, 1);
}
static void pv_arr_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_bin(pk, "a", 1);
}
static void pv_arr_nil(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_nil(pk);
}
static void pv_arr_arr(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 0);
}
static void pv_arr_str_nul(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pk_strn(pk, "a\0b", 3);
}
static void pv_uint_big(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, (uint64_t)INT64_MAX + 1);
}
static void pv_uint_max(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, UINT64_MAX);
}
static void pv_items_map_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 0);
}
static void pv_items_bad_field(msgpack_packer *pk)
{
    lcx_msg_t *item = make_full(LCX_CMD_EXECUTION);
    msgpack_pack_array(pk, 1);
    body_opts_t o = OPTS;
    o.override = LCX_F_attempts;
    o.override_fn = pv_str;
    raw_body(pk, item, o);
    lcx_msg_destroy(&item);
}
static void pv_items_good_then_int(msgpack_packer *pk)
{
    lcx_msg_t *item = make_full(LCX_CMD_EXECUTION);
    msgpack_pack_array(pk, 2);
    raw_body(pk, item, OPTS);
    msgpack_pack_int(pk, 3);
    lcx_msg_destroy(&item);
}

typedef struct {
    lcx_type_t type;
    pack_fn fn;
    const char *label;
    bool names_field; /* the reason names the field itself */
} wrong_t;

static const wrong_t WRONG[] = {
    {LCX_T_STR, pv_bin, "str given bin", true},
    {LCX_T_STR, pv_int1, "str given int", true},
    {LCX_T_STR, pv_nil, "str given nil", true},
    {LCX_T_STR, pv_true, "str given bool", true},
    {LCX_T_STR, pv_arr_str, "str given array", true},
    {LCX_T_STR, pv_map, "str given map", true},
    {LCX_T_STR, pv_float, "str given float", true},
    {LCX_T_STR, pv_ext, "str given ext", true},
    {LCX_T_BIN, pv_str, "bin given str", true},
    {LCX_T_BIN, pv_int1, "bin given int", true},
    {LCX_T_BIN, pv_nil, "bin given nil", true},
    {LCX_T_BIN, pv_arr_str, "bin given array", true},
    {LCX_T_BIN, pv_ext, "bin given ext", true},
    {LCX_T_INT, pv_str_num, "int given str", true},
    {LCX_T_INT, pv_float, "int given float64", true},
    {LCX_T_INT, pv_float32, "int given float32", true},
    {LCX_T_INT, pv_true, "int given bool", true},
    {LCX_T_INT, pv_nil, "int given nil", true},
    {LCX_T_INT, pv_bin, "int given bin", true},
    {LCX_T_INT, pv_uint_big, "int given INT64_MAX + 1", true},
    {LCX_T_INT, pv_uint_max, "int given UINT64_MAX", true},
    {LCX_T_INT, pv_arr_str, "int given array", true},
    {LCX_T_BOOL, pv_int1, "bool given 1", true},
    {LCX_T_BOOL, pv_int0, "bool given 0", true},
    {LCX_T_BOOL, pv_nil, "bool given nil", true},
    {LCX_T_BOOL, pv_str_true, "bool given \"true\"", true},
    {LCX_T_BOOL, pv_float, "bool given float", true},
    {LCX_T_LIST, pv_str, "list given str", true},
    {LCX_T_LIST, pv_map, "list given map", true},
    {LCX_T_LIST, pv_nil, "list given nil", true},
    {LCX_T_LIST, pv_arr_str_int, "list element int", true},
    {LCX_T_LIST, pv_arr_bin, "list element bin", true},
    {LCX_T_LIST, pv_arr_nil, "list element nil", true},
    {LCX_T_LIST, pv_arr_arr, "list element array", true},
    {LCX_T_LIST, pv_arr_str_nul, "list element with a NUL", true},
    {LCX_T_ITEMS, pv_map, "items given map", true},
    {LCX_T_ITEMS, pv_str, "items given str", true},
    {LCX_T_ITEMS, pv_nil, "items given nil", true},
    {LCX_T_ITEMS, pv_arr_str, "items element str", true},
    {LCX_T_ITEMS, pv_arr_arr, "items element array", true},
    {LCX_T_ITEMS, pv_items_good_then_int, "items element int after a good one", true},
    {LCX_T_ITEMS, pv_items_map_empty, "items element missing required", false},
    {LCX_T_ITEMS, pv_items_bad_field, "items element with a wrong type", false},
};

/* Every field of every command, given each wrong kind of value for its type. */
static void test_decode_rejects_wrong_types(void **state)
{
    (void)state;
    size_t cases = 0;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!has(m, f)) continue;
            for (size_t w = 0; w < sizeof WRONG / sizeof WRONG[0]; w++) {
                if (WRONG[w].type != lcx_field_type((lcx_field_t)f)) continue;
                raw_t r;
                body_opts_t o = OPTS;
                o.override = f;
                o.override_fn = WRONG[w].fn;
                raw_frame(&r, m, o);
                char what[128];
                snprintf(what, sizeof what, "%s.%s: %s", lcx_cmd_name(m->cmd),
                         lcx_field_name((lcx_field_t)f), WRONG[w].label);
                expect_reject_raw(&r, WRONG[w].names_field ? lcx_field_name((lcx_field_t)f) : NULL,
                                  what);
                cases++;
            }
        }
        lcx_msg_destroy(&m);
    }
    assert_true(cases > 300);
}

static void test_decode_rejects_missing_required(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!in_mask(SPEC[i].req, f)) continue;
            raw_t r;
            body_opts_t o = OPTS;
            o.skip = f;
            raw_frame(&r, m, o);
            expect_reject_raw(&r, lcx_field_name((lcx_field_t)f), "missing required field");
        }
        lcx_msg_destroy(&m);
    }
    /* Optional fields may be left out: the required-only frames decode. */
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_msg(SPEC[i].cmd, SPEC[i].req, 0);
        raw_t r;
        raw_frame(&r, m, OPTS);
        lcx_msg_t *back = expect_accept(r.sb.data, r.sb.size, "required only");
        assert_msg_equal(m, back);
        lcx_msg_destroy(&back);
        raw_free(&r);
        lcx_msg_destroy(&m);
    }
}

static void test_decode_rejects_duplicate_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!has(m, f)) continue;
            raw_t r;
            body_opts_t o = OPTS;
            o.dup = f;
            raw_frame(&r, m, o);
            expect_reject_raw(&r, "twice", lcx_field_name((lcx_field_t)f));
        }
        lcx_msg_destroy(&m);
    }
}

static void test_decode_integer_range(void **state)
{
    (void)state;
    lcx_msg_t *m = make_msg(LCX_CMD_UPDATE, spec_of(LCX_CMD_UPDATE)->req, 1);
    lcx_msg_set_int(m, LCX_F_exit_code, 0);

    raw_t r;
    body_opts_t o = OPTS;
    o.override = LCX_F_exit_code;
    o.override_fn = pv_uint_big;
    raw_frame(&r, m, o);
    expect_reject_raw(&r, "out of range", "INT64_MAX + 1");

    static const int64_t edges[] = {INT64_MAX, INT64_MIN};
    for (int i = 0; i < 2; i++) {
        lcx_msg_set_int(m, LCX_F_exit_code, edges[i]);
        raw_frame(&r, m, OPTS);
        lcx_msg_t *back = expect_accept(r.sb.data, r.sb.size, "int64 edge");
        assert_true(back->exit_code.v == edges[i]);
        lcx_msg_destroy(&back);
        raw_free(&r);
    }
    /* INT64_MAX sent as a uint64 (0xcf) is in range. */
    raw_init(&r);
    raw_envelope(&r, "HEARTBEAT", 0);
    msgpack_pack_map(&r.pk, 1);
    pk_str(&r.pk, "free_slots");
    msgpack_pack_fix_uint64(&r.pk, INT64_MAX);
    lcx_msg_t *back = expect_accept(r.sb.data, r.sb.size, "uint64 INT64_MAX");
    assert_true(back->free_slots.set && back->free_slots.v == INT64_MAX);
    lcx_msg_destroy(&back);
    raw_free(&r);
    lcx_msg_destroy(&m);
}

static void pack_languages(raw_t *r, size_t n)
{
    raw_envelope(r, "READY", 5);
    msgpack_pack_map(&r->pk, 3);
    pk_str(&r->pk, "runner_id");
    pk_str(&r->pk, "r1");
    pk_str(&r->pk, "slots");
    msgpack_pack_int(&r->pk, 2);
    pk_str(&r->pk, "languages");
    msgpack_pack_array(&r->pk, n);
    for (size_t i = 0; i < n; i++)
        pk_str(&r->pk, "c");
}

static void pack_items(raw_t *r, size_t n)
{
    lcx_msg_t *item = make_msg(LCX_CMD_EXECUTION, spec_of(LCX_CMD_EXECUTION)->req, 0);
    raw_envelope(r, "EXECUTIONS", 6);
    msgpack_pack_map(&r->pk, 1);
    pk_str(&r->pk, "items");
    msgpack_pack_array(&r->pk, n);
    for (size_t i = 0; i < n; i++)
        raw_body(&r->pk, item, OPTS);
    lcx_msg_destroy(&item);
}

static void test_decode_list_limit(void **state)
{
    (void)state;
    raw_t r;
    raw_init(&r);
    pack_languages(&r, LCX_PROTO_MAX_LIST);
    lcx_msg_t *m = expect_accept(r.sb.data, r.sb.size, "list at the limit");
    assert_int_equal(m->languages.n, LCX_PROTO_MAX_LIST);
    lcx_msg_destroy(&m);
    raw_free(&r);

    raw_init(&r);
    pack_languages(&r, LCX_PROTO_MAX_LIST + 1);
    expect_reject_raw(&r, "languages", "list over the limit");

    raw_init(&r);
    pack_items(&r, LCX_PROTO_MAX_LIST);
    m = expect_accept(r.sb.data, r.sb.size, "items at the limit");
    assert_int_equal(m->items.n, LCX_PROTO_MAX_LIST);
    lcx_msg_destroy(&m);
    raw_free(&r);

    raw_init(&r);
    pack_items(&r, LCX_PROTO_MAX_LIST + 1);
    expect_reject_raw(&r, "items", "items over the limit");
}

/* Container and byte-string headers that claim more than the frame holds. */
static void test_decode_rejects_lying_counts(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *what;
    } lies[] = {
        {"\x94\xdd\xff\xff\xff\xff", 6, "array32 of 4 billion inside the envelope"},
        {"\xdd\xff\xff\xff\xff", 5, "root array32 of 4 billion"},
        {"\xdf\xff\xff\xff\xff", 5, "root map32 of 4 billion"},
        {"\xdc\xff\xff", 3, "root array16 of 65535"},
        {"\xde\xff\xff", 3, "root map16 of 65535"},
        {"\xdd\x00\x00\x00\x04\x01\xa6HEALTH\x00", 13, "array32 of 4 holding 3"},
        {"\x94\x01\xa6HEALTH\x00\xdf\xff\xff\xff\xff", 14, "body map32 of 4 billion"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xdd\x7f\xff\xff\xff", 17, "unknown field array32"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xc6\xff\xff\xff\xff", 17, "bin32 of 4 GiB"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xdb\xff\xff\xff\xff", 17, "str32 of 4 GiB"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xc9\xff\xff\xff\xff\x01", 18, "ext32 of 4 GiB"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xc5\x00\x10", 14, "bin16 of 16 with 0"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xd9\x05"
         "abc",
         16, "str8 of 5 with 3"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xd8\x01", 13, "fixext16 cut short"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xcb\x00\x00", 14, "float64 cut short"},
        {"\x94\x01\xa6HEALTH\x00\x82\xa1x\x01", 12, "fixmap of 2 holding 1"},
        {"\x94\x01\xa6HEALTH\x00\x81\xa1x\xbf"
         "ab",
         14, "fixstr of 31 with 2"},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++)
        expect_reject(lies[i].bytes, lies[i].len, NULL, lies[i].what);
}

/* [1, "HEALTH", 0, {"x": [[...]]}]: the root array and the body map are two levels. */
static void pack_nested(raw_t *r, const char *cmd, int arrays)
{
    raw_init(r);
    raw_envelope(r, cmd, 0);
    msgpack_pack_map(&r->pk, 1);
    pk_str(&r->pk, "x");
    for (int i = 0; i < arrays; i++)
        msgpack_pack_array(&r->pk, i + 1 < arrays ? 1 : 0);
}

static void test_decode_nesting_limit(void **state)
{
    (void)state;
    raw_t r;
    pack_nested(&r, "HEALTH", 6); /* 8 levels */
    lcx_msg_t *m = expect_accept(r.sb.data, r.sb.size, "8 levels");
    lcx_msg_destroy(&m);
    raw_free(&r);

    pack_nested(&r, "HEALTH", 7); /* 9 levels */
    expect_reject_raw(&r, "deep", "9 levels");

    pack_nested(&r, "HEALTH", 40); /* beyond msgpack-c's own limit of 32 */
    expect_reject_raw(&r, "deep", "42 levels");

    /* Inside an item: envelope, body, items, item map are 4 levels. */
    lcx_msg_t *item = make_msg(LCX_CMD_EXECUTION, spec_of(LCX_CMD_EXECUTION)->req, 0);
    for (int arrays = 4; arrays <= 5; arrays++) {
        /* The item's last pair is an unknown field holding the nested arrays. */
        raw_init(&r);
        raw_envelope(&r, "EXECUTIONS", 0);
        msgpack_pack_map(&r.pk, 1);
        pk_str(&r.pk, "items");
        msgpack_pack_array(&r.pk, 1);
        size_t count = 0;
        for (int f = 0; f < LCX_F_COUNT; f++)
            count += has(item, f);
        msgpack_pack_map(&r.pk, count + 1);
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!has(item, f)) continue;
            pk_str(&r.pk, lcx_field_name((lcx_field_t)f));
            raw_value(&r.pk, item, f);
        }
        pk_str(&r.pk, "future");
        for (int i = 0; i < arrays; i++)
            msgpack_pack_array(&r.pk, i + 1 < arrays ? 1 : 0);
        if (arrays == 4) {
            m = expect_accept(r.sb.data, r.sb.size, "8 levels through an item");
            assert_int_equal(m->items.n, 1);
            lcx_msg_destroy(&m);
            raw_free(&r);
        } else {
            expect_reject_raw(&r, "deep", "9 levels through an item");
        }
    }
    lcx_msg_destroy(&item);
}

/* ---------------------------------------------------------------------------------------- */
/* Forward compatibility                                                                     */

static void extra_unknown(msgpack_packer *pk, const lcx_msg_t *m)
{
    /* Fields no command defines, of every msgpack type, nested. */
    pk_str(pk, "future_field");
    msgpack_pack_map(pk, 2);
    pk_str(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, -5);
    msgpack_pack_nil(pk);
    msgpack_pack_double(pk, 0.5);
    msgpack_pack_int(pk, 9); /* a non-string key nested in an unknown value is not ours */
    pk_bin(pk, "\0", 1);
    pk_str(pk, "future_ext");
    pv_ext(pk);
    pk_str(pk, "future_field"); /* a duplicate of an unknown key is ignored too */
    msgpack_pack_true(pk);
    pk_str(pk, "Session_Id"); /* names are case-sensitive */
    msgpack_pack_nil(pk);
    /* Every known field that this command does not allow, with a value of the wrong type. */
    const spec_t *s = spec_of(m->cmd);
    for (int f = 0; f < LCX_F_COUNT; f++) {
        if (in_mask(s->req | s->opt, f)) continue;
        pk_str(pk, lcx_field_name((lcx_field_t)f));
        msgpack_pack_nil(pk);
    }
}

static void test_decode_ignores_unknown_fields(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        const spec_t *s = &SPEC[i];
        int disallowed = 0;
        for (int f = 0; f < LCX_F_COUNT; f++)
            disallowed += !in_mask(s->req | s->opt, f);
        for (int reverse = 0; reverse < 2; reverse++) {
            raw_t r;
            body_opts_t o = OPTS;
            o.extra = 4 + disallowed;
            o.extra_fn = extra_unknown;
            o.reverse = reverse;
            raw_frame(&r, m, o);
            lcx_msg_t *back = expect_accept(r.sb.data, r.sb.size, lcx_cmd_name(m->cmd));
            assert_msg_equal(m, back);
            lcx_msg_destroy(&back);
            raw_free(&r);
        }
        lcx_msg_destroy(&m);
    }
}

/* Byte flips in valid frames: no crash, no leak, and whatever decodes re-encodes to an equal
 * message (a decoded message always satisfies its schema). */
static void test_decode_mutations(void **state)
{
    (void)state;
    uint64_t x = 0x2545f4914f6cdd1du;
    size_t accepted = 0, rejected = 0;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *m = make_full(SPEC[i].cmd);
        char err[256];
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(lcx_msg_encode(m, &buf, &len, err, sizeof err), 0);
        for (int n = 0; n < 400; n++) {
            unsigned char *copy = malloc(len);
            assert_non_null(copy);
            memcpy(copy, buf, len);
            int flips = 1 + n % 3;
            for (int k = 0; k < flips; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                copy[(x >> 8) % len] = (unsigned char)(x >> 40);
            }
            lcx_msg_t *got = lcx_msg_decode(copy, len, err, sizeof err);
            free(copy);
            if (!got) {
                assert_true(err[0] != '\0');
                rejected++;
                continue;
            }
            accepted++;
            char *again = NULL;
            size_t again_len = 0;
            if (lcx_msg_encode(got, &again, &again_len, err, sizeof err) != 0)
                fail_msg("a decoded %s does not re-encode: %s", lcx_cmd_name(got->cmd), err);
            lcx_msg_t *back = expect_accept(again, again_len, "re-encoded");
            assert_msg_equal(got, back);
            lcx_msg_destroy(&back);
            lcx_msg_destroy(&got);
            free(again);
        }
        free(buf);
        lcx_msg_destroy(&m);
    }
    assert_true(rejected > 0);
    assert_true(accepted > 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */

static void test_setters_check_types(void **state)
{
    (void)state;
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_UPDATE);
    assert_int_equal(lcx_msg_set_int(m, LCX_F_status, 1), -1);
    assert_int_equal(lcx_msg_set_int(m, LCX_F_stdout_truncated, 1), -1);
    assert_int_equal(lcx_msg_set_bool(m, LCX_F_exit_code, true), -1);
    assert_int_equal(lcx_msg_set_str(m, LCX_F_exit_code, "1"), -1);
    assert_int_equal(lcx_msg_set_bytes(m, LCX_F_languages, "a", 1), -1);
    assert_int_equal(lcx_msg_list_append(m, LCX_F_status, "a"), -1);
    assert_int_equal(lcx_msg_list_append(m, LCX_F_items, "a"), -1);
    assert_int_equal(lcx_msg_list_touch(m, LCX_F_status), -1);
    assert_int_equal(lcx_msg_items_append(m, NULL), -1);
    lcx_msg_t *none = NULL;
    assert_int_equal(lcx_msg_items_append(m, &none), -1);
    for (int f = 0; f < LCX_F_COUNT; f++)
        assert_false(has(m, f));

    /* Setting again replaces; clearing removes; set_str(NULL) clears. */
    assert_int_equal(lcx_msg_set_str(m, LCX_F_status, "RUNNING"), 0);
    assert_int_equal(lcx_msg_set_str(m, LCX_F_status, "COMPLETED"), 0);
    assert_string_equal(m->status.ptr, "COMPLETED");
    assert_int_equal(m->status.len, 9);
    assert_int_equal(lcx_msg_set_str(m, LCX_F_status, NULL), 0);
    assert_false(lcx_msg_has(m, LCX_F_status));
    assert_int_equal(lcx_msg_set_bytes(m, LCX_F_stdout, NULL, 0), 0); /* empty, present */
    assert_true(lcx_msg_has(m, LCX_F_stdout));
    assert_int_equal(m->stdout.len, 0);
    assert_int_equal(m->stdout.ptr[0], '\0');
    assert_int_equal(lcx_msg_set_int(m, LCX_F_exit_code, 0), 0);
    assert_true(lcx_msg_has(m, LCX_F_exit_code));
    lcx_msg_clear(m, LCX_F_exit_code);
    assert_false(lcx_msg_has(m, LCX_F_exit_code));
    assert_int_equal(lcx_msg_set_bool(m, LCX_F_stdout_truncated, false), 0);
    assert_true(lcx_msg_has(m, LCX_F_stdout_truncated));
    /* The setters copy. */
    char text[] = "exec-1";
    lcx_msg_set_str(m, LCX_F_execution_id, text);
    text[0] = 'X';
    assert_string_equal(m->execution_id.ptr, "exec-1");
    lcx_msg_destroy(&m);
    assert_null(m);
    lcx_msg_destroy(&m);   /* NULL is fine */
    lcx_msg_destroy(NULL); /* so is a NULL pointer */
}

static void test_reply_copies_corr_and_routing_id(void **state)
{
    (void)state;
    lcx_msg_t *req = make_full(LCX_CMD_EXECUTION_GET);
    req->corr = 0xfeedfacecafebeefu;
    req->routing_id = zframe_new("peer-\x01\x02", 7);
    lcx_msg_t *reply = lcx_msg_reply(req, LCX_CMD_ERROR);
    assert_non_null(reply);
    assert_int_equal(reply->cmd, LCX_CMD_ERROR);
    assert_true(reply->corr == 0xfeedfacecafebeefu);
    assert_non_null(reply->routing_id);
    assert_ptr_not_equal(reply->routing_id, req->routing_id);
    assert_true(zframe_eq(reply->routing_id, req->routing_id));
    for (int f = 0; f < LCX_F_COUNT; f++)
        assert_false(has(reply, f)); /* no fields come along */
    lcx_msg_destroy(&req);           /* the reply owns its own copy */
    assert_int_equal(zframe_size(reply->routing_id), 7);
    assert_memory_equal(zframe_data(reply->routing_id), "peer-\x01\x02", 7);
    lcx_msg_destroy(&reply);

    /* From a DEALER (no routing id). */
    req = lcx_msg_new(LCX_CMD_HEALTH);
    req->corr = 3;
    reply = lcx_msg_reply(req, LCX_CMD_HEALTH_REPLY);
    assert_null(reply->routing_id);
    assert_int_equal(reply->corr, 3);
    lcx_msg_destroy(&req);
    lcx_msg_destroy(&reply);
}

static void test_dup_deep_copies(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *orig = make_full(SPEC[i].cmd);
        orig->routing_id = zframe_new("rid", 3);
        lcx_msg_t *copy = lcx_msg_dup(orig);
        assert_non_null(copy);
        assert_msg_equal(orig, copy);
        assert_ptr_not_equal(copy->routing_id, orig->routing_id);
        assert_true(zframe_eq(copy->routing_id, orig->routing_id));
        for (int f = 0; f < LCX_F_COUNT; f++) {
            if (!has(orig, f)) continue;
            switch (lcx_field_type((lcx_field_t)f)) {
            case LCX_T_STR:
            case LCX_T_BIN:
                assert_ptr_not_equal(((lcx_buf_t *)slot(orig, f))->ptr,
                                     ((lcx_buf_t *)slot(copy, f))->ptr);
                break;
            case LCX_T_LIST: {
                const lcx_list_t *a = slot(orig, f), *b = slot(copy, f);
                for (size_t k = 0; k < a->n; k++)
                    assert_ptr_not_equal(a->v[k], b->v[k]);
                break;
            }
            case LCX_T_ITEMS: {
                const lcx_items_t *a = slot(orig, f), *b = slot(copy, f);
                for (size_t k = 0; k < a->n; k++) {
                    assert_ptr_not_equal(a->v[k], b->v[k]);
                    if (a->v[k]->stdout.ptr)
                        assert_ptr_not_equal(a->v[k]->stdout.ptr, b->v[k]->stdout.ptr);
                }
                break;
            }
            default:
                break;
            }
        }
        /* Freeing the original leaves the copy whole (valgrind checks the reads). */
        lcx_msg_destroy(&orig);
        lcx_msg_t *fresh = make_full(SPEC[i].cmd);
        assert_msg_equal(fresh, copy);
        assert_round_trip(copy);
        lcx_msg_destroy(&fresh);
        lcx_msg_destroy(&copy);
    }
}

static void test_copy_fields_only_allowed(void **state)
{
    (void)state;
    /* Every ordered pair of commands: exactly the fields both know are copied, nothing else
     * changes, and corr and routing id never move. */
    for (size_t i = 0; i < NSPEC; i++) {
        lcx_msg_t *from = make_full(SPEC[i].cmd);
        from->routing_id = zframe_new("from", 4);
        for (size_t j = 0; j < NSPEC; j++) {
            const spec_t *to_spec = &SPEC[j];
            lcx_msg_t *to = lcx_msg_new(to_spec->cmd);
            to->corr = 77;
            /* One allowed field pre-set to another value: overwritten if `from` has it,
             * kept otherwise. */
            int preset = -1;
            for (int f = 0; f < LCX_F_COUNT && preset < 0; f++)
                if (in_mask(to_spec->req | to_spec->opt, f) &&
                    lcx_field_type((lcx_field_t)f) == LCX_T_STR)
                    preset = f;
            if (preset >= 0) lcx_msg_set_str(to, (lcx_field_t)preset, "preset");
            lcx_msg_copy_fields(to, from);
            assert_int_equal(to->corr, 77);
            assert_null(to->routing_id);
            for (int f = 0; f < LCX_F_COUNT; f++) {
                bool allowed = in_mask(to_spec->req | to_spec->opt, f);
                /* items move only between commands holding the same record kind */
                if (f == LCX_F_items && item_kind(to->cmd) != item_kind(from->cmd)) allowed = false;
                if (allowed && has(from, f)) {
                    assert_true(has(to, f));
                } else if (f == preset) {
                    assert_string_equal(((lcx_buf_t *)slot(to, f))->ptr, "preset");
                } else if (has(to, f)) {
                    fail_msg("%s -> %s copied %s", lcx_cmd_name(from->cmd), lcx_cmd_name(to->cmd),
                             lcx_field_name((lcx_field_t)f));
                }
            }
            /* Values equal: compare against a message holding just the shared fields. */
            lcx_msg_t *expect = lcx_msg_new(to_spec->cmd);
            expect->corr = 77;
            for (int f = 0; f < LCX_F_COUNT; f++)
                if (in_mask(to_spec->req | to_spec->opt, f) && has(from, f) &&
                    (f != LCX_F_items || item_kind(to->cmd) == item_kind(from->cmd)))
                    fill_field(expect, f);
            if (preset >= 0 && !has(from, preset))
                lcx_msg_set_str(expect, (lcx_field_t)preset, "preset");
            assert_msg_equal(expect, to);
            lcx_msg_destroy(&expect);
            lcx_msg_destroy(&to);
        }
        lcx_msg_destroy(&from);
    }

    /* The typical use: an EXECUTION built from a runner's UPDATE. */
    lcx_msg_t *update = make_full(LCX_CMD_UPDATE);
    lcx_msg_t *exec = make_msg(LCX_CMD_EXECUTION, spec_of(LCX_CMD_EXECUTION)->req, 1);
    lcx_msg_set_str(exec, LCX_F_status, "RUNNING");
    lcx_msg_copy_fields(exec, update);
    assert_false(lcx_msg_has(exec, LCX_F_runner_id)); /* not an EXECUTION field */
    assert_false(lcx_msg_has(exec, LCX_F_message));
    assert_false(lcx_msg_has(exec, LCX_F_attempt));
    assert_memory_equal(exec->stdout.ptr, update->stdout.ptr, update->stdout.len);
    assert_string_equal(exec->status.ptr, update->status.ptr);
    assert_round_trip(exec);
    /* The copy is deep. */
    lcx_msg_destroy(&update);
    assert_round_trip(exec);
    lcx_msg_destroy(&exec);
}

/* ---------------------------------------------------------------------------------------- */
/* Socket I/O                                                                                */

typedef struct {
    zsock_t *router;
    zsock_t *dealer;
} pair_t;

static void pair_open(pair_t *p, const char *endpoint, const char *identity)
{
    p->router = zsock_new_router(endpoint);
    assert_non_null(p->router);
    zsock_set_rcvtimeo(p->router, 2000);
    p->dealer = zsock_new(ZMQ_DEALER);
    assert_non_null(p->dealer);
    if (identity) zsock_set_identity(p->dealer, identity);
    zsock_set_rcvtimeo(p->dealer, 2000);
    assert_int_equal(zsock_connect(p->dealer, "%s", endpoint), 0);
}

static void pair_close(pair_t *p)
{
    zsock_destroy(&p->dealer);
    zsock_destroy(&p->router);
}

static void test_socket_round_trip(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, "inproc://test-proto-round-trip", "gateway-7");
    char err[256];

    /* DEALER -> ROUTER: the router learns the routing id. */
    lcx_msg_t *req = make_full(LCX_CMD_RUN);
    req->corr = 4242;
    lcx_msg_t *expect = lcx_msg_dup(req);
    assert_int_equal(lcx_msg_send(&req, p.dealer, err, sizeof err), 0);
    assert_null(req);
    lcx_msg_t *got = lcx_msg_recv(p.router, err, sizeof err);
    if (!got) fail_msg("router recv: %s", err);
    assert_string_equal(err, "");
    assert_non_null(got->routing_id);
    assert_int_equal(zframe_size(got->routing_id), 9);
    assert_memory_equal(zframe_data(got->routing_id), "gateway-7", 9);
    assert_msg_equal(expect, got);
    lcx_msg_destroy(&expect);

    /* ROUTER -> DEALER: a reply goes back to that peer; the dealer sees no routing id. */
    lcx_msg_t *reply = lcx_msg_reply(got, LCX_CMD_EXECUTION);
    lcx_msg_destroy(&got);
    const spec_t *s = spec_of(LCX_CMD_EXECUTION);
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (in_mask(s->req | s->opt, f)) fill_field(reply, f);
    expect = lcx_msg_dup(reply);
    assert_int_equal(lcx_msg_send(&reply, p.router, err, sizeof err), 0);
    assert_null(reply);
    got = lcx_msg_recv(p.dealer, err, sizeof err);
    if (!got) fail_msg("dealer recv: %s", err);
    assert_null(got->routing_id);
    assert_int_equal(got->corr, 4242);
    got->routing_id = zframe_dup(expect->routing_id); /* only for the comparison */
    assert_msg_equal(expect, got);
    lcx_msg_destroy(&expect);
    lcx_msg_destroy(&got);

    /* Nothing pending: recv times out with NULL and an empty err. */
    zsock_set_rcvtimeo(p.dealer, 50);
    strcpy(err, "stale");
    assert_null(lcx_msg_recv(p.dealer, err, sizeof err));
    assert_string_equal(err, "");
    pair_close(&p);
}

static void test_socket_rejects_bad_frames(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, "inproc://test-proto-bad-frames", "runner-1");
    char err[256];
    lcx_msg_t *hb = lcx_msg_new(LCX_CMD_HEARTBEAT);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(lcx_msg_encode(hb, &buf, &len, err, sizeof err), 0);
    lcx_msg_destroy(&hb);

    /* Two body frames: dropped with a reason, the next message still comes through. */
    zmsg_t *two = zmsg_new();
    zmsg_addmem(two, buf, len);
    zmsg_addmem(two, buf, len);
    assert_int_equal(zmsg_send(&two, p.dealer), 0);
    strcpy(err, "");
    assert_null(lcx_msg_recv(p.router, err, sizeof err));
    assert_non_null(strstr(err, "got 2"));

    /* An empty delimiter frame before the body (a REQ-style envelope) is two frames too. */
    zmsg_t *delim = zmsg_new();
    zmsg_addmem(delim, "", 0);
    zmsg_addmem(delim, buf, len);
    assert_int_equal(zmsg_send(&delim, p.dealer), 0);
    assert_null(lcx_msg_recv(p.router, err, sizeof err));
    assert_non_null(strstr(err, "got 2"));

    /* A malformed body frame: dropped with the codec's reason. */
    assert_int_equal(zstr_send(p.dealer, "not msgpack"), 0);
    assert_null(lcx_msg_recv(p.router, err, sizeof err));
    assert_true(err[0] != '\0');

    /* Then a good one. */
    assert_int_equal(zsock_send(p.dealer, "b", buf, len), 0);
    lcx_msg_t *got = lcx_msg_recv(p.router, err, sizeof err);
    assert_non_null(got);
    assert_int_equal(got->cmd, LCX_CMD_HEARTBEAT);
    zframe_t *peer = zframe_dup(got->routing_id);
    lcx_msg_destroy(&got);

    /* Router to dealer: two body frames after the routing id, and an empty frame. */
    zmsg_t *back = zmsg_new();
    zmsg_append(back, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(back, buf, len);
    zmsg_addmem(back, buf, len);
    assert_int_equal(zmsg_send(&back, p.router), 0);
    assert_null(lcx_msg_recv(p.dealer, err, sizeof err));
    assert_non_null(strstr(err, "got 2"));

    back = zmsg_new();
    zmsg_append(back, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(back, "", 0);
    assert_int_equal(zmsg_send(&back, p.router), 0);
    assert_null(lcx_msg_recv(p.dealer, err, sizeof err));
    assert_true(err[0] != '\0');

    /* Send on a ROUTER without a routing id: refused, and the message is still consumed. */
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_HEARTBEAT);
    assert_int_equal(lcx_msg_send(&m, p.router, err, sizeof err), -1);
    assert_null(m);
    assert_non_null(strstr(err, "routing id"));

    /* A message that does not encode: refused, consumed. */
    m = lcx_msg_new(LCX_CMD_ACCEPTED);
    m->routing_id = zframe_dup(peer);
    assert_int_equal(lcx_msg_send(&m, p.router, err, sizeof err), -1);
    assert_null(m);
    assert_non_null(strstr(err, "execution_id"));

    /* An unknown peer with ROUTER_MANDATORY: EHOSTUNREACH. */
    zsock_set_router_mandatory(p.router, 1);
    m = lcx_msg_new(LCX_CMD_DISCONNECT);
    m->routing_id = zframe_new("nobody", 6);
    err[0] = '\0';
    assert_int_equal(lcx_msg_send(&m, p.router, err, sizeof err), -1);
    assert_int_equal(errno, EHOSTUNREACH);
    assert_null(m);
    assert_true(err[0] != '\0');

    /* The pair still works after all that. */
    m = lcx_msg_new(LCX_CMD_DISCONNECT);
    m->routing_id = zframe_dup(peer);
    lcx_msg_set_str(m, LCX_F_message, "unknown runner: register again");
    assert_int_equal(lcx_msg_send(&m, p.router, err, sizeof err), 0);
    got = lcx_msg_recv(p.dealer, err, sizeof err);
    assert_non_null(got);
    assert_int_equal(got->cmd, LCX_CMD_DISCONNECT);
    assert_string_equal(got->message.ptr, "unknown runner: register again");
    lcx_msg_destroy(&got);

    zframe_destroy(&peer);
    free(buf);
    pair_close(&p);
}

/* Two dealers on one router: each reply reaches the peer that asked. */
static void test_socket_routes_by_id(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, "inproc://test-proto-two-peers", "runner-a");
    zsock_t *other = zsock_new(ZMQ_DEALER);
    zsock_set_identity(other, "runner-b");
    zsock_set_rcvtimeo(other, 2000);
    assert_int_equal(zsock_connect(other, "inproc://test-proto-two-peers"), 0);
    char err[256];
    zsock_t *dealers[2] = {p.dealer, other};
    for (int i = 0; i < 2; i++) {
        lcx_msg_t *ready = make_full(LCX_CMD_READY);
        ready->corr = (uint64_t)i;
        assert_int_equal(lcx_msg_send(&ready, dealers[i], err, sizeof err), 0);
    }
    for (int i = 0; i < 2; i++) {
        lcx_msg_t *got = lcx_msg_recv(p.router, err, sizeof err);
        assert_non_null(got);
        const char *want = got->corr == 0 ? "runner-a" : "runner-b";
        assert_true(zframe_streq(got->routing_id, want));
        lcx_msg_t *ack = lcx_msg_reply(got, LCX_CMD_HEARTBEAT);
        lcx_msg_destroy(&got);
        assert_int_equal(lcx_msg_send(&ack, p.router, err, sizeof err), 0);
    }
    for (int i = 0; i < 2; i++) {
        lcx_msg_t *got = lcx_msg_recv(dealers[i], err, sizeof err);
        assert_non_null(got);
        assert_int_equal(got->cmd, LCX_CMD_HEARTBEAT);
        assert_int_equal(got->corr, (uint64_t)i);
        lcx_msg_destroy(&got);
    }
    zsock_destroy(&other);
    pair_close(&p);
}

/* ---------------------------------------------------------------------------------------- */
/* Regression tests for codec defects found in review (all fixed).                          */

/* Encode does not apply LCX_PROTO_MAX_LIST, so a sender produces frames every receiver drops. */
static void test_bug_encode_ignores_list_limit(void **state)
{
    (void)state;
    lcx_msg_t *m = make_msg(LCX_CMD_READY, spec_of(LCX_CMD_READY)->req, 1);
    for (int i = 0; i <= LCX_PROTO_MAX_LIST; i++)
        lcx_msg_list_append(m, LCX_F_languages, "c");
    char err[256] = "";
    char *buf = NULL;
    size_t len = 0;
    int rc = lcx_msg_encode(m, &buf, &len, err, sizeof err);
    if (rc == 0) {
        lcx_msg_t *back = lcx_msg_decode(buf, len, err, sizeof err);
        int decoded = back != NULL;
        lcx_msg_destroy(&back);
        free(buf);
        lcx_msg_destroy(&m);
        fail_msg("encode accepted %d languages; decode %s (%s)", LCX_PROTO_MAX_LIST + 1,
                 decoded ? "accepted" : "rejected", err);
    }
    lcx_msg_destroy(&m);
}

/* A STR field holding a NUL decodes, though a LIST element holding one is refused: services
 * reading .ptr as a C string see a different value than the one compared/stored by length. */
static void test_bug_str_field_accepts_nul(void **state)
{
    (void)state;
    /* [1, "SESSION_GET", 0, {"session_id": "abc\0def"}] */
    static const char frame[] = "\x94\x01\xabSESSION_GET\x00\x81\xaasession_id\xa7"
                                "abc\0def";
    expect_reject(frame, sizeof frame - 1, "session_id", "STR field with a NUL");
}

/* lcx_msg_send never clears err and writes its reason only when err[0] is already 0: after a
 * failed send, err holds an earlier reason, or, when the caller's buffer is uninitialised (as in
 * services/dispatcher/broker.c send_to and services/runner/worker.c send_msg), garbage. */
static void test_bug_send_keeps_stale_err(void **state)
{
    (void)state;
    pair_t p;
    pair_open(&p, "inproc://test-proto-stale-err", "peer");
    zsock_set_router_mandatory(p.router, 1);
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_HEARTBEAT);
    m->routing_id = zframe_new("nobody", 6);
    char err[256] = "an earlier, unrelated error";
    assert_int_equal(lcx_msg_send(&m, p.router, err, sizeof err), -1);
    pair_close(&p);
    if (strcmp(err, "an earlier, unrelated error") == 0)
        fail_msg("send failed (EHOSTUNREACH) but err still says '%s'", err);
}

/* lcx_msg_copy_fields(m, m) empties every LIST and ITEMS field of m. */
static void test_bug_copy_fields_onto_itself(void **state)
{
    (void)state;
    lcx_msg_t *m = make_full(LCX_CMD_READY);
    lcx_msg_t *before = lcx_msg_dup(m);
    lcx_msg_copy_fields(m, m);
    assert_msg_equal(before, m);
    lcx_msg_destroy(&before);
    lcx_msg_destroy(&m);
}

/* lcx_msg_set_str(m, <an INT field>, NULL) returns 0 and clears the integer. */
static void test_bug_set_str_null_ignores_type(void **state)
{
    (void)state;
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_UPDATE);
    lcx_msg_set_int(m, LCX_F_exit_code, 3);
    int rc = lcx_msg_set_str(m, LCX_F_exit_code, NULL);
    bool still = lcx_msg_has(m, LCX_F_exit_code);
    lcx_msg_destroy(&m);
    assert_int_equal(rc, -1);
    assert_true(still);
}

/* ADOPT and ADOPTED (PROTOCOL.md 6.2): both need runner_id and running; an ADOPTED that
 * confirms nothing still carries running, as [] (present, empty). */
static void test_adopt_commands(void **state)
{
    (void)state;
    char err[256], *buf = NULL;
    size_t len = 0;
    lcx_msg_t *ask = lcx_msg_new(LCX_CMD_ADOPT);
    lcx_msg_set_str(ask, LCX_F_runner_id, "runner-1");
    assert_int_equal(lcx_msg_encode(ask, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "running"));
    lcx_msg_list_append(ask, LCX_F_running, "0b6f2c1e-0000-4000-8000-000000000001/1");
    ask->corr = 42;
    assert_int_equal(lcx_msg_encode(ask, &buf, &len, err, sizeof err), 0);
    lcx_msg_t *back = lcx_msg_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(back);
    assert_int_equal(back->cmd, LCX_CMD_ADOPT);
    assert_int_equal(back->corr, 42);
    assert_int_equal(back->running.n, 1);
    assert_string_equal(back->running.v[0], "0b6f2c1e-0000-4000-8000-000000000001/1");

    lcx_msg_t *answer = lcx_msg_reply(back, LCX_CMD_ADOPTED);
    lcx_msg_set_str(answer, LCX_F_runner_id, back->runner_id.ptr);
    assert_int_equal(lcx_msg_encode(answer, &buf, &len, err, sizeof err), -1); /* no running */
    lcx_msg_list_touch(answer, LCX_F_running);
    assert_int_equal(lcx_msg_encode(answer, &buf, &len, err, sizeof err), 0);
    lcx_msg_t *none = lcx_msg_decode(buf, len, err, sizeof err);
    free(buf);
    assert_non_null(none);
    assert_int_equal(none->corr, 42);
    assert_true(none->running.set);
    assert_int_equal(none->running.n, 0);
    /* The runner's name is required in the answer too. */
    static const char no_name[] = "\x94\x01\xa7"
                                  "ADOPTED"
                                  "\x00\x81\xa7running\x90";
    lcx_msg_t *bad = lcx_msg_decode(no_name, sizeof no_name - 1, err, sizeof err);
    assert_null(bad);
    assert_non_null(strstr(err, "runner_id"));
    lcx_msg_destroy(&none);
    lcx_msg_destroy(&answer);
    lcx_msg_destroy(&back);
    lcx_msg_destroy(&ask);
}

/* lcx_msg_recv keeps the connection's ZAP User-Id: empty without a mechanism, the client's
 * public key (Z85) over CURVE with zauth; dup copies it. */
static void test_socket_user_id(void **state)
{
    (void)state;
    char err[256];
    pair_t p;
    pair_open(&p, "inproc://test-proto-user-id", "plain");
    lcx_msg_t *m = lcx_msg_new(LCX_CMD_HEARTBEAT);
    assert_int_equal(lcx_msg_send(&m, p.dealer, err, sizeof err), 0);
    lcx_msg_t *got = lcx_msg_recv(p.router, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got->user_id, "");
    lcx_msg_destroy(&got);
    pair_close(&p);

    if (!zsys_has_curve()) skip();
    /* As services/common/curve.c does: zauth admits the keys of a directory of certificates
     * (with CURVE_ALLOW_ANY it would name no User-Id). */
    char dir[] = "/tmp/lcx-test-user-id-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    zcert_t *server = zcert_new(), *client = zcert_new();
    snprintf(path, sizeof path, "%s/client.cert", dir);
    assert_int_equal(zcert_save_public(client, path), 0);
    zactor_t *auth = zactor_new(zauth, NULL);
    assert_non_null(auth);
    assert_int_equal(zstr_sendx(auth, "CURVE", dir, NULL), 0);
    assert_int_equal(zsock_wait(auth), 0);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zcert_apply(server, router);
    zsock_set_curve_server(router, 1);
    zsock_set_zap_domain(router, "test");
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert_true(port > 0);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zcert_apply(client, dealer);
    zsock_set_curve_serverkey(dealer, zcert_public_txt(server));
    assert_int_equal(zsock_connect(dealer, "tcp://127.0.0.1:%d", port), 0);
    zsock_set_rcvtimeo(router, 5000);
    m = lcx_msg_new(LCX_CMD_HEARTBEAT);
    assert_int_equal(lcx_msg_send(&m, dealer, err, sizeof err), 0);
    got = lcx_msg_recv(router, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(got->user_id, zcert_public_txt(client));
    lcx_msg_t *copy = lcx_msg_dup(got);
    assert_string_equal(copy->user_id, zcert_public_txt(client));
    lcx_msg_destroy(&copy);
    lcx_msg_destroy(&got);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
    zcert_destroy(&client);
    zcert_destroy(&server);
    zactor_destroy(&auth);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_covers_every_command),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_round_trip_required_only),
        cmocka_unit_test(test_round_trip_all_fields),
        cmocka_unit_test(test_round_trip_values),
        cmocka_unit_test(test_decode_any_order_and_width),
        cmocka_unit_test(test_encode_rejects_missing_required),
        cmocka_unit_test(test_encode_rejects_disallowed_field),
        cmocka_unit_test(test_encode_rejects_bad_items_and_commands),
        cmocka_unit_test(test_frame_limit),
        cmocka_unit_test(test_decode_rejects_empty_and_garbage),
        cmocka_unit_test(test_decode_rejects_truncated),
        cmocka_unit_test(test_decode_rejects_trailing_bytes),
        cmocka_unit_test(test_decode_rejects_bad_root),
        cmocka_unit_test(test_decode_rejects_bad_version),
        cmocka_unit_test(test_decode_rejects_bad_command),
        cmocka_unit_test(test_decode_rejects_bad_corr),
        cmocka_unit_test(test_decode_rejects_bad_body),
        cmocka_unit_test(test_decode_rejects_non_string_key),
        cmocka_unit_test(test_decode_rejects_wrong_types),
        cmocka_unit_test(test_decode_rejects_missing_required),
        cmocka_unit_test(test_decode_rejects_duplicate_key),
        cmocka_unit_test(test_decode_integer_range),
        cmocka_unit_test(test_decode_list_limit),
        cmocka_unit_test(test_decode_rejects_lying_counts),
        cmocka_unit_test(test_decode_nesting_limit),
        cmocka_unit_test(test_decode_ignores_unknown_fields),
        cmocka_unit_test(test_decode_mutations),
        cmocka_unit_test(test_setters_check_types),
        cmocka_unit_test(test_reply_copies_corr_and_routing_id),
        cmocka_unit_test(test_dup_deep_copies),
        cmocka_unit_test(test_copy_fields_only_allowed),
        cmocka_unit_test(test_socket_round_trip),
        cmocka_unit_test(test_socket_rejects_bad_frames),
        cmocka_unit_test(test_socket_routes_by_id),
        cmocka_unit_test(test_adopt_commands),
        cmocka_unit_test(test_socket_user_id),
        cmocka_unit_test(test_bug_encode_ignores_list_limit),
        cmocka_unit_test(test_bug_str_field_accepts_nul),
        cmocka_unit_test(test_bug_send_keeps_stale_err),
        cmocka_unit_test(test_bug_copy_fields_onto_itself),
        cmocka_unit_test(test_bug_set_str_null_ignores_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
