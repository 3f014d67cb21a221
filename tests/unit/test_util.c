/* Unit tests: the small shared helpers of services/common/util.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"

static size_t tail(const char *text)
{
    return lcx_utf8_partial_tail(text, strlen(text));
}

/* "é" is C3 A9, "€" E2 82 AC, "😀" F0 9F 98 80. */
static void utf8_partial_tail_holds_back_only_a_started_character(void **state)
{
    (void)state;
    assert_int_equal(lcx_utf8_partial_tail("", 0), 0);
    assert_int_equal(tail("plain ascii\n"), 0);
    assert_int_equal(tail("caf\xC3\xA9"), 0);      /* complete */
    assert_int_equal(tail("caf\xC3"), 1);          /* é cut after its first byte */
    assert_int_equal(tail("\xE2\x82\xAC"), 0);     /* complete */
    assert_int_equal(tail("x\xE2"), 1);            /* € cut after 1 byte */
    assert_int_equal(tail("x\xE2\x82"), 2);        /* € cut after 2 bytes */
    assert_int_equal(tail("\xF0\x9F\x98\x80"), 0); /* complete */
    assert_int_equal(tail("\xF0\x9F\x98"), 3);     /* 😀 cut after 3 bytes */
    assert_int_equal(tail("\xF0"), 1);
    /* Not UTF-8 at all: nothing is held back for it. */
    assert_int_equal(tail("\x80\x80\x80\x80"), 0);
    assert_int_equal(tail("a\xFF"), 0);
}

/* "execution_id/attempt" entries of READY.running and ADOPT: only the well-formed parse. */
static void running_entries_parse_strictly(void **state)
{
    (void)state;
    char id[LCX_UUID_LEN + 1];
    int64_t attempt = 0;
    assert_true(lcx_running_entry_parse("0b6f2c1e-1111-4222-8333-444455556666/2", id, &attempt));
    assert_string_equal(id, "0b6f2c1e-1111-4222-8333-444455556666");
    assert_int_equal(attempt, 2);
    static const char *const bad[] = {"",
                                      "0b6f2c1e-1111-4222-8333-444455556666",
                                      "0b6f2c1e-1111-4222-8333-444455556666/",
                                      "0b6f2c1e-1111-4222-8333-444455556666/0",
                                      "0b6f2c1e-1111-4222-8333-444455556666/-1",
                                      "0b6f2c1e-1111-4222-8333-444455556666/+1",
                                      "0b6f2c1e-1111-4222-8333-444455556666/1x",
                                      "0b6f2c1e-1111-4222-8333-444455556666/ 1",
                                      "0b6f2c1e-1111-4222-8333-444455556666/99999999999",
                                      "0b6f2c1e-1111-4222-8333-44445555666/12",
                                      "zb6f2c1e-1111-4222-8333-444455556666/1",
                                      "0b6f2c1e-1111-4222-8333-444455556666x1",
                                      "../../etc/passwd-0000-0000-000000000/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (lcx_running_entry_parse(bad[i], id, &attempt)) fail_msg("accepted '%s'", bad[i]);
}

static void uuid4_is_valid_and_version_4(void **state)
{
    (void)state;
    char a[LCX_UUID_LEN + 1], b[LCX_UUID_LEN + 1];
    lcx_uuid4(a);
    lcx_uuid4(b);
    assert_true(lcx_uuid_valid(a));
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_string_not_equal(a, b);
    assert_false(lcx_uuid_valid("not-a-uuid"));
}

static void times_parse_back_to_what_format_gives(void **state)
{
    (void)state;
    int64_t ms = 0;
    char text[32];
    lcx_format_time(INT64_C(1764498600045), text, sizeof text);
    assert_int_equal(lcx_parse_time(text, &ms), 0);
    assert_int_equal(ms, INT64_C(1764498600045));
    assert_int_equal(lcx_parse_time("2026-11-30T10:30:00Z", &ms), 0);
    assert_int_equal(ms, INT64_C(1796034600000));
    assert_int_equal(lcx_parse_time("2026-11-30T10:30:00.5+00:00", &ms), 0);
    assert_int_equal(ms, INT64_C(1796034600500));
    const char *bad[] = {"",
                         "2026-11-30",
                         "2026-11-30T10:30:00",
                         "2026-13-01T00:00:00Z",
                         "2026-11-30T10:30:00+02:00",
                         "2026-11-30T10:30:00.Z",
                         "tomorrow"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(lcx_parse_time(bad[i], &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_partial_tail_holds_back_only_a_started_character),
        cmocka_unit_test(uuid4_is_valid_and_version_4),
        cmocka_unit_test(times_parse_back_to_what_format_gives),
        cmocka_unit_test(running_entries_parse_strictly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
