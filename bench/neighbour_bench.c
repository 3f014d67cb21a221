/*
 * neighbour_bench: how much a hostile run slows the run beside it (issue 24). Two slots: a
 * neighbour runs a CPU loop of about NEIGHBOUR_MS (python, timed inside the program with
 * CLOCK_MONOTONIC, so start-up does not count) N times alone, then N times while the other
 * slot runs a hog: HOG_CHILDREN processes that each setsid() and spin. With the kernel's
 * autogroups every session is a scheduling group of its own, so without a CPU share per slot
 * the hog's sixty sessions take sixty shares to the neighbour's one.
 *
 *   neighbour_bench [N [KEEPER]]   (root; default N = 5; KEEPER: path of lcx-keeper)
 *
 * Prints the medians alone and beside the hog, and their ratio: the neighbour's slowdown.
 */
#include "bench_stats.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_RUNS 5
#define MAX_RUNS 1000
#define NEIGHBOUR_MS 200.0       /* the loop's length alone */
#define CALIBRATION_ITER 1000000 /* iterations of the calibrating runs */
#define CALIBRATION_RUNS 3
#define HOG_CHILDREN 60
#define HOG_SETTLE_US 500000 /* after the hog starts, before the first measurement */

static char *const env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp", NULL};

typedef struct {
    sandbox_t *sb;
    const char *workdir;
    int cancel_fd;
    int rc;
} hog_t;

/* A work directory `name` under parent with its tmpfs, as the runner's jobs have. */
static int make_workdir(sandbox_t *sb, int parent_fd, const char *name)
{
    if (mkdirat(parent_fd, name, 0700) != 0) return -1;
    return sandbox_workdir_mount(sb, parent_fd, name);
}

static void remove_workdir(sandbox_t *sb, int parent_fd, const char *name)
{
    sandbox_workdir_unmount(sb, parent_fd, name);
    unlinkat(parent_fd, name, AT_REMOVEDIR);
}

/* The neighbour: `iter` iterations of a python loop; the loop's ms as the program measured
 * it, -1 when the run failed. */
static double neighbour_once(sandbox_t *sb, const char *workdir, long iter)
{
    char code[256];
    snprintf(code, sizeof code,
             "import time\nt = time.clock_gettime(time.CLOCK_MONOTONIC)\nn = 0\n"
             "for i in range(%ld): n += i\n"
             "print((time.clock_gettime(time.CLOCK_MONOTONIC) - t) * 1000)\n",
             iter);
    char *argv[] = {"/usr/bin/python3", "-c", code, NULL};
    sandbox_spec_t spec = {.argv = argv,
                           .env = env,
                           .workdir = workdir,
                           .wall_ms = 120000,
                           .cpu_ms = 120000,
                           .memory_mb = 256,
                           .max_processes = 64,
                           .output_bytes = 4096,
                           .cancel_fd = -1};
    sandbox_result_t r;
    if (sandbox_run(sb, &spec, &r) != 0) return -1;
    double ms = !r.signaled && r.exit_code == 0 ? atof(r.out) : -1;
    sandbox_result_free(&r);
    sandbox_settle(sb);
    return ms > 0 ? ms : -1;
}

/* The hog, on its own thread until cancelled. */
static void *hog_main(void *arg)
{
    hog_t *h = arg;
    char script[256];
    snprintf(script, sizeof script,
             "i=0; while [ $i -lt %d ]; do setsid sh -c 'while :; do :; done' & i=$((i+1)); "
             "done; wait",
             HOG_CHILDREN);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    sandbox_spec_t spec = {.argv = argv,
                           .env = env,
                           .workdir = h->workdir,
                           .wall_ms = 600000,
                           .memory_mb = 256,
                           .max_processes = 64,
                           .output_bytes = 4096,
                           .cancel_fd = h->cancel_fd};
    sandbox_result_t r;
    h->rc = sandbox_run(h->sb, &spec, &r);
    if (h->rc == 0) {
        if (r.err_len) fprintf(stderr, "neighbour_bench: hog: %s", r.err);
        sandbox_result_free(&r);
    }
    sandbox_settle(h->sb);
    return NULL;
}

/* The median of n neighbour runs into *out. 0, or -1 when one failed. */
static int measure(sandbox_t *sb, const char *workdir, long iter, int n, double *out)
{
    double *v = calloc((size_t)n, sizeof *v);
    if (!v) return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        if ((v[i] = neighbour_once(sb, workdir, iter)) < 0) rc = -1;
    if (rc == 0) *out = median(v, n);
    free(v);
    return rc;
}

static int bench(sandbox_t *sb, const char *w0, const char *w1, int n)
{
    double first = -1; /* the fastest of a few: the first runs are slow (cold caches) */
    for (int i = 0; i < CALIBRATION_RUNS; i++) {
        double ms = neighbour_once(sb, w0, CALIBRATION_ITER);
        if (ms <= 0) return -1;
        if (first < 0 || ms < first) first = ms;
    }
    long iter = (long)(CALIBRATION_ITER * NEIGHBOUR_MS / first);
    double alone, beside;
    if (measure(sb, w0, iter, n, &alone) != 0) return -1;
    hog_t hog = {.sb = sb, .workdir = w1, .cancel_fd = eventfd(0, EFD_CLOEXEC)};
    pthread_t thread;
    if (hog.cancel_fd < 0 || pthread_create(&thread, NULL, hog_main, &hog) != 0) return -1;
    usleep(HOG_SETTLE_US);
    int rc = measure(sb, w0, iter, n, &beside);
    uint64_t one = 1;
    if (write(hog.cancel_fd, &one, sizeof one) != (ssize_t)sizeof one) rc = -1;
    pthread_join(thread, NULL);
    close(hog.cancel_fd);
    if (rc != 0 || hog.rc != 0) return -1;
    printf("sandbox: %s\n", sandbox_mode(sb));
    printf("%-34s %5s %11s %11s %8s\n", "neighbour CPU loop (ms)", "runs", "alone p50",
           "beside p50", "slowdown");
    printf("%-34s %5d %11.1f %11.1f %7.2fx\n", "beside 60 setsid spinning processes", n, alone,
           beside, beside / alone);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : DEFAULT_RUNS;
    if (n < 1 || n > MAX_RUNS) n = DEFAULT_RUNS;
    char err[512] = "";
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.slots = 2;
    config.keeper = argc > 2 ? argv[2] : NULL;
    sandbox_t *sb = sandbox_new(&config, err, sizeof err);
    if (!sb) {
        fprintf(stderr, "neighbour_bench: %s\n", err);
        return 1;
    }
    char parent[64] = "/tmp/lcx-bench-neighbour-XXXXXX", w0[96], w1[96];
    int parent_fd = mkdtemp(parent) ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int rc = parent_fd >= 0 && make_workdir(sb, parent_fd, "w0") == 0 &&
                     make_workdir(sb, parent_fd, "w1") == 0
                 ? 0
                 : -1;
    if (rc != 0) fprintf(stderr, "neighbour_bench: work directories: %s\n", strerror(errno));
    snprintf(w0, sizeof w0, "%s/w0", parent);
    snprintf(w1, sizeof w1, "%s/w1", parent);
    if (rc == 0 && (rc = bench(sb, w0, w1, n)) != 0)
        fprintf(stderr, "neighbour_bench: a run failed\n");
    if (parent_fd >= 0) {
        remove_workdir(sb, parent_fd, "w0");
        remove_workdir(sb, parent_fd, "w1");
        close(parent_fd);
        rmdir(parent);
    }
    sandbox_destroy(&sb);
    return rc == 0 ? 0 : 1;
}
