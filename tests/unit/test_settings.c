/* Unit tests: settings from defaults, environment and flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "settings.h"

static lcx_settings_rc_t load(lcx_settings_t *s, char service, int argc, char **argv, char *err)
{
    FILE *sink = fopen("/dev/null", "w");
    lcx_settings_rc_t rc = lcx_settings_load(s, service, argc, argv, sink, err, 256);
    fclose(sink);
    return rc;
}

static void defaults_apply(void **state)
{
    unsetenv("LCX_HTTP_PORT");
    lcx_settings_t s;
    char err[256];
    char *argv[] = {"lcx-gateway"};
    assert_int_equal(load(&s, 'G', 1, argv, err), LCX_SETTINGS_OK);
    assert_int_equal(s.http_port, 8080);
    assert_string_equal(s.http_host, "127.0.0.1");
    assert_int_equal(s.max_time_ms, 30000);
}

/* The endpoints default to ipc:// sockets in socket_dir; a value naming {socket_dir} gets it. */
static void endpoints_live_in_socket_dir(void **state)
{
    unsetenv("LCX_SOCKET_DIR");
    unsetenv("LCX_RUNNER_ENDPOINT");
    lcx_settings_t s;
    char err[256];
    char *plain[] = {"lcx-dispatcher"};
    assert_int_equal(load(&s, 'D', 1, plain, err), LCX_SETTINGS_OK);
    assert_string_equal(s.socket_dir, "/run/lcx");
    assert_string_equal(s.dispatcher_endpoint, "ipc:///run/lcx/dispatcher");
    assert_string_equal(s.runner_endpoint, "ipc:///run/lcx/runner");
    lcx_settings_t earlier = s;

    setenv("LCX_SOCKET_DIR", "/tmp/lcx-x", 1);
    setenv("LCX_RUNNER_ENDPOINT", "ipc://{socket_dir}/r-{socket_dir}", 1);
    char *moved[] = {"lcx-session", "--dispatcher-endpoint", "tcp://10.0.0.5:5551"};
    assert_int_equal(load(&s, 'S', 3, moved, err), LCX_SETTINGS_OK);
    assert_string_equal(s.session_endpoint, "ipc:///tmp/lcx-x/session");
    assert_string_equal(s.dispatcher_endpoint, "tcp://10.0.0.5:5551");
    assert_string_equal(s.runner_endpoint, "ipc:///tmp/lcx-x/r-/tmp/lcx-x");
    char *flag[] = {"lcx-gateway", "--socket-dir", "/srv/s"};
    assert_int_equal(load(&s, 'G', 3, flag, err), LCX_SETTINGS_OK);
    assert_string_equal(s.session_endpoint, "ipc:///srv/s/session");
    assert_string_equal(earlier.dispatcher_endpoint, "ipc:///run/lcx/dispatcher"); /* still */
    unsetenv("LCX_SOCKET_DIR");
    unsetenv("LCX_RUNNER_ENDPOINT");
}

static void environment_overrides_default(void **state)
{
    setenv("LCX_HTTP_PORT", "9999", 1);
    lcx_settings_t s;
    char err[256];
    char *argv[] = {"lcx-gateway"};
    assert_int_equal(load(&s, 'G', 1, argv, err), LCX_SETTINGS_OK);
    assert_int_equal(s.http_port, 9999);
    unsetenv("LCX_HTTP_PORT");
}

static void flag_overrides_environment(void **state)
{
    setenv("LCX_HTTP_PORT", "9999", 1);
    lcx_settings_t s;
    char err[256];
    char *argv[] = {"lcx-gateway", "--http-port", "7000", "--http-host=0.0.0.0"};
    assert_int_equal(load(&s, 'G', 4, argv, err), LCX_SETTINGS_OK);
    assert_int_equal(s.http_port, 7000);
    assert_string_equal(s.http_host, "0.0.0.0");
    unsetenv("LCX_HTTP_PORT");
}

static void bad_integer_is_an_error(void **state)
{
    lcx_settings_t s;
    char err[256];
    char *argv[] = {"lcx-gateway", "--http-port", "80x"};
    assert_int_equal(load(&s, 'G', 3, argv, err), LCX_SETTINGS_ERROR);
    assert_non_null(strstr(err, "80x"));
    setenv("LCX_HTTP_PORT", "-5", 1);
    char *plain[] = {"lcx-gateway"};
    assert_int_equal(load(&s, 'G', 1, plain, err), LCX_SETTINGS_ERROR);
    unsetenv("LCX_HTTP_PORT");
}

static void unknown_and_foreign_flags_are_errors(void **state)
{
    lcx_settings_t s;
    char err[256];
    char *unknown[] = {"lcx-gateway", "--no-such-flag", "1"};
    assert_int_equal(load(&s, 'G', 3, unknown, err), LCX_SETTINGS_ERROR);
    /* scratch_dir belongs to the runner, not the gateway */
    char *foreign[] = {"lcx-gateway", "--scratch-dir", "/tmp"};
    assert_int_equal(load(&s, 'G', 3, foreign, err), LCX_SETTINGS_ERROR);
    char *missing[] = {"lcx-gateway", "--http-port"};
    assert_int_equal(load(&s, 'G', 2, missing, err), LCX_SETTINGS_ERROR);
}

static void boolean_flag_needs_no_value(void **state)
{
    lcx_settings_t s;
    char err[256];
    char *plain[] = {"lcx-runner"};
    assert_int_equal(load(&s, 'R', 1, plain, err), LCX_SETTINGS_OK);
    assert_int_equal(s.unsafe_no_sandbox, 0);
    char *bare[] = {"lcx-runner", "--unsafe-no-sandbox", "--runner-slots", "3"};
    assert_int_equal(load(&s, 'R', 4, bare, err), LCX_SETTINGS_OK);
    assert_int_equal(s.unsafe_no_sandbox, 1);
    assert_int_equal(s.runner_slots, 3);
    setenv("LCX_UNSAFE_NO_SANDBOX", "2", 1);
    assert_int_equal(load(&s, 'R', 1, plain, err), LCX_SETTINGS_ERROR);
    unsetenv("LCX_UNSAFE_NO_SANDBOX");
}

static void help_is_reported(void **state)
{
    lcx_settings_t s;
    char err[256];
    char *argv[] = {"lcx-session", "--help"};
    assert_int_equal(load(&s, 'S', 2, argv, err), LCX_SETTINGS_HELP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(endpoints_live_in_socket_dir),
        cmocka_unit_test(environment_overrides_default),
        cmocka_unit_test(flag_overrides_environment),
        cmocka_unit_test(bad_integer_is_an_error),
        cmocka_unit_test(unknown_and_foreign_flags_are_errors),
        cmocka_unit_test(boolean_flag_needs_no_value),
        cmocka_unit_test(help_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
