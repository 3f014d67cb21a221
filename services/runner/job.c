/*
 * job: one JOB message to one UPDATE message.
 *
 *   <the runner's scratch directory>/ready-<random>/   mode 0700, prepared while the slot
 *                                                      was idle (scratch.h)
 *       <file>      the source, as the language names it
 *       .stdin      the job's stdin, when it has one
 *
 * (<execution_id>-<attempt>-<random>/ when none was prepared). Preparing takes the mkdir and
 * the tmpfs mount (0.5-0.9 ms) off the path from the job to its result. A slot keeps its
 * prepared directory from job to job and only swaps the tmpfs on it (job_scratch_recycle):
 * creating and removing a directory on the scratch disk costs its metadata writes each time,
 * and here, on an ext4 mounted with discard, a discard the removal waits for.
 *
 * The directory is created with mkdirat, gets a size-capped tmpfs of its own when the sandbox
 * isolates (sandbox_workdir_mount: the run's writes are capped and vanish with the unmount), is
 * filled with openat(O_CREAT | O_EXCL | O_NOFOLLOW), and removed with openat/unlinkat without
 * following links (scratch_remove_tree), so a program that leaves symlinks behind cannot make
 * the runner touch anything outside it.
 */
#include "job.h"
#include "keeper.h"
#include "scratch.h"

#include "alloc.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB_STDIN_FILE ".stdin"
#define JOB_ID_CHARS 48          /* of the execution id in the directory name */
#define JOB_READY_PREFIX "ready" /* a directory prepared before its job arrived */

/* One execution in progress. */
typedef struct {
    const job_context_t *ctx;
    const lcx_settings_t *settings;
    const lcx_msg_t *msg; /* the JOB */
    const lcx_language_t *lang;
    lcx_msg_t *update;
    job_scratch_t scratch; /* this job's directory: its name inside scratch_dir and path */
    int dir_fd;            /* this job's directory */
    char stdin_path[PATH_MAX];
    bool has_stdin;
    char *compile_out; /* stdout and stderr of the compiler, interleaved, capped */
    size_t compile_len;
    size_t compile_size;
    bool compile_truncated;
} job_t;

/* --------------------------------------------------------------------------------------------
 * The UPDATE message
 */

static void put_str(job_t *j, lcx_field_t field, const char *text)
{
    if (lcx_msg_set_str(j->update, field, text) != 0)
        lcx_log(LCX_ERROR, "job cannot set field", "field", lcx_field_name(field), NULL);
}

static void put_bytes(job_t *j, lcx_field_t field, const char *data, size_t len)
{
    if (lcx_msg_set_bytes(j->update, field, data ? data : "", data ? len : 0) != 0)
        lcx_log(LCX_ERROR, "job cannot set field", "field", lcx_field_name(field), NULL);
}

static void put_int(job_t *j, lcx_field_t field, int64_t value)
{
    if (lcx_msg_set_int(j->update, field, value) != 0)
        lcx_log(LCX_ERROR, "job cannot set field", "field", lcx_field_name(field), NULL);
}

static void put_bool(job_t *j, lcx_field_t field, bool value)
{
    if (lcx_msg_set_bool(j->update, field, value) != 0)
        lcx_log(LCX_ERROR, "job cannot set field", "field", lcx_field_name(field), NULL);
}

static void verdict(job_t *j, const char *status, const char *reason)
{
    put_str(j, LCX_F_status, status);
    if (reason) put_str(j, LCX_F_reason, reason);
}

/* FAILED/internal_error with a message; returns -1 so callers can `return internal(...)`. */
__attribute__((format(printf, 2, 3))) static int internal(job_t *j, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    verdict(j, "FAILED", "internal_error");
    put_str(j, LCX_F_message, message);
    lcx_log(LCX_ERROR, "job internal error", "execution_id", j->msg->execution_id.ptr, "error",
            message, NULL);
    return -1;
}

/* Fields every UPDATE carries, set to neutral values when no step set them. The figures are
 * not among them: a program that never ran (a compile error, an internal error) has none, and
 * they stay unknown (null) rather than 0. */
static void fill_defaults(job_t *j)
{
    if (!lcx_msg_has(j->update, LCX_F_stdout)) put_bytes(j, LCX_F_stdout, "", 0);
    if (!lcx_msg_has(j->update, LCX_F_stderr)) put_bytes(j, LCX_F_stderr, "", 0);
    if (!lcx_msg_has(j->update, LCX_F_stdout_truncated)) put_bool(j, LCX_F_stdout_truncated, false);
    if (!lcx_msg_has(j->update, LCX_F_stderr_truncated)) put_bool(j, LCX_F_stderr_truncated, false);
}

/* --------------------------------------------------------------------------------------------
 * Scratch directory
 */

/* The execution id reduced to characters safe in a file name. */
static void safe_id(const char *id, char *out, size_t size)
{
    size_t n = 0;
    for (; id && *id && n + 1 < size && n < JOB_ID_CHARS; id++) {
        char c = *id;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_')
            out[n++] = c;
    }
    if (n == 0 && size > 3) n = (size_t)snprintf(out, size, "job");
    out[n] = '\0';
}

/* ctx->scratch_dir/<prefix>-<random> with the sandbox's tmpfs on it. NULL, or the step that
 * failed with errno set (what was made stays in *scratch for job_scratch_remove). */
static const char *scratch_make(const job_context_t *ctx, const char *prefix,
                                job_scratch_t *scratch)
{
    const char *dir = ctx->scratch_dir;
    char parent[PATH_MAX];
    if (!dir || !*dir) {
        errno = ENOENT;
        return "no scratch directory configured";
    }
    if (scratch_make_parents(dir) != 0 || !realpath(dir, parent))
        return "cannot create the scratch directory";
    scratch->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (scratch->parent_fd < 0) return "cannot open the scratch directory";
    if (scratch_make_dir(scratch->parent_fd, prefix, scratch->name, sizeof scratch->name) != 0)
        return "cannot create a directory in the scratch directory";
    if (snprintf(scratch->dir, sizeof scratch->dir, "%s/%s", parent, scratch->name) >=
        (int)sizeof scratch->dir) {
        errno = ENAMETOOLONG;
        return "scratch path too long";
    }
    if (sandbox_workdir_mount(ctx->sandbox, scratch->parent_fd, scratch->name) != 0)
        return "cannot mount a work directory";
    scratch->mounted = true;
    return NULL;
}

int job_scratch_prepare(const job_context_t *ctx, job_scratch_t *scratch)
{
    *scratch = (job_scratch_t){.parent_fd = -1};
    const char *failed = scratch_make(ctx, JOB_READY_PREFIX, scratch);
    if (!failed) return 0;
    lcx_log(LCX_WARN, failed, "scratch_dir", ctx->scratch_dir, "error", strerror(errno), NULL);
    job_scratch_remove(ctx, scratch);
    return -1;
}

/* The job's directory: the one prepared for it, else <execution_id>-<attempt>-<random>. */
static int scratch_create(job_t *j)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    if (j->scratch.parent_fd >= 0) {
        j->dir_fd = openat(j->scratch.parent_fd, j->scratch.name, flags);
        if (j->dir_fd >= 0) return 0;
        lcx_log(LCX_WARN, "prepared scratch directory is gone", "execution_id",
                j->msg->execution_id.ptr, "path", j->scratch.dir, "error", strerror(errno), NULL);
        job_scratch_remove(j->ctx, &j->scratch);
    }
    char id[JOB_ID_CHARS + 1], prefix[JOB_ID_CHARS + 32];
    safe_id(j->msg->execution_id.ptr, id, sizeof id);
    snprintf(prefix, sizeof prefix, "%s-%lld", id,
             j->msg->attempt.set ? (long long)j->msg->attempt.v : 0);
    const char *failed = scratch_make(j->ctx, prefix, &j->scratch);
    if (failed) return internal(j, "%s (%s): %s", failed, j->ctx->scratch_dir, strerror(errno));
    j->dir_fd = openat(j->scratch.parent_fd, j->scratch.name, flags);
    if (j->dir_fd < 0) return internal(j, "cannot open %s: %s", j->scratch.dir, strerror(errno));
    return 0;
}

/* Writes a new file in the job directory; never follows or replaces anything. */
static int write_new_file(int dir_fd, const char *name, const char *data, size_t len, int mode)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return -1;
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return close(fd);
}

static int write_inputs(job_t *j)
{
    const lcx_buf_t *source = &j->msg->source_code;
    if (write_new_file(j->dir_fd, j->lang->file, source->ptr, source->ptr ? source->len : 0,
                       0644) != 0)
        return internal(j, "cannot write %s: %s", j->lang->file, strerror(errno));
    const lcx_buf_t *input = &j->msg->stdin;
    if (!input->ptr || input->len == 0) return 0;
    if (write_new_file(j->dir_fd, JOB_STDIN_FILE, input->ptr, input->len, 0600) != 0)
        return internal(j, "cannot write stdin: %s", strerror(errno));
    if (snprintf(j->stdin_path, sizeof j->stdin_path, "%s/%s", j->scratch.dir, JOB_STDIN_FILE) >=
        (int)sizeof j->stdin_path)
        return internal(j, "stdin path too long");
    j->has_stdin = true;
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * Readying and removing the scratch directory
 */

static bool is_prepared(const job_scratch_t *scratch)
{
    return strncmp(scratch->name, JOB_READY_PREFIX "-", sizeof JOB_READY_PREFIX) == 0;
}

int job_scratch_recycle(const job_context_t *ctx, job_scratch_t *scratch)
{
    if (scratch->parent_fd >= 0 && is_prepared(scratch)) {
        if (scratch->mounted &&
            sandbox_workdir_unmount(ctx->sandbox, scratch->parent_fd, scratch->name) == 0)
            scratch->mounted = false;
        if (!scratch->mounted && scratch_empty_dir(scratch->parent_fd, scratch->name) == 0 &&
            sandbox_workdir_mount(ctx->sandbox, scratch->parent_fd, scratch->name) == 0) {
            scratch->mounted = true;
            return 0;
        }
    }
    job_scratch_remove(ctx, scratch); /* a job's own directory, or one that would not recycle */
    return job_scratch_prepare(ctx, scratch);
}

void job_scratch_remove(const job_context_t *ctx, job_scratch_t *scratch)
{
    if (scratch->parent_fd < 0) return;
    if (scratch->mounted &&
        sandbox_workdir_unmount(ctx->sandbox, scratch->parent_fd, scratch->name) != 0)
        lcx_log(LCX_ERROR, "cannot unmount scratch directory", "path", scratch->dir, "error",
                strerror(errno), NULL);
    if (scratch->name[0] && scratch_remove_tree(scratch->parent_fd, scratch->name) != 0)
        lcx_log(LCX_ERROR, "cannot remove scratch directory", "path", scratch->dir, "error",
                strerror(errno), NULL);
    close(scratch->parent_fd);
    scratch->parent_fd = -1;
    scratch->mounted = false;
}

/* --------------------------------------------------------------------------------------------
 * Steps
 */

/* Bytes and entries of a NULL-terminated list of strings, each counted with its NUL. */
static void strv_size(char *const *v, size_t *bytes, size_t *count)
{
    for (; v && *v; v++, (*count)++)
        *bytes += strlen(*v) + 1;
}

int job_check_args_room(const lcx_settings_t *settings, const lcx_languages_t *languages, char *err,
                        size_t errlen)
{
    size_t room = keeper_string_room();
    for (size_t i = 0; i < lcx_languages_count(languages); i++) {
        const lcx_language_t *lang = lcx_languages_at(languages, i);
        /* argv[0] may become a path in the work directory: count it at its longest. */
        size_t bytes = PATH_MAX, count = 0;
        strv_size(lang->run, &bytes, &count);
        strv_size(lang->env, &bytes, &count);
        bytes += (size_t)settings->max_args_bytes;
        count += (size_t)settings->max_args;
        if (bytes > room || count > KEEPER_MAX_STRINGS) {
            snprintf(err, errlen,
                     "language %s: its run command and environment with max_args %ld and "
                     "max_args_bytes %ld need %zu bytes and %zu strings; a run has %zu and %d",
                     lang->id, settings->max_args, settings->max_args_bytes, bytes, count, room,
                     KEEPER_MAX_STRINGS);
            return -1;
        }
    }
    return 0;
}

/* argv of a step: the language's command, then `args`. A program written ./name is resolved
 * against the job directory into `prog`. The vector borrows its strings; free() it. NULL
 * (ENAMETOOLONG) when that path does not fit in prog. */
static char **build_argv(const job_t *j, char *const *command, const lcx_list_t *args, char *prog,
                         size_t prog_size)
{
    size_t n = 0;
    while (command[n])
        n++;
    size_t extra = args && args->v ? args->n : 0;
    char **argv = lcx_calloc(n + extra + 1, sizeof *argv);
    memcpy(argv, command, n * sizeof *argv);
    for (size_t i = 0; i < extra; i++)
        argv[n + i] = args->v[i];
    if (strncmp(command[0], "./", 2) == 0) {
        if (snprintf(prog, prog_size, "%s/%s", j->scratch.dir, command[0] + 2) >= (int)prog_size) {
            free(argv);
            errno = ENAMETOOLONG;
            return NULL;
        }
        argv[0] = prog;
    }
    return argv;
}

/* Limits shared by both steps. */
static sandbox_spec_t base_spec(const job_t *j)
{
    const lcx_settings_t *s = j->settings;
    return (sandbox_spec_t){
        .env = j->lang->env,
        .workdir = j->scratch.dir,
        .max_processes = s->max_processes,
        .output_bytes = s->output_bytes,
        .file_bytes = s->file_bytes,
        .cancel_fd = j->ctx->cancel_fd,
    };
}

/* Appends to the combined compiler output, keeping at most `cap` bytes in all. */
static void compile_append(job_t *j, const char *data, size_t len, size_t cap)
{
    size_t room = cap > j->compile_len ? cap - j->compile_len : 0;
    if (len > room) {
        j->compile_truncated = true;
        len = room;
    }
    if (len == 0) return;
    size_t need = j->compile_len + len;
    if (need > j->compile_size) {
        size_t size = need > 2 * j->compile_size ? need : 2 * j->compile_size;
        j->compile_out = lcx_realloc(j->compile_out, size);
        j->compile_size = size;
    }
    memcpy(j->compile_out + j->compile_len, data, len);
    j->compile_len += len;
}

static void compile_collect(void *arg, int stream, const char *data, size_t len)
{
    job_t *j = arg;
    long cap = j->settings->output_bytes;
    compile_append(j, data, len, cap > 0 ? (size_t)cap : 0);
}

/* A line of ours after the compiler's own output; it is not counted against the cap. */
static void compile_note(job_t *j, const char *note)
{
    char line[256];
    bool newline = j->compile_len > 0 && j->compile_out[j->compile_len - 1] != '\n';
    int n = snprintf(line, sizeof line, "%s[lcx] %s\n", newline ? "\n" : "", note);
    if (n > 0) compile_append(j, line, strlen(line), j->compile_len + strlen(line));
}

/* The reason a compile failed, or NULL when it succeeded. Adds a note to the output. */
static const char *compile_failure(job_t *j, const sandbox_result_t *r)
{
    char note[128];
    if (j->compile_truncated && !r->output_limit) compile_note(j, "compiler output truncated");
    if (r->timed_out) {
        snprintf(note, sizeof note, "compilation timed out after %ld ms",
                 j->settings->compile_time_ms);
        compile_note(j, note);
    } else if (r->output_limit) {
        compile_note(j, "compiler output exceeded the output limit");
    } else if (r->memory_limit) {
        compile_note(j, "compiler exceeded the memory limit");
    } else if (r->signaled) {
        snprintf(note, sizeof note, "compiler killed by signal %d", r->signal);
        compile_note(j, note);
    } else if (r->exit_code == 0) {
        return NULL;
    }
    return "compile_error";
}

/* 0: compiled, go on; 1: the verdict is set (compile error, cancelled); -1: internal error. */
static int compile_step(job_t *j)
{
    char prog[PATH_MAX];
    char **argv = build_argv(j, j->lang->compile, NULL, prog, sizeof prog);
    if (!argv) return internal(j, "compile command: %s", strerror(errno));
    sandbox_spec_t spec = base_spec(j);
    spec.argv = argv;
    spec.wall_ms = j->settings->compile_time_ms;
    spec.memory_mb = j->settings->max_memory_mb;
    spec.on_output = compile_collect;
    spec.output_arg = j;
    sandbox_result_t r;
    int rc = sandbox_run(j->ctx->sandbox, &spec, &r);
    int saved = errno;
    free(argv);
    if (rc != 0) return internal(j, "cannot start %s: %s", j->lang->compile[0], strerror(saved));
    bool cancelled = r.cancelled;
    const char *failure = cancelled ? NULL : compile_failure(j, &r);
    sandbox_result_free(&r);
    put_bytes(j, LCX_F_compile_output, j->compile_out, j->compile_len);
    if (cancelled)
        verdict(j, "CANCELLED", NULL);
    else if (failure)
        verdict(j, "FAILED", failure);
    return cancelled || failure ? 1 : 0;
}

/* A per-job value, or the default, never above the maximum. */
static long job_limit(const lcx_int_t *asked, long def, long max)
{
    long value = asked->set && asked->v > 0 ? (long)asked->v : def;
    return max > 0 && value > max ? max : value;
}

static const char *run_reason(const sandbox_result_t *r)
{
    if (r->output_limit) return "output_limit";
    if (r->memory_limit) return "memory_limit";
    if (r->signaled) return "signal";
    if (r->exit_code != 0) return "exit_code";
    return NULL;
}

static void run_report(job_t *j, const sandbox_result_t *r)
{
    put_bytes(j, LCX_F_stdout, r->out, r->out_len);
    put_bytes(j, LCX_F_stderr, r->err, r->err_len);
    put_bool(j, LCX_F_stdout_truncated, r->out_truncated);
    put_bool(j, LCX_F_stderr_truncated, r->err_truncated);
    put_int(j, LCX_F_execution_time_ms, r->wall_ms);
    put_int(j, LCX_F_cpu_time_ms, r->cpu_ms);
    if (r->memory_kb > 0) put_int(j, LCX_F_memory_kb, r->memory_kb); /* 0: not measured */
    if (r->signaled)
        put_int(j, LCX_F_signal, r->signal);
    else
        put_int(j, LCX_F_exit_code, r->exit_code);
    if (r->cancelled)
        verdict(j, "CANCELLED", NULL);
    else if (r->timed_out)
        verdict(j, "TIMEOUT", r->cpu_limit ? "cpu_time" : "wall_time");
    else if (run_reason(r))
        verdict(j, "FAILED", run_reason(r));
    else
        verdict(j, "COMPLETED", NULL);
}

static int run_step(job_t *j)
{
    const lcx_settings_t *s = j->settings;
    char prog[PATH_MAX];
    char **argv = build_argv(j, j->lang->run, &j->msg->args, prog, sizeof prog);
    if (!argv) return internal(j, "run command: %s", strerror(errno));
    sandbox_spec_t spec = base_spec(j);
    spec.argv = argv;
    spec.stdin_path = j->has_stdin ? j->stdin_path : NULL;
    spec.wall_ms = job_limit(&j->msg->time_ms, s->time_ms, s->max_time_ms);
    spec.cpu_ms = spec.wall_ms;
    spec.memory_mb = job_limit(&j->msg->memory_mb, s->memory_mb, s->max_memory_mb);
    spec.on_output = j->ctx->on_output;
    spec.output_arg = j->ctx->output_arg;
    sandbox_result_t r;
    int rc = sandbox_run(j->ctx->sandbox, &spec, &r);
    int saved = errno;
    free(argv);
    if (rc != 0) return internal(j, "cannot start %s: %s", j->lang->run[0], strerror(saved));
    run_report(j, &r);
    sandbox_result_free(&r);
    return 0;
}

/* Everything between the UPDATE's header fields and its timestamps. */
static void execute(job_t *j)
{
    const char *language = j->msg->language.ptr;
    j->lang = lcx_languages_find(j->ctx->languages, language ? language : "");
    if (!j->lang) {
        internal(j, "unknown language '%s'", language ? language : "");
        return;
    }
    if (scratch_create(j) != 0 || write_inputs(j) != 0) return;
    if (j->lang->compile && compile_step(j) != 0) return;
    run_step(j);
}

lcx_msg_t *job_execute(const job_context_t *ctx, const lcx_msg_t *job, job_scratch_t *scratch)
{
    job_t j = {.ctx = ctx, .settings = ctx->settings, .msg = job, .dir_fd = -1};
    j.scratch = scratch ? *scratch : (job_scratch_t){.parent_fd = -1};
    j.update = lcx_msg_new(LCX_CMD_UPDATE);
    put_str(&j, LCX_F_execution_id, job->execution_id.ptr ? job->execution_id.ptr : "");
    put_int(&j, LCX_F_attempt, job->attempt.set ? job->attempt.v : 0);
    put_int(&j, LCX_F_started_at, lcx_now_ms());
    execute(&j);
    put_int(&j, LCX_F_finished_at, lcx_now_ms());
    fill_defaults(&j);
    if (j.dir_fd >= 0) close(j.dir_fd);
    if (scratch)
        *scratch = j.scratch;
    else
        job_scratch_remove(ctx, &j.scratch);
    free(j.compile_out);
    return j.update;
}
