/*
 * test_job: real jobs through job_execute with the shipped languages.conf. Run from the
 * repository root; each job's scratch directory lives under a fresh temporary directory that
 * must be empty again after every job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "util.h"

#define SHIPPED "services/common/languages.conf"

typedef struct {
    char scratch[64];
    lcx_settings_t settings;
    lcx_languages_t *languages;
    sandbox_t *sandbox;
    job_context_t ctx;
    char live[4096]; /* what on_output saw of stdout */
    size_t live_len;
} fixture_t;

static fixture_t fx;

static void on_output(void *arg, int stream, const char *data, size_t len)
{
    fixture_t *f = arg;
    if (stream != SANDBOX_STDOUT) return;
    size_t room = sizeof f->live - 1 - f->live_len;
    size_t take = len < room ? len : room;
    memcpy(f->live + f->live_len, data, take);
    f->live_len += take;
    f->live[f->live_len] = '\0';
}

static int group_setup(void **state)
{
    char *argv[] = {"test_job", NULL};
    char err[256] = "";
    if (lcx_settings_load(&fx.settings, 'R', 1, argv, stdout, err, sizeof err) != 0) {
        fprintf(stderr, "settings: %s\n", err);
        return -1;
    }
    snprintf(fx.scratch, sizeof fx.scratch, "/tmp/lcx-test-job-XXXXXX");
    if (!mkdtemp(fx.scratch)) return -1;
    /* the scratch parent itself is created by the job */
    snprintf(fx.scratch + strlen(fx.scratch), sizeof fx.scratch - strlen(fx.scratch), "/jobs");
    fx.settings.scratch_dir = fx.scratch;
    fx.settings.time_ms = 5000;
    fx.settings.max_time_ms = 30000;
    fx.settings.memory_mb = 256;
    fx.settings.max_memory_mb = 1024;
    fx.settings.compile_time_ms = 30000;
    fx.settings.output_bytes = 65536;
    fx.settings.file_bytes = 16 * 1024 * 1024;
    fx.settings.max_processes = 64;
    fx.languages = lcx_languages_load(SHIPPED, err, sizeof err);
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.slots = 4;
    fx.sandbox = sandbox_new(&config, err, sizeof err);
    if (!fx.languages || !fx.sandbox) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    fx.ctx = (job_context_t){.sandbox = fx.sandbox,
                             .languages = fx.languages,
                             .settings = &fx.settings,
                             .scratch_dir = fx.scratch,
                             .cancel_fd = -1,
                             .on_output = on_output,
                             .output_arg = &fx};
    return 0;
}

static int group_teardown(void **state)
{
    lcx_languages_destroy(&fx.languages);
    sandbox_destroy(&fx.sandbox);
    rmdir(fx.scratch);
    char *slash = strrchr(fx.scratch, '/');
    if (slash) {
        *slash = '\0';
        rmdir(fx.scratch);
    }
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * Helpers
 */

static lcx_msg_t *make_job(const char *language, const char *source)
{
    char id[LCX_UUID_LEN + 1];
    lcx_uuid4(id);
    lcx_msg_t *job = lcx_msg_new(LCX_CMD_JOB);
    assert_non_null(job);
    assert_int_equal(lcx_msg_set_str(job, LCX_F_execution_id, id), 0);
    assert_int_equal(lcx_msg_set_str(job, LCX_F_session_id, id), 0);
    assert_int_equal(lcx_msg_set_str(job, LCX_F_language, language), 0);
    assert_int_equal(lcx_msg_set_str(job, LCX_F_source_code, source), 0);
    assert_int_equal(lcx_msg_set_int(job, LCX_F_attempt, 1), 0);
    assert_int_equal(lcx_msg_set_int(job, LCX_F_time_ms, 10000), 0);
    assert_int_equal(lcx_msg_set_int(job, LCX_F_memory_mb, 256), 0);
    return job;
}

/* No scratch directory may outlive its job. */
static void assert_scratch_empty(void)
{
    DIR *dir = opendir(fx.scratch);
    if (!dir) return; /* never created: nothing left either */
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            fail_msg("scratch entry left behind: %s", entry->d_name);
    closedir(dir);
}

/* Executes a job (destroying it) and checks the fields every UPDATE carries. */
static lcx_msg_t *execute(lcx_msg_t *job)
{
    fx.live_len = 0;
    fx.live[0] = '\0';
    lcx_msg_t *update = job_execute(&fx.ctx, job, NULL);
    assert_non_null(update);
    assert_int_equal(update->cmd, LCX_CMD_UPDATE);
    assert_string_equal(update->execution_id.ptr, job->execution_id.ptr);
    assert_int_equal(update->attempt.v, 1);
    assert_non_null(update->status.ptr);
    assert_non_null(update->stdout.ptr);
    assert_non_null(update->stderr.ptr);
    assert_true(update->stdout_truncated.set && update->stderr_truncated.set);
    assert_true(update->started_at.set && update->finished_at.set);
    assert_true(update->started_at.v <= update->finished_at.v);
    /* The figures come together, and with every program that ran. */
    assert_int_equal(update->execution_time_ms.set, update->cpu_time_ms.set);
    if (strcmp(update->status.ptr, "COMPLETED") == 0)
        assert_true(update->execution_time_ms.set && update->memory_kb.set);
    char err[256];
    char *buf = NULL;
    size_t len = 0;
    if (lcx_msg_encode(update, &buf, &len, err, sizeof err) != 0)
        fail_msg("UPDATE does not encode: %s", err);
    free(buf);
    lcx_msg_destroy(&job);
    assert_scratch_empty();
    return update;
}

static lcx_msg_t *run(const char *language, const char *source)
{
    return execute(make_job(language, source));
}

static void assert_verdict(const lcx_msg_t *update, const char *status, const char *reason)
{
    if (strcmp(update->status.ptr, status) != 0)
        fail_msg("status %s, expected %s (reason %s, message %s, stderr %s, compile %s)",
                 update->status.ptr, status, update->reason.ptr ? update->reason.ptr : "-",
                 update->message.ptr ? update->message.ptr : "-", update->stderr.ptr,
                 update->compile_output.ptr ? update->compile_output.ptr : "-");
    if (reason)
        assert_string_equal(update->reason.ptr, reason);
    else
        assert_null(update->reason.ptr);
}

/* --------------------------------------------------------------------------------------------
 * Tests
 */

static void test_python_hello(void **state)
{
    lcx_msg_t *update = run("python", "print('Hello, World!')\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "Hello, World!\n");
    assert_int_equal(update->stdout.len, 14);
    assert_string_equal(update->stderr.ptr, "");
    assert_true(update->exit_code.set);
    assert_int_equal(update->exit_code.v, 0);
    assert_false(update->signal.set);
    assert_false(update->stdout_truncated.v);
    assert_true(update->memory_kb.v > 0);
    assert_string_equal(fx.live, "Hello, World!\n"); /* the live stream saw it too */
    lcx_msg_destroy(&update);
}

static void test_c_hello(void **state)
{
    lcx_msg_t *update =
        run("c", "#include <stdio.h>\nint main(void) { puts(\"Hello, World!\"); return 0; }\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "Hello, World!\n");
    assert_non_null(update->compile_output.ptr);
    lcx_msg_destroy(&update);
}

/* Every shipped language runs its own template. */
static void test_templates(void **state)
{
    for (size_t i = 0; i < lcx_languages_count(fx.languages); i++) {
        const lcx_language_t *lang = lcx_languages_at(fx.languages, i);
        lcx_msg_t *update = run(lang->id, lang->template_code);
        assert_verdict(update, "COMPLETED", NULL);
        if (strcmp(update->stdout.ptr, "Hello, World!\n") != 0)
            fail_msg("%s printed '%s'", lang->id, update->stdout.ptr);
        lcx_msg_destroy(&update);
    }
}

static void test_c_compile_error(void **state)
{
    lcx_msg_t *update = run("c", "int main(void) { return undeclared; }\n");
    assert_verdict(update, "FAILED", "compile_error");
    assert_non_null(update->compile_output.ptr);
    assert_non_null(strstr(update->compile_output.ptr, "undeclared"));
    assert_non_null(strstr(update->compile_output.ptr, "error"));
    assert_false(update->exit_code.set);
    assert_string_equal(update->stdout.ptr, "");
    /* The program never ran: its figures are unknown, not 0. */
    assert_false(update->execution_time_ms.set || update->cpu_time_ms.set || update->memory_kb.set);
    lcx_msg_destroy(&update);
}

static void test_compile_timeout(void **state)
{
    long saved = fx.settings.compile_time_ms;
    fx.settings.compile_time_ms = 1;
    lcx_msg_t *update = run("c", "int main(void) { return 0; }\n");
    fx.settings.compile_time_ms = saved;
    assert_verdict(update, "FAILED", "compile_error");
    assert_non_null(strstr(update->compile_output.ptr, "[lcx] compilation timed out after 1 ms"));
    lcx_msg_destroy(&update);
}

static void test_python_runtime_error(void **state)
{
    lcx_msg_t *update = run("python", "print('before')\nraise ValueError('boom')\n");
    assert_verdict(update, "FAILED", "exit_code");
    assert_int_equal(update->exit_code.v, 1);
    assert_string_equal(update->stdout.ptr, "before\n");
    assert_non_null(strstr(update->stderr.ptr, "line 2"));
    assert_non_null(strstr(update->stderr.ptr, "ValueError: boom"));
    lcx_msg_destroy(&update);
}

static void test_stdin_echo(void **state)
{
    lcx_msg_t *job = make_job("python", "import sys\nsys.stdout.write(sys.stdin.read())\n");
    const char input[] = "first line\nsecond \xc3\xa9 line\n";
    assert_int_equal(lcx_msg_set_bytes(job, LCX_F_stdin, input, sizeof input - 1), 0);
    lcx_msg_t *update = execute(job);
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, input);
    lcx_msg_destroy(&update);
}

static void test_no_stdin_is_empty(void **state)
{
    lcx_msg_t *update = run("python", "import sys\nprint(repr(sys.stdin.read()))\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "''\n");
    lcx_msg_destroy(&update);
}

static void test_args(void **state)
{
    lcx_msg_t *job = make_job("python", "import sys\nprint(sys.argv[1:])\n");
    assert_int_equal(lcx_msg_list_append(job, LCX_F_args, "one"), 0);
    assert_int_equal(lcx_msg_list_append(job, LCX_F_args, "two words"), 0);
    lcx_msg_t *update = execute(job);
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "['one', 'two words']\n");
    lcx_msg_destroy(&update);
}

/* max_args arguments of max_args_bytes in all (the gateway's limits) run: the sandbox takes
 * the whole command line, for every shipped language. */
static void test_args_at_the_limit(void **state)
{
    lcx_msg_t *job = make_job("python", "import sys\n"
                                        "print(len(sys.argv) - 1, sum(len(a) + 1 for a in "
                                        "sys.argv[1:]))\n");
    long n = fx.settings.max_args, each = fx.settings.max_args_bytes / n;
    char *arg = malloc((size_t)each);
    memset(arg, 'a', (size_t)each - 1);
    arg[each - 1] = '\0';
    for (long i = 0; i < n; i++)
        assert_int_equal(lcx_msg_list_append(job, LCX_F_args, arg), 0);
    free(arg);
    lcx_msg_t *update = execute(job);
    assert_verdict(update, "COMPLETED", NULL);
    char expected[64];
    snprintf(expected, sizeof expected, "%ld %ld\n", n, n * each);
    assert_string_equal(update->stdout.ptr, expected);
    lcx_msg_destroy(&update);
}

/* The runner refuses settings whose args would not fit beside a language's command. */
static void test_args_room_check(void **state)
{
    char err[512] = "";
    assert_int_equal(job_check_args_room(&fx.settings, fx.languages, err, sizeof err), 0);
    lcx_settings_t big = fx.settings;
    big.max_args_bytes = 64 * 1024;
    assert_int_equal(job_check_args_room(&big, fx.languages, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_args_bytes 65536"));
}

static void test_timeout(void **state)
{
    lcx_msg_t *job = make_job("python", "while True:\n    pass\n");
    assert_int_equal(lcx_msg_set_int(job, LCX_F_time_ms, 500), 0);
    lcx_msg_t *update = execute(job);
    /* One busy thread meets the wall-clock and the CPU limit at about the same moment. */
    assert_int_equal(update->cmd, LCX_CMD_UPDATE);
    assert_string_equal(update->status.ptr, "TIMEOUT");
    assert_non_null(update->reason.ptr);
    assert_true(strcmp(update->reason.ptr, "wall_time") == 0 ||
                strcmp(update->reason.ptr, "cpu_time") == 0);
    assert_true(update->execution_time_ms.v >= 500);
    assert_true(update->execution_time_ms.v < 2000);
    assert_true(update->signal.set);
    lcx_msg_destroy(&update);
}

static void test_output_flood(void **state)
{
    lcx_msg_t *update = run("python", "while True:\n    print('x' * 1000)\n");
    assert_verdict(update, "FAILED", "output_limit");
    assert_true(update->stdout_truncated.v);
    assert_false(update->stderr_truncated.v);
    assert_int_equal(update->stdout.len, fx.settings.output_bytes);
    lcx_msg_destroy(&update);
}

static void test_exit_code(void **state)
{
    lcx_msg_t *update = run("python", "import sys\nprint('bye')\nsys.exit(3)\n");
    assert_verdict(update, "FAILED", "exit_code");
    assert_true(update->exit_code.set);
    assert_int_equal(update->exit_code.v, 3);
    assert_string_equal(update->stdout.ptr, "bye\n");
    lcx_msg_destroy(&update);
}

static void test_signal(void **state)
{
    lcx_msg_t *update = run("python", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n");
    assert_verdict(update, "FAILED", "signal");
    assert_true(update->signal.set);
    assert_int_equal(update->signal.v, SIGKILL);
    assert_false(update->exit_code.set);
    lcx_msg_destroy(&update);
}

static void test_unknown_language(void **state)
{
    lcx_msg_t *update = run("cobol", "DISPLAY 'HI'.\n");
    assert_verdict(update, "FAILED", "internal_error");
    assert_non_null(update->message.ptr);
    assert_non_null(strstr(update->message.ptr, "cobol"));
    lcx_msg_destroy(&update);
}

static void test_cancel(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    fx.ctx.cancel_fd = fds[0];
    int64_t start = lcx_mono_ms();
    lcx_msg_t *update = run("python", "import time\ntime.sleep(10)\n");
    fx.ctx.cancel_fd = -1;
    close(fds[0]);
    close(fds[1]);
    assert_verdict(update, "CANCELLED", NULL);
    assert_true(lcx_mono_ms() - start < 3000);
    lcx_msg_destroy(&update);
}

/* A background process in the program's group does not keep the job alive. */
static void test_leftover_process(void **state)
{
    int64_t start = lcx_mono_ms();
    lcx_msg_t *update = run("bash", "sleep 30 &\necho started\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "started\n");
    assert_true(lcx_mono_ms() - start < 3000);
    lcx_msg_destroy(&update);
}

/* Links and odd permissions left in the scratch directory are removed, never followed. */
static void test_cleanup_does_not_follow_links(void **state)
{
    char outside[128], keep[160];
    snprintf(outside, sizeof outside, "%s.outside", fx.scratch);
    snprintf(keep, sizeof keep, "%s/keep", outside);
    assert_int_equal(mkdir(outside, 0755), 0);
    FILE *file = fopen(keep, "w");
    assert_non_null(file);
    assert_int_equal(fclose(file), 0);
    char source[1024];
    snprintf(source, sizeof source,
             "import os\n"
             "os.symlink('%s', 'link')\n"
             "os.makedirs('a/b/c')\n"
             "os.symlink('%s', 'a/b/c/link')\n"
             "open('a/b/file', 'w').write('x')\n"
             "os.chmod('a/b', 0)\n"
             "print('ok')\n",
             outside, outside);
    lcx_msg_t *update = run("python", source);
    assert_verdict(update, "COMPLETED", NULL);
    struct stat st;
    assert_int_equal(stat(keep, &st), 0);
    assert_int_equal(unlink(keep), 0);
    assert_int_equal(rmdir(outside), 0);
    lcx_msg_destroy(&update);
}

/* A job in a directory prepared for it, as the slot thread does between jobs. */
static lcx_msg_t *execute_prepared(job_scratch_t *scratch, const char *source)
{
    lcx_msg_t *job = make_job("bash", source);
    lcx_msg_t *update = job_execute(&fx.ctx, job, scratch);
    lcx_msg_destroy(&job);
    return update;
}

static void test_prepared_scratch_is_used(void **state)
{
    job_scratch_t scratch;
    assert_int_equal(job_scratch_prepare(&fx.ctx, &scratch), 0);
    char prepared[sizeof scratch.name];
    snprintf(prepared, sizeof prepared, "%s", scratch.name);
    assert_int_equal(strncmp(prepared, "ready-", 6), 0);
    lcx_msg_t *update = execute_prepared(&scratch, "echo kept > f.txt && ls\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "f.txt\nmain.sh\n"); /* it started empty */
    assert_string_equal(scratch.name, prepared);                 /* handed back for removal */
    char file[sizeof scratch.name + 8];
    snprintf(file, sizeof file, "%s/f.txt", prepared);
    struct stat st;
    assert_int_equal(fstatat(scratch.parent_fd, file, &st, 0), 0);
    job_scratch_remove(&fx.ctx, &scratch);
    assert_int_equal(scratch.parent_fd, -1);
    assert_scratch_empty();
    lcx_msg_destroy(&update);
}

/* Between jobs a slot keeps its directory and swaps only the tmpfs on it: the next job
 * starts in the same directory, empty of what the last one left (even where it may not look). */
static void test_prepared_scratch_is_recycled(void **state)
{
    job_scratch_t scratch;
    assert_int_equal(job_scratch_prepare(&fx.ctx, &scratch), 0);
    char prepared[sizeof scratch.name];
    snprintf(prepared, sizeof prepared, "%s", scratch.name);
    lcx_msg_t *update =
        execute_prepared(&scratch, "mkdir -p d/e && echo left > d/e/f && chmod 000 d && ls\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "d\nmain.sh\n");
    lcx_msg_destroy(&update);
    assert_int_equal(job_scratch_recycle(&fx.ctx, &scratch), 0);
    assert_string_equal(scratch.name, prepared);
    update = execute_prepared(&scratch, "ls -A\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "main.sh\n");
    lcx_msg_destroy(&update);
    job_scratch_remove(&fx.ctx, &scratch);
    assert_scratch_empty();
}

/* A prepared directory removed behind the runner's back: the job makes its own. */
static void test_prepared_scratch_gone(void **state)
{
    job_scratch_t scratch;
    assert_int_equal(job_scratch_prepare(&fx.ctx, &scratch), 0);
    assert_int_equal(sandbox_workdir_unmount(fx.sandbox, scratch.parent_fd, scratch.name), 0);
    assert_int_equal(unlinkat(scratch.parent_fd, scratch.name, AT_REMOVEDIR), 0);
    lcx_msg_t *update = execute_prepared(&scratch, "echo fine\n");
    assert_verdict(update, "COMPLETED", NULL);
    assert_string_equal(update->stdout.ptr, "fine\n");
    assert_int_not_equal(strncmp(scratch.name, "ready-", 6), 0);
    assert_int_equal(job_scratch_recycle(&fx.ctx, &scratch), 0); /* a prepared one replaces it */
    assert_int_equal(strncmp(scratch.name, "ready-", 6), 0);
    job_scratch_remove(&fx.ctx, &scratch);
    assert_scratch_empty();
    lcx_msg_destroy(&update);
}

static void test_memory_limit(void **state)
{
    lcx_msg_t *job = make_job("python", "x = bytearray(400 * 1024 * 1024)\nprint('alive')\n");
    assert_int_equal(lcx_msg_set_int(job, LCX_F_memory_mb, 64), 0);
    lcx_msg_t *update = execute(job);
    assert_verdict(update, "FAILED", "memory_limit");
    assert_string_equal(update->stdout.ptr, "");
    lcx_msg_destroy(&update);
}

/* Jobs on several threads at once keep their outputs apart. */
typedef struct {
    pthread_t thread;
    int index;
    lcx_msg_t *update;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    char source[256];
    snprintf(source, sizeof source,
             "import time\nfor i in range(50):\n    print('worker %d', i)\n    time.sleep(0.002)\n",
             w->index);
    char id[LCX_UUID_LEN + 1];
    lcx_uuid4(id);
    lcx_msg_t *job = lcx_msg_new(LCX_CMD_JOB);
    lcx_msg_set_str(job, LCX_F_execution_id, id);
    lcx_msg_set_str(job, LCX_F_language, w->index % 2 ? "python" : "py");
    lcx_msg_set_str(job, LCX_F_source_code, source);
    lcx_msg_set_int(job, LCX_F_attempt, 1);
    job_context_t ctx = fx.ctx;
    ctx.on_output = NULL;
    w->update = job_execute(&ctx, job, NULL);
    lcx_msg_destroy(&job);
    return NULL;
}

static void test_concurrent(void **state)
{
    worker_t workers[6];
    for (int i = 0; i < 6; i++) {
        workers[i] = (worker_t){.index = i};
        assert_int_equal(pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(workers[i].thread, NULL), 0);
        lcx_msg_t *update = workers[i].update;
        assert_non_null(update);
        assert_verdict(update, "COMPLETED", NULL);
        char expected[2048] = "", line[64];
        for (int n = 0; n < 50; n++) {
            snprintf(line, sizeof line, "worker %d %d\n", i, n);
            strcat(expected, line);
        }
        assert_string_equal(update->stdout.ptr, expected);
        lcx_msg_destroy(&update);
    }
    assert_scratch_empty();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_hello),
        cmocka_unit_test(test_c_hello),
        cmocka_unit_test(test_args_at_the_limit),
        cmocka_unit_test(test_args_room_check),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_c_compile_error),
        cmocka_unit_test(test_compile_timeout),
        cmocka_unit_test(test_python_runtime_error),
        cmocka_unit_test(test_stdin_echo),
        cmocka_unit_test(test_no_stdin_is_empty),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_output_flood),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_unknown_language),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_leftover_process),
        cmocka_unit_test(test_cleanup_does_not_follow_links),
        cmocka_unit_test(test_prepared_scratch_is_used),
        cmocka_unit_test(test_prepared_scratch_is_recycled),
        cmocka_unit_test(test_prepared_scratch_gone),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
