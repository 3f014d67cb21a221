/*
 * test_languages: the languages.conf parser, its errors and the shipped file.
 * Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "languages.h"

#define SHIPPED "services/common/languages.conf"

static const char *const good_text = "; a comment\n"
                                     "# another comment\n"
                                     "\n"
                                     "[python]                 ; inline comment after a header\n"
                                     "name     = Python 3\n"
                                     "aliases  = py  python3    ; inline comment after a value\n"
                                     "file     = main.py\n"
                                     "run      = /usr/bin/python3 main.py\n"
                                     "version  = /usr/bin/python3 --version\n"
                                     "env      = PATH=/usr/bin:/bin LANG=C.UTF-8\n"
                                     "template = print(\"Hello, World!\")\\n\n"
                                     "\r\n"
                                     "[c]\r\n"
                                     "file    = main.c\r\n"
                                     "compile = /usr/bin/gcc  -O2\t-o main main.c\n"
                                     "run     = ./main\n"
                                     "template = a\\tb\\\\n ; kept\\n\n";

/* Parses text that must fail; returns the error message. */
static const char *parse_error(const char *text)
{
    static char err[256];
    err[0] = '\0';
    lcx_languages_t *langs = lcx_languages_parse(text, "test.conf", err, sizeof err);
    assert_null(langs);
    assert_true(err[0] != '\0');
    return err;
}

static void assert_strv(char *const *v, const char *const *expected)
{
    assert_non_null(v);
    size_t i = 0;
    for (; expected[i]; i++) {
        assert_non_null(v[i]);
        assert_string_equal(v[i], expected[i]);
    }
    assert_null(v[i]);
}

static void test_parse_good(void **state)
{
    char err[256] = "";
    lcx_languages_t *langs = lcx_languages_parse(good_text, "good.conf", err, sizeof err);
    assert_non_null(langs);
    assert_string_equal(err, "");
    assert_int_equal(lcx_languages_count(langs), 2);

    const lcx_language_t *py = lcx_languages_at(langs, 0);
    assert_string_equal(py->id, "python");
    assert_string_equal(py->name, "Python 3");
    assert_strv(py->aliases, (const char *const[]){"py", "python3", NULL});
    assert_string_equal(py->file, "main.py");
    assert_null(py->compile);
    assert_strv(py->run, (const char *const[]){"/usr/bin/python3", "main.py", NULL});
    assert_strv(py->version, (const char *const[]){"/usr/bin/python3", "--version", NULL});
    assert_strv(py->env, (const char *const[]){"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL});
    assert_string_equal(py->template_code, "print(\"Hello, World!\")\n");

    const lcx_language_t *c = lcx_languages_at(langs, 1);
    assert_string_equal(c->id, "c");
    assert_string_equal(c->name, "c"); /* defaults to the id */
    assert_strv(c->aliases, (const char *const[]){NULL});
    assert_strv(c->env, (const char *const[]){NULL});
    assert_null(c->version);
    assert_strv(c->compile,
                (const char *const[]){"/usr/bin/gcc", "-O2", "-o", "main", "main.c", NULL});
    assert_strv(c->run, (const char *const[]){"./main", NULL});
    /* templates are verbatim: no inline comments, escapes decoded */
    assert_string_equal(c->template_code, "a\tb\\n ; kept\n");

    assert_null(lcx_languages_at(langs, 2));
    lcx_languages_destroy(&langs);
    assert_null(langs);
    lcx_languages_destroy(&langs);
}

static void test_find_aliases(void **state)
{
    char err[256];
    lcx_languages_t *langs = lcx_languages_parse(good_text, "good.conf", err, sizeof err);
    assert_non_null(langs);
    const lcx_language_t *py = lcx_languages_find(langs, "python");
    assert_non_null(py);
    assert_ptr_equal(lcx_languages_find(langs, "py"), py);
    assert_ptr_equal(lcx_languages_find(langs, "python3"), py);
    assert_string_equal(lcx_languages_find(langs, "c")->id, "c");
    /* Case does not matter, for ids and aliases alike; the id stays the canonical name. */
    assert_ptr_equal(lcx_languages_find(langs, "Python"), py);
    assert_ptr_equal(lcx_languages_find(langs, "PY"), py);
    assert_ptr_equal(lcx_languages_find(langs, "pYtHoN3"), py);
    assert_string_equal(lcx_languages_find(langs, "C")->id, "c");
    assert_null(lcx_languages_find(langs, "ruby"));
    assert_null(lcx_languages_find(langs, ""));
    assert_null(lcx_languages_find(langs, NULL));
    lcx_languages_destroy(&langs);
}

static void test_error_unknown_key(void **state)
{
    const char *err = parse_error("[x]\nfile = a\nrun = /bin/a\ncolour = red\n");
    assert_string_equal(err, "test.conf:4: unknown key 'colour'");
}

static void test_error_missing_run(void **state)
{
    const char *err = parse_error("[x]\nfile = a\nrun = /bin/a\n\n[y]\nfile = b\n");
    assert_string_equal(err, "test.conf:5: section [y] has no run");
}

static void test_error_missing_file(void **state)
{
    const char *err = parse_error("[x]\nrun = /bin/a\n[y]\nfile = b\nrun = /bin/b\n");
    assert_string_equal(err, "test.conf:1: section [x] has no file");
}

static void test_error_duplicate_id(void **state)
{
    const char *err = parse_error("[x]\nfile = a\nrun = /bin/a\n[x]\nfile = b\nrun = /bin/b\n");
    assert_string_equal(err, "test.conf:4: duplicate id 'x'");
}

static void test_error_id_case(void **state)
{
    const char *err = parse_error("[Py]\nfile = a\nrun = /bin/a\n");
    assert_string_equal(err, "test.conf:1: language id 'Py' must be lowercase");
    err = parse_error("[x]\nfile = a\nrun = /bin/a\naliases = X\n");
    assert_string_equal(err, "test.conf:4: duplicate id: alias 'X' is already a name of [x]");
    err =
        parse_error("[x]\nfile = a\nrun = /bin/a\naliases = Why\n[why]\nfile = b\nrun = /bin/b\n");
    assert_string_equal(err, "test.conf:5: duplicate id 'why' (an alias of [x])");
}

static void test_error_duplicate_alias(void **state)
{
    /* an id that is another language's alias */
    const char *err =
        parse_error("[x]\naliases = y\nfile = a\nrun = /bin/a\n[y]\nfile = b\nrun = /bin/b\n");
    assert_non_null(strstr(err, "test.conf:5: duplicate id 'y'"));
    /* an alias that is another language's id */
    err = parse_error("[x]\nfile = a\nrun = /bin/a\n[y]\nfile = b\naliases = z x\nrun = /b\n");
    assert_non_null(strstr(err, "test.conf:6: duplicate id: alias 'x'"));
    /* an alias given twice */
    err = parse_error("[x]\nfile = a\naliases = z z\nrun = /bin/a\n");
    assert_non_null(strstr(err, "test.conf:3: duplicate id: alias 'z'"));
}

static void test_error_malformed(void **state)
{
    assert_string_equal(parse_error("[x]\nfile = a\nrun = /bin/a\njust words\n"),
                        "test.conf:4: malformed line (expected [id], key = value or a comment)");
    assert_non_null(strstr(parse_error("[x\nfile = a\n"), "test.conf:1: malformed section"));
    assert_non_null(strstr(parse_error("[x] y\nfile = a\n"), "test.conf:1: malformed section"));
    assert_non_null(strstr(parse_error("[]\n"), "test.conf:1: invalid language id"));
    assert_non_null(strstr(parse_error("[a b]\n"), "test.conf:1: invalid language id"));
    assert_non_null(strstr(parse_error("[x]\n= value\n"), "test.conf:2: malformed line"));
    assert_non_null(strstr(parse_error("file = a\n"), "test.conf:1: key 'file' outside"));
    assert_non_null(
        strstr(parse_error("[x]\nfile = a\nfile = b\n"), "test.conf:3: duplicate key 'file'"));
}

static void test_error_bad_escape(void **state)
{
    const char *err = parse_error("[x]\nfile = a\nrun = /bin/a\ntemplate = a\\qb\n");
    assert_non_null(strstr(err, "test.conf:4: bad escape '\\q'"));
    err = parse_error("[x]\nfile = a\nrun = /bin/a\ntemplate = ends in \\\n");
    assert_non_null(strstr(err, "test.conf:4: bad escape"));
}

static void test_error_bad_values(void **state)
{
    assert_non_null(strstr(parse_error("[x]\nfile = a\nrun = python3 a\n"),
                           "test.conf:3: run program 'python3' must be an absolute path"));
    assert_non_null(strstr(parse_error("[x]\nfile = a\nrun =\n"), "test.conf:3: empty run"));
    assert_non_null(
        strstr(parse_error("[x]\nfile = a\ncompile = ; nothing\n"), "test.conf:3: empty compile"));
    assert_non_null(strstr(parse_error("[x]\nfile = ../a\n"), "test.conf:2: file must be"));
    assert_non_null(strstr(parse_error("[x]\nfile = a\nenv = PATH=/bin junk\n"),
                           "test.conf:3: env entry 'junk'"));
    assert_non_null(strstr(parse_error("[x]\naliases = ok b/d\n"), "test.conf:2: invalid alias"));
}

static void test_parse_empty(void **state)
{
    char err[64];
    lcx_languages_t *langs = lcx_languages_parse("; nothing here\n", NULL, err, sizeof err);
    assert_non_null(langs);
    assert_int_equal(lcx_languages_count(langs), 0);
    lcx_languages_destroy(&langs);
}

static void test_load_shipped(void **state)
{
    char err[256] = "";
    lcx_languages_t *langs = lcx_languages_load(SHIPPED, err, sizeof err);
    if (!langs) fail_msg("%s", err);
    const char *ids[] = {"python", "javascript", "java", "c", "cpp", "bash"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const lcx_language_t *lang = lcx_languages_find(langs, ids[i]);
        assert_non_null(lang);
        assert_non_null(strstr(lang->template_code, "Hello, World!"));
        assert_non_null(lang->version);
        assert_true(lang->env[0] != NULL);
    }
    assert_string_equal(lcx_languages_find(langs, "js")->id, "javascript");
    assert_string_equal(lcx_languages_find(langs, "node")->id, "javascript");
    assert_string_equal(lcx_languages_find(langs, "c++")->id, "cpp");
    assert_string_equal(lcx_languages_find(langs, "python")->run[0], "/usr/bin/python3");
    assert_string_equal(lcx_languages_find(langs, "c")->run[0], "./main");
    assert_string_equal(lcx_languages_find(langs, "java")->file, "Main.java");
    lcx_languages_destroy(&langs);
}

static void test_load_missing(void **state)
{
    char err[256] = "";
    assert_null(lcx_languages_load("no/such/languages.conf", err, sizeof err));
    assert_string_equal(err, "no/such/languages.conf: No such file or directory");
    assert_null(lcx_languages_load("", err, sizeof err));
}

static void test_load_error_names_file(void **state)
{
    char path[] = "/tmp/lcx-test-languages-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *file = fdopen(fd, "w");
    assert_non_null(file);
    fputs("[x]\nfile = a\nrun = /bin/a\nbogus\n", file);
    assert_int_equal(fclose(file), 0);
    char err[256] = "", expected[300];
    assert_null(lcx_languages_load(path, err, sizeof err));
    snprintf(expected, sizeof expected, "%s:4: malformed line", path);
    assert_non_null(strstr(err, expected));
    unlink(path);
}

static void test_default_path(void **state)
{
    char buf[4096];
    assert_ptr_equal(lcx_languages_default_path("/etc/lcx.conf", buf, sizeof buf), buf);
    assert_string_equal(buf, "/etc/lcx.conf");
    lcx_languages_default_path(NULL, buf, sizeof buf);
    assert_true(buf[0] == '/');
    const char *tail = "/tests/../etc/languages.conf"; /* this binary is build/tests/... */
    size_t len = strlen(buf);
    assert_true(len > strlen(tail));
    assert_string_equal(buf + len - strlen(tail), tail);
    char again[4096];
    lcx_languages_default_path("", again, sizeof again);
    assert_string_equal(again, buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_find_aliases),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_missing_run),
        cmocka_unit_test(test_error_missing_file),
        cmocka_unit_test(test_error_duplicate_id),
        cmocka_unit_test(test_error_duplicate_alias),
        cmocka_unit_test(test_error_id_case),
        cmocka_unit_test(test_error_malformed),
        cmocka_unit_test(test_error_bad_escape),
        cmocka_unit_test(test_error_bad_values),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_load_shipped),
        cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_load_error_names_file),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
