/* curve: CURVE on the sockets between services (see curve.h). */
#include "curve.h"
#include "alloc.h"

#include <string.h>

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

int curve_server(curve_t *self, zsock_t *sock, const char *endpoint, char *err, size_t errlen)
{
    if (!curve_enabled(self)) {
        if (curve_endpoint_is_local(endpoint)) return 0;
        snprintf(err, errlen,
                 "%s is not a loopback address: traffic between hosts needs CURVE "
                 "(--curve-dir, keys from lcx-keygen)",
                 endpoint);
        return -1;
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, "lcx");
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
