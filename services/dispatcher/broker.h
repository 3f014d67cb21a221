/*
 * broker: the dispatcher's loop. Two ROUTER sockets: one for the session store (jobs in,
 * updates out), one for runners (READY, heartbeats, updates in; jobs out). Jobs wait in a FIFO
 * queue and go to the live runner serving their language with the most free slots. A runner
 * that falls silent has its jobs queued again with attempt + 1, up to max_attempts, after
 * which the execution is FAILED with reason runner_lost.
 */
#ifndef LCX_BROKER_H
#define LCX_BROKER_H

#include "settings.h"

typedef struct broker_t broker_t;

broker_t *broker_new(const lcx_settings_t *settings, char *err, size_t errlen);
void broker_destroy(broker_t **self_p);
/* Runs until SIGINT/SIGTERM; 0 on a clean stop. */
int broker_run(broker_t *self);

#endif
