/* Unit tests: request validation and rendering in the gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "render.h"
#include "validate.h"

static const char *const languages_text =
    "[python]\nname = Python\naliases = py\nfile = main.py\nrun = /usr/bin/python3 main.py\n"
    "template = print(1)\\n\n"
    "[cpp]\nname = C++\naliases = c++\nfile = main.cpp\ncompile = /usr/bin/g++ main.cpp\n"
    "run = ./main\ntemplate = int main(){}\\n\n";

typedef struct {
    lcx_settings_t settings;
    lcx_languages_t *languages;
    validate_ctx_t ctx;
    json_t *details;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    char err[256];
    char *argv[] = {"test"};
    FILE *sink = fopen("/dev/null", "w");
    lcx_settings_load(&f->settings, 'G', 1, argv, sink, err, sizeof err);
    fclose(sink);
    f->languages = lcx_languages_parse(languages_text, "test", err, sizeof err);
    assert_non_null(f->languages);
    f->ctx = (validate_ctx_t){&f->settings, f->languages};
    f->details = json_array();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    json_decref(f->details);
    lcx_languages_destroy(&f->languages);
    free(f);
    return 0;
}

static json_t *parse(fixture_t *f, const char *text)
{
    return validate_parse_object(text, strlen(text), true, f->details);
}

static void malformed_json_is_rejected(void **state)
{
    fixture_t *f = *state;
    assert_null(parse(f, "{\"language\": "));
    assert_null(parse(f, "[]"));
    assert_null(parse(f, "\"text\""));
    assert_null(parse(f, "{\"a\": 1, \"a\": 2}"));  /* duplicate keys */
    assert_null(parse(f, "{\"a\": \"\xff\xfe\"}")); /* invalid UTF-8 */
    assert_null(parse(f, "{\"a\": 123456789012345678901234567890}"));
    assert_true(json_array_size(f->details) >= 6);
    json_t *empty = parse(f, "");
    assert_non_null(empty);
    json_decref(empty);
}

static void session_create_fills_defaults(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{}");
    lcx_msg_t *msg = validate_session_create(&f->ctx, body, f->details);
    assert_non_null(msg);
    assert_string_equal(msg->language.ptr, "python");
    assert_string_equal(msg->source_code.ptr, "print(1)\n");
    lcx_msg_destroy(&msg);
    json_decref(body);
}

static void session_create_resolves_alias(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"language\": \"c++\", \"source_code\": \"x\"}");
    lcx_msg_t *msg = validate_session_create(&f->ctx, body, f->details);
    assert_non_null(msg);
    assert_string_equal(msg->language.ptr, "cpp");
    assert_string_equal(msg->source_code.ptr, "x");
    lcx_msg_destroy(&msg);
    json_decref(body);
}

static void unknown_language_lists_supported(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"language\": \"cobol\"}");
    assert_null(validate_session_create(&f->ctx, body, f->details));
    /* "unknown language 'cobol'", then every supported id in ONE detail. */
    assert_int_equal(json_array_size(f->details), 2);
    assert_non_null(strstr(json_string_value(json_array_get(f->details, 0)), "cobol"));
    assert_string_equal(json_string_value(json_array_get(f->details, 1)), "supported: python, cpp");
    json_decref(body);
}

static void language_case_does_not_matter(void **state)
{
    fixture_t *f = *state;
    const char *given[] = {"{\"language\": \"Python\"}", "{\"language\": \"C++\"}",
                           "{\"language\": \"PY\"}"};
    const char *canonical[] = {"python", "cpp", "python"};
    for (size_t i = 0; i < 3; i++) {
        json_t *body = parse(f, given[i]);
        lcx_msg_t *msg = validate_session_create(&f->ctx, body, f->details);
        assert_non_null(msg);
        assert_string_equal(msg->language.ptr, canonical[i]);
        lcx_msg_destroy(&msg);
        json_decref(body);
    }
}

static void unknown_fields_list_the_allowed_once(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"colour\": 1, \"size\": 2, \"limits\": {\"cpu\": 1}}");
    assert_null(validate_run(&f->ctx, body, "sid", NULL, f->details));
    char *text = json_dumps(f->details, 0);
    assert_non_null(strstr(text, "\"allowed fields: stdin, args, limits, source_code, version\""));
    assert_non_null(strstr(text, "\"allowed fields in 'limits': time_ms, memory_mb\""));
    assert_int_equal(json_array_size(f->details), 5); /* 3 unknown + 2 lists */
    free(text);
    json_decref(body);
}

static void wrong_types_and_unknown_fields_are_rejected(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"language\": 5, \"source_code\": [], \"colour\": 1}");
    assert_null(validate_session_create(&f->ctx, body, f->details));
    assert_int_equal(json_array_size(f->details), 4); /* 3 problems + the allowed fields */
    json_decref(body);
}

static void patch_needs_a_field(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{}");
    assert_null(validate_session_update(&f->ctx, body, "id", f->details));
    json_decref(body);
    body = parse(f, "{\"source_code\": \"print(2)\"}");
    lcx_msg_t *msg = validate_session_update(&f->ctx, body, "id", f->details);
    assert_non_null(msg);
    assert_null(msg->language.ptr);
    lcx_msg_destroy(&msg);
    json_decref(body);
}

static void source_over_limit_is_rejected(void **state)
{
    fixture_t *f = *state;
    size_t size = (size_t)f->settings.max_source_bytes + 1;
    char *source = malloc(size + 1);
    memset(source, 'a', size);
    source[size] = '\0';
    json_t *body = json_pack("{s:s}", "source_code", source);
    assert_null(validate_session_create(&f->ctx, body, f->details));
    json_decref(body);
    free(source);
}

static void run_accepts_full_body(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"stdin\": \"in\", \"args\": [\"a\", \"b\"],"
                            " \"limits\": {\"time_ms\": 1000, \"memory_mb\": 64}}");
    lcx_msg_t *msg = validate_run(&f->ctx, body, "sid", "key-1", f->details);
    assert_non_null(msg);
    assert_string_equal(msg->stdin.ptr, "in");
    assert_int_equal(msg->args.n, 2);
    assert_int_equal(msg->time_ms.v, 1000);
    assert_int_equal(msg->memory_mb.v, 64);
    assert_string_equal(msg->idempotency_key.ptr, "key-1");
    lcx_msg_destroy(&msg);
    json_decref(body);
}

static void run_rejects_bad_limits(void **state)
{
    fixture_t *f = *state;
    const char *bad[] = {
        "{\"limits\": {\"time_ms\": 999999}}",
        "{\"limits\": {\"time_ms\": 0}}",
        "{\"limits\": {\"memory_mb\": \"x\"}}",
        "{\"limits\": \"x\"}",
        "{\"limits\": {\"cpu\": 1}}",
        "{\"stdin\": 7}",
        "{\"args\": \"x\"}",
        "{\"args\": [1]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *body = parse(f, bad[i]);
        assert_non_null(body);
        assert_null(validate_run(&f->ctx, body, "sid", NULL, f->details));
        json_decref(body);
    }
}

/* args up to max_args_bytes in all (each argument's bytes + 1) pass; one byte more is 400. */
static void run_args_total_size(void **state)
{
    fixture_t *f = *state;
    long n = f->settings.max_args, each = f->settings.max_args_bytes / n;
    char *arg = calloc(1, (size_t)each + 1);
    memset(arg, 'a', (size_t)each - 1);
    json_t *args = json_array();
    for (long i = 0; i < n; i++)
        json_array_append_new(args, json_string(arg));
    json_t *body = json_pack("{s:O}", "args", args);
    lcx_msg_t *msg = validate_run(&f->ctx, body, "sid", NULL, f->details);
    assert_non_null(msg);
    assert_int_equal((long)msg->args.n, n);
    lcx_msg_destroy(&msg);
    json_decref(body);
    arg[each - 1] = 'a'; /* one argument one byte longer */
    json_array_set_new(args, 0, json_string(arg));
    body = json_pack("{s:O}", "args", args);
    assert_null(validate_run(&f->ctx, body, "sid", NULL, f->details));
    char *text = json_dumps(f->details, 0);
    assert_non_null(strstr(text, "at most 49152"));
    free(text);
    json_decref(body);
    json_decref(args);
    free(arg);
}

static void wait_parameter(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(validate_wait(&f->ctx, NULL, f->details), 0);
    assert_int_equal(validate_wait(&f->ctx, "2500", f->details), 2500);
    assert_int_equal(validate_wait(&f->ctx, "30001", f->details), -1);
    assert_int_equal(validate_wait(&f->ctx, "-1", f->details), -1);
    assert_int_equal(validate_wait(&f->ctx, "soon", f->details), -1);
}

static void render_replaces_invalid_utf8(void **state)
{
    lcx_buf_t buf = {"ok\xff\xc3(", 5};
    json_t *text = render_text(&buf);
    assert_string_equal(json_string_value(text), "ok\xef\xbf\xbd\xef\xbf\xbd(");
    json_decref(text);
    lcx_int_t time = {45, true};
    json_t *t = render_time(&time);
    assert_string_equal(json_string_value(t), "1970-01-01T00:00:00.045Z");
    json_decref(t);
}

/* A run may carry the text to save and run, and the version the client expects. */
static void run_takes_source_and_version(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"source_code\": \"print(7)\", \"version\": 3}");
    lcx_msg_t *msg = validate_run(&f->ctx, body, "sid", NULL, f->details);
    assert_non_null(msg);
    assert_string_equal(msg->source_code.ptr, "print(7)");
    assert_true(msg->version.set);
    assert_int_equal(msg->version.v, 3);
    lcx_msg_destroy(&msg);
    json_decref(body);
    const char *bad[] = {"{\"version\": 0}", "{\"version\": \"3\"}", "{\"version\": 1.5}",
                         "{\"source_code\": 5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        body = parse(f, bad[i]);
        assert_null(validate_run(&f->ctx, body, "sid", NULL, f->details));
        json_decref(body);
    }
    size_t size = (size_t)f->settings.max_source_bytes + 1;
    char *source = calloc(1, size + 1);
    memset(source, 'a', size);
    body = json_pack("{s:s}", "source_code", source);
    assert_null(validate_run(&f->ctx, body, "sid", NULL, f->details));
    json_decref(body);
    free(source);
}

/* Executions show the session version they ran (null when unknown); autosaves show language. */
static void render_source_version_and_saved_language(void **state)
{
    (void)state;
    lcx_msg_t *e = lcx_msg_new(LCX_CMD_EXECUTION);
    json_t *o = render_execution_summary(e);
    assert_true(json_is_null(json_object_get(o, "source_version")));
    json_decref(o);
    lcx_msg_set_int(e, LCX_F_source_version, 4);
    o = render_execution(e);
    assert_int_equal(json_integer_value(json_object_get(o, "source_version")), 4);
    json_decref(o);
    lcx_msg_destroy(&e);
    lcx_msg_t *s = lcx_msg_new(LCX_CMD_SESSION);
    lcx_msg_set_str(s, LCX_F_language, "bash");
    o = render_session_saved(s);
    assert_string_equal(json_string_value(json_object_get(o, "language")), "bash");
    json_decref(o);
    lcx_msg_destroy(&s);
}

/* True when some detail contains needle. */
static bool mentions(json_t *details, const char *needle)
{
    for (size_t i = 0; i < json_array_size(details); i++)
        if (strstr(json_string_value(json_array_get(details, i)), needle)) return true;
    return false;
}

static void key_bodies_are_checked_field_by_field(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"name\": \"platform\", \"role\": \"client\", \"quotas\": "
                            "{\"runs_per_minute\": 5, \"max_time_ms\": 2000}, "
                            "\"expires_at\": \"2099-01-31T00:00:00Z\", "
                            "\"webhook_url\": \"https://example.org/hook\"}");
    lcx_msg_t *m = validate_key(&f->ctx, body, true, f->details);
    assert_non_null(m);
    assert_int_equal(m->cmd, LCX_CMD_KEY_CREATE);
    assert_string_equal(m->role.ptr, "client");
    assert_int_equal(m->runs_per_minute.v, 5);
    assert_int_equal(m->max_time_ms.v, 2000);
    assert_false(m->concurrent_runs.set);
    assert_int_equal(m->expires_at.v, INT64_C(4073500800000));
    assert_string_equal(m->webhook_url.ptr, "https://example.org/hook");
    lcx_msg_destroy(&m);
    json_decref(body);
    body = parse(f, "{\"role\": \"root\", \"quotas\": {\"max_time_ms\": 999999999, "
                    "\"bogus\": 1}, \"expires_at\": \"2001-01-01T00:00:00Z\", "
                    "\"webhook_url\": \"ftp://x\", \"secret\": 1}");
    assert_null(validate_key(&f->ctx, body, true, f->details));
    const char *expected[] = {
        "'name' is required", "unknown role 'root'", "supported: admin", "quotas.max_time_ms",
        "quotas.bogus",       "in the future",       "webhook_url",      "secret"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        assert_true(mentions(f->details, expected[i]));
    json_decref(body);
}

static void key_updates_take_null_as_the_default(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{\"quotas\": {\"runs_per_minute\": null}, \"expires_at\": null, "
                            "\"webhook_url\": null}");
    lcx_msg_t *m = validate_key(&f->ctx, body, false, f->details);
    assert_non_null(m);
    assert_int_equal(m->cmd, LCX_CMD_KEY_UPDATE);
    assert_int_equal(m->runs_per_minute.v, -1);
    assert_int_equal(m->expires_at.v, 0);
    assert_string_equal(m->webhook_url.ptr, "");
    lcx_msg_destroy(&m);
    json_decref(body);
    body = parse(f, "{\"role\": \"admin\"}"); /* a key's role stays what it was made with */
    assert_null(validate_key(&f->ctx, body, false, f->details));
    json_decref(body);
    body = parse(f, "{}");
    assert_null(validate_key(&f->ctx, body, false, f->details));
    assert_true(mentions(f->details, "nothing to change"));
    json_decref(body);
}

static void token_ttl_has_a_default_and_a_maximum(void **state)
{
    fixture_t *f = *state;
    json_t *body = parse(f, "{}");
    assert_int_equal(validate_token_ttl(&f->ctx, body, f->details), f->settings.token_ttl_s);
    json_decref(body);
    body = parse(f, "{\"ttl_s\": 60}");
    assert_int_equal(validate_token_ttl(&f->ctx, body, f->details), 60);
    json_decref(body);
    body = parse(f, "{\"ttl_s\": 86401}");
    assert_int_equal(validate_token_ttl(&f->ctx, body, f->details), -1);
    json_decref(body);
    body = parse(f, "{\"ttl\": 5}");
    assert_int_equal(validate_token_ttl(&f->ctx, body, f->details), -1);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(malformed_json_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(session_create_fills_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(session_create_resolves_alias, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_language_lists_supported, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_types_and_unknown_fields_are_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(patch_needs_a_field, setup, teardown),
        cmocka_unit_test_setup_teardown(source_over_limit_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(run_accepts_full_body, setup, teardown),
        cmocka_unit_test_setup_teardown(run_rejects_bad_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(wait_parameter, setup, teardown),
        cmocka_unit_test_setup_teardown(run_args_total_size, setup, teardown),
        cmocka_unit_test_setup_teardown(render_replaces_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(run_takes_source_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(language_case_does_not_matter, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_fields_list_the_allowed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(render_source_version_and_saved_language, setup, teardown),
        cmocka_unit_test_setup_teardown(key_bodies_are_checked_field_by_field, setup, teardown),
        cmocka_unit_test_setup_teardown(key_updates_take_null_as_the_default, setup, teardown),
        cmocka_unit_test_setup_teardown(token_ttl_has_a_default_and_a_maximum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
