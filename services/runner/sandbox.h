/*
 * sandbox: runs one program under limits and collects what it did. The one interface through
 * which the runner starts user code, so a stronger isolation can replace the body without
 * touching callers.
 *
 * Today (issue #2): a child in its own session and process group, an empty environment except
 * spec->env, rlimits (CPU, file size, open files, no core dumps), a wall-time deadline that kills
 * the whole group, output caps. Issue #3 adds namespaces, cgroups and seccomp behind the same
 * calls.
 */
#ifndef LCX_SANDBOX_H
#define LCX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum { SANDBOX_STDOUT = 1, SANDBOX_STDERR = 2 };

/* Called from sandbox_run as output arrives (before caps are applied to what is kept). */
typedef void(sandbox_output_fn)(void *arg, int stream, const char *data, size_t len);

typedef struct {
    char *const *argv;      /* argv[0] is an absolute path; no shell, no PATH search */
    char *const *env;       /* the whole environment */
    const char *workdir;    /* the program's working directory */
    const char *stdin_path; /* file opened read-only as stdin; NULL means /dev/null */
    long wall_ms;           /* wall-clock limit; the whole process group is killed past it */
    long cpu_ms;            /* CPU time limit (0: none) */
    long memory_mb;         /* memory limit (0: none) */
    long max_processes;     /* processes and threads (0: none) */
    long output_bytes;      /* cap for stdout and for stderr, each; more kills the program */
    long file_bytes;        /* largest file the program may write (0: none) */
    int cancel_fd;          /* when readable, the run is killed and marked cancelled; -1: none */
    sandbox_output_fn *on_output;
    void *output_arg;
} sandbox_spec_t;

typedef struct {
    int exit_code; /* valid when !signaled */
    int signal;    /* valid when signaled */
    bool signaled;
    bool timed_out;    /* wall or CPU limit */
    bool output_limit; /* a stream passed output_bytes */
    bool memory_limit;
    bool cancelled;
    long wall_ms;
    long cpu_ms;
    long memory_kb; /* peak resident set */
    char *out;      /* stdout kept (at most output_bytes), NUL-terminated */
    size_t out_len;
    bool out_truncated;
    char *err; /* stderr kept */
    size_t err_len;
    bool err_truncated;
} sandbox_result_t;

typedef struct sandbox_t sandbox_t;

/* NULL with a reason when the machine cannot run programs this way. */
sandbox_t *sandbox_new(char *err, size_t errlen);
void sandbox_destroy(sandbox_t **self_p);

/* How programs are isolated here, for /health and logs (e.g. "process-group"). */
const char *sandbox_mode(const sandbox_t *self);

/* Runs spec to the end. 0 with *result filled, or -1 (and errno) when the program could not be
 * started at all (result then holds nothing to free). */
int sandbox_run(sandbox_t *self, const sandbox_spec_t *spec, sandbox_result_t *result);
void sandbox_result_free(sandbox_result_t *result);

#endif
