/*
 * log: structured logging. One JSON object per line on stderr:
 *   {"ts":"2026-11-21T10:30:00.045Z","level":"info","service":"session",
 *    "event":"execution queued","execution_id":"...","session_id":"..."}
 */
#ifndef LCX_LOG_H
#define LCX_LOG_H

typedef enum { LCX_DEBUG, LCX_INFO, LCX_WARN, LCX_ERROR } lcx_level_t;

/* Names the service in every line; call once at start-up. */
void lcx_log_init(const char *service);

/* Logs `event` with string key/value pairs, terminated by NULL. A NULL value is skipped. */
void lcx_log(lcx_level_t level, const char *event, ...) __attribute__((sentinel));

#endif
