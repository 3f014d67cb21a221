/* holds: parked replies (see holds.h). A flat list: the number of requests waiting at once is
 * bounded by the gateways' connections, and a scan is cheaper than an index at that size. */
#include "holds.h"
#include "alloc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    hold_kind_t kind;
    char execution_id[LCX_UUID_LEN + 1];
    lcx_msg_t *reply;
    int64_t deadline;
} hold_t;

struct holds_t {
    zlist_t *list; /* of hold_t */
};

holds_t *holds_new(void)
{
    holds_t *self = lcx_calloc(1, sizeof *self);
    self->list = zlist_new();
    return self;
}

static void hold_free(hold_t **hold_p)
{
    lcx_msg_destroy(&(*hold_p)->reply);
    free(*hold_p);
    *hold_p = NULL;
}

void holds_destroy(holds_t **self_p)
{
    if (!self_p || !*self_p) return;
    holds_t *self = *self_p;
    hold_t *hold;
    while ((hold = zlist_pop(self->list)))
        hold_free(&hold);
    zlist_destroy(&self->list);
    free(self);
    *self_p = NULL;
}

void holds_add(holds_t *self, hold_kind_t kind, const char *execution_id, lcx_msg_t **reply_p,
               int64_t deadline)
{
    hold_t *hold = lcx_calloc(1, sizeof *hold);
    hold->kind = kind;
    snprintf(hold->execution_id, sizeof hold->execution_id, "%s", execution_id);
    hold->reply = *reply_p;
    hold->deadline = deadline;
    *reply_p = NULL;
    zlist_append(self->list, hold);
}

/* Detaches the hold's reply, frees the hold, returns the reply. */
static lcx_msg_t *release(holds_t *self, hold_t *hold)
{
    zlist_remove(self->list, hold);
    lcx_msg_t *reply = hold->reply;
    hold->reply = NULL;
    hold_free(&hold);
    return reply;
}

lcx_msg_t *holds_take(holds_t *self, hold_kind_t kind, const char *execution_id)
{
    for (hold_t *hold = zlist_first(self->list); hold; hold = zlist_next(self->list))
        if (hold->kind == kind && strcmp(hold->execution_id, execution_id) == 0)
            return release(self, hold);
    return NULL;
}

lcx_msg_t *holds_take_expired(holds_t *self, int64_t now, hold_kind_t *kind, char *execution_id)
{
    for (hold_t *hold = zlist_first(self->list); hold; hold = zlist_next(self->list)) {
        if (hold->deadline > now) continue;
        *kind = hold->kind;
        memcpy(execution_id, hold->execution_id, sizeof hold->execution_id);
        return release(self, hold);
    }
    return NULL;
}
