/*
 * util: small helpers every service needs: ids, clocks, time formatting.
 */
#ifndef LCX_UTIL_H
#define LCX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LCX_UUID_LEN 36

/* A random UUID v4 in lower-case text; out holds LCX_UUID_LEN + 1 bytes. */
void lcx_uuid4(char *out);
/* True when text is a well-formed UUID (any version, either case). */
bool lcx_uuid_valid(const char *text);
/* An entry of READY.running or ADOPT.running, "execution_id/attempt" (PROTOCOL.md 6.3): true
 * when it is a UUID, a slash and a decimal attempt from 1 to 2^31-1, whose parts it copies to id
 * (LCX_UUID_LEN + 1 bytes) and *attempt. */
bool lcx_running_entry_parse(const char *entry, char *id, int64_t *attempt);

/* Wall clock and monotonic clock, in milliseconds. */
int64_t lcx_now_ms(void);
int64_t lcx_mono_ms(void);

/* RFC 3339 UTC with milliseconds: "2026-11-21T10:30:00.045Z"; out holds 25 bytes. */
void lcx_format_time(int64_t epoch_ms, char *out, size_t size);
/* The inverse, for times clients send: "YYYY-MM-DDTHH:MM:SS", optional fraction (to ms), then
 * "Z" or "+00:00". 0 and *epoch_ms, or -1 when text is not such a time. */
int lcx_parse_time(const char *text, int64_t *epoch_ms);

/* <directory of the running binary>/../etc/<file>: where `make` puts data files. */
char *lcx_etc_path(const char *file, char *buf, size_t size);
/* A whole file, NUL-terminated (malloc'd), its length in *len; NULL when unreadable. */
char *lcx_read_file(const char *path, size_t *len);

/* Decimal text of an integer, in a caller buffer; returns buf. */
char *lcx_itoa(long long value, char *buf, size_t size);

/* How many bytes at the end of data (0 to 3) start a UTF-8 sequence that the bytes after
 * them would complete: where a chunk of text may be cut without splitting a character. */
size_t lcx_utf8_partial_tail(const char *data, size_t len);

#endif
