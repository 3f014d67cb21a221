/*
 * outbox: UPDATE messages for the session store that it has not acknowledged yet. Each is
 * sent at once and again every interval until an UPDATE_ACK with the same execution id,
 * attempt and status arrives — so results produced while the store is away are delivered when
 * it is back. The store applies updates idempotently, so a resend is harmless.
 */
#ifndef LCX_OUTBOX_H
#define LCX_OUTBOX_H

#include "lcx_proto.h"

typedef struct outbox_t outbox_t;

outbox_t *outbox_new(zsock_t *store_socket, const char *store_identity, int64_t interval_ms);
void outbox_destroy(outbox_t **self_p);

/* Takes *update_p and sends it (now and until acknowledged). */
void outbox_post(outbox_t *self, lcx_msg_t **update_p);
/* An UPDATE_ACK arrived. */
void outbox_ack(outbox_t *self, const lcx_msg_t *ack);
/* Resends what is due. */
void outbox_flush(outbox_t *self, int64_t now);
/* True when an update for this execution is still unacknowledged. */
bool outbox_holds(outbox_t *self, const char *execution_id);

#endif
