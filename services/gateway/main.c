/* lcx-gateway: the HTTP API. Wires settings, languages, the backend client, the routes and
 * the HTTP server into one event loop: one thread, no request ever blocks it. */
#include "api.h"
#include "auth.h"
#include "backend.h"
#include "http.h"
#include "languages.h"
#include "log.h"
#include "settings.h"

#include <limits.h>
#include <stdio.h>

#define LOOP_MAX_SLEEP_MS 100

/* Waits for the backend socket or the HTTP fd, then serves both. */
static void serve(http_t *http, backend_t *backend)
{
    zmq_pollitem_t items[] = {
        {zsock_resolve(backend_socket(backend)), 0, ZMQ_POLLIN, 0},
        {NULL, http_fd(http), ZMQ_POLLIN, 0},
        {zsock_resolve(backend_monitor(backend)), 0, ZMQ_POLLIN, 0},
    };
    while (!zsys_interrupted) {
        int64_t timeout = http_timeout_ms(http);
        int64_t next = backend_expire(backend);
        if (timeout < 0 || timeout > LOOP_MAX_SLEEP_MS) timeout = LOOP_MAX_SLEEP_MS;
        if (next >= 0 && next < timeout) timeout = next;
        if (zmq_poll(items, 3, (long)timeout) < 0 && zmq_errno() != EINTR) break;
        backend_receive(backend);
        if (items[2].revents & ZMQ_POLLIN) backend_monitor_event(backend);
        backend_expire(backend);
        /* Twice: the second call sends the answers that the backend's replies resumed. */
        http_run(http);
        http_run(http);
    }
}

int main(int argc, char **argv)
{
    lcx_settings_t settings;
    int early = lcx_settings_start(&settings, 'G', "gateway", argc, argv);
    if (early >= 0) return early;
    char err[512];
    char path[PATH_MAX];
    lcx_languages_t *languages = lcx_languages_load(
        lcx_languages_default_path(settings.languages, path, sizeof path), err, sizeof err);
    backend_t *backend = languages ? backend_new(settings.session_endpoint, settings.curve_dir,
                                                 settings.curve_secret, err, sizeof err)
                                   : NULL;
    auth_t *auth = backend ? auth_new(&settings, err, sizeof err) : NULL;
    api_t *api = auth ? api_new(&settings, languages, backend, auth) : NULL;
    http_t *http = api ? http_new(&settings, api_handle, api_closed, api, err, sizeof err) : NULL;
    int status = 1;
    if (http) {
        lcx_log(LCX_INFO, "gateway ready", "host", settings.http_host,
                LCX_LOG_INT("port", settings.http_port), "session_endpoint",
                settings.session_endpoint, NULL);
        serve(http, backend);
        lcx_log(LCX_INFO, "gateway stopping", NULL);
        status = 0;
    } else {
        lcx_log(LCX_ERROR, "cannot start", "error", err, NULL);
    }
    http_destroy(&http);
    api_destroy(&api);
    auth_destroy(&auth);
    backend_destroy(&backend);
    lcx_languages_destroy(&languages);
    return status;
}
