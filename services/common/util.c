/* util: ids, clocks, time formatting. */
#include "util.h"
#include "alloc.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void lcx_uuid4(char *out)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0) got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, LCX_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

bool lcx_uuid_valid(const char *text)
{
    if (!text || strlen(text) != LCX_UUID_LEN) return false;
    for (int i = 0; i < LCX_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !isxdigit((unsigned char)text[i])) return false;
    }
    return true;
}

bool lcx_running_entry_parse(const char *entry, char *id, int64_t *attempt)
{
    if (!entry || strlen(entry) < LCX_UUID_LEN + 2 || entry[LCX_UUID_LEN] != '/') return false;
    const char *digits = entry + LCX_UUID_LEN + 1;
    int64_t value = 0;
    for (const char *p = digits; *p; p++) {
        if (!isdigit((unsigned char)*p) || p - digits >= 10) return false;
        value = value * 10 + (*p - '0');
    }
    if (value < 1 || value > INT32_MAX) return false;
    memcpy(id, entry, LCX_UUID_LEN);
    id[LCX_UUID_LEN] = '\0';
    if (!lcx_uuid_valid(id)) return false;
    *attempt = value;
    return true;
}

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lcx_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t lcx_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void lcx_format_time(int64_t epoch_ms, char *out, size_t size)
{
    time_t secs = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", base, (int)(epoch_ms % 1000));
}

int lcx_parse_time(const char *text, int64_t *epoch_ms)
{
    struct tm tm = {0};
    int used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &used) != 6 ||
        used != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    const char *p = text + used;
    int ms = 0, digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3) ms = ms * 10 + (*p - '0');
        if (digits == 0) return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0) return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1) return -1;
    *epoch_ms = (int64_t)secs * 1000 + ms;
    return 0;
}

char *lcx_itoa(long long value, char *buf, size_t size)
{
    snprintf(buf, size, "%lld", value);
    return buf;
}

char *lcx_etc_path(const char *file, char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(buf, size, "%s/../etc/%s", n > 0 ? dirname(exe) : ".", file);
    return buf;
}

char *lcx_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = NULL;
    size_t size = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (size + n + 1 > cap) {
            cap = (size + n + 1) * 2;
            data = lcx_realloc(data, cap);
        }
        memcpy(data + size, chunk, n);
        size += n;
    }
    fclose(f);
    if (!data) data = lcx_calloc(1, 1);
    data[size] = '\0';
    *len = size;
    return data;
}

size_t lcx_utf8_partial_tail(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = p[len - back];
        if ((c & 0xC0) == 0x80) continue; /* a continuation byte: look further back */
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}
