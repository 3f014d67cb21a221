/*
 * lcx_proto: the one codec of the lcx wire protocol (see proto/PROTOCOL.md).
 *
 * A message is one ZeroMQ frame holding a msgpack array [version, command, corr, body]:
 *   version  positive integer, LCX_PROTO_VERSION
 *   command  string, one of the LCX_COMMANDS names below
 *   corr     unsigned integer chosen by a requester and echoed in the reply (0 when unused)
 *   body     map from field name (string) to value; which fields a command requires or
 *            allows is fixed by the schema table in lcx_proto.c
 * On a ROUTER socket the frame is preceded by the peer's routing id; lcx_msg_t keeps it.
 *
 * Decoding is strict: a wrong type, a missing required field, an oversize or truncated frame
 * or an unknown command is an error value, never a crash. Fields a command does not list are
 * ignored, so a newer peer may add optional fields without a version bump.
 *
 * Reading a field: the struct members (msg->session_id.ptr, msg->exit_code.set, ...).
 * Writing a field: the lcx_msg_set_* functions, which copy.
 */
#ifndef LCX_PROTO_H
#define LCX_PROTO_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LCX_PROTO_VERSION 1
/* Largest frame a peer may send: source 256 KiB + stdin 1 MiB + three 1 MiB outputs + slack. */
#define LCX_PROTO_MAX_FRAME (8 * 1024 * 1024)
/* Largest number of elements in one list field (args, languages, items, ...). */
#define LCX_PROTO_MAX_LIST 4096

/* X(NAME) — every command. */
#define LCX_COMMANDS(X)                                                                            \
    /* gateway <-> session store */                                                                \
    X(HEALTH)                                                                                      \
    X(HEALTH_REPLY)                                                                                \
    X(SESSION_CREATE)                                                                              \
    X(SESSION_GET)                                                                                 \
    X(SESSION_UPDATE)                                                                              \
    X(SESSION_CLOSE)                                                                               \
    X(SESSION)                                                                                     \
    X(RUN)                                                                                         \
    X(EXECUTION_GET)                                                                               \
    X(EXECUTION_LIST)                                                                              \
    X(EXECUTION_CANCEL)                                                                            \
    X(EXECUTION)                                                                                   \
    X(EXECUTIONS)                                                                                  \
    X(EVENTS_GET)                                                                                  \
    X(EVENTS)                                                                                      \
    X(EVENT)                                                                                       \
    X(METRICS)                                                                                     \
    X(METRICS_REPLY)                                                                               \
    X(ERROR)                                                                                       \
    /* session store <-> dispatcher <-> runner */                                                  \
    X(JOB)                                                                                         \
    X(ACCEPTED)                                                                                    \
    X(CANCEL)                                                                                      \
    X(HEARTBEAT)                                                                                   \
    X(STATUS)                                                                                      \
    X(READY)                                                                                       \
    X(UPDATE)                                                                                      \
    X(UPDATE_ACK)                                                                                  \
    X(OUTPUT)                                                                                      \
    X(DISCONNECT)                                                                                  \
    X(RUNNER)                                                                                      \
    X(DRAIN)                                                                                       \
    /* gateway <-> session store: API keys */                                                      \
    X(KEY_CREATE)                                                                                  \
    X(KEY_LIST)                                                                                    \
    X(KEY_UPDATE)                                                                                  \
    X(KEY_REVOKE)                                                                                  \
    X(KEY)                                                                                         \
    X(KEYS)                                                                                        \
    X(ADOPT)                                                                                       \
    X(ADOPTED)

typedef enum {
    LCX_CMD_NONE = 0,
#define LCX_X_ENUM(name) LCX_CMD_##name,
    LCX_COMMANDS(LCX_X_ENUM)
#undef LCX_X_ENUM
        LCX_CMD_COUNT
} lcx_cmd_t;

/*
 * X(name, type) — every field any command may carry. Types:
 *   STR   UTF-8 text (msgpack str)            -> lcx_buf_t
 *   BIN   arbitrary bytes (msgpack bin)        -> lcx_buf_t
 *   INT   signed 64-bit integer                -> lcx_int_t
 *   BOOL  boolean                              -> lcx_int_t (v is 0 or 1)
 *   LIST  array of strings                     -> lcx_list_t
 *   ITEMS array of maps, each a record whose schema the command names -> lcx_items_t
 */
#define LCX_FIELDS(X)                                                                              \
    X(session_id, STR)                                                                             \
    X(execution_id, STR)                                                                           \
    X(language, STR)                                                                               \
    X(source_code, STR)                                                                            \
    X(status, STR)                                                                                 \
    X(reason, STR)                                                                                 \
    X(idempotency_key, STR)                                                                        \
    X(runner_id, STR)                                                                              \
    X(instance, STR)                                                                               \
    X(error, STR)                                                                                  \
    X(message, STR)                                                                                \
    X(stream, STR)                                                                                 \
    X(sandbox, STR)                                                                                \
    X(kind, STR)                                                                                   \
    X(before, STR)                                                                                 \
    X(text, STR)                                                                                   \
    X(caller_key_id, STR)                                                                          \
    X(caller_session_id, STR)                                                                      \
    X(caller_address, STR)                                                                         \
    X(caller_role, STR)                                                                            \
    X(key_id, STR)                                                                                 \
    X(name, STR)                                                                                   \
    X(role, STR)                                                                                   \
    X(webhook_url, STR)                                                                            \
    X(caller_secret, BIN)                                                                          \
    X(secret_hash, BIN)                                                                            \
    X(stdin, BIN)                                                                                  \
    X(stdout, BIN)                                                                                 \
    X(stderr, BIN)                                                                                 \
    X(compile_output, BIN)                                                                         \
    X(data, BIN)                                                                                   \
    X(version, INT)                                                                                \
    X(source_version, INT)                                                                         \
    X(created_at, INT)                                                                             \
    X(updated_at, INT)                                                                             \
    X(queued_at, INT)                                                                              \
    X(started_at, INT)                                                                             \
    X(finished_at, INT)                                                                            \
    X(exit_code, INT)                                                                              \
    X(signal, INT)                                                                                 \
    X(execution_time_ms, INT)                                                                      \
    X(cpu_time_ms, INT)                                                                            \
    X(memory_kb, INT)                                                                              \
    X(attempts, INT)                                                                               \
    X(attempt, INT)                                                                                \
    X(time_ms, INT)                                                                                \
    X(memory_mb, INT)                                                                              \
    X(wait_ms, INT)                                                                                \
    X(slots, INT)                                                                                  \
    X(free_slots, INT)                                                                             \
    X(runners, INT)                                                                                \
    X(queue_depth, INT)                                                                            \
    X(retry_after_ms, INT)                                                                         \
    X(offset, INT)                                                                                 \
    X(after, INT)                                                                                  \
    X(event_id, INT)                                                                               \
    X(limit, INT)                                                                                  \
    X(runs_per_minute, INT)                                                                        \
    X(concurrent_runs, INT)                                                                        \
    X(max_time_ms, INT)                                                                            \
    X(max_memory_mb, INT)                                                                          \
    X(expires_at, INT)                                                                             \
    X(revoked_at, INT)                                                                             \
    X(last_used_at, INT)                                                                           \
    X(stdout_truncated, BOOL)                                                                      \
    X(stderr_truncated, BOOL)                                                                      \
    X(dispatcher_up, BOOL)                                                                         \
    X(finished, BOOL)                                                                              \
    X(draining, BOOL)                                                                              \
    X(resubmit, BOOL)                                                                              \
    X(args, LIST)                                                                                  \
    X(languages, LIST)                                                                             \
    X(versions, LIST)                                                                              \
    X(details, LIST)                                                                               \
    X(sandboxes, LIST)                                                                             \
    X(running, LIST)                                                                               \
    X(items, ITEMS)

typedef enum {
#define LCX_X_FIELD_ENUM(name, type) LCX_F_##name,
    LCX_FIELDS(LCX_X_FIELD_ENUM)
#undef LCX_X_FIELD_ENUM
        LCX_F_COUNT
} lcx_field_t;

typedef enum { LCX_T_STR, LCX_T_BIN, LCX_T_INT, LCX_T_BOOL, LCX_T_LIST, LCX_T_ITEMS } lcx_type_t;

/* Text or bytes; ptr is NULL when absent, else NUL-terminated (the NUL is not in len). */
typedef struct {
    char *ptr;
    size_t len;
} lcx_buf_t;

typedef struct {
    int64_t v;
    bool set;
} lcx_int_t;

typedef struct {
    char **v; /* each NUL-terminated */
    size_t n;
    bool set;
} lcx_list_t;

typedef struct lcx_msg_t lcx_msg_t;

typedef struct {
    lcx_msg_t **v;
    size_t n;
    bool set;
} lcx_items_t;

#define LCX_T_STR_CTYPE lcx_buf_t
#define LCX_T_BIN_CTYPE lcx_buf_t
#define LCX_T_INT_CTYPE lcx_int_t
#define LCX_T_BOOL_CTYPE lcx_int_t
#define LCX_T_LIST_CTYPE lcx_list_t
#define LCX_T_ITEMS_CTYPE lcx_items_t

/* Room for a ZAP User-Id: with CURVE (zauth), the client's public key in Z85 (40 chars). */
#define LCX_USER_ID_MAX 64

struct lcx_msg_t {
    lcx_cmd_t cmd;
    uint64_t corr;
    zframe_t *routing_id; /* peer on a ROUTER socket, else NULL */
    /* The User-Id the ZAP handler gave the connection the message came on (lcx_msg_recv): with
     * CURVE, the sender's public key (Z85); "" without one (or one longer than the room). */
    char user_id[LCX_USER_ID_MAX + 1];
#define LCX_X_MEMBER(name, type) LCX_T_##type##_CTYPE name;
    LCX_FIELDS(LCX_X_MEMBER)
#undef LCX_X_MEMBER
};

/* Lifecycle. Allocation never fails: lcx aborts when memory runs out (services/common/alloc.h),
 * so lcx_msg_new, lcx_msg_reply and lcx_msg_dup never return NULL. */
lcx_msg_t *lcx_msg_new(lcx_cmd_t cmd);
void lcx_msg_destroy(lcx_msg_t **self_p);
/* A reply to `request`: same corr and routing id (copied). */
lcx_msg_t *lcx_msg_reply(const lcx_msg_t *request, lcx_cmd_t cmd);
/* Deep copy, for holding a message while it is resent. */
lcx_msg_t *lcx_msg_dup(const lcx_msg_t *self);

/* Setters copy their arguments. Each returns 0, or -1 when the field's type does not match. */
int lcx_msg_set_str(lcx_msg_t *self, lcx_field_t field, const char *text);
int lcx_msg_set_bytes(lcx_msg_t *self, lcx_field_t field, const void *data, size_t len);
int lcx_msg_set_int(lcx_msg_t *self, lcx_field_t field, int64_t value);
int lcx_msg_set_bool(lcx_msg_t *self, lcx_field_t field, bool value);
int lcx_msg_list_append(lcx_msg_t *self, lcx_field_t field, const char *text);
/* Marks a LIST or ITEMS field present even when it stays empty. */
int lcx_msg_list_touch(lcx_msg_t *self, lcx_field_t field);
/* Takes ownership of *item_p (a message whose cmd is the record kind) and nulls it. */
int lcx_msg_items_append(lcx_msg_t *self, lcx_msg_t **item_p);
/* Copies every field that is set in `from` and allowed in self's command into self. */
void lcx_msg_copy_fields(lcx_msg_t *self, const lcx_msg_t *from);
void lcx_msg_clear(lcx_msg_t *self, lcx_field_t field);
bool lcx_msg_has(const lcx_msg_t *self, lcx_field_t field);

/* Pure codec. encode: 0 and a malloc'd buffer, or -1 with a reason in err (e.g. a required
 * field missing). decode: a new message, or NULL with a reason in err. */
int lcx_msg_encode(const lcx_msg_t *self, char **buf_p, size_t *len_p, char *err, size_t errlen);
lcx_msg_t *lcx_msg_decode(const void *buf, size_t len, char *err, size_t errlen);

/* Socket I/O. recv reads one message (and the routing id on a ROUTER socket, and the
 * connection's User-Id, see lcx_msg_t); it returns NULL
 * with err set when the frames are malformed (they are consumed and dropped) or on interrupt
 * (err empty). send encodes, prepends the routing id on a ROUTER socket, sends without
 * blocking and destroys *self_p whatever happens; it returns 0, or -1 (errno from zmq: EAGAIN,
 * EHOSTUNREACH, ...) with the reason in err. */
lcx_msg_t *lcx_msg_recv(zsock_t *sock, char *err, size_t errlen);
int lcx_msg_send(lcx_msg_t **self_p, zsock_t *sock, char *err, size_t errlen);

/* Names, for logs and errors. */
const char *lcx_cmd_name(lcx_cmd_t cmd);
lcx_cmd_t lcx_cmd_from_name(const char *name, size_t len);
const char *lcx_field_name(lcx_field_t field);
lcx_type_t lcx_field_type(lcx_field_t field);

#endif
