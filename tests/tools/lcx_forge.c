/*
 * lcx-forge: a peer that says whatever it is told, for tests of what the services refuse
 * (tests/integration/test_forged_broker.py). It connects one DEALER to an endpoint, sends the
 * messages it reads on stdin and prints the messages it receives.
 *
 *   lcx-forge ENDPOINT [--routing-id ID] [--listen-ms N] [--curve SECRET_CERT SERVER_CERT]
 *
 * --curve: connect with CURVE, as the owner of SECRET_CERT (a .cert_secret of lcx-keygen) to the
 * server whose public certificate is SERVER_CERT.
 *
 * stdin: one JSON object a line, either a message, {"cmd": "READY", "runner_id": "x",
 * "slots": 2, "running": ["<id>/1"]} (each field by its protocol name: a string for STR and BIN,
 * an integer for INT, true or false for BOOL, an array of strings for LIST; "corr" sets the
 * correlation number), or {"sleep_ms": N}. Each message goes out as its line arrives.
 * stdout: one JSON object a line per message received, {"cmd": "DISCONNECT", "message": ...}
 * (a BIN field as text when it is UTF-8, else as its length). After the end of stdin it listens
 * --listen-ms more (default 500) and exits 0; 2 on a bad argument or line, 1 when it cannot
 * connect or send.
 */
#include "lcx_proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int field_by_name(const char *name)
{
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (strcmp(lcx_field_name((lcx_field_t)f), name) == 0) return f;
    return -1;
}

/* Sets one field of msg from a JSON value; -1 when the value does not fit the field's type. */
static int set_field(lcx_msg_t *msg, lcx_field_t field, json_t *value)
{
    switch (lcx_field_type(field)) {
    case LCX_T_STR:
        return json_is_string(value) ? lcx_msg_set_str(msg, field, json_string_value(value)) : -1;
    case LCX_T_BIN:
        return json_is_string(value) ? lcx_msg_set_bytes(msg, field, json_string_value(value),
                                                         json_string_length(value))
                                     : -1;
    case LCX_T_INT:
        return json_is_integer(value) ? lcx_msg_set_int(msg, field, json_integer_value(value)) : -1;
    case LCX_T_BOOL:
        return json_is_boolean(value) ? lcx_msg_set_bool(msg, field, json_is_true(value)) : -1;
    case LCX_T_LIST: {
        if (!json_is_array(value)) return -1;
        lcx_msg_list_touch(msg, field);
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            if (!json_is_string(item) ||
                lcx_msg_list_append(msg, field, json_string_value(item)) != 0)
                return -1;
        }
        return 0;
    }
    case LCX_T_ITEMS:
        break;
    }
    return -1;
}

/* A message from one line of JSON, or NULL with a reason. */
static lcx_msg_t *message_of(json_t *line, char *err, size_t errlen)
{
    json_t *cmd = json_object_get(line, "cmd");
    lcx_cmd_t c = json_is_string(cmd)
                      ? lcx_cmd_from_name(json_string_value(cmd), json_string_length(cmd))
                      : LCX_CMD_NONE;
    if (c == LCX_CMD_NONE) {
        snprintf(err, errlen, "no known \"cmd\"");
        return NULL;
    }
    lcx_msg_t *msg = lcx_msg_new(c);
    const char *key;
    json_t *value;
    json_object_foreach(line, key, value)
    {
        if (strcmp(key, "cmd") == 0) continue;
        if (strcmp(key, "corr") == 0 && json_is_integer(value)) {
            msg->corr = (uint64_t)json_integer_value(value);
            continue;
        }
        int f = field_by_name(key);
        if (f < 0 || set_field(msg, (lcx_field_t)f, value) != 0) {
            snprintf(err, errlen, "field '%s': unknown, or a value of the wrong type", key);
            lcx_msg_destroy(&msg);
            return NULL;
        }
    }
    return msg;
}

/* Where each field lives in lcx_msg_t, to print any of them. */
static const size_t field_offset[LCX_F_COUNT] = {
#define FORGE_OFFSET(name, type) offsetof(lcx_msg_t, name),
    LCX_FIELDS(FORGE_OFFSET)
#undef FORGE_OFFSET
};

static json_t *value_of(const lcx_msg_t *msg, lcx_field_t field)
{
    const void *slot = (const char *)msg + field_offset[field];
    switch (lcx_field_type(field)) {
    case LCX_T_STR:
    case LCX_T_BIN: {
        const lcx_buf_t *buf = slot;
        json_t *text = json_stringn(buf->ptr, buf->len);
        return text ? text : json_pack("{s:I}", "bytes", (json_int_t)buf->len);
    }
    case LCX_T_INT:
        return json_integer(((const lcx_int_t *)slot)->v);
    case LCX_T_BOOL:
        return json_boolean(((const lcx_int_t *)slot)->v);
    case LCX_T_LIST: {
        const lcx_list_t *list = slot;
        json_t *array = json_array();
        for (size_t i = 0; i < list->n; i++)
            json_array_append_new(array, json_string(list->v[i]));
        return array;
    }
    case LCX_T_ITEMS:
        break;
    }
    return json_integer((json_int_t)((const lcx_items_t *)slot)->n);
}

/* One received message as a JSON line on stdout. */
static void print_message(const lcx_msg_t *msg)
{
    json_t *out = json_object();
    json_object_set_new(out, "cmd", json_string(lcx_cmd_name(msg->cmd)));
    json_object_set_new(out, "corr", json_integer((json_int_t)msg->corr));
    for (int f = 0; f < LCX_F_COUNT; f++)
        if (lcx_msg_has(msg, (lcx_field_t)f))
            json_object_set_new(out, lcx_field_name((lcx_field_t)f), value_of(msg, (lcx_field_t)f));
    char *text = json_dumps(out, JSON_COMPACT);
    if (text) printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(out);
}

static void drain_socket(zsock_t *sock)
{
    char err[256];
    while (zsock_events(sock) & ZMQ_POLLIN) {
        lcx_msg_t *msg = lcx_msg_recv(sock, err, sizeof err);
        if (msg)
            print_message(msg);
        else if (err[0])
            fprintf(stderr, "lcx-forge: malformed message: %s\n", err);
        lcx_msg_destroy(&msg);
    }
}

/* Handles one line of stdin: 0, 1 at its end, -1 on a bad line or a failed send. */
static int handle_line(zsock_t *sock)
{
    static char *line;
    static size_t size;
    if (getline(&line, &size, stdin) < 0) {
        free(line);
        line = NULL;
        return 1;
    }
    if (strspn(line, " \t\r\n") == strlen(line)) return 0;
    json_error_t jerr;
    json_t *json = json_loads(line, 0, &jerr);
    char err[256] = "";
    if (!json_is_object(json)) {
        fprintf(stderr, "lcx-forge: not a JSON object: %s\n", jerr.text);
        json_decref(json);
        return -1;
    }
    json_t *sleep_ms = json_object_get(json, "sleep_ms");
    if (json_is_integer(sleep_ms)) {
        zclock_sleep((int)json_integer_value(sleep_ms));
        json_decref(json);
        return 0;
    }
    lcx_msg_t *msg = message_of(json, err, sizeof err);
    json_decref(json);
    if (!msg || lcx_msg_send(&msg, sock, err, sizeof err) != 0) {
        fprintf(stderr, "lcx-forge: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *routing_id = NULL, *secret = NULL, *server = NULL;
    long listen_ms = 500;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--routing-id") == 0 && i + 1 < argc)
            routing_id = argv[++i];
        else if (strcmp(argv[i], "--listen-ms") == 0 && i + 1 < argc)
            listen_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--curve") == 0 && i + 2 < argc)
            secret = argv[++i], server = argv[++i];
        else if (!endpoint && argv[i][0] != '-')
            endpoint = argv[i];
        else
            endpoint = NULL, i = argc;
    }
    if (!endpoint) {
        fprintf(stderr, "usage: lcx-forge ENDPOINT [--routing-id ID] [--listen-ms N] "
                        "[--curve SECRET_CERT SERVER_CERT]\n");
        return 2;
    }
    zsys_handler_set(NULL);
    setvbuf(stdin, NULL, _IONBF, 0); /* poll() sees what stdio has not read yet */
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (routing_id) zsock_set_identity(sock, routing_id);
    if (secret) {
        zcert_t *mine = zcert_load(secret), *theirs = zcert_load(server);
        if (!mine || !theirs) {
            fprintf(stderr, "lcx-forge: cannot read %s or %s\n", secret, server);
            return 2;
        }
        zcert_apply(mine, sock);
        zsock_set_curve_serverkey(sock, zcert_public_txt(theirs));
        zcert_destroy(&mine);
        zcert_destroy(&theirs);
    }
    zsock_set_linger(sock, 1000);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "lcx-forge: cannot connect to %s\n", endpoint);
        zsock_destroy(&sock);
        return 1;
    }
    int rc = 0;
    int64_t deadline = -1;
    while (deadline < 0 || zclock_mono() < deadline) {
        zmq_pollitem_t items[] = {{zsock_resolve(sock), 0, ZMQ_POLLIN, 0},
                                  {NULL, 0, ZMQ_POLLIN, 0}};
        int n = deadline < 0 ? 2 : 1;
        long wait = deadline < 0 ? -1 : (long)(deadline - zclock_mono());
        if (zmq_poll(items, n, wait < 0 && deadline >= 0 ? 0 : wait) < 0) break;
        drain_socket(sock);
        if (n == 2 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) { /* POLLHUP: the end */
            int got = handle_line(sock);
            if (got < 0) rc = 2;
            if (got != 0) deadline = zclock_mono() + listen_ms;
        }
    }
    drain_socket(sock);
    zsock_destroy(&sock);
    return rc;
}
