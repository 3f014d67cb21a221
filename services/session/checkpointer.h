/*
 * checkpointer: copies the store's WAL back into the database file on a thread of its own.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so every
 * thousandth page or so one batch of requests waited several milliseconds for the copy and its
 * fsyncs (the p99 of session creation). Here a second connection copies in the background
 * while the store's thread goes on; the store's own connection only finishes the last few
 * frames, which lets SQLite restart the WAL from its beginning (see store.c).
 */
#ifndef LCX_CHECKPOINTER_H
#define LCX_CHECKPOINTER_H

#include <stddef.h>

typedef struct checkpointer_t checkpointer_t;

/* Opens its own connection to the database at db_path. NULL with a reason in err. */
checkpointer_t *checkpointer_new(const char *db_path, char *err, size_t errlen);
/* Stops the thread (after the checkpoint under way, if any) and closes its connection. */
void checkpointer_destroy(checkpointer_t **self_p);

/* The WAL holds a checkpoint's worth of new frames: copy them soon. Never blocks; requests
 * that arrive during a checkpoint are folded into one more. */
void checkpointer_request(checkpointer_t *self);

#endif
