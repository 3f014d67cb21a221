/*
 * api: the routes of the HTTP contract (shared/API.md, docs/API.md) and their handlers. Each
 * handler validates the request, asks the session store through the backend, and renders the
 * reply; the gateway keeps no state of its own between requests.
 */
#ifndef LCX_API_H
#define LCX_API_H

#include "auth.h"
#include "backend.h"
#include "http.h"
#include "languages.h"
#include "settings.h"

typedef struct api_t api_t;

/* Borrows settings, languages, backend and auth. */
api_t *api_new(const lcx_settings_t *settings, const lcx_languages_t *languages, backend_t *backend,
               auth_t *auth);
void api_destroy(api_t **self_p);

/* http_handler_fn and http_closed_fn; app is the api_t. */
void api_handle(void *app, http_request_t *req);
void api_closed(void *app, http_request_t *req);

#endif
