/* checkpointer: background WAL checkpoints on a second connection (see checkpointer.h). */
#include "checkpointer.h"
#include "alloc.h"
#include "log.h"

#include <czmq.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct checkpointer_t {
    zactor_t *actor;
    sqlite3 *db;           /* used by the actor's thread only */
    atomic_bool requested; /* a request is on its way, or waits for the next checkpoint */
};

/* One PASSIVE checkpoint: it copies what no reader still needs and never waits for the
 * store's writer. */
static void checkpoint(checkpointer_t *self)
{
    int rc = sqlite3_wal_checkpoint_v2(self->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) /* BUSY: the store's own checkpoint is under way */
        lcx_log(LCX_WARN, "background checkpoint failed", "error", sqlite3_errmsg(self->db), NULL);
}

/* Reads every message waiting on the pipe; false once $TERM came. */
static bool drain(zsock_t *pipe)
{
    bool running = true;
    while (zsock_events(pipe) & ZMQ_POLLIN) {
        char *command = zstr_recv(pipe);
        if (!command || streq(command, "$TERM")) running = false;
        zstr_free(&command);
        if (!running) break;
    }
    return running;
}

static void run(zsock_t *pipe, void *args)
{
    checkpointer_t *self = args;
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (poller && zpoller_wait(poller, -1) == pipe) {
        if (!drain(pipe)) break;
        atomic_store(&self->requested, false);
        checkpoint(self);
    }
    zpoller_destroy(&poller);
}

checkpointer_t *checkpointer_new(const char *db_path, char *err, size_t errlen)
{
    checkpointer_t *self = lcx_calloc(1, sizeof *self);
    atomic_init(&self->requested, false);
    if (sqlite3_open_v2(db_path, &self->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(self->db, "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "checkpointer: cannot open %s: %s", db_path,
                 self->db ? sqlite3_errmsg(self->db) : "out of memory");
        checkpointer_destroy(&self);
        return NULL;
    }
    /* Its own checkpoints only: this connection never writes, so no automatic ones either. */
    sqlite3_wal_autocheckpoint(self->db, 0);
    self->actor = zactor_new(run, self);
    if (!self->actor) {
        snprintf(err, errlen, "checkpointer: cannot start its thread");
        checkpointer_destroy(&self);
        return NULL;
    }
    zsock_set_sndtimeo(zactor_sock(self->actor), 0);
    return self;
}

void checkpointer_destroy(checkpointer_t **self_p)
{
    if (!self_p || !*self_p) return;
    checkpointer_t *self = *self_p;
    zactor_destroy(&self->actor);
    sqlite3_close(self->db);
    free(self);
    *self_p = NULL;
}

void checkpointer_request(checkpointer_t *self)
{
    if (atomic_exchange(&self->requested, true)) return;
    if (zstr_send(self->actor, "CHECKPOINT") != 0)
        atomic_store(&self->requested, false); /* not sent: the next commit asks again */
}
