/*
 * sandbox: starting a run (jail.h in the isolated mode, plain.h in the unsafe one), watching it
 * and collecting what it did.
 *
 * The parent watches the output pipes, the end of the run and the cancel fd with poll(), kills
 * the whole run on the wall deadline, on too much output or on cancel. In the isolated mode the
 * end of the run is init's report on a pipe (the program's wait status), killing the run is
 * SIGKILL to init (the kernel then kills its PID namespace), and the figures come from the
 * slot's cgroup. In the unsafe mode the end is a pidfd of the child (where the kernel has no
 * pidfd_open, waitid(WNOWAIT) every few milliseconds), killing is SIGKILL to the process group,
 * the figures come from wait4 and a watchdog samples the resident set against the limit.
 *
 * Threads: sandbox_run keeps its state on the stack, every descriptor it opens is O_CLOEXEC,
 * and slots are taken under a mutex, so several threads may run programs at once.
 */
#include "sandbox.h"
#include "child.h"

#include "alloc.h"
#include "cgroup.h"
#include "jail.h"
#include "keeper.h"
#include "log.h"
#include "nsfd.h"
#include "plain.h"
#include "rootfs.h"
#include "seccomp_policy.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_CHUNK (64 * 1024)   /* one read from a pipe */
#define SANDBOX_DRAIN_MS 200        /* after the exit, how long leftover writers may hold pipes */
#define SANDBOX_SAMPLE_MS 50        /* unsafe mode: memory watchdog period */
#define SANDBOX_REAP_POLL_MS 10     /* without pidfds (valgrind, Linux < 5.3): waitid period */
#define SANDBOX_EMPTY_WAIT_MS 2000  /* teardown: how long a slot's cgroup may take to empty */
#define SANDBOX_WORKDIR_INODES 8192 /* files a work directory may hold */
#define SANDBOX_PIPE_MAX (4 << 20)  /* the most an output pipe may hold, whatever the cap */
#define SANDBOX_UNSAFE_MODE "UNSAFE: no isolation, process group only (--unsafe-no-sandbox)"
#define SANDBOX_HINT                                                                               \
    " (pass --unsafe-no-sandbox to run programs without isolation, for development only)"

typedef struct {
    int index;
    uid_t uid;
    cgroup_t *cgroup;
    int netns_fd;
    keeper_t *keeper;  /* starts the slot's runs inside its cgroup and network namespace */
    int closing_pidfd; /* init of the last run, killed but maybe not yet gone (settle) */
    bool busy;
} slot_t;

struct sandbox_t {
    sandbox_config_t config;
    bool isolated;
    long page_size;
    char mode[256];
    cgroup_host_t cgroups;
    rootfs_t *rootfs;
    seccomp_policy_t *seccomp;
    slot_t *slots;
    long nslots;
    pthread_mutex_t lock;
    pthread_cond_t freed;
};

/* One output pipe and what we keep of it. */
typedef struct {
    int fd;     /* read end, -1 once closed */
    int stream; /* SANDBOX_STDOUT or SANDBOX_STDERR */
    char *data; /* kept bytes, NUL-terminated */
    size_t len;
    size_t size; /* allocated */
    bool truncated;
} stream_t;

/* The descriptors the child receives (child ends) and the parent keeps (parent ends). */
typedef struct {
    int stdin_fd;
    int out_fd;
    int err_fd;
    int error_fd;  /* child: failures before exec */
    int status_fd; /* child (init): the program's wait status */
    int workdir_fd;
} child_fds_t;

/* One run, from the start to reaping. */
typedef struct {
    sandbox_t *sandbox;
    const sandbox_spec_t *spec;
    slot_t *slot; /* isolated mode */
    pid_t pid;    /* init (isolated: the keeper's child) or the program (unsafe: ours) */
    int pidfd;
    int status_fd;  /* isolated: read end of init's report */
    int status;     /* the program's wait status, when have_status */
    long maxrss_kb; /* the peak resident set init saw, when have_status */
    bool have_status;
    long killed_rss_kb; /* isolated: the run's processes' peak just before run_kill, -1: none */
    stream_t streams[2];
    int64_t start_ms;
    int64_t deadline_ms;
    int64_t exit_ms;
    int64_t next_sample_ms;
    bool exited;
    bool killed;
    bool timed_out;
    bool output_limit;
    bool memory_limit;
    bool cancelled;
} run_t;

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* --------------------------------------------------------------------------------------------
 * Descriptors
 */

/* Moves a descriptor above stdin/stdout/stderr so the child's dup2 calls cannot clobber it. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > STDERR_FILENO) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    int saved = errno;
    close(fd);
    errno = saved;
    return moved;
}

/* A close-on-exec pipe; with `nonblocking`, the read end does not block. */
static int make_pipe(int fds[2], bool nonblocking)
{
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) goto fail;
    if (nonblocking && fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) goto fail;
    return 0;
fail:;
    int saved = errno;
    close_fd(&fds[0]);
    close_fd(&fds[1]);
    errno = saved;
    return -1;
}

/* stdin: a regular file, opened without following a link and without blocking on a FIFO (in
 * the isolated mode a compile step's program could have replaced the file in the work
 * directory before the run step). */
static int open_stdin(const char *path)
{
    int fd =
        open(path ? path : "/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat st;
    int error = 0;
    if (fstat(fd, &st) != 0)
        error = errno;
    else if (path && !S_ISREG(st.st_mode))
        error = EINVAL;
    else if (fcntl(fd, F_SETFL, 0) != 0)
        error = errno;
    if (error) {
        close(fd);
        errno = error;
        return -1;
    }
    return above_stdio(fd);
}

/* --------------------------------------------------------------------------------------------
 * Streams
 */

static void stream_init(stream_t *s, int stream)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->stream = stream;
    s->size = 1;
    s->data = lcx_calloc(1, s->size);
}

/* Grows the buffer to hold `need` bytes plus the NUL. */
static void stream_reserve(stream_t *s, size_t need)
{
    if (need + 1 <= s->size) return;
    size_t size = s->size < 4096 ? 4096 : s->size;
    while (size < need + 1)
        size *= 2;
    s->data = lcx_realloc(s->data, size);
    s->size = size;
}

/* Kills the whole run: init (isolated: its PID namespace dies with it), or the process group
 * and the child itself, should it not lead a group yet. */
static void kill_run(const run_t *run)
{
    if (run->slot) {
        syscall(SYS_pidfd_send_signal, run->pidfd, SIGKILL, NULL, 0);
        return;
    }
    kill(-run->pid, SIGKILL);
    kill(run->pid, SIGKILL);
}

/* Stops the run before its program ended (a limit, a cancel). Init then reports nothing, so
 * the peak of the run's processes is taken first. */
static void run_kill(run_t *run)
{
    if (run->killed) return;
    if (run->slot)
        run->killed_rss_kb = cgroup_peak_rss_kb(run->slot->cgroup, keeper_pid(run->slot->keeper));
    kill_run(run);
    run->killed = true;
}

/* Keeps what fits under the cap; past it, the program is killed and the stream closed.
 * Returns the bytes kept. */
static size_t stream_keep(run_t *run, stream_t *s, const char *data, size_t len)
{
    size_t cap = run->spec->output_bytes > 0 ? (size_t)run->spec->output_bytes : 0;
    size_t room = cap > s->len ? cap - s->len : 0;
    size_t take = len < room ? len : room;
    if (take > 0) stream_reserve(s, s->len + take);
    memcpy(s->data + s->len, data, take);
    s->len += take;
    s->data[s->len] = '\0';
    if (take == len) return take;
    s->truncated = true;
    run->output_limit = true;
    run_kill(run);
    close_fd(&s->fd);
    return take;
}

/* One read from a readable pipe. */
static void stream_read(run_t *run, stream_t *s)
{
    char chunk[SANDBOX_CHUNK];
    ssize_t n = read(s->fd, chunk, sizeof chunk);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close_fd(&s->fd);
        return;
    }
    /* Live output is what the result keeps: nothing past the cap goes out either. */
    size_t kept = stream_keep(run, s, chunk, (size_t)n);
    if (kept && run->spec->on_output)
        run->spec->on_output(run->spec->output_arg, s->stream, chunk, kept);
}

/* --------------------------------------------------------------------------------------------
 * Watching the run
 */

/* Unsafe mode: resident set of the child in KiB, from /proc/<pid>/statm; -1 when unknown. */
static long child_rss_kb(const run_t *run)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)run->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[128];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    long size_pages, resident_pages;
    if (sscanf(text, "%ld %ld", &size_pages, &resident_pages) != 2) return -1;
    return resident_pages * (run->sandbox->page_size / 1024);
}

/* Unsafe mode only: the isolated one has the memory cgroup. */
static bool samples_memory(const run_t *run)
{
    return !run->slot && run->spec->memory_mb > 0;
}

static void check_memory(run_t *run, int64_t now)
{
    if (!samples_memory(run) || now < run->next_sample_ms) return;
    run->next_sample_ms = now + SANDBOX_SAMPLE_MS;
    long rss = child_rss_kb(run);
    if (rss > run->spec->memory_mb * 1024) {
        run->memory_limit = true;
        run_kill(run);
    }
}

/* The descriptor that becomes readable when the run ends. */
static int done_fd(const run_t *run)
{
    return run->slot ? run->status_fd : run->pidfd;
}

/* How long poll may sleep: until the deadline or the next memory sample; -1 once killed. */
static int poll_timeout(const run_t *run, int64_t now)
{
    if (done_fd(run) < 0) return SANDBOX_REAP_POLL_MS;
    if (run->killed) return -1;
    int64_t until = run->deadline_ms;
    if (samples_memory(run) && run->next_sample_ms < until) until = run->next_sample_ms;
    int64_t wait = until - now;
    return wait < 0 ? 0 : wait > INT32_MAX ? INT32_MAX : (int)wait;
}

/* Fills pfd with the open streams, then (when present) the end-of-run fd and the cancel fd. */
static nfds_t poll_set(const run_t *run, struct pollfd *pfd, bool with_child)
{
    nfds_t n = 0;
    for (int i = 0; i < 2; i++)
        pfd[n++] = (struct pollfd){.fd = run->streams[i].fd, .events = POLLIN};
    if (!with_child) return n;
    pfd[n++] = (struct pollfd){.fd = done_fd(run), .events = POLLIN};
    int cancel_fd = run->killed ? -1 : run->spec->cancel_fd;
    pfd[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    return n;
}

/* Isolated mode: init's report is readable: the program's status, or EOF when init died
 * without one (killed). */
static void read_status(run_t *run)
{
    jail_report_t report;
    ssize_t n;
    do
        n = read(run->status_fd, &report, sizeof report);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof report) {
        run->status = report.status;
        run->maxrss_kb = report.maxrss_kb;
        run->have_status = true;
    }
}

/* True once the child has exited; it stays a zombie until finish() reaps it. */
static bool child_exited(run_t *run, const struct pollfd *done)
{
    if (run->slot) {
        if (!(done->revents & (POLLIN | POLLHUP | POLLERR))) return false;
        read_status(run);
        return true;
    }
    if (run->pidfd >= 0) return done->revents & POLLIN;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    return waitid(P_PID, (id_t)run->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == run->pid;
}

static void read_ready_streams(run_t *run, const struct pollfd *pfd)
{
    for (int i = 0; i < 2; i++)
        if (run->streams[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            stream_read(run, &run->streams[i]);
}

/* One round of poll while the child lives. */
static void watch_once(run_t *run)
{
    struct pollfd pfd[4];
    nfds_t n = poll_set(run, pfd, true);
    int rc = poll(pfd, n, poll_timeout(run, lcx_mono_ms()));
    if (rc < 0 && errno != EINTR) {
        lcx_log(LCX_ERROR, "sandbox poll failed", "error", strerror(errno), NULL);
        run_kill(run);
        run->exited = true; /* wait4 below blocks until the killed child is gone */
    }
    if (rc <= 0) pfd[0].revents = pfd[1].revents = pfd[2].revents = pfd[3].revents = 0;
    read_ready_streams(run, pfd);
    if (pfd[3].fd >= 0 && pfd[3].revents) {
        run->cancelled = true;
        run_kill(run);
    }
    int64_t now = lcx_mono_ms();
    if (!run->exited && child_exited(run, &pfd[2])) {
        run->exited = true;
        run->exit_ms = now;
    }
    if (!run->exited && !run->killed && now >= run->deadline_ms) {
        run->timed_out = true;
        run_kill(run);
    }
    if (!run->exited && !run->killed) check_memory(run, now);
}

/* After the exit: read what is left in the pipes, but give writers that outlived the child
 * (and escaped the kill) only a short grace. */
static void drain(run_t *run)
{
    int64_t until = lcx_mono_ms() + SANDBOX_DRAIN_MS;
    while (run->streams[0].fd >= 0 || run->streams[1].fd >= 0) {
        int64_t left = until - lcx_mono_ms();
        if (left <= 0) break;
        struct pollfd pfd[2];
        nfds_t n = poll_set(run, pfd, false);
        int rc = poll(pfd, n, (int)left);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0) read_ready_streams(run, pfd);
    }
    close_fd(&run->streams[0].fd);
    close_fd(&run->streams[1].fd);
}

/* --------------------------------------------------------------------------------------------
 * The end of a run
 */

static long timeval_ms(struct timeval tv)
{
    return (long)tv.tv_sec * 1000 + (long)tv.tv_usec / 1000;
}

static void fill_status(sandbox_result_t *r, int status)
{
    r->signaled = WIFSIGNALED(status);
    if (r->signaled)
        r->signal = WTERMSIG(status);
    else
        r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Unsafe mode: reaps the program. */
static int reap(const run_t *run, struct rusage *usage)
{
    int status = 0;
    memset(usage, 0, sizeof *usage);
    pid_t waited;
    do
        waited = wait4(run->pid, &status, 0, usage);
    while (waited < 0 && errno == EINTR);
    if (waited < 0) {
        lcx_log(LCX_ERROR, "sandbox wait4 failed", "error", strerror(errno), NULL);
        status = CHILD_EXEC_FAILED << 8;
    }
    return status;
}

/* Isolated mode: init, killed already, is left for the slot's settle (slot_settle). */
static void leave_init_to_settle(run_t *run)
{
    run->slot->closing_pidfd = run->pidfd;
    run->pidfd = -1;
}

/* Isolated mode: the figures of every process of the run, from the slot's cgroup. The
 * program has exited and its output is drained, so its CPU time is in; processes it left
 * behind die with init (killed already), which the slot's settle waits for. */
static void slot_figures(run_t *run, sandbox_result_t *r)
{
    cgroup_stats_t stats;
    if (cgroup_end(run->slot->cgroup, &stats) == 0) {
        r->cpu_ms = stats.cpu_ms;
        r->memory_kb = stats.memory_kb;
        r->memory_limit = stats.oom_killed;
    }
    /* The cgroup's peak counts the page cache of every file the run read (on v1 and v2; on v1
     * also what earlier runs of the slot left charged to it), so a small program under a
     * small limit reads as the limit; a resident set counts the shared pages of its binaries
     * that another cgroup was charged for, so it can pass the limit. Each bounds what the
     * run's own processes used: the smaller one is reported. The resident set is init's
     * report of the processes it reaped, or, for a run stopped before its program ended, the
     * peak of its processes taken just before the kill; without either, none is known. */
    long rss = run->have_status ? run->maxrss_kb : run->killed_rss_kb;
    if (rss <= 0)
        r->memory_kb = 0; /* not measured */
    else if (r->memory_kb <= 0 || rss < r->memory_kb)
        r->memory_kb = rss;
    leave_init_to_settle(run);
}

/* Moves everything into the result. */
static void finish(run_t *run, sandbox_result_t *r)
{
    const sandbox_spec_t *spec = run->spec;
    r->wall_ms = (long)(run->exit_ms - run->start_ms);
    if (run->slot) {
        /* init killed before it reported the program's status: as if killed itself */
        fill_status(r, run->have_status ? run->status : SIGKILL);
        slot_figures(run, r);
    } else {
        struct rusage usage;
        int status = reap(run, &usage);
        fill_status(r, status);
        r->cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
        r->memory_kb = usage.ru_maxrss;
        r->memory_limit = spec->memory_mb > 0 && r->memory_kb > spec->memory_mb * 1024;
    }
    r->memory_limit = r->memory_limit || run->memory_limit;
    r->cpu_limit =
        (r->signaled && r->signal == SIGXCPU) || (spec->cpu_ms > 0 && r->cpu_ms > spec->cpu_ms);
    r->timed_out = run->timed_out || r->cpu_limit;
    r->output_limit = run->output_limit;
    r->cancelled = run->cancelled;
    stream_t *out = &run->streams[0], *err = &run->streams[1];
    r->out = out->data;
    r->out_len = out->len;
    r->out_truncated = out->truncated;
    r->err = err->data;
    r->err_len = err->len;
    r->err_truncated = err->truncated;
    out->data = err->data = NULL;
}

/* --------------------------------------------------------------------------------------------
 * Slots
 */

/* The slot this thread used last: a job's compile and run steps then share a uid. */
static _Thread_local long preferred_slot = -1;

/*
 * The end of a slot's last run that sandbox_run leaves for later, so that its result comes
 * out about 0.3 ms sooner: waits until its init is gone (the kernel has emptied its PID
 * namespace then; init is the keeper's child, so the kernel reaps it and its pidfd tells),
 * and checks that nothing of the run is left in the slot's cgroup. The slot must be ours.
 */
static void slot_settle(slot_t *slot)
{
    if (slot->closing_pidfd < 0) return;
    struct pollfd p = {.fd = slot->closing_pidfd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    close_fd(&slot->closing_pidfd);
    if (cgroup_kill_all(slot->cgroup, keeper_pid(slot->keeper), SANDBOX_EMPTY_WAIT_MS) != 0)
        lcx_log(LCX_ERROR, "sandbox slot cgroup does not empty", "error", strerror(errno), NULL);
}

static slot_t *slot_acquire(sandbox_t *self)
{
    pthread_mutex_lock(&self->lock);
    slot_t *slot = NULL;
    while (!slot) {
        long p = preferred_slot;
        if (p >= 0 && p < self->nslots && !self->slots[p].busy) slot = &self->slots[p];
        for (long i = 0; !slot && i < self->nslots; i++)
            if (!self->slots[i].busy) slot = &self->slots[i];
        if (!slot) pthread_cond_wait(&self->freed, &self->lock);
    }
    slot->busy = true;
    pthread_mutex_unlock(&self->lock);
    preferred_slot = slot->index;
    slot_settle(slot);
    return slot;
}

static void slot_release(sandbox_t *self, slot_t *slot)
{
    pthread_mutex_lock(&self->lock);
    slot->busy = false;
    pthread_cond_signal(&self->freed);
    pthread_mutex_unlock(&self->lock);
}

/* --------------------------------------------------------------------------------------------
 * Starting a run
 */

static void close_child_fds(child_fds_t *fds)
{
    close_fd(&fds->stdin_fd);
    close_fd(&fds->out_fd);
    close_fd(&fds->err_fd);
    close_fd(&fds->error_fd);
    close_fd(&fds->status_fd);
    close_fd(&fds->workdir_fd);
}

/* Lets an output pipe hold more than the cap, so a flood overruns the cap inside the pipe
 * whatever the reader's pace. Writers that never block (node's stdout) keep what a full pipe
 * refuses in their own memory, so a slow reader would turn an output flood into a memory limit.
 * Without CAP_SYS_RESOURCE the kernel allows at most fs.pipe-max-size (1 MiB by default, the
 * cap itself): halving down to it, the flood then only needs the reader's first byte. */
static void widen_output_pipe(const run_t *run, int fd)
{
    long have = fcntl(fd, F_GETPIPE_SZ), size = have; /* a power of two, as the kernel keeps */
    while (have > 0 && size <= run->spec->output_bytes && size < SANDBOX_PIPE_MAX)
        size *= 2;
    while (size > have && fcntl(fd, F_SETPIPE_SZ, (int)size) < 0)
        size /= 2;
}

/* Opens stdin and the pipes; the parent ends go to the run, the child ends to fds. */
static int open_fds(run_t *run, child_fds_t *fds, int *error_read)
{
    int out[2], err[2], error[2], status[2];
    fds->stdin_fd = open_stdin(run->spec->stdin_path);
    if (fds->stdin_fd < 0) return -1;
    if (make_pipe(out, true) != 0) return -1;
    run->streams[0].fd = out[0];
    fds->out_fd = out[1];
    widen_output_pipe(run, out[0]);
    if (make_pipe(err, true) != 0) return -1;
    run->streams[1].fd = err[0];
    fds->err_fd = err[1];
    widen_output_pipe(run, err[0]);
    if (make_pipe(error, false) != 0) return -1;
    *error_read = error[0];
    fds->error_fd = error[1];
    if (!run->slot) return 0;
    if (make_pipe(status, false) != 0) return -1;
    run->status_fd = status[0];
    fds->status_fd = status[1];
    return 0;
}

/* Blocks until the child has exec'd (EOF) or reported why it could not: 0, or its errno. */
static int read_exec_error(int error_fd, const char *program)
{
    jail_error_t e;
    ssize_t n;
    do
        n = read(error_fd, &e, sizeof e);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof e) return 0;
    e.stage[sizeof e.stage - 1] = '\0';
    if (strcmp(e.stage, "execve") != 0)
        lcx_log(LCX_ERROR, "sandbox setup failed", "stage", e.stage, "error", strerror(e.code),
                "program", program, NULL);
    return e.code ? e.code : EINVAL;
}

/* The work directory, made the slot user's (only the directory itself: never a file in it). */
static int open_workdir(const run_t *run)
{
    if (strcmp(run->spec->workdir, "/") == 0) { /* never the host's root */
        errno = EINVAL;
        return -1;
    }
    int fd = open(run->spec->workdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    uid_t uid = run->slot->uid;
    if (fchown(fd, uid, uid) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* argv[0] as the program sees it: a path inside the work directory moves to /work. */
static int inner_program(const run_t *run, char *out, size_t size)
{
    const char *prog = run->spec->argv[0];
    const char *dir = run->spec->workdir;
    size_t len = dir ? strlen(dir) : 0;
    const char *rest = dir && strncmp(prog, dir, len) == 0 && prog[len] == '/' ? prog + len : NULL;
    int n =
        rest ? snprintf(out, size, "%s%s", ROOTFS_WORKDIR, rest) : snprintf(out, size, "%s", prog);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int clone_jail(run_t *run, child_fds_t *fds, char *const *argv)
{
    const sandbox_spec_t *spec = run->spec;
    const slot_t *slot = run->slot;
    static char *const empty_env[] = {NULL};
    jail_spec_t js = {
        .argv = argv,
        .env = spec->env ? spec->env : empty_env,
        .stdin_fd = fds->stdin_fd,
        .out_fd = fds->out_fd,
        .err_fd = fds->err_fd,
        .cpu_ms = spec->cpu_ms,
        .file_bytes = spec->file_bytes,
        .uid = slot->uid,
        .error_fd = fds->error_fd,
        .status_fd = fds->status_fd,
    };
    rootfs_enter_prepare(run->sandbox->rootfs, fds->workdir_fd, run->sandbox->config.tmp_mb,
                         &js.root);
    run->pid = keeper_start(slot->keeper, &js, &run->pidfd);
    return run->pid < 0 ? -1 : 0;
}

static int clone_plain(run_t *run, child_fds_t *fds)
{
    static char *const empty_env[] = {NULL};
    plain_spec_t ps = {
        .argv = run->spec->argv,
        .env = run->spec->env ? run->spec->env : empty_env,
        .workdir = run->spec->workdir,
        .stdin_fd = fds->stdin_fd,
        .out_fd = fds->out_fd,
        .err_fd = fds->err_fd,
        .error_fd = fds->error_fd,
        .cpu_ms = run->spec->cpu_ms,
        .file_bytes = run->spec->file_bytes,
    };
    run->pid = plain_start(&ps);
    if (run->pid < 0) return -1;
    run->pidfd = (int)syscall(SYS_pidfd_open, run->pid, 0);
    return 0; /* without a pidfd (ENOSYS), child_exited polls with waitid */
}

/* Isolated mode: the child's argv, limits of the slot, work directory. */
static int prepare_jail(run_t *run, child_fds_t *fds, char **argv, char *prog, size_t size)
{
    const sandbox_spec_t *spec = run->spec;
    if (inner_program(run, prog, size) != 0) return -1;
    argv[0] = prog;
    /* The keeper and its spare init (keeper.h) sit in the slot's cgroup too. */
    long processes = spec->max_processes > 0 ? spec->max_processes + 2 : 0;
    if (cgroup_limit(run->slot->cgroup, spec->memory_mb, processes) != 0 ||
        cgroup_begin(run->slot->cgroup) != 0) {
        lcx_log(LCX_ERROR, "sandbox cannot set the slot's cgroup", "error", strerror(errno), NULL);
        return -1;
    }
    if (spec->workdir && (fds->workdir_fd = open_workdir(run)) < 0) return -1;
    return 0;
}

/* Starts the child; after it, the parent holds only its own ends. 0, or -1 with errno. */
static int start(run_t *run, char **argv, char *prog, size_t size)
{
    child_fds_t fds = {-1, -1, -1, -1, -1, -1};
    int error_read = -1;
    int rc = open_fds(run, &fds, &error_read);
    if (rc == 0 && run->slot) rc = prepare_jail(run, &fds, argv, prog, size);
    run->start_ms = lcx_mono_ms();
    if (rc == 0) rc = run->slot ? clone_jail(run, &fds, argv) : clone_plain(run, &fds);
    int saved = errno;
    close_child_fds(&fds);
    if (rc == 0) saved = read_exec_error(error_read, run->spec->argv[0]);
    if (error_read >= 0) close(error_read);
    if (rc == 0 && saved != 0) {
        kill_run(run);
        if (run->slot) {
            leave_init_to_settle(run);
        } else {
            struct rusage usage;
            reap(run, &usage);
        }
        rc = -1;
    }
    errno = saved;
    return rc;
}

static void run_cleanup(run_t *run)
{
    close_fd(&run->pidfd);
    close_fd(&run->status_fd);
    for (int i = 0; i < 2; i++) {
        close_fd(&run->streams[i].fd);
        free(run->streams[i].data);
        run->streams[i].data = NULL;
    }
    if (run->slot) slot_release(run->sandbox, run->slot);
    run->slot = NULL;
}

static void run_init(run_t *run, sandbox_t *self, const sandbox_spec_t *spec)
{
    memset(run, 0, sizeof *run);
    run->sandbox = self;
    run->spec = spec;
    run->pidfd = run->status_fd = -1;
    run->killed_rss_kb = -1;
    stream_init(&run->streams[0], SANDBOX_STDOUT);
    stream_init(&run->streams[1], SANDBOX_STDERR);
    if (self->isolated) run->slot = slot_acquire(self);
}

/* argv copied so that argv[0] can change. */
static char **copy_argv(char *const *argv)
{
    size_t n = 0;
    while (argv[n])
        n++;
    char **copy = lcx_calloc(n + 1, sizeof *copy);
    memcpy(copy, argv, n * sizeof *copy);
    return copy;
}

int sandbox_run(sandbox_t *self, const sandbox_spec_t *spec, sandbox_result_t *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!self || !spec || !result || !spec->argv || !spec->argv[0]) {
        errno = EINVAL;
        return -1;
    }
    char **argv = copy_argv(spec->argv);
    char prog[PATH_MAX];
    run_t run;
    run_init(&run, self, spec);
    if (start(&run, argv, prog, sizeof prog) != 0) {
        int saved = errno;
        run_cleanup(&run);
        free(argv);
        errno = saved;
        return -1;
    }
    free(argv);
    run.deadline_ms = run.start_ms + (spec->wall_ms > 0 ? spec->wall_ms : INT32_MAX);
    run.next_sample_ms = lcx_mono_ms() + SANDBOX_SAMPLE_MS;
    while (!run.exited)
        watch_once(&run);
    if (run.exit_ms == 0) run.exit_ms = lcx_mono_ms();
    kill_run(&run); /* whatever the program left running */
    drain(&run);
    finish(&run, result);
    run_cleanup(&run);
    return 0;
}

void sandbox_result_free(sandbox_result_t *result)
{
    if (!result) return;
    free(result->out);
    free(result->err);
    memset(result, 0, sizeof *result);
}

/* --------------------------------------------------------------------------------------------
 * Work directories
 */

int sandbox_workdir_mount(sandbox_t *self, int parent_fd, const char *name)
{
    if (!self->isolated) return 0;
    int fd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    char path[64], options[96];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    long mb = self->config.scratch_mb > 0 ? self->config.scratch_mb : 64;
    snprintf(options, sizeof options, "size=%ldm,nr_inodes=%d,mode=0700", mb,
             SANDBOX_WORKDIR_INODES);
    int rc = mount("lcx-work", path, "tmpfs", MS_NOSUID | MS_NODEV, options);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int sandbox_workdir_unmount(sandbox_t *self, int parent_fd, const char *name)
{
    if (!self->isolated) return 0;
    /* Through a descriptor: the path is the runner's, but nothing is looked up twice. */
    int fd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = umount2(path, MNT_DETACH);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 || errno == EINVAL ? 0 : -1; /* EINVAL: not mounted */
}

/* --------------------------------------------------------------------------------------------
 * Lifecycle
 */

void sandbox_config_defaults(sandbox_config_t *config)
{
    *config = (sandbox_config_t){.unsafe_no_sandbox = false,
                                 .slots = 1,
                                 .uid_base = 61000,
                                 .scratch_mb = 64,
                                 .tmp_mb = 64,
                                 .cpus = 1};
}

/* Forks a child that exits at once: the unsafe mode's only check. */
static int probe_fork(char *err, size_t errlen)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    int status;
    pid_t waited;
    do
        waited = waitpid(pid, &status, 0);
    while (waited < 0 && errno == EINTR);
    if (waited != pid) {
        snprintf(err, errlen, "waitpid: %s (is SIGCHLD ignored?)", strerror(errno));
        return -1;
    }
    return 0;
}

static long count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The runner's own mount namespace: work directory mounts stay out of the host's. */
static int private_mounts(char *err, size_t errlen)
{
    if (count_threads() != 1) {
        snprintf(err, errlen, "sandbox_new must run before other threads start");
        return -1;
    }
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(err, errlen, "no mount namespace: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int make_slots(sandbox_t *self, char *err, size_t errlen)
{
    self->nslots = self->config.slots > 0 ? self->config.slots : 1;
    self->slots = lcx_calloc((size_t)self->nslots, sizeof *self->slots);
    for (long i = 0; i < self->nslots; i++)
        self->slots[i].netns_fd = self->slots[i].closing_pidfd = -1;
    bool cpu_share = self->cgroups.has[CGROUP_CPU]; /* else isolated_init has warned */
    for (long i = 0; i < self->nslots; i++) {
        slot_t *slot = &self->slots[i];
        char name[32];
        snprintf(name, sizeof name, "slot%ld", i);
        slot->index = (int)i;
        slot->uid = (uid_t)(self->config.uid_base + i);
        slot->cgroup = cgroup_create(&self->cgroups, name, err, errlen);
        if (!slot->cgroup) return -1;
        if (cpu_share && cgroup_share_cpu(slot->cgroup, self->config.cpus) != 0) {
            lcx_log(LCX_WARN, "sandbox cannot give the slots a CPU share; they go on without",
                    "cgroup", name, "error", strerror(errno), NULL);
            cpu_share = false; /* one warning: the next slots would fail alike */
        }
        slot->netns_fd = nsfd_create(CLONE_NEWNET, NULL, NULL, err, errlen);
        if (slot->netns_fd < 0) return -1;
        keeper_config_t kc = {.cgroup = slot->cgroup,
                              .netns_fd = slot->netns_fd,
                              .mntns_fd = rootfs_namespace_fd(self->rootfs),
                              .seccomp = self->seccomp,
                              .program = self->config.keeper};
        slot->keeper = keeper_new(&kc, err, errlen);
        if (!slot->keeper) return -1;
    }
    return 0;
}

/* A first run: /bin/true (or any true) must start and end cleanly in the sandbox. */
static int self_test(sandbox_t *self, char *err, size_t errlen)
{
    char *argv[] = {"/usr/bin/true", NULL};
    if (access(argv[0], X_OK) != 0) argv[0] = "/bin/true";
    sandbox_spec_t spec = {.argv = argv, .wall_ms = 10000, .output_bytes = 4096, .cancel_fd = -1};
    sandbox_result_t r;
    if (sandbox_run(self, &spec, &r) != 0) {
        snprintf(err, errlen, "a test run of %s failed: %s", argv[0], strerror(errno));
        return -1;
    }
    bool ok = !r.signaled && r.exit_code == 0;
    if (!ok)
        snprintf(err, errlen, "a test run of %s exited with %d/%d", argv[0], r.exit_code, r.signal);
    sandbox_result_free(&r);
    return ok ? 0 : -1;
}

static int isolated_init(sandbox_t *self, char *err, size_t errlen)
{
    if (geteuid() != 0) {
        snprintf(err, errlen, "not root");
        return -1;
    }
    if (private_mounts(err, errlen) != 0) return -1;
    if (cgroup_detect(&self->cgroups, err, errlen) != 0) return -1;
    if (!self->cgroups.has[CGROUP_CPU])
        lcx_log(LCX_WARN,
                "no cpu cgroup controller: slots get no CPU share of their own, so a run of many "
                "processes can slow the runs beside it",
                "cgroups", self->cgroups.description, NULL);
    cgroup_remove_stale(&self->cgroups);
    rootfs_config_t rc = {.uid_base = self->config.uid_base, .users = self->config.slots};
    self->rootfs = rootfs_new(&rc, err, errlen);
    if (!self->rootfs) return -1;
    self->seccomp = seccomp_policy_new(err, errlen);
    if (!self->seccomp || make_slots(self, err, errlen) != 0) return -1;
    snprintf(self->mode, sizeof self->mode, "namespaces+pivot_root+seccomp, %s, uid %ld-%ld",
             self->cgroups.description, self->config.uid_base,
             self->config.uid_base + self->nslots - 1);
    return self_test(self, err, errlen);
}

static bool valid_config(const sandbox_config_t *c, char *err, size_t errlen)
{
    if (c->unsafe_no_sandbox) return true;
    if (c->slots < 1 || c->slots > 4096 || c->uid_base < 1000 || c->cpus < 0 ||
        c->uid_base + c->slots > 0x7fffffff) {
        snprintf(err, errlen, "bad sandbox configuration (slots %ld, uid base %ld, cpus %ld)",
                 c->slots, c->uid_base, c->cpus);
        return false;
    }
    return true;
}

sandbox_t *sandbox_new(const sandbox_config_t *config, char *err, size_t errlen)
{
    char ignored[1];
    if (!err || errlen == 0) {
        err = ignored;
        errlen = sizeof ignored;
    }
    err[0] = '\0';
    sandbox_config_t defaults;
    sandbox_config_defaults(&defaults);
    if (!config) config = &defaults;
    if (!valid_config(config, err, errlen)) return NULL;
    sandbox_t *self = lcx_calloc(1, sizeof *self);
    self->config = *config;
    self->page_size = sysconf(_SC_PAGESIZE);
    if (self->page_size < 1024) self->page_size = 4096;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->freed, NULL);
    self->isolated = !config->unsafe_no_sandbox;
    int rc;
    if (self->isolated) {
        rc = isolated_init(self, err, errlen);
        size_t len = rc != 0 ? strnlen(err, errlen) : errlen;
        if (len + 1 < errlen) snprintf(err + len, errlen - len, "%s", SANDBOX_HINT);
    } else {
        snprintf(self->mode, sizeof self->mode, "%s", SANDBOX_UNSAFE_MODE);
        rc = probe_fork(err, errlen);
    }
    if (rc != 0) sandbox_destroy(&self);
    return self;
}

void sandbox_settle(sandbox_t *self)
{
    if (!self || !self->isolated) return;
    long p = preferred_slot;
    if (p < 0 || p >= self->nslots) return;
    slot_t *slot = &self->slots[p];
    pthread_mutex_lock(&self->lock);
    bool ours = !slot->busy;
    slot->busy = true;
    pthread_mutex_unlock(&self->lock);
    if (!ours) return; /* another thread's run: it settles first */
    slot_settle(slot);
    slot_release(self, slot);
}

void sandbox_destroy(sandbox_t **self_p)
{
    if (!self_p || !*self_p) return;
    sandbox_t *self = *self_p;
    for (long i = 0; self->slots && i < self->nslots; i++) {
        close_fd(&self->slots[i].closing_pidfd);
        keeper_destroy(&self->slots[i].keeper);
        cgroup_destroy(&self->slots[i].cgroup);
        if (self->slots[i].netns_fd >= 0) close(self->slots[i].netns_fd);
    }
    free(self->slots);
    rootfs_destroy(&self->rootfs);
    seccomp_policy_destroy(&self->seccomp);
    pthread_cond_destroy(&self->freed);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

const char *sandbox_mode(const sandbox_t *self)
{
    return self ? self->mode : "none";
}
