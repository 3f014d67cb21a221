/*
 * sandbox: issue #2 isolation. The program runs in a forked child that is the leader of its own
 * session and process group, with rlimits, an explicit environment and its stdout and stderr on
 * pipes. The parent watches the pipes, a pidfd of the child and the cancel fd with poll() (where
 * the kernel has no pidfd_open it checks waitid(WNOWAIT) every few milliseconds instead), kills
 * the whole group on the wall deadline, on too much output, on too much memory (a watchdog that
 * samples the resident set of the child) or on cancel, and reaps the child with wait4 for its
 * resource usage.
 *
 * Threads: sandbox_run keeps all its state on the stack and every descriptor it opens is
 * O_CLOEXEC, so several threads may run programs at once without sharing pipes. Between fork and
 * execve the child only makes async-signal-safe calls.
 *
 * Not enforced yet (issue #3: cgroups and namespaces): max_processes, a hard memory ceiling and
 * processes that leave the group with setsid().
 */
#include "sandbox.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_CHUNK (64 * 1024) /* one read from a pipe */
#define SANDBOX_NOFILE 256        /* open files of the program */
#define SANDBOX_DRAIN_MS 200      /* after the exit, how long leftover writers may hold pipes */
#define SANDBOX_SAMPLE_MS 50      /* memory watchdog period */
#define SANDBOX_EXEC_FAILED 127   /* exit status of a child that could not exec */
#define SANDBOX_REAP_POLL_MS 10   /* without pidfds (valgrind, Linux < 5.3): waitid period */

struct sandbox_t {
    long page_size;
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

/* The descriptors the child receives. */
typedef struct {
    int stdin_fd;
    int out_fd;
    int err_fd;
    int status_fd; /* CLOEXEC pipe: the child writes errno here when it cannot exec */
} child_fds_t;

/* One run, from fork to reaping. */
typedef struct {
    const sandbox_t *sandbox;
    const sandbox_spec_t *spec;
    pid_t pid;
    int pidfd;
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

/* --------------------------------------------------------------------------------------------
 * Child side: async-signal-safe only.
 */

/* Reports errno to the parent and ends the child. */
__attribute__((noreturn)) static void child_fail(int status_fd)
{
    int code = errno;
    ssize_t written = write(status_fd, &code, sizeof code);
    (void)written;
    _exit(SANDBOX_EXEC_FAILED);
}

/* Every signal back to its default action and none blocked: the runner's dispositions (an
 * ignored SIGPIPE, handlers, a blocked mask) must not leak into the program. */
static void child_reset_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &action, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, reserved */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Places `from` at `to` without close-on-exec. */
static int child_move_fd(int from, int to)
{
    if (from == to) return fcntl(from, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

/* Sets one limit, never above the hard limit we already have (raising it needs privilege). */
static int child_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit now;
    if (getrlimit(resource, &now) != 0) return -1;
    if (now.rlim_max != RLIM_INFINITY && hard > now.rlim_max) hard = now.rlim_max;
    struct rlimit limit = {.rlim_cur = soft < hard ? soft : hard, .rlim_max = hard};
    return setrlimit(resource, &limit);
}

static int child_limits(const sandbox_spec_t *spec)
{
    if (spec->cpu_ms > 0) {
        rlim_t seconds = (rlim_t)((spec->cpu_ms + 999) / 1000);
        if (child_limit(RLIMIT_CPU, seconds, seconds + 1) != 0) return -1;
    }
    if (spec->file_bytes > 0) {
        rlim_t bytes = (rlim_t)spec->file_bytes;
        if (child_limit(RLIMIT_FSIZE, bytes, bytes) != 0) return -1;
    }
    if (child_limit(RLIMIT_CORE, 0, 0) != 0) return -1;
    if (child_limit(RLIMIT_NOFILE, SANDBOX_NOFILE, SANDBOX_NOFILE) == 0) return 0;
    /* Some hosts (valgrind) only let the soft limit move. */
    return child_limit(RLIMIT_NOFILE, SANDBOX_NOFILE, RLIM_INFINITY);
}

__attribute__((noreturn)) static void child_main(const sandbox_spec_t *spec, char *const *env,
                                                 const child_fds_t *fds)
{
    child_reset_signals();
    if (setsid() < 0) child_fail(fds->status_fd);
    /* A runner killed outright takes its program along (its descendants: issue #3). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(fds->status_fd);
    if (child_move_fd(fds->stdin_fd, STDIN_FILENO) != 0 ||
        child_move_fd(fds->out_fd, STDOUT_FILENO) != 0 ||
        child_move_fd(fds->err_fd, STDERR_FILENO) != 0)
        child_fail(fds->status_fd);
    /* Everything else closes at exec; the status pipe stays open until then. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(fds->status_fd);
    if (spec->workdir && chdir(spec->workdir) != 0) child_fail(fds->status_fd);
    if (child_limits(spec) != 0) child_fail(fds->status_fd);
    execve(spec->argv[0], spec->argv, env);
    child_fail(fds->status_fd);
}

/* --------------------------------------------------------------------------------------------
 * Descriptors
 */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

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

static int open_stdin(const char *path)
{
    int fd = open(path ? path : "/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    return above_stdio(fd);
}

/* --------------------------------------------------------------------------------------------
 * Streams
 */

static int stream_init(stream_t *s, int stream)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->stream = stream;
    s->size = 1;
    s->data = calloc(1, s->size);
    return s->data ? 0 : -1;
}

/* Grows the buffer to hold `need` bytes plus the NUL. */
static int stream_reserve(stream_t *s, size_t need)
{
    if (need + 1 <= s->size) return 0;
    size_t size = s->size < 4096 ? 4096 : s->size;
    while (size < need + 1)
        size *= 2;
    char *data = realloc(s->data, size);
    if (!data) return -1;
    s->data = data;
    s->size = size;
    return 0;
}

/* Kills the whole process group (and the child itself, should it not lead a group yet). */
static void signal_group(pid_t pid)
{
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
}

static void run_kill(run_t *run)
{
    if (run->killed) return;
    signal_group(run->pid);
    run->killed = true;
}

/* Keeps what fits under the cap; past it, the program is killed and the stream closed. */
static void stream_keep(run_t *run, stream_t *s, const char *data, size_t len)
{
    size_t cap = run->spec->output_bytes > 0 ? (size_t)run->spec->output_bytes : 0;
    size_t room = cap > s->len ? cap - s->len : 0;
    size_t take = len < room ? len : room;
    bool fits = take == len;
    if (take > 0 && stream_reserve(s, s->len + take) != 0) {
        lcx_log(LCX_ERROR, "sandbox out of memory", "stream",
                s->stream == SANDBOX_STDOUT ? "stdout" : "stderr", NULL);
        take = 0;
        fits = false;
    }
    memcpy(s->data + s->len, data, take);
    s->len += take;
    s->data[s->len] = '\0';
    if (fits) return;
    s->truncated = true;
    run->output_limit = true;
    run_kill(run);
    close_fd(&s->fd);
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
    if (run->spec->on_output)
        run->spec->on_output(run->spec->output_arg, s->stream, chunk, (size_t)n);
    stream_keep(run, s, chunk, (size_t)n);
}

/* --------------------------------------------------------------------------------------------
 * Watching the run
 */

/* Resident set of the child in KiB, from /proc/<pid>/statm; -1 when unknown. */
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

static void check_memory(run_t *run, int64_t now)
{
    if (run->spec->memory_mb <= 0 || now < run->next_sample_ms) return;
    run->next_sample_ms = now + SANDBOX_SAMPLE_MS;
    long rss = child_rss_kb(run);
    if (rss > run->spec->memory_mb * 1024) {
        run->memory_limit = true;
        run_kill(run);
    }
}

/* How long poll may sleep: until the deadline or the next memory sample; -1 once killed. */
static int poll_timeout(const run_t *run, int64_t now)
{
    if (run->pidfd < 0) return SANDBOX_REAP_POLL_MS;
    if (run->killed) return -1;
    int64_t until = run->deadline_ms;
    if (run->spec->memory_mb > 0 && run->next_sample_ms < until) until = run->next_sample_ms;
    int64_t wait = until - now;
    return wait < 0 ? 0 : wait > INT32_MAX ? INT32_MAX : (int)wait;
}

/* Fills pfd with the open streams, then (when present) the pidfd and the cancel fd. */
static nfds_t poll_set(const run_t *run, struct pollfd *pfd, bool with_child)
{
    nfds_t n = 0;
    for (int i = 0; i < 2; i++)
        pfd[n++] = (struct pollfd){.fd = run->streams[i].fd, .events = POLLIN};
    if (!with_child) return n;
    pfd[n++] = (struct pollfd){.fd = run->pidfd, .events = POLLIN};
    int cancel_fd = run->killed ? -1 : run->spec->cancel_fd;
    pfd[n++] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
    return n;
}

/* True once the child has exited; it stays a zombie (WNOWAIT) until finish() reaps it. */
static bool child_exited(const run_t *run, const struct pollfd *pidfd_poll)
{
    if (run->pidfd >= 0) return pidfd_poll->revents & POLLIN;
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
    if (child_exited(run, &pfd[2])) {
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
 * (and escaped the group kill) only a short grace. */
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

/* Reaps the child and moves everything into the result. */
static void finish(run_t *run, sandbox_result_t *r)
{
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    pid_t waited;
    do
        waited = wait4(run->pid, &status, 0, &usage);
    while (waited < 0 && errno == EINTR);
    if (waited < 0) {
        lcx_log(LCX_ERROR, "sandbox wait4 failed", "error", strerror(errno), NULL);
        status = SANDBOX_EXEC_FAILED << 8;
    }
    fill_status(r, status);
    const sandbox_spec_t *spec = run->spec;
    r->wall_ms = (long)(run->exit_ms - run->start_ms);
    r->cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
    r->memory_kb = usage.ru_maxrss;
    r->timed_out = run->timed_out || (r->signaled && r->signal == SIGXCPU) ||
                   (spec->cpu_ms > 0 && r->cpu_ms > spec->cpu_ms);
    r->memory_limit =
        run->memory_limit || (spec->memory_mb > 0 && r->memory_kb > spec->memory_mb * 1024);
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
 * Starting a run
 */

static void close_child_fds(child_fds_t *fds)
{
    close_fd(&fds->stdin_fd);
    close_fd(&fds->out_fd);
    close_fd(&fds->err_fd);
    close_fd(&fds->status_fd);
}

/* Opens stdin and the three pipes; the parent ends go to the run, the child ends to fds. */
static int open_fds(run_t *run, child_fds_t *fds, int *status_read)
{
    int out[2], err[2], status[2];
    fds->stdin_fd = open_stdin(run->spec->stdin_path);
    if (fds->stdin_fd < 0) return -1;
    if (make_pipe(out, true) != 0) return -1;
    run->streams[0].fd = out[0];
    fds->out_fd = out[1];
    if (make_pipe(err, true) != 0) return -1;
    run->streams[1].fd = err[0];
    fds->err_fd = err[1];
    if (make_pipe(status, false) != 0) return -1;
    *status_read = status[0];
    fds->status_fd = status[1];
    return 0;
}

/* Blocks until the child has exec'd (EOF) or reported why it could not (its errno). */
static int read_exec_status(int status_fd)
{
    int code;
    ssize_t n;
    do
        n = read(status_fd, &code, sizeof code);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof code ? code : 0;
}

/* Forks the child; after it, the parent holds only its own ends. 0, or -1 with errno. */
static int start(run_t *run, char *const *env)
{
    child_fds_t fds = {-1, -1, -1, -1};
    int status_read = -1;
    if (open_fds(run, &fds, &status_read) != 0) {
        int saved = errno;
        close_child_fds(&fds);
        errno = saved;
        return -1;
    }
    run->start_ms = lcx_mono_ms();
    run->pid = fork();
    if (run->pid == 0) child_main(run->spec, env, &fds);
    int saved = errno;
    close_child_fds(&fds);
    if (run->pid < 0) {
        close(status_read);
        errno = saved;
        return -1;
    }
    int code = read_exec_status(status_read);
    close(status_read);
    if (code != 0) {
        waitpid(run->pid, NULL, 0);
        errno = code;
        return -1;
    }
    return 0;
}

/* A pidfd for the child; a kernel without pidfd_open leaves -1 (see child_exited). */
static int open_pidfd(run_t *run)
{
    run->pidfd = (int)syscall(SYS_pidfd_open, run->pid, 0);
    if (run->pidfd >= 0 || errno == ENOSYS) return 0;
    int saved = errno;
    signal_group(run->pid);
    waitpid(run->pid, NULL, 0);
    errno = saved;
    return -1;
}

static void run_cleanup(run_t *run)
{
    close_fd(&run->pidfd);
    for (int i = 0; i < 2; i++) {
        close_fd(&run->streams[i].fd);
        free(run->streams[i].data);
        run->streams[i].data = NULL;
    }
}

static int run_init(run_t *run, const sandbox_t *self, const sandbox_spec_t *spec)
{
    memset(run, 0, sizeof *run);
    run->sandbox = self;
    run->spec = spec;
    run->pidfd = -1;
    if (stream_init(&run->streams[0], SANDBOX_STDOUT) != 0 ||
        stream_init(&run->streams[1], SANDBOX_STDERR) != 0) {
        run_cleanup(run);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int sandbox_run(sandbox_t *self, const sandbox_spec_t *spec, sandbox_result_t *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!self || !spec || !result || !spec->argv || !spec->argv[0]) {
        errno = EINVAL;
        return -1;
    }
    static char *const empty_env[] = {NULL};
    run_t run;
    if (run_init(&run, self, spec) != 0) return -1;
    if (start(&run, spec->env ? spec->env : empty_env) != 0 || open_pidfd(&run) != 0) {
        int saved = errno;
        run_cleanup(&run);
        errno = saved;
        return -1;
    }
    run.deadline_ms = run.start_ms + (spec->wall_ms > 0 ? spec->wall_ms : INT32_MAX);
    run.next_sample_ms = lcx_mono_ms() + SANDBOX_SAMPLE_MS;
    while (!run.exited)
        watch_once(&run);
    if (run.exit_ms == 0) run.exit_ms = lcx_mono_ms();
    signal_group(run.pid); /* whatever the program left running in its group */
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
 * Lifecycle
 */

/* Forks a child that exits at once. */
static int probe(char *err, size_t errlen)
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

sandbox_t *sandbox_new(char *err, size_t errlen)
{
    char ignored[1];
    if (!err || errlen == 0) {
        err = ignored;
        errlen = sizeof ignored;
    }
    if (probe(err, errlen) != 0) return NULL;
    sandbox_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->page_size = sysconf(_SC_PAGESIZE);
    if (self->page_size < 1024) self->page_size = 4096;
    return self;
}

void sandbox_destroy(sandbox_t **self_p)
{
    if (!self_p || !*self_p) return;
    free(*self_p);
    *self_p = NULL;
}

const char *sandbox_mode(const sandbox_t *self)
{
    (void)self;
    return "process-group (no isolation yet)";
}
