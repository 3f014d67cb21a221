/* log: one JSON object per line on stderr, written with a single write() so lines from
 * concurrent threads never interleave. */
#include "log.h"
#include "util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_service = "lcx";
static lcx_level_t log_threshold = LCX_INFO;

void lcx_log_init(const char *service)
{
    log_service = service;
    const char *level = getenv("LCX_LOG_LEVEL");
    if (level && strcmp(level, "debug") == 0) log_threshold = LCX_DEBUG;
}

static const char *level_name(lcx_level_t level)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    return names[level];
}

void lcx_log(lcx_level_t level, const char *event, ...)
{
    if (level < log_threshold) return;
    char ts[32];
    lcx_format_time(lcx_now_ms(), ts, sizeof ts);
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_name(level)));
    json_object_set_new(line, "service", json_string(log_service));
    json_object_set_new(line, "event", json_string(event));
    va_list ap;
    va_start(ap, event);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        /* Invalid UTF-8 in a value (e.g. from a peer) must not lose the line. */
        if (value) json_object_set_new(line, key, json_stringn_nocheck(value, strlen(value)));
    }
    va_end(ap);
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(line);
    if (!text) return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: one write, one line */
    ssize_t written = write(STDERR_FILENO, text, len + 1);
    (void)written;
    free(text);
}
