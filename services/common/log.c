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

const char lcx_log_int_marker[] = "(int)";
const char lcx_log_real_marker[] = "(real)";

static const char *log_service = "lcx";
static lcx_level_t log_threshold = LCX_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void lcx_log_init(const char *service, lcx_level_t threshold)
{
    log_service = service;
    log_threshold = threshold;
}

int lcx_log_level_parse(const char *name, lcx_level_t *level)
{
    for (int i = LCX_DEBUG; i <= LCX_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (lcx_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* A real rounded to three decimals (enough for any duration in ms); null when out of range or
 * NaN, which JSON cannot hold. No libm: the keeper's image links without it. */
static json_t *real_of(double value)
{
    if (!(value > -1e12 && value < 1e12)) return json_null();
    double scaled = value * 1000.0;
    long long rounded = (long long)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    return json_real((double)rounded / 1000.0);
}

/* Adds the pairs of `ap` to `line`. */
static void add_fields(json_t *line, va_list ap)
{
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        if (key == lcx_log_int_marker) {
            key = va_arg(ap, const char *);
            json_object_set_new(line, key, json_integer(va_arg(ap, long long)));
        } else if (key == lcx_log_real_marker) {
            key = va_arg(ap, const char *);
            json_object_set_new(line, key, real_of(va_arg(ap, double)));
        } else {
            const char *value = va_arg(ap, const char *);
            /* Invalid UTF-8 in a value (e.g. from a peer) must not lose the line. */
            if (value) json_object_set_new(line, key, json_stringn_nocheck(value, strlen(value)));
        }
    }
}

void lcx_log(lcx_level_t level, const char *event, ...)
{
    if (level < log_threshold) return;
    char ts[32];
    lcx_format_time(lcx_now_ms(), ts, sizeof ts);
    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "service", json_string(log_service));
    json_object_set_new(line, "event", json_string(event));
    va_list ap;
    va_start(ap, event);
    add_fields(line, ap);
    va_end(ap);
    /* 15 significant digits print a rounded real as written (1.234, not 1.2339999999999999). */
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    json_decref(line);
    if (!text) return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: one write, one line */
    ssize_t written = write(STDERR_FILENO, text, len + 1);
    (void)written;
    free(text);
}
