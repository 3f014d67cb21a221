/*
 * render: protocol replies to the JSON bodies of the HTTP contract (shared/API.md).
 * Times become RFC 3339 UTC with milliseconds; unknown values become null; program output
 * that is not valid UTF-8 has each bad byte replaced by U+FFFD.
 */
#ifndef LCX_RENDER_H
#define LCX_RENDER_H

#include "languages.h"
#include "lcx_proto.h"

#include <jansson.h>

json_t *render_session(const lcx_msg_t *session);
/* {session_id, status, language, version, updated_at}: the answer to an autosave. */
json_t *render_session_saved(const lcx_msg_t *session);
json_t *render_execution(const lcx_msg_t *execution);
json_t *render_execution_summary(const lcx_msg_t *execution);
json_t *render_executions(const lcx_msg_t *executions);
/* health may be NULL (store unreachable): versions are then null. */
json_t *render_languages(const lcx_languages_t *languages, const lcx_msg_t *health);
/* {runner_id, slots, free_slots, draining, languages, sandbox}: the operator's view. */
json_t *render_runner(const lcx_msg_t *runner);
/* {key_id, name, role, quotas, created_at, expires_at, revoked_at, last_used_at, webhook_url}:
 * never a secret (a KEY has none). */
json_t *render_key(const lcx_msg_t *key);
json_t *render_keys(const lcx_msg_t *keys);
json_t *render_time(const lcx_int_t *epoch_ms);
json_t *render_text(const lcx_buf_t *buf);

#endif
