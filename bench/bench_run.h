/*
 * bench_run: one run of a program as the bench programs that link the runner's sandbox time
 * it (sandbox_bench.c, floor_bench.c): bare (fork, execve, waitpid) or in the sandbox, with
 * the same environment and the same limits, so that their figures compare.
 */
#ifndef LCX_BENCH_RUN_H
#define LCX_BENCH_RUN_H

#include "bench_stats.h"
#include "sandbox.h"

#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *const bench_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp", NULL};

/* fork + execve + waitpid, stdin, stdout and stderr on /dev/null; the time in ms, -1 on
 * failure (or a non-zero exit). */
static inline double bench_bare_run(char *const *argv)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(126);
        execve(argv[0], argv, bench_env);
        _exit(127);
    }
    if (pid < 0) return -1;
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return now_ms() - t0;
}

/* One sandbox_run of argv with a job's usual limits in `workdir`: its time in ms, -1 when it
 * could not start or did not exit 0. The caller settles the slot (sandbox_settle) when it
 * likes, as the runner does once the result is on its way. */
static inline double bench_sandboxed_run(sandbox_t *sb, char *const *argv, const char *workdir)
{
    sandbox_spec_t spec = {.argv = argv,
                           .env = bench_env,
                           .workdir = workdir,
                           .wall_ms = 10000,
                           .cpu_ms = 10000,
                           .memory_mb = 256,
                           .max_processes = 64,
                           .output_bytes = 1 << 20,
                           .file_bytes = 16 << 20,
                           .cancel_fd = -1};
    sandbox_result_t r;
    double t0 = now_ms();
    if (sandbox_run(sb, &spec, &r) != 0) return -1;
    double took = now_ms() - t0;
    bool ok = !r.signaled && r.exit_code == 0;
    sandbox_result_free(&r);
    return ok ? took : -1;
}

#endif
