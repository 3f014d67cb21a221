/*
 * checker: a program's output against a test's expected output (see checker.h).
 *
 * Every comparison is one pass over both outputs, side by side: LINES and EXACT walk line by
 * line (or byte by byte), TOKENS and FLOAT token by token with a cursor per output that counts
 * the lines it crosses. The diff's texts are cut from the buffers once the difference is found.
 */
#include "checker.h"

#include "alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NO_LINE SIZE_MAX      /* a line past the end, for diff_fill */
#define NUMBER_STACK_BYTES 64 /* number tokens up to 63 bytes are copied on the stack */

static const char *const kind_names[] = {
    [CHECKER_LINES] = "lines",
    [CHECKER_EXACT] = "exact",
    [CHECKER_TOKENS] = "tokens",
    [CHECKER_FLOAT] = "float",
};
#define KIND_COUNT (sizeof kind_names / sizeof kind_names[0])

checker_t checker_default(checker_kind_t kind)
{
    return (checker_t){.kind = kind, .abs = CHECKER_TOLERANCE, .rel = CHECKER_TOLERANCE};
}

checker_kind_t checker_kind_from_name(const char *name)
{
    if (!name) return CHECKER_LINES;
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) return (checker_kind_t)i;
    return CHECKER_UNKNOWN;
}

const char *checker_kind_name(checker_kind_t kind)
{
    if (kind < 0 || (size_t)kind >= KIND_COUNT) return "unknown";
    return kind_names[kind];
}

void checker_diff_clear(checker_diff_t *diff)
{
    if (!diff) return;
    free(diff->expected);
    free(diff->got);
    *diff = (checker_diff_t){0};
}

/* --------------------------------------------------------------------------------------------
 * Bytes
 */

/* Whitespace between tokens and at the ends of an output. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Whitespace that ends a line without ending it: trailing whitespace for LINES. */
static bool is_blank(char c)
{
    return c != '\n' && is_space(c);
}

/* The offset of the \n that ends the line starting at `start`, or len when none does. */
static size_t line_end(const char *buf, size_t len, size_t start)
{
    const char *nl = start < len ? memchr(buf + start, '\n', len - start) : NULL;
    return nl ? (size_t)(nl - buf) : len;
}

/* --------------------------------------------------------------------------------------------
 * The diff
 */

/* A copy of n bytes, cut after CHECKER_DIFF_TEXT_MAX (backed off to the start of a UTF-8
 * character it would split) and then marked; NUL-terminated, its length in *out_len. */
static char *text_copy(const char *bytes, size_t n, size_t *out_len)
{
    size_t keep = n, mark = 0;
    if (n > CHECKER_DIFF_TEXT_MAX) {
        keep = CHECKER_DIFF_TEXT_MAX;
        /* bytes[keep] is the first byte left out: a continuation byte belongs to a character
         * begun before it (at most 3 bytes before, in UTF-8). */
        for (int i = 0; i < 3 && keep > 0 && ((unsigned char)bytes[keep] & 0xC0) == 0x80; i++)
            keep--;
        mark = sizeof CHECKER_DIFF_CUT - 1;
    }
    char *text = lcx_malloc(keep + mark + 1);
    memcpy(text, bytes, keep);
    memcpy(text + keep, CHECKER_DIFF_CUT, mark);
    text[keep + mark] = '\0';
    *out_len = keep + mark;
    return text;
}

/* The text of the line starting at `start` (NO_LINE: none, NULL): with its \n when with_nl,
 * else without its \n or \r\n. */
static char *line_copy(const char *buf, size_t len, size_t start, bool with_nl, size_t *out_len)
{
    *out_len = 0;
    if (start == NO_LINE) return NULL;
    size_t end = line_end(buf, len, start);
    if (end < len && with_nl)
        end++;
    else if (end < len && end > start && buf[end - 1] == '\r')
        end--;
    return text_copy(buf + start, end - start, out_len);
}

static void diff_fill(checker_diff_t *diff, size_t line, size_t got_line, const char *e,
                      size_t elen, size_t estart, const char *g, size_t glen, size_t gstart,
                      bool with_nl)
{
    if (!diff) return;
    diff->line = line;
    diff->got_line = got_line;
    diff->expected = line_copy(e, elen, estart, with_nl, &diff->expected_len);
    diff->got = line_copy(g, glen, gstart, with_nl, &diff->got_len);
}

/* --------------------------------------------------------------------------------------------
 * EXACT
 */

static bool match_exact(const char *e, size_t elen, const char *g, size_t glen,
                        checker_diff_t *diff)
{
    size_t n = elen < glen ? elen : glen;
    if (elen == glen && memcmp(e, g, n) == 0) return true;
    /* The first byte that differs, and the line it is on (the same line in both: the bytes
     * before it are equal). */
    size_t at = 0, line = 1, start = 0;
    for (; at < n && e[at] == g[at]; at++)
        if (e[at] == '\n') {
            line++;
            start = at + 1;
        }
    diff_fill(diff, line, line, e, elen, start < elen ? start : NO_LINE, g, glen,
              start < glen ? start : NO_LINE, true);
    return false;
}

/* --------------------------------------------------------------------------------------------
 * LINES
 */

/* The length of an output without the whitespace at its end: the lines from there on are the
 * empty lines LINES ignores. */
static size_t content_end(const char *buf, size_t len)
{
    while (len > 0 && is_space(buf[len - 1]))
        len--;
    return len;
}

/* The length of the line [start, end) without its trailing whitespace. */
static size_t trimmed_len(const char *buf, size_t start, size_t end)
{
    while (end > start && is_blank(buf[end - 1]))
        end--;
    return end - start;
}

/* The line at pos without its trailing whitespace, its length in *n; a line past the end is
 * empty. */
static size_t line_at(const char *buf, size_t len, size_t pos, size_t *n)
{
    size_t nl = line_end(buf, len, pos);
    *n = pos < len ? trimmed_len(buf, pos, nl) : 0;
    return nl;
}

static bool match_lines(const char *e, size_t elen, const char *g, size_t glen,
                        checker_diff_t *diff)
{
    /* Past its content an output has only empty lines (or none), which equal empty lines. */
    size_t eend = content_end(e, elen), gend = content_end(g, glen);
    size_t epos = 0, gpos = 0, line = 1;
    while (epos < eend || gpos < gend) {
        size_t en, gn;
        size_t enl = line_at(e, elen, epos, &en), gnl = line_at(g, glen, gpos, &gn);
        if (en != gn || (en > 0 && memcmp(e + epos, g + gpos, en) != 0)) {
            diff_fill(diff, line, line, e, elen, epos < elen ? epos : NO_LINE, g, glen,
                      gpos < glen ? gpos : NO_LINE, false);
            return false;
        }
        epos = enl + 1;
        gpos = gnl + 1;
        line++;
    }
    return true;
}

/* --------------------------------------------------------------------------------------------
 * TOKENS and FLOAT
 */

/* Reads one output token by token, counting lines. */
typedef struct {
    const char *buf;
    size_t len;
    size_t pos;        /* the next byte to read */
    size_t line;       /* the line of pos, from 1 */
    size_t line_start; /* where that line starts */
    size_t tok;        /* the last token read: its offset and length */
    size_t tok_len;
} cursor_t;

/* Reads the next token: false when none is left. line and line_start are then the token's. */
static bool cursor_next(cursor_t *self)
{
    while (self->pos < self->len && is_space(self->buf[self->pos])) {
        if (self->buf[self->pos] == '\n') {
            self->line++;
            self->line_start = self->pos + 1;
        }
        self->pos++;
    }
    if (self->pos == self->len) return false;
    self->tok = self->pos;
    while (self->pos < self->len && !is_space(self->buf[self->pos]))
        self->pos++;
    self->tok_len = self->pos - self->tok;
    return true;
}

/* The bytes of a decimal number: digits, signs, the point and the exponent's e. */
static bool is_number_byte(char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* A finite decimal number that strtod reads in full. */
static bool number_parse(const char *tok, size_t n, double *value)
{
    for (size_t i = 0; i < n; i++)
        if (!is_number_byte(tok[i])) return false;
    char small[NUMBER_STACK_BYTES];
    char *copy = n < sizeof small ? small : lcx_malloc(n + 1);
    memcpy(copy, tok, n);
    copy[n] = '\0';
    char *end = NULL;
    *value = strtod(copy, &end);
    bool whole = n > 0 && end == copy + n && isfinite(*value);
    if (copy != small) free(copy);
    return whole;
}

static bool token_match(const checker_t *checker, const char *e, size_t en, const char *g,
                        size_t gn)
{
    if (en == gn && memcmp(e, g, en) == 0) return true;
    if (checker->kind != CHECKER_FLOAT) return false;
    double ev = 0, gv = 0;
    if (!number_parse(e, en, &ev) || !number_parse(g, gn, &gv)) return false;
    double delta = fabs(gv - ev);
    return delta <= checker->abs || delta <= checker->rel * fabs(ev);
}

static bool match_tokens(const checker_t *checker, const char *e, size_t elen, const char *g,
                         size_t glen, checker_diff_t *diff)
{
    cursor_t ec = {.buf = e, .len = elen, .line = 1}, gc = {.buf = g, .len = glen, .line = 1};
    for (;;) {
        bool has_e = cursor_next(&ec), has_g = cursor_next(&gc);
        if (!has_e && !has_g) return true;
        if (has_e && has_g && token_match(checker, e + ec.tok, ec.tok_len, g + gc.tok, gc.tok_len))
            continue;
        size_t line = has_e ? ec.line : gc.line;
        size_t got_line = has_g ? gc.line : line;
        diff_fill(diff, line, got_line, e, elen, has_e ? ec.line_start : NO_LINE, g, glen,
                  has_g ? gc.line_start : NO_LINE, false);
        return false;
    }
}

/* --------------------------------------------------------------------------------------------
 * Judging
 */

bool checker_match(const checker_t *checker, const char *expected, size_t elen, const char *got,
                   size_t glen, checker_diff_t *diff)
{
    checker_t lines = checker_default(CHECKER_LINES);
    if (!checker) checker = &lines;
    if (!expected) {
        expected = "";
        elen = 0;
    }
    if (!got) {
        got = "";
        glen = 0;
    }
    if (diff) *diff = (checker_diff_t){0};
    switch (checker->kind) {
    case CHECKER_LINES:
        return match_lines(expected, elen, got, glen, diff);
    case CHECKER_EXACT:
        return match_exact(expected, elen, got, glen, diff);
    case CHECKER_TOKENS:
    case CHECKER_FLOAT:
        return match_tokens(checker, expected, elen, got, glen, diff);
    default:
        return false;
    }
}
