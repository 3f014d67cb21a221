/*
 * checker: judges a program's output against a test's expected output (API.md "Judging, one-shot
 * and batch runs"): accepted or not, and when not, the first line where they differ.
 *
 * Outputs are bytes with lengths: NUL bytes are ordinary bytes, invalid UTF-8 is compared as it
 * is, nothing is ever read past a length. Whitespace is the ASCII set: space, \t, \n, \v, \f, \r
 * (never the locale's). A line is the bytes up to a \n or the end; "a\n" holds one line, "" none,
 * "\n" one empty line.
 *
 *   LINES   (the default) line by line, the trailing whitespace of each line ignored (so \r\n
 *           is \n) and the empty lines at the end ignored (Judge0's comparison).
 *   EXACT   byte for byte: \r\n is not \n, a missing final \n is a difference.
 *   TOKENS  the whitespace-separated tokens, compared byte for byte: any run of whitespace
 *           equals any other, leading and trailing whitespace are ignored (DMOJ's `standard`).
 *   FLOAT   tokens as TOKENS; two tokens that differ still match when both are finite decimal
 *           numbers (digits, sign, '.', exponent; strtod reads all of it) with |got - expected|
 *           <= abs or <= rel * |expected|. Anything else must match byte for byte: words,
 *           "nan" and "inf" (they match only the same text), hexadecimal ("0x10" is not 16), a
 *           number that overflows a double ("1e999").
 *
 * The diff. line counts from 1. For LINES and EXACT it is the first line that differs, the same
 * line in both outputs. For TOKENS and FLOAT it is the line of the expected output holding the
 * first token that differs, and got_line the line of the output holding the token it was
 * compared with: they may differ ("1 2\n" against "1\n3\n": line 1, got_line 2). A side that ran
 * out of tokens gives the other side's line. For LINES and EXACT, got_line equals line.
 *
 * The texts are copies of those lines (NUL-terminated, with their lengths, as they may hold NUL
 * bytes): for EXACT with its \n when it has one (so that a missing final newline shows), for the
 * others without the \n or \r\n that ends it. NULL (length 0) is a line past the end: the output
 * has no such line, or for TOKENS and FLOAT, no token left. Each text is cut after at most
 * CHECKER_DIFF_TEXT_MAX bytes (not inside a UTF-8 character) and then ends in CHECKER_DIFF_CUT.
 *
 * Costs (1 MiB against 1 MiB of 16-byte lines of two numbers, -O2, this machine kind): linear in
 * the bytes read, no recursion, no allocation but the diff's texts (and a copy of a number token
 * longer than 63 bytes, for strtod). Identical outputs: EXACT 0.02 ms (memcmp; 0.35 ms to find a
 * difference at the end), LINES 0.5 ms, TOKENS 1.6 ms, FLOAT 1.6 ms (tokens equal byte for byte
 * skip strtod). FLOAT with every second token differing in its bytes (65536 pairs read by
 * strtod): 10 ms, about 150 ns a pair. Under the sanitizers about 3 times as long.
 *
 * FLOAT's strtod reads the decimal point of the C locale: the runner never calls setlocale.
 */
#ifndef LCX_CHECKER_H
#define LCX_CHECKER_H

#include <stdbool.h>
#include <stddef.h>

#define CHECKER_TOLERANCE 1e-6     /* FLOAT's default abs and rel */
#define CHECKER_DIFF_TEXT_MAX 1024 /* bytes of a line kept in a diff text */
#define CHECKER_DIFF_CUT " [...]"  /* ends a diff text that was cut */

typedef enum {
    CHECKER_UNKNOWN = -1, /* checker_kind_from_name: no such checker */
    CHECKER_LINES = 0,
    CHECKER_EXACT,
    CHECKER_TOKENS,
    CHECKER_FLOAT,
} checker_kind_t;

typedef struct {
    checker_kind_t kind;
    double abs, rel; /* FLOAT's tolerances (ignored by the others); negative: never within */
} checker_t;

/* The first line that differs (see above). Owns its texts: release with checker_diff_clear. */
typedef struct {
    size_t line;     /* from 1; 0 when the outputs matched */
    size_t got_line; /* the output's line; equals line but for TOKENS and FLOAT */
    char *expected;  /* NULL: past the end */
    size_t expected_len;
    char *got; /* NULL: past the end */
    size_t got_len;
} checker_diff_t;

/* The checker of that kind with the default tolerances. */
checker_t checker_default(checker_kind_t kind);

/* "lines", "exact", "tokens", "float" (exactly so); NULL is CHECKER_LINES, the default.
 * CHECKER_UNKNOWN for any other name. */
checker_kind_t checker_kind_from_name(const char *name);

/* The name of a kind, as checker_kind_from_name reads it; "unknown" for any other value. */
const char *checker_kind_name(checker_kind_t kind);

/* True when `got` is accepted against `expected` under the checker (NULL: the default, LINES).
 * When not accepted and diff is not NULL, *diff is overwritten with the first difference (it
 * must own nothing: clear a used one first); when accepted, *diff is zeroed. An unknown kind
 * accepts nothing and leaves diff zeroed. A NULL buffer is empty whatever its length. */
bool checker_match(const checker_t *checker, const char *expected, size_t elen, const char *got,
                   size_t glen, checker_diff_t *diff);

/* Frees the texts of a diff and zeroes it (again and again if need be). */
void checker_diff_clear(checker_diff_t *diff);

#endif
