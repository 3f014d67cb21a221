/*
 * validate: strict checks of request bodies and parameters, turning JSON into protocol
 * requests. Each function returns the new message, or NULL with human-readable problems
 * appended to `details` (a JSON array) — every problem found, not only the first.
 */
#ifndef LCX_VALIDATE_H
#define LCX_VALIDATE_H

#include "languages.h"
#include "lcx_proto.h"
#include "settings.h"

#include <jansson.h>

typedef struct {
    const lcx_settings_t *settings;
    const lcx_languages_t *languages;
} validate_ctx_t;

/* Parses a body: empty means {} when allow_empty; else it must be one JSON object with no
 * duplicate keys. NULL with details when not. */
json_t *validate_parse_object(const char *body, size_t len, bool allow_empty, json_t *details);

/* POST /code-sessions: {language?, source_code?}, defaults filled. */
lcx_msg_t *validate_session_create(const validate_ctx_t *ctx, json_t *body, json_t *details);
/* PATCH /code-sessions/{id}: {language?, source_code?}, at least one. */
lcx_msg_t *validate_session_update(const validate_ctx_t *ctx, json_t *body, const char *id,
                                   json_t *details);
/* POST /code-sessions/{id}/run: {stdin?, args?, limits?: {time_ms?, memory_mb?}, source_code?,
 * version?}. */
lcx_msg_t *validate_run(const validate_ctx_t *ctx, json_t *body, const char *id,
                        const char *idempotency_key, json_t *details);
/* ?wait=MS: 0 when absent; -1 with details when malformed or out of range. */
long validate_wait(const validate_ctx_t *ctx, const char *text, json_t *details);
/* ?limit=N of a list: list_limit when absent; -1 with details when malformed or out of range. */
long validate_limit(const validate_ctx_t *ctx, const char *text, json_t *details);

/* POST /admin/keys (create: name and role required) and PATCH /admin/keys/{key_id}:
 * {name?, role?, quotas?: {runs_per_minute?, concurrent_runs?, max_time_ms?, max_memory_mb?},
 * expires_at?, webhook_url?}. A KEY_CREATE or KEY_UPDATE without key_id (and secret_hash). */
lcx_msg_t *validate_key(const validate_ctx_t *ctx, json_t *body, bool create, json_t *details);
/* POST /code-sessions/{id}/tokens: {ttl_s?}, token_ttl_s when absent; -1 with details. */
long validate_token_ttl(const validate_ctx_t *ctx, json_t *body, json_t *details);

#endif
