/*
 * sandbox_bench: what isolation costs. Runs each program N times bare (fork, execve, waitpid)
 * and N times through sandbox_run (namespaces, prepared root, seccomp, slot cgroup, as a job's
 * run step: with a work directory on its own tmpfs), interleaved, and prints the medians, the
 * time added at the median and the ratio.
 *
 *   sandbox_bench [N [KEEPER]]   (root; default N = 200; KEEPER: path of lcx-keeper, as the
 *                                runner uses it; without, the keepers serve from this image)
 *   sandbox_bench N KEEPER PROGRAM [ARG...]
 *                                one program only; prints "bare_ms=B sandbox_ms=S" (medians),
 *                                for the stack bench's end-to-end baselines
 */
#include "bench_run.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RUNS 200
#define MAX_RUNS 100000

/* A sandboxed run, then the slot's settle, as the runner does once the result is on its way. */
static double sandbox_once(sandbox_t *sb, char *const *argv, const char *workdir)
{
    double took = bench_sandboxed_run(sb, argv, workdir);
    sandbox_settle(sb);
    return took;
}

/* N interleaved runs of one program, bare and in the sandbox: {bare p50, bare p90, sandbox p50,
 * sandbox p90} in `out`. 0, or -1 when a run failed. */
static int measure(sandbox_t *sb, char *const *argv, const char *workdir, int n, double out[4])
{
    double *bare = calloc((size_t)n, sizeof *bare), *boxed = calloc((size_t)n, sizeof *boxed);
    int rc = bare && boxed ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        bare[i] = bench_bare_run(argv);
        boxed[i] = sandbox_once(sb, argv, workdir);
        if (bare[i] < 0 || boxed[i] < 0) {
            fprintf(stderr, "sandbox_bench: run %d of %s failed\n", i, argv[0]);
            rc = -1;
        }
    }
    if (rc == 0) {
        out[0] = percentile(bare, n, 0.5);
        out[1] = percentile(bare, n, 0.9);
        out[2] = percentile(boxed, n, 0.5);
        out[3] = percentile(boxed, n, 0.9);
    }
    free(bare);
    free(boxed);
    return rc;
}

/* One table row. */
static int bench(sandbox_t *sb, const char *label, char *const *argv, const char *workdir, int n)
{
    double m[4];
    if (measure(sb, argv, workdir, n, m) != 0) return -1;
    printf("%-22s %5d %9.3f %9.3f %11.3f %11.3f %9.3f %7.2fx\n", label, n, m[0], m[1], m[2], m[3],
           m[2] - m[0], m[2] / m[0]);
    return 0;
}

/* The default table: the smallest program, and python's start. */
static int bench_table(sandbox_t *sb, const char *workdir, int n)
{
    printf("sandbox: %s\n", sandbox_mode(sb));
    printf("%-22s %5s %9s %9s %11s %11s %9s %8s\n", "program (ms)", "runs", "bare p50", "bare p90",
           "sandbox p50", "sandbox p90", "added", "ratio");
    char *true_argv[] = {"/bin/true", NULL};
    char *py_argv[] = {"/usr/bin/python3", "-c", "pass", NULL};
    int rc = bench(sb, "/bin/true", true_argv, workdir, n);
    return rc == 0 ? bench(sb, "python3 -c pass", py_argv, workdir, n) : rc;
}

/* A work directory with its tmpfs, as the runner's jobs have. */
static int make_workdir(sandbox_t *sb, char *path, size_t size, int *parent_fd)
{
    snprintf(path, size, "/tmp/lcx-bench-XXXXXX");
    if (!mkdtemp(path)) return -1;
    *parent_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*parent_fd < 0 || mkdirat(*parent_fd, "w", 0700) != 0) return -1;
    if (sandbox_workdir_mount(sb, *parent_fd, "w") != 0) return -1;
    size_t len = strlen(path);
    snprintf(path + len, size - len, "/w");
    return 0;
}

static void remove_workdir(sandbox_t *sb, char *path, int parent_fd)
{
    sandbox_workdir_unmount(sb, parent_fd, "w");
    unlinkat(parent_fd, "w", AT_REMOVEDIR);
    close(parent_fd);
    *strrchr(path, '/') = '\0';
    rmdir(path);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : DEFAULT_RUNS;
    if (n < 1 || n > MAX_RUNS) n = DEFAULT_RUNS;
    char err[512];
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.keeper = argc > 2 ? argv[2] : NULL;
    sandbox_t *sb = sandbox_new(&config, err, sizeof err);
    if (!sb) {
        fprintf(stderr, "sandbox_bench: %s\n", err);
        return 1;
    }
    char workdir[64];
    int parent_fd = -1;
    if (make_workdir(sb, workdir, sizeof workdir, &parent_fd) != 0) {
        fprintf(stderr, "sandbox_bench: work directory: %s\n", strerror(errno));
        sandbox_destroy(&sb);
        return 1;
    }
    int rc;
    if (argc > 3) {
        double m[4];
        rc = measure(sb, argv + 3, workdir, n, m);
        if (rc == 0) printf("bare_ms=%.3f sandbox_ms=%.3f\n", m[0], m[2]);
    } else {
        rc = bench_table(sb, workdir, n);
    }
    remove_workdir(sb, workdir, parent_fd);
    sandbox_destroy(&sb);
    return rc == 0 ? 0 : 1;
}
