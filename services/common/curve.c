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
    zactor_t *auth; /* zauth: checks clients against DIR/public */
};

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
        self->auth = zactor_new(zauth, NULL);
        snprintf(path, sizeof path, "%s/public", dir);
        if (!self->auth || zstr_sendx(self->auth, "CURVE", path, NULL) != 0 ||
            zsock_wait(self->auth) != 0) {
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

int curve_server(curve_t *self, zsock_t *sock, const char *endpoint, char *err, size_t errlen)
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
    zsock_set_zap_domain(sock, "lcx");
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
