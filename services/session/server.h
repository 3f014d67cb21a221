/*
 * server: the session store's message loop. Gateways talk to it over a ROUTER socket; it
 * talks to the dispatcher over a DEALER socket (routing id "lcx-session").
 *
 * Group commit: each turn of the loop takes every message already waiting (up to a batch
 * limit), handles them all inside one transaction, commits once, and only then sends the
 * replies. A reply therefore always means "durable", and a storm of autosaves costs one
 * fsync per turn instead of one per request.
 */
#ifndef LCX_SESSION_SERVER_H
#define LCX_SESSION_SERVER_H

#include "settings.h"
#include "store.h"

typedef struct server_t server_t;

server_t *server_new(const lcx_settings_t *settings, store_t *store, char *err, size_t errlen);
void server_destroy(server_t **self_p);

/* Runs until SIGINT/SIGTERM. Returns 0 on a clean stop. */
int server_run(server_t *self);

#endif
