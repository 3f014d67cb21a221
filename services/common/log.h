/*
 * log: structured logging. One JSON object per line on stderr:
 *   {"ts":"2026-11-21T10:30:00.045Z","level":"info","service":"dispatcher",
 *    "event":"runner joined","runner_id":"host-42","slots":2}
 *
 * Levels: debug for routine events (each job's steps, each update), info for what an operator
 * follows (start, stop, listening, runners joining and leaving, each HTTP request), warn and
 * error for trouble. The threshold is the log_level setting (settings.def), info by default.
 */
#ifndef LCX_LOG_H
#define LCX_LOG_H

typedef enum { LCX_DEBUG, LCX_INFO, LCX_WARN, LCX_ERROR } lcx_level_t;

/* Names the service in every line and sets the least level written; call once at start-up. */
void lcx_log_init(const char *service, lcx_level_t threshold);

/* "debug", "info", "warn" or "error" into *level; -1 for any other name. */
int lcx_log_level_parse(const char *name, lcx_level_t *level);

/*
 * Logs `event` with key/value pairs, terminated by NULL. A pair is a key and a string value
 * (a NULL value is skipped), or one of the typed pairs below, which log a JSON number:
 *   lcx_log(LCX_INFO, "runner joined", "runner_id", name, LCX_LOG_INT("slots", n), NULL);
 */
void lcx_log(lcx_level_t level, const char *event, ...) __attribute__((sentinel));

/* Markers that stand where a key would: the key and a number of their type follow. */
extern const char lcx_log_int_marker[];
extern const char lcx_log_real_marker[];
#define LCX_LOG_INT(key, value) lcx_log_int_marker, (const char *)(key), (long long)(value)
#define LCX_LOG_REAL(key, value) lcx_log_real_marker, (const char *)(key), (double)(value)

#endif
