/* Unit tests: log lines are JSON with typed number fields, and the level threshold holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "log.h"

/* Sends stderr to a temporary file until capture_end, which returns what was written (the
 * caller frees it; "" for nothing). */
typedef struct {
    FILE *file;
    int saved;
} capture_t;

static capture_t capture_begin(void)
{
    capture_t c = {tmpfile(), dup(STDERR_FILENO)};
    assert_non_null(c.file);
    assert_true(c.saved >= 0);
    assert_int_equal(dup2(fileno(c.file), STDERR_FILENO), STDERR_FILENO);
    return c;
}

static char *capture_end(capture_t c)
{
    dup2(c.saved, STDERR_FILENO);
    close(c.saved);
    off_t size = lseek(fileno(c.file), 0, SEEK_END);
    assert_true(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(c.file), text, (size_t)size, 0), size);
    fclose(c.file);
    return text;
}

/* One line: a JSON object ended by the only newline. */
static json_t *parse_line(const char *text)
{
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_ptr_equal(strchr(text, '\n'), text + len - 1);
    json_error_t error;
    json_t *line = json_loads(text, 0, &error);
    assert_non_null(line);
    assert_true(json_is_object(line));
    return line;
}

static void numbers_are_json_numbers(void **state)
{
    (void)state;
    lcx_log_init("test", LCX_INFO);
    capture_t c = capture_begin();
    lcx_log(LCX_INFO, "runner joined", "runner_id", "r1", LCX_LOG_INT("slots", 2),
            LCX_LOG_INT("big", 1LL << 40), LCX_LOG_INT("negative", -3),
            LCX_LOG_REAL("duration_ms", 1.2344), "skipped", (const char *)NULL, "after", "yes",
            NULL);
    char *text = capture_end(c);
    json_t *line = parse_line(text);
    assert_string_equal(json_string_value(json_object_get(line, "service")), "test");
    assert_string_equal(json_string_value(json_object_get(line, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(line, "event")), "runner joined");
    assert_string_equal(json_string_value(json_object_get(line, "runner_id")), "r1");
    assert_true(json_is_integer(json_object_get(line, "slots")));
    assert_int_equal(json_integer_value(json_object_get(line, "slots")), 2);
    assert_int_equal(json_integer_value(json_object_get(line, "big")), 1LL << 40);
    assert_int_equal(json_integer_value(json_object_get(line, "negative")), -3);
    assert_true(json_is_real(json_object_get(line, "duration_ms")));
    assert_null(json_object_get(line, "skipped"));
    assert_string_equal(json_string_value(json_object_get(line, "after")), "yes");
    /* Rounded to three decimals, and written that way. */
    assert_non_null(strstr(text, "\"slots\":2"));
    assert_non_null(strstr(text, "\"duration_ms\":1.234,"));
    json_decref(line);
    free(text);
}

static void non_finite_real_is_null(void **state)
{
    (void)state;
    lcx_log_init("test", LCX_INFO);
    capture_t c = capture_begin();
    lcx_log(LCX_WARN, "odd", LCX_LOG_REAL("x", 0.0 / 0.0), NULL);
    char *text = capture_end(c);
    json_t *line = parse_line(text);
    assert_true(json_is_null(json_object_get(line, "x")));
    json_decref(line);
    free(text);
}

/* What one lcx_log call at `level` under `threshold` writes. */
static char *logged_at(lcx_level_t threshold, lcx_level_t level)
{
    lcx_log_init("test", threshold);
    capture_t c = capture_begin();
    lcx_log(level, "routine", LCX_LOG_INT("n", 1), NULL);
    char *text = capture_end(c);
    lcx_log_init("test", LCX_INFO);
    return text;
}

static void below_threshold_is_not_written(void **state)
{
    (void)state;
    char *text = logged_at(LCX_INFO, LCX_DEBUG);
    assert_string_equal(text, "");
    free(text);
    text = logged_at(LCX_ERROR, LCX_WARN);
    assert_string_equal(text, "");
    free(text);
    text = logged_at(LCX_DEBUG, LCX_DEBUG);
    json_t *line = parse_line(text);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "debug");
    json_decref(line);
    free(text);
}

static void level_names_parse(void **state)
{
    (void)state;
    lcx_level_t level = LCX_ERROR;
    assert_int_equal(lcx_log_level_parse("debug", &level), 0);
    assert_int_equal(level, LCX_DEBUG);
    assert_int_equal(lcx_log_level_parse("warn", &level), 0);
    assert_int_equal(level, LCX_WARN);
    assert_int_equal(lcx_log_level_parse("error", &level), 0);
    assert_int_equal(level, LCX_ERROR);
    assert_int_equal(lcx_log_level_parse("info", &level), 0);
    assert_int_equal(level, LCX_INFO);
    assert_int_equal(lcx_log_level_parse("INFO", &level), -1);
    assert_int_equal(lcx_log_level_parse("verbose", &level), -1);
    assert_int_equal(lcx_log_level_parse("", &level), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_are_json_numbers),
        cmocka_unit_test(non_finite_real_is_null),
        cmocka_unit_test(below_threshold_is_not_written),
        cmocka_unit_test(level_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
