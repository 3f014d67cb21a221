/* Unit tests: the output checkers of services/runner/checker.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "checker.h"

#define S(text) text, sizeof text - 1 /* a literal with its length (NUL bytes and all) */

static const checker_kind_t all_kinds[] = {CHECKER_LINES, CHECKER_EXACT, CHECKER_TOKENS,
                                           CHECKER_FLOAT};
#define ALL_KINDS (sizeof all_kinds / sizeof all_kinds[0])

/* Judges under a kind with the default tolerances; a diff of a rejection is cleared. */
static bool judge(checker_kind_t kind, const char *e, size_t elen, const char *g, size_t glen)
{
    checker_t c = checker_default(kind);
    checker_diff_t diff;
    bool ok = checker_match(&c, e, elen, g, glen, &diff);
    if (ok) assert_int_equal(diff.line, 0);
    if (!ok) assert_true(diff.line >= 1);
    checker_diff_clear(&diff);
    return ok;
}

/* Which of LINES, EXACT, TOKENS, FLOAT (in that order) accept, as a string of 0 and 1. */
static const char *verdicts(const char *e, size_t elen, const char *g, size_t glen)
{
    static char out[ALL_KINDS + 1];
    for (size_t i = 0; i < ALL_KINDS; i++)
        out[i] = judge(all_kinds[i], e, elen, g, glen) ? '1' : '0';
    out[ALL_KINDS] = '\0';
    return out;
}
#define VERDICTS(e, g) verdicts(S(e), S(g))

/* The diff under checker c must be that line with those texts (NULL: past the end). */
static void expect_diff(const checker_t *c, const char *e, size_t elen, const char *g, size_t glen,
                        size_t line, size_t got_line, const char *etext, const char *gtext)
{
    checker_diff_t diff;
    assert_false(checker_match(c, e, elen, g, glen, &diff));
    assert_int_equal(diff.line, line);
    assert_int_equal(diff.got_line, got_line);
    if (!etext) {
        assert_null(diff.expected);
        assert_int_equal(diff.expected_len, 0);
    } else {
        assert_non_null(diff.expected);
        assert_int_equal(diff.expected_len, strlen(etext));
        assert_memory_equal(diff.expected, etext, diff.expected_len + 1);
    }
    if (!gtext) {
        assert_null(diff.got);
        assert_int_equal(diff.got_len, 0);
    } else {
        assert_non_null(diff.got);
        assert_int_equal(diff.got_len, strlen(gtext));
        assert_memory_equal(diff.got, gtext, diff.got_len + 1);
    }
    checker_diff_clear(&diff);
    checker_diff_clear(&diff); /* again: harmless */
}
#define EXPECT_DIFF(kind, e, g, line, got_line, etext, gtext)                                      \
    do {                                                                                           \
        checker_t c_ = checker_default(kind);                                                      \
        expect_diff(&c_, S(e), S(g), line, got_line, etext, gtext);                                \
    } while (0)

static void kind_names_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < ALL_KINDS; i++)
        assert_int_equal(checker_kind_from_name(checker_kind_name(all_kinds[i])), all_kinds[i]);
    assert_string_equal(checker_kind_name(CHECKER_LINES), "lines");
    assert_string_equal(checker_kind_name(CHECKER_EXACT), "exact");
    assert_string_equal(checker_kind_name(CHECKER_TOKENS), "tokens");
    assert_string_equal(checker_kind_name(CHECKER_FLOAT), "float");
    assert_int_equal(checker_kind_from_name(NULL), CHECKER_LINES);
    assert_int_equal(checker_kind_from_name("Lines"), CHECKER_UNKNOWN);
    assert_int_equal(checker_kind_from_name(""), CHECKER_UNKNOWN);
    assert_int_equal(checker_kind_from_name("floats"), CHECKER_UNKNOWN);
    assert_string_equal(checker_kind_name(CHECKER_UNKNOWN), "unknown");
    assert_string_equal(checker_kind_name((checker_kind_t)42), "unknown");
    checker_t f = checker_default(CHECKER_FLOAT);
    assert_true(f.abs == 1e-6 && f.rel == 1e-6);
}

static void identical_outputs_pass_every_checker(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("1 2\n3\n", "1 2\n3\n"), "1111");
    assert_string_equal(VERDICTS("hello", "hello"), "1111");
    /* NULL checker: LINES. NULL buffers: empty. */
    assert_true(checker_match(NULL, S("a  \n"), S("a\n\n"), NULL));
    assert_false(checker_match(NULL, S("a"), S("b"), NULL));
    checker_t exact = checker_default(CHECKER_EXACT);
    assert_true(checker_match(&exact, NULL, 5, "", 0, NULL));
    assert_true(checker_match(&exact, NULL, 0, NULL, 3, NULL));
    /* An unknown kind accepts nothing and leaves no diff. */
    checker_t bad = {.kind = CHECKER_UNKNOWN};
    checker_diff_t diff;
    assert_false(checker_match(&bad, S("a"), S("a"), &diff));
    assert_int_equal(diff.line, 0);
    assert_null(diff.expected);
    assert_null(diff.got);
}

static void trailing_spaces(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a b\nc\n", "a b  \nc\t\n"), "1011");
    EXPECT_DIFF(CHECKER_EXACT, "a b\nc\n", "a b  \nc\t\n", 1, 1, "a b\n", "a b  \n");
    /* Leading spaces matter to LINES. */
    assert_string_equal(VERDICTS("a\n", "  a\n"), "0011");
    EXPECT_DIFF(CHECKER_LINES, "x\na\n", "x\n  a\n", 2, 2, "a", "  a");
}

static void tabs_against_spaces(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a b\n", "a\tb\n"), "0011");
    assert_string_equal(VERDICTS("a b\n", "a   b\n"), "0011");
    assert_string_equal(VERDICTS("a b\n", "a\nb\n"), "0011"); /* a newline is whitespace too */
    assert_string_equal(VERDICTS("a b\n", "ab\n"), "0000");
    EXPECT_DIFF(CHECKER_LINES, "a b\n", "a\tb\n", 1, 1, "a b", "a\tb");
    EXPECT_DIFF(CHECKER_TOKENS, "a b\n", "ab\n", 1, 1, "a b", "ab");
}

static void missing_final_newline(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a\nb\n", "a\nb"), "1011");
    EXPECT_DIFF(CHECKER_EXACT, "a\nb\n", "a\nb", 2, 2, "b\n", "b");
    EXPECT_DIFF(CHECKER_EXACT, "a", "a\n", 1, 1, "a", "a\n");
}

static void extra_blank_lines_at_the_end(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a\n", "a\n\n\n"), "1011");
    assert_string_equal(VERDICTS("a\n\n\n", "a"), "1011");
    assert_string_equal(VERDICTS("a\n", "a\n \t\n\r\n"), "1011");
    EXPECT_DIFF(CHECKER_EXACT, "a\n", "a\n\n\n", 2, 2, NULL, "\n");
    /* Blank lines in the middle count for LINES. */
    assert_string_equal(VERDICTS("a\nb\n", "a\n\nb\n"), "0011");
    EXPECT_DIFF(CHECKER_LINES, "a\nb\n", "a\n\nb\n", 2, 2, "b", "");
    EXPECT_DIFF(CHECKER_LINES, "a\n\nb\n", "a\nb\n", 2, 2, "", "b");
    /* A blank line ignored at the end of one output is still its text in the diff. */
    EXPECT_DIFF(CHECKER_LINES, "a\nb\n", "a\n  \n", 2, 2, "b", "  ");
}

static void crlf_is_lf_but_for_exact(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a\nb c\n", "a\r\nb c\r\n"), "1011");
    assert_string_equal(VERDICTS("a\r\nb c\r\n", "a\nb c"), "1011");
    EXPECT_DIFF(CHECKER_EXACT, "a\nb\n", "a\r\nb\r\n", 1, 1, "a\n", "a\r\n");
    /* The diff texts of the others lose the \r\n with the \n. */
    EXPECT_DIFF(CHECKER_LINES, "a\r\nb\r\n", "a\r\nc\r\n", 2, 2, "b", "c");
    EXPECT_DIFF(CHECKER_TOKENS, "a\r\nb\r\n", "a\r\nc\r\n", 2, 2, "b", "c");
    /* A \r alone inside a line is no line break, but whitespace between tokens. */
    assert_string_equal(VERDICTS("a b\n", "a\rb\n"), "0011");
}

static void float_tolerance_accepts_rounding(void **state)
{
    (void)state;
    /* 0.1 + 0.2 printed with 17 digits. */
    assert_string_equal(VERDICTS("0.3\n", "0.30000000000000004\n"), "0001");
    EXPECT_DIFF(CHECKER_TOKENS, "0.3\n", "0.30000000000000004\n", 1, 1, "0.3",
                "0.30000000000000004");
    EXPECT_DIFF(CHECKER_LINES, "0.3\n", "0.30000000000000004\n", 1, 1, "0.3",
                "0.30000000000000004");
    assert_string_equal(VERDICTS("1 2.5 -3\n", "1.0 2.50000 -3e0\n"), "0001");
    assert_string_equal(VERDICTS("0\n", "-0\n"), "0001");
    assert_string_equal(VERDICTS("0.3\n", "0.301\n"), "0000");
    EXPECT_DIFF(CHECKER_FLOAT, "1\n2 0.3\n", "1 2\n0.301\n", 2, 2, "2 0.3", "0.301");
    EXPECT_DIFF(CHECKER_FLOAT, "1\n0.3\n", "1 0.301\n", 2, 1, "0.3", "1 0.301");
}

static bool float_judge(double abs, double rel, const char *e, const char *g)
{
    checker_t c = {.kind = CHECKER_FLOAT, .abs = abs, .rel = rel};
    return checker_match(&c, e, strlen(e), g, strlen(g), NULL);
}

static void float_abs_and_rel(void **state)
{
    (void)state;
    /* Large values: within rel (0.5 <= 1e-6 * 1e6), far beyond abs. */
    assert_true(float_judge(1e-6, 1e-6, "1000000", "1000000.5"));
    assert_false(float_judge(1e-6, 0, "1000000", "1000000.5"));
    assert_false(float_judge(1e-6, 1e-6, "1000000", "1000002"));
    /* Small values: within abs, far beyond rel. */
    assert_true(float_judge(1e-6, 1e-6, "0.000001", "0.0000015"));
    assert_false(float_judge(0, 1e-6, "0.000001", "0.0000015"));
    /* Either is enough; the bounds are inclusive; rel is of the expected value. */
    assert_true(float_judge(0, 0.1, "100", "110"));
    assert_false(float_judge(0, 0.1, "100", "111"));
    assert_true(float_judge(0.5, 0, "2", "2.5"));
    assert_true(float_judge(0.5, 0, "2", "1.5"));
    assert_false(float_judge(0.5, 0, "2", "2.5000001"));
    assert_false(float_judge(0, 0.1, "0", "0.001"));
    /* Zero tolerance: numbers still compare as numbers. */
    assert_true(float_judge(0, 0, "1", "1.000"));
    assert_true(float_judge(0, 0, "1e3", "1000"));
    assert_false(float_judge(0, 0, "1", "1.0000001"));
}

static void float_non_numeric_tokens(void **state)
{
    (void)state;
    assert_true(float_judge(1e-6, 1e-6, "answer 42\n", "answer 42.0000001\n"));
    assert_false(float_judge(1e-6, 1e-6, "answer 42\n", "Answer 42\n"));
    assert_false(float_judge(1e-6, 1e-6, "YES\n", "yes\n"));
    assert_false(float_judge(1e-6, 1e-6, "1\n", "1x\n"));        /* trailing garbage */
    assert_false(float_judge(1e-6, 1e-6, "1\n", "1e\n"));        /* an exponent without digits */
    assert_false(float_judge(1e-6, 1e-6, "1\n", "1,0\n"));       /* not the C locale's point */
    assert_false(float_judge(1e-6, 1e-6, "16\n", "0x10\n"));     /* no hexadecimal */
    assert_false(float_judge(1e-6, 1e-6, "-\n", "+\n"));         /* signs alone are words */
    assert_false(float_judge(1e-6, 1e-6, "1e999\n", "1e998\n")); /* overflow: words */
    assert_true(float_judge(1e-6, 1e-6, "1e999\n", "1e999\n"));
    /* nan and inf match only the same text. */
    assert_true(float_judge(1e-6, 1e-6, "nan inf -inf\n", "nan inf -inf\n"));
    assert_false(float_judge(1e-6, 1e-6, "nan\n", "NaN\n"));
    assert_false(float_judge(1e-6, 1e-6, "inf\n", "infinity\n"));
    assert_false(float_judge(1e-6, 1e-6, "inf\n", "1e999\n"));
    assert_false(float_judge(1e-6, 1e-6, "nan\n", "0\n"));
    assert_false(float_judge(1e-6, 1e-6, "1\n", "nan\n"));
    assert_false(float_judge(1e9, 1e9, "1\n", "inf\n"));
    /* A long number token (copied for strtod off the stack). */
    char e[400], g[400];
    memset(e, '0', sizeof e);
    memset(g, '0', sizeof g);
    e[0] = g[0] = '1';
    e[1] = g[1] = '.';
    g[9] = '1'; /* 1.00000001 */
    e[sizeof e - 1] = g[sizeof g - 1] = '\0';
    assert_true(float_judge(1e-6, 1e-6, e, g));
    assert_false(float_judge(0, 0, e, g));
}

static void empty_outputs(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("", ""), "1111");
    assert_string_equal(VERDICTS("", "\n\n \t\n"), "1011");
    assert_string_equal(VERDICTS("\n", ""), "1011");
    assert_string_equal(VERDICTS("", "x"), "0000");
    assert_string_equal(VERDICTS("x", ""), "0000");
    EXPECT_DIFF(CHECKER_EXACT, "", "\n\n", 1, 1, NULL, "\n");
    EXPECT_DIFF(CHECKER_EXACT, "\n", "", 1, 1, "\n", NULL);
    for (size_t i = 0; i < ALL_KINDS; i++) {
        EXPECT_DIFF(all_kinds[i], "", "x", 1, 1, NULL, "x");
        EXPECT_DIFF(all_kinds[i], "x", "", 1, 1, "x", NULL);
    }
    /* Past the end for LINES even when the line is there but blank. */
    EXPECT_DIFF(CHECKER_LINES, "\n\nx", "\n", 3, 3, "x", NULL);
}

static void got_longer_or_shorter(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("1\n2\n3\n", "1\n2\n"), "0000");
    assert_string_equal(VERDICTS("1\n2\n", "1\n2\n3\n"), "0000");
    EXPECT_DIFF(CHECKER_LINES, "1\n2\n3\n", "1\n2\n", 3, 3, "3", NULL);
    EXPECT_DIFF(CHECKER_EXACT, "1\n2\n3\n", "1\n2\n", 3, 3, "3\n", NULL);
    EXPECT_DIFF(CHECKER_TOKENS, "1\n2\n3\n", "1\n2\n", 3, 3, "3", NULL);
    EXPECT_DIFF(CHECKER_FLOAT, "1\n2\n3\n", "1\n2\n", 3, 3, "3", NULL);
    EXPECT_DIFF(CHECKER_LINES, "1\n2\n", "1\n2\n3\n", 3, 3, NULL, "3");
    EXPECT_DIFF(CHECKER_EXACT, "1\n2\n", "1\n2\n3\n", 3, 3, NULL, "3\n");
    EXPECT_DIFF(CHECKER_TOKENS, "1\n2\n", "1\n2\n3\n", 3, 3, NULL, "3");
    EXPECT_DIFF(CHECKER_FLOAT, "1\n2\n", "1\n2\n3\n", 3, 3, NULL, "3");
    /* Longer within a line. */
    EXPECT_DIFF(CHECKER_EXACT, "ab\n", "abc\n", 1, 1, "ab\n", "abc\n");
    EXPECT_DIFF(CHECKER_LINES, "ab\n", "abc\n", 1, 1, "ab", "abc");
    EXPECT_DIFF(CHECKER_TOKENS, "1 2\n", "1 2 3\n", 1, 1, NULL, "1 2 3");
    /* Tokens run out on one side: the other side's line, and past the end for this one. */
    EXPECT_DIFF(CHECKER_TOKENS, "1\n\n\n", "1\n2\n", 2, 2, NULL, "2");
    EXPECT_DIFF(CHECKER_TOKENS, "1\n\n2\n", "1\n", 3, 3, "2", NULL);
}

static void token_diffs_name_each_sides_line(void **state)
{
    (void)state;
    EXPECT_DIFF(CHECKER_TOKENS, "1 2\n3\n", "1\n2 4\n", 2, 2, "3", "2 4");
    EXPECT_DIFF(CHECKER_TOKENS, "1 2 3\n", "1\n2\n4\n", 1, 3, "1 2 3", "4");
    EXPECT_DIFF(CHECKER_TOKENS, "1\n2\n3\n", "1 2 4\n", 3, 1, "3", "1 2 4");
    EXPECT_DIFF(CHECKER_TOKENS, "\n\n  a b\n", "a c", 3, 1, "  a b", "a c");
    EXPECT_DIFF(CHECKER_LINES, "a\nb\nc\n", "a\nB\nc\n", 2, 2, "b", "B");
    EXPECT_DIFF(CHECKER_EXACT, "a\nb\nc\n", "a\nb\nC\n", 3, 3, "c\n", "C\n");
}

static void nul_bytes_are_bytes(void **state)
{
    (void)state;
    assert_string_equal(VERDICTS("a\0b\n", "a\0b\n"), "1111");
    assert_string_equal(VERDICTS("a\0b\n", "a\0c\n"), "0000");
    assert_string_equal(VERDICTS("a\n", "a\0\n"), "0000"); /* NUL is not whitespace */
    assert_string_equal(VERDICTS("1\0", "1"), "0000");
    for (size_t i = 0; i < ALL_KINDS; i++) {
        checker_t c = checker_default(all_kinds[i]);
        checker_diff_t diff;
        assert_false(checker_match(&c, S("x\na\0b\n"), S("x\na\0c\n"), &diff));
        assert_int_equal(diff.line, 2);
        size_t want = all_kinds[i] == CHECKER_EXACT ? 4 : 3;
        assert_int_equal(diff.expected_len, want);
        assert_int_equal(diff.got_len, want);
        assert_memory_equal(diff.expected, "a\0b\n", want);
        assert_memory_equal(diff.got, "a\0c\n", want);
        assert_int_equal(diff.expected[want], '\0');
        checker_diff_clear(&diff);
    }
    /* Invalid UTF-8 is compared as bytes. */
    assert_string_equal(VERDICTS("\xff\xfe\n", "\xff\xfe\n"), "1111");
    assert_string_equal(VERDICTS("\xff\xfe\n", "\xff\xfd\n"), "0000");
}

static void diff_texts_are_capped(void **state)
{
    (void)state;
    enum { LONG = 5000 };
    char *e = malloc(LONG + 1), *g = malloc(LONG + 1);
    memset(e, 'a', LONG);
    memcpy(g, e, LONG);
    g[LONG - 1] = 'b';
    e[LONG] = g[LONG] = '\n';
    size_t mark = strlen(CHECKER_DIFF_CUT);
    for (size_t i = 0; i < ALL_KINDS; i++) {
        checker_t c = checker_default(all_kinds[i]);
        checker_diff_t diff;
        assert_false(checker_match(&c, e, LONG + 1, g, LONG + 1, &diff));
        assert_int_equal(diff.line, 1);
        assert_int_equal(diff.expected_len, CHECKER_DIFF_TEXT_MAX + mark);
        assert_int_equal(diff.got_len, CHECKER_DIFF_TEXT_MAX + mark);
        assert_int_equal(strlen(diff.expected), diff.expected_len);
        assert_memory_equal(diff.expected, e, CHECKER_DIFF_TEXT_MAX);
        assert_string_equal(diff.expected + CHECKER_DIFF_TEXT_MAX, CHECKER_DIFF_CUT);
        assert_string_equal(diff.got + CHECKER_DIFF_TEXT_MAX, CHECKER_DIFF_CUT);
        checker_diff_clear(&diff);
    }
    /* Exactly CHECKER_DIFF_TEXT_MAX bytes are not cut. */
    checker_t lines = checker_default(CHECKER_LINES);
    checker_diff_t diff;
    assert_false(checker_match(&lines, e, CHECKER_DIFF_TEXT_MAX, "x", 1, &diff));
    assert_int_equal(diff.expected_len, CHECKER_DIFF_TEXT_MAX);
    checker_diff_clear(&diff);
    /* A cut does not split a UTF-8 character: "x" then "é" (C3 A9) over and over puts a lead
     * byte at offset 1023, so the cut backs off to 1023 bytes. */
    e[0] = 'x';
    for (size_t i = 1; i + 1 < LONG; i += 2) {
        e[i] = '\xC3';
        e[i + 1] = '\xA9';
    }
    assert_false(checker_match(&lines, e, LONG, "x", 1, &diff));
    assert_int_equal(diff.expected_len, CHECKER_DIFF_TEXT_MAX - 1 + mark);
    assert_memory_equal(diff.expected, e, CHECKER_DIFF_TEXT_MAX - 1);
    assert_string_equal(diff.expected + CHECKER_DIFF_TEXT_MAX - 1, CHECKER_DIFF_CUT);
    checker_diff_clear(&diff);
    free(e);
    free(g);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Judges and reports the time taken (no bound asserted: a quadratic pass would take minutes). */
static bool timed(const char *what, checker_kind_t kind, const char *e, size_t elen, const char *g,
                  size_t glen, checker_diff_t *diff)
{
    checker_t c = checker_default(kind);
    double start = now_ms();
    bool ok = checker_match(&c, e, elen, g, glen, diff);
    print_message("      %-6s %-34s %7.2f ms\n", checker_kind_name(kind), what, now_ms() - start);
    return ok;
}

static void one_mebibyte_outputs(void **state)
{
    (void)state;
    enum { MIB = 1 << 20 };
    char *e = malloc(MIB), *g = malloc(MIB);
    /* Lines of numbers, "123456 0.250000\n" (16 bytes) over and over. */
    for (size_t i = 0; i < MIB; i += 16) {
        snprintf(e + i, 17, "%06zu 0.250000", (i / 16) % 1000000);
        e[i + 15] = '\n';
    }
    memcpy(g, e, MIB);
    checker_diff_t diff;
    for (size_t k = 0; k < ALL_KINDS; k++)
        assert_true(timed("identical", all_kinds[k], e, MIB, g, MIB, &diff));
    /* Every second token differs in its bytes but not in its value. */
    for (size_t i = 0; i < MIB; i += 16)
        memcpy(g + i + 7, "2.50e-01", 8);
    assert_true(timed("every number within tolerance", CHECKER_FLOAT, e, MIB, g, MIB, &diff));
    assert_false(timed("the same, differing bytes", CHECKER_TOKENS, e, MIB, g, MIB, &diff));
    assert_int_equal(diff.line, 1);
    checker_diff_clear(&diff);
    /* A difference on the last line. */
    memcpy(g, e, MIB);
    g[MIB - 16] = '9'; /* "065535 0.250000" */
    for (size_t k = 0; k < ALL_KINDS; k++) {
        assert_false(timed("the last line differs", all_kinds[k], e, MIB, g, MIB, &diff));
        assert_int_equal(diff.line, MIB / 16);
        assert_int_equal(diff.got_line, MIB / 16);
        checker_diff_clear(&diff);
    }
    /* One line of 1 MiB, differing at its end; 1 MiB of whitespace. */
    memset(e, 'x', MIB);
    memcpy(g, e, MIB);
    g[MIB - 1] = 'y';
    for (size_t k = 0; k < ALL_KINDS; k++) {
        assert_false(timed("one long line", all_kinds[k], e, MIB, g, MIB, &diff));
        assert_int_equal(diff.line, 1);
        assert_int_equal(diff.expected_len, CHECKER_DIFF_TEXT_MAX + strlen(CHECKER_DIFF_CUT));
        checker_diff_clear(&diff);
    }
    memset(g, ' ', MIB);
    for (size_t i = 0; i < MIB; i += 3)
        g[i] = '\n';
    assert_true(timed("whitespace against nothing", CHECKER_LINES, "", 0, g, MIB, &diff));
    assert_true(timed("whitespace against nothing", CHECKER_TOKENS, "", 0, g, MIB, &diff));
    assert_false(timed("whitespace against nothing", CHECKER_EXACT, "", 0, g, MIB, &diff));
    checker_diff_clear(&diff);
    free(e);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kind_names_round_trip),
        cmocka_unit_test(identical_outputs_pass_every_checker),
        cmocka_unit_test(trailing_spaces),
        cmocka_unit_test(tabs_against_spaces),
        cmocka_unit_test(missing_final_newline),
        cmocka_unit_test(extra_blank_lines_at_the_end),
        cmocka_unit_test(crlf_is_lf_but_for_exact),
        cmocka_unit_test(float_tolerance_accepts_rounding),
        cmocka_unit_test(float_abs_and_rel),
        cmocka_unit_test(float_non_numeric_tokens),
        cmocka_unit_test(empty_outputs),
        cmocka_unit_test(got_longer_or_shorter),
        cmocka_unit_test(token_diffs_name_each_sides_line),
        cmocka_unit_test(nul_bytes_are_bytes),
        cmocka_unit_test(diff_texts_are_capped),
        cmocka_unit_test(one_mebibyte_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
