/*
 * backend: the gateway's client of the session store. Requests go out on one DEALER socket
 * with a fresh correlation id; the reply (or a timeout) is delivered to the caller's callback
 * on the gateway's single thread. The gateway itself keeps no state beyond these calls.
 */
#ifndef LCX_BACKEND_H
#define LCX_BACKEND_H

#include "lcx_proto.h"

/* reply is NULL when the store did not answer in time or could not be reached; the callback
 * does not own it. */
typedef void(backend_fn)(void *arg, const lcx_msg_t *reply);

typedef struct backend_t backend_t;

/* curve_dir, curve_secret: the CURVE keys, or "" (see curve.h). */
backend_t *backend_new(const char *endpoint, const char *curve_dir, const char *curve_secret,
                       char *err, size_t errlen);
void backend_destroy(backend_t **self_p);

/* Sends *request_p (taking it). The callback runs exactly once: with the reply, or with NULL
 * after timeout_ms or at once when the message cannot be sent. */
void backend_call(backend_t *self, lcx_msg_t **request_p, int64_t timeout_ms, backend_fn *fn,
                  void *arg);
/* Forgets every pending call whose arg is `arg` without calling it. */
void backend_forget(backend_t *self, void *arg);

zsock_t *backend_socket(backend_t *self);
/* Readable when the link to the store changed: call backend_monitor_event. */
zsock_t *backend_monitor(backend_t *self);
/* A lost connection fails every call in flight at once (their replies died with the store),
 * instead of letting each wait out its deadline. */
void backend_monitor_event(backend_t *self);
/* Reads and delivers every waiting reply. */
void backend_receive(backend_t *self);
/* Calls back expired calls; returns ms until the next deadline (or -1 when none). */
int64_t backend_expire(backend_t *self);

#endif
