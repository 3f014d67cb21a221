/*
 * curve: CURVE encryption and authentication of the sockets between services.
 *
 * Keys come from `lcx-keygen DIR`: DIR/public/<name>.cert holds each service's public key,
 * DIR/secret/<name>.cert_secret its secret one (mode 0600). A server socket accepts only
 * clients whose public key is in DIR/public/, or only one of them (checked by a ZAP handler in
 * an actor of its own); a client socket authenticates with its own certificate and pins the
 * server's public key.
 *
 * Without a key directory every call is a no-op, and binding an address other than loopback
 * is refused: traffic between hosts is never in the clear. On one machine the endpoints are
 * ipc:// sockets, and curve_server keeps their directory private instead (below).
 */
#ifndef LCX_CURVE_H
#define LCX_CURVE_H

#include <czmq.h>
#include <stdbool.h>

typedef struct curve_t curve_t;

/* dir: the key directory, or "" for none. name: this service's certificate ("session",
 * "dispatcher", "gateway", "runner"). secret: its secret key file, or "" for
 * dir/secret/<name>.cert_secret (a container gets it as a secret file elsewhere). A service with
 * server sockets passes serves=true, which starts the authenticator. NULL with a reason when
 * keys are missing or unreadable. */
curve_t *curve_new(const char *dir, const char *name, const char *secret, bool serves, char *err,
                   size_t errlen);
void curve_destroy(curve_t **self_p);

bool curve_enabled(const curve_t *self);
/*
 * Call before zsock_bind: 0, or -1 with a reason. Without CURVE: a public address is refused; an
 * ipc:// socket's directory is made private first (created mode 0700, or one of this user's
 * tightened to 0700), and refused when another user owns it or it is not a directory; an abstract
 * ipc://@name (no file, so no permissions) is refused; tcp:// loopback is allowed with a warning
 * (every local user can connect). With or without CURVE, an ipc:// socket another process
 * listens on is refused (libzmq would take its path over). With CURVE, `only` names the one
 * service whose key the socket admits ("session": the dispatcher's store socket), or is NULL
 * for any key of DIR/public.
 */
int curve_server(curve_t *self, zsock_t *sock, const char *endpoint, const char *only, char *err,
                 size_t errlen);
/* Call before zsock_connect, with the server's certificate name. */
int curve_client(curve_t *self, zsock_t *sock, const char *server, char *err, size_t errlen);
/* The public key (Z85) of a service in the key directory, e.g. "session", into out (41 bytes):
 * with CURVE, a server tells that peer's messages by it (lcx_msg_t.user_id). 0, or -1 with a
 * reason (no key directory, or no such certificate). */
int curve_public_key(curve_t *self, const char *name, char *out, char *err, size_t errlen);

/* True for tcp://127.x.x.x, tcp://localhost, tcp://[::1], ipc:// and inproc:// endpoints. */
bool curve_endpoint_is_local(const char *endpoint);

#endif
