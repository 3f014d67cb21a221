/* curve: CURVE on the sockets between services (see curve.h). */
#include "curve.h"
#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct curve_t {
    char dir[1024];
    zcert_t *cert;  /* this service's certificate, with its secret key */
    zactor_t *auth; /* the ZAP handler: checks clients against DIR/public */
};

/* ---------------------------------------------------------------------------------------- */
/* The ZAP handler (ZeroMQ RFC 27), in an actor of its own: libzmq asks it about every client
 * that connects to a CURVE server socket. A client's public key must be one of DIR/public; a
 * socket whose ZAP domain is "lcx:NAME" admits only the key of DIR/public/NAME.cert. czmq's
 * zauth does the first but knows no domains, so it could not keep the dispatcher's store socket
 * to the session store alone (PROTOCOL.md 13). The User-Id of an admitted client is its key. */

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

/* True when the client's key (Z85) may use `domain`. */
static bool zap_allows(const char *dir, zcertstore_t *known, const char *domain, const char *key)
{
    if (!zcertstore_lookup(known, key)) return false;
    if (strncmp(domain, "lcx:", 4) != 0) return true;
    char path[1200];
    snprintf(path, sizeof path, "%s/public/%s.cert", dir, domain + 4);
    zcert_t *only = zcert_load(path);
    bool same = only && strcmp(zcert_public_txt(only), key) == 0;
    zcert_destroy(&only);
    return same;
}

/* Answers one ZAP request: version, request id, domain, address, identity, mechanism, then the
 * mechanism's credentials (CURVE: the client's 32-byte public key). */
static void zap_answer(zsock_t *handler, const char *dir, zcertstore_t *known)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request) return;
    zframe_t *version = zmsg_pop(request), *request_id = zmsg_pop(request);
    char *domain = zmsg_popstr(request), *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request), *mechanism = zmsg_popstr(request);
    zframe_t *credential = zmsg_pop(request);
    char key[41] = "";
    bool ok = mechanism && strcmp(mechanism, "NULL") == 0; /* as zauth: plain sockets pass */
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && credential &&
        zframe_size(credential) == 32) {
        zmq_z85_encode(key, zframe_data(credential), 32);
        ok = zap_allows(dir, known, domain ? domain : "", key);
    }
    if (!ok && mechanism && strcmp(mechanism, "CURVE") == 0)
        lcx_log(LCX_WARN, "CURVE client refused", "domain", domain, "key", key, "address", address,
                NULL);
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_append(reply, &request_id);
    zmsg_addstr(reply, ok ? "200" : "400");
    zmsg_addstr(reply, ok ? "OK" : "no such key for this socket");
    zmsg_addstr(reply, ok ? key : "");
    zmsg_addmem(reply, NULL, 0); /* no metadata */
    zmsg_send(&reply, handler);
    zframe_destroy(&version);
    zframe_destroy(&request_id);
    zframe_destroy(&credential);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&request);
}

/* The actor: args is the key directory. After zactor's own handshake it signals 0 once it
 * serves ZAP, 1 when it cannot. */
static void zap_actor(zsock_t *pipe, void *args)
{
    const char *dir = args;
    zsock_signal(pipe, 0); /* zactor_new waits for this one */
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, ZAP_ENDPOINT) != 0) {
        zsock_destroy(&handler);
        zsock_signal(pipe, 1);
        return;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/public", dir);
    zcertstore_t *known = zcertstore_new(path); /* re-read on each lookup when it changed */
    zpoller_t *poller = zpoller_new(pipe, handler, NULL);
    zsock_signal(pipe, 0);
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which == handler) {
            zap_answer(handler, dir, known);
            continue;
        }
        char *command = which == pipe ? zstr_recv(pipe) : NULL;
        bool stop = !command || strcmp(command, "$TERM") == 0;
        zstr_free(&command);
        if (stop) break;
    }
    zpoller_destroy(&poller);
    zcertstore_destroy(&known);
    zsock_destroy(&handler);
}

/* ---------------------------------------------------------------------------------------- */

curve_t *curve_new(const char *dir, const char *name, const char *secret, bool serves, char *err,
                   size_t errlen)
{
    curve_t *self = lcx_calloc(1, sizeof *self);
    if (!dir || !*dir) return self; /* disabled */
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    if (!zsys_has_curve()) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        curve_destroy(&self);
        return NULL;
    }
    char path[1200];
    if (secret && *secret)
        snprintf(path, sizeof path, "%s", secret);
    else
        snprintf(path, sizeof path, "%s/secret/%s.cert_secret", dir, name);
    self->cert = zcert_load(path); /* a secret certificate file holds both keys */
    if (!self->cert || !*zcert_secret_txt(self->cert) ||
        strcmp(zcert_secret_txt(self->cert), "0000000000000000000000000000000000000000") == 0) {
        snprintf(err, errlen, "no secret key at %s (run lcx-keygen %s)", path, dir);
        curve_destroy(&self);
        return NULL;
    }
    if (serves) {
        self->auth = zactor_new(zap_actor, self->dir);
        if (!self->auth || zsock_wait(self->auth) != 0) {
            snprintf(err, errlen, "cannot start the CURVE authenticator");
            curve_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void curve_destroy(curve_t **self_p)
{
    if (!self_p || !*self_p) return;
    curve_t *self = *self_p;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

bool curve_enabled(const curve_t *self)
{
    return self && self->cert;
}

bool curve_endpoint_is_local(const char *endpoint)
{
    static const char *const local[] = {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://",
                                        "inproc://"};
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (strncmp(endpoint, local[i], strlen(local[i])) == 0) return true;
    return false;
}

/* The directory of an ipc:// socket, created (mode 0700) when missing. Without CURVE (`strict`),
 * only this user may enter it, so that no other local user can connect (or put a socket of
 * their own there). */
static int socket_dir(const char *path, bool strict, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        if (!strict) return 0; /* with CURVE, a socket may live anywhere */
        snprintf(err, errlen,
                 "ipc://%s: without CURVE a socket needs a directory of its own "
                 "(the socket_dir setting, e.g. ipc:///run/lcx/NAME)",
                 path);
        return -1;
    }
    *slash = '\0';
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create the socket directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!strict) return 0;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "the socket directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "the socket directory %s belongs to uid %u, not to this user: "
                 "that user could reach the sockets",
                 dir, (unsigned)st.st_uid);
        return -1;
    }
    if ((st.st_mode & 077) == 0) return 0;
    if (chmod(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot make %s private (mode 0700): %s", dir, strerror(errno));
        return -1;
    }
    lcx_log(LCX_WARN, "socket directory made private (mode 0700)", "directory", dir, NULL);
    return 0;
}

/* libzmq removes an ipc:// socket file before it binds: a second service on the same endpoint
 * would silently take it over. True when a process accepts connections on the path. */
static bool socket_in_use(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) return false; /* the bind itself fails */
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    bool listening = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return listening;
}

/* The checks of an endpoint without CURVE (curve.h). */
static int check_plain_endpoint(const char *endpoint, char *err, size_t errlen)
{
    if (strncmp(endpoint, "ipc://@", 7) == 0) {
        snprintf(err, errlen,
                 "%s: an abstract socket has no permissions, so every local user "
                 "could connect: without CURVE use a path (ipc:///run/lcx/NAME)",
                 endpoint);
        return -1;
    }
    if (strncmp(endpoint, "ipc://", 6) == 0) return 0; /* curve_server checks its directory */
    if (!curve_endpoint_is_local(endpoint)) {
        snprintf(err, errlen,
                 "%s is not a loopback address: traffic between hosts needs CURVE "
                 "(--curve-dir, keys from lcx-keygen)",
                 endpoint);
        return -1;
    }
    if (strncmp(endpoint, "tcp://", 6) == 0)
        lcx_log(LCX_WARN,
                "every local user can connect to this endpoint (no CURVE keys; the "
                "default ipc:// endpoints in socket_dir are private)",
                "endpoint", endpoint, NULL);
    return 0;
}

int curve_server(curve_t *self, zsock_t *sock, const char *endpoint, const char *only, char *err,
                 size_t errlen)
{
    bool plain = !curve_enabled(self);
    if (plain && check_plain_endpoint(endpoint, err, errlen) != 0) return -1;
    if (strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '@') {
        if (socket_dir(endpoint + 6, plain, err, errlen) != 0) return -1;
        if (socket_in_use(endpoint + 6)) {
            snprintf(err, errlen, "cannot bind %s: another process listens there", endpoint);
            return -1;
        }
    }
    if (!curve_enabled(self)) return 0;
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    char domain[128];
    snprintf(domain, sizeof domain, only ? "lcx:%s" : "lcx", only);
    zsock_set_zap_domain(sock, domain);
    return 0;
}

int curve_public_key(curve_t *self, const char *name, char *out, char *err, size_t errlen)
{
    if (!curve_enabled(self)) {
        snprintf(err, errlen, "no CURVE keys");
        return -1;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/public/%s.cert", self->dir, name);
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        snprintf(err, errlen, "no public key of the %s at %s", name, path);
        return -1;
    }
    snprintf(out, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

int curve_client(curve_t *self, zsock_t *sock, const char *server, char *err, size_t errlen)
{
    if (!curve_enabled(self)) return 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/public/%s.cert", self->dir, server);
    zcert_t *peer = zcert_load(path);
    if (!peer) {
        snprintf(err, errlen, "no public key of the %s at %s", server, path);
        return -1;
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(peer));
    zcert_destroy(&peer);
    return 0;
}
