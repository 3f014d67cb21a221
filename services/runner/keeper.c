/* keeper: the slot's process that starts runs in place (see keeper.h). */
#include "keeper.h"
#include "child.h"

#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEPER_REPLY_MS 5000 /* a keeper slower than this to answer is taken for dead */
#define KEEPER_OOM_SCORE "-1000"

/* The descriptors the keeper program receives, by number, as its arguments in this order. */
enum { ARG_SOCK, ARG_MNTNS, ARG_HOLD_READ, ARG_HOLD_WRITE, ARG_FILTER, ARG_COUNT };

/* What crosses the socket ahead of the strings (argv, then env, each NUL-terminated). */
typedef struct {
    uint32_t argc;
    uint32_t envc;
    uint32_t uid;
    uint32_t has_workdir;
    int64_t cpu_ms;
    int64_t file_bytes;
    char tmp_options[sizeof(((rootfs_enter_t *)0)->tmp_options)];
} request_t;

/* The descriptors of a request, in this order; the last one only with has_workdir. */
enum { FD_STDIN, FD_OUT, FD_ERR, FD_ERROR, FD_STATUS, FD_WORKDIR, FD_COUNT };

/* The answer to a request (pid and code), and the keeper's first message (pid 0 when it is
 * ready, else -1 with the code and the step that failed). */
typedef struct {
    int32_t pid;
    int32_t code;
    char stage[48];
} reply_t;

struct keeper_t {
    keeper_config_t config;
    pid_t pid;
    int pidfd;
    int sock; /* our end of the pair */
};

/* --------------------------------------------------------------------------------------------
 * Messages with descriptors
 */

static int send_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FD_COUNT)];
    } control;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

/* One message into buf and its descriptors (close-on-exec) into fds. The length, 0 at EOF, -1
 * with errno; a message or descriptor list cut short is EMSGSIZE (its descriptors closed). */
static ssize_t recv_fds(int sock, void *buf, size_t size, int *fds, int maxfds, int *nfds)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * FD_COUNT)];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof fd);
            if (*nfds < maxfds)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}

/* --------------------------------------------------------------------------------------------
 * The keeper process (system calls only)
 */

static char request_buf[KEEPER_MAX_REQUEST];
static char *strings[KEEPER_MAX_STRINGS + 2]; /* argv, NULL, env, NULL */

/* Checks a request and points spec at its parts. 0, or -1 when it is malformed. */
static int parse_request(size_t len, const int *fds, int nfds, jail_spec_t *spec)
{
    request_t r;
    if (len < sizeof r) return -1;
    memcpy(&r, request_buf, sizeof r);
    size_t count = (size_t)r.argc + r.envc;
    if (r.argc < 1 || count > KEEPER_MAX_STRINGS || r.has_workdir > 1) return -1;
    if (nfds != FD_WORKDIR + (int)r.has_workdir) return -1;
    if (r.tmp_options[sizeof r.tmp_options - 1] != '\0') return -1;
    char *p = request_buf + sizeof r, *end = request_buf + len;
    size_t slot = 0;
    for (size_t i = 0; i < count; i++) {
        char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul) return -1;
        if (i == r.argc) strings[slot++] = NULL;
        strings[slot++] = p;
        p = nul + 1;
    }
    if (p != end) return -1;
    if (r.envc == 0) strings[slot++] = NULL;
    strings[slot] = NULL;
    memset(spec, 0, sizeof *spec);
    spec->argv = strings;
    spec->env = strings + r.argc + 1;
    spec->stdin_fd = fds[FD_STDIN];
    spec->out_fd = fds[FD_OUT];
    spec->err_fd = fds[FD_ERR];
    spec->error_fd = fds[FD_ERROR];
    spec->status_fd = fds[FD_STATUS];
    spec->root.work_tree_fd = r.has_workdir ? fds[FD_WORKDIR] : -1;
    spec->cpu_ms = (long)r.cpu_ms;
    spec->file_bytes = (long)r.file_bytes;
    spec->uid = (uid_t)r.uid;
    memcpy(spec->root.tmp_options, r.tmp_options, sizeof r.tmp_options);
    return 0;
}

/* A spare init's end of the job's hand-over (jail_receive_fn): the request as the keeper got
 * it, with the work directory's detached tree in place of the directory. */
static int receive_job(void *arg, int ctl, jail_spec_t *spec)
{
    (void)arg;
    int fds[FD_COUNT], nfds;
    ssize_t n = recv_fds(ctl, request_buf, sizeof request_buf, fds, FD_COUNT, &nfds);
    return n > 0 ? parse_request((size_t)n, fds, nfds, spec) : -1;
}

/* The next run's init, started ahead while the current program runs (jail_spare_start): the
 * clone, its namespaces, root, /proc and /tmp are then off the way from job to program. */
typedef struct {
    pid_t pid; /* 0: none */
    int pidfd;
    int ctl;
    char tmp_options[sizeof(((rootfs_enter_t *)0)->tmp_options)]; /* its /tmp's */
} spare_t;

static void spare_drop(spare_t *s)
{
    if (s->pid > 0) syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
    if (s->pidfd >= 0) close(s->pidfd);
    if (s->ctl >= 0) close(s->ctl);
    *s = (spare_t){.pid = 0, .pidfd = -1, .ctl = -1};
}

static void spare_spawn(const keeper_config_t *c, int parent_fd, const char *tmp_options,
                        spare_t *s)
{
    jail_spec_t base = {.seccomp = c->seccomp,
                        .parent_fd = parent_fd,
                        .root = {.mntns_fd = c->mntns_fd, .work_tree_fd = -1}};
    memcpy(base.root.tmp_options, tmp_options, sizeof base.root.tmp_options);
    pid_t pid = jail_spare_start(&base, &s->pidfd, &s->ctl, receive_job, NULL);
    if (pid <= 0) return; /* the next run starts its own init */
    s->pid = pid;
    memcpy(s->tmp_options, tmp_options, sizeof s->tmp_options);
}

/* Hands the request in request_buf to the spare, which is used up either way. Its pid (with
 * its pidfd), or -1 when there is none, or it is gone, or its /tmp does not fit. */
static pid_t spare_use(spare_t *s, size_t len, const int *fds, int nfds, const jail_spec_t *spec,
                       int *pidfd)
{
    if (s->pid <= 0) return -1;
    pid_t pid = -1;
    if (strcmp(s->tmp_options, spec->root.tmp_options) == 0 &&
        send_fds(s->ctl, request_buf, len, fds, nfds) == 0) {
        pid = s->pid;
        *pidfd = s->pidfd;
        s->pid = 0;
        s->pidfd = -1;
    }
    spare_drop(s);
    return pid;
}

/* Replaces the work directory's descriptor by its detached tree, which init mounts. 0 or -1. */
static int swap_work_tree(int *fd)
{
    int tree = rootfs_work_tree(*fd);
    if (tree < 0) return -1;
    close(*fd);
    *fd = tree;
    return 0;
}

/* One request from the runner, answered: 0, or -1 when the socket ended. tmp_options becomes
 * the request's. */
static int answer(const keeper_config_t *c, int sock, int parent_fd, spare_t *spare,
                  char *tmp_options)
{
    int fds[FD_COUNT], nfds;
    ssize_t n = recv_fds(sock, request_buf, sizeof request_buf, fds, FD_COUNT, &nfds);
    if (n == 0 || (n < 0 && errno != EMSGSIZE)) return -1;
    reply_t reply = {.pid = -1};
    int pidfd = -1;
    jail_spec_t spec;
    if (n < 0) {
        reply.code = EMSGSIZE;
    } else if (parse_request((size_t)n, fds, nfds, &spec) != 0) {
        reply.code = EINVAL;
    } else if (nfds > FD_WORKDIR && swap_work_tree(&fds[FD_WORKDIR]) != 0) {
        reply.code = errno;
    } else {
        spec.root.work_tree_fd = nfds > FD_WORKDIR ? fds[FD_WORKDIR] : -1;
        reply.pid = spare_use(spare, (size_t)n, fds, nfds, &spec, &pidfd);
        if (reply.pid < 0) {
            spec.seccomp = c->seccomp;
            spec.root.mntns_fd = c->mntns_fd;
            spec.parent_fd = parent_fd;
            reply.pid = jail_start(&spec, &pidfd);
        }
        reply.code = reply.pid < 0 ? errno : 0;
        memcpy(tmp_options, spec.root.tmp_options, sizeof spec.root.tmp_options);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    int rc = send_fds(sock, &reply, sizeof reply, &pidfd, pidfd >= 0 ? 1 : 0);
    if (pidfd >= 0) close(pidfd);
    return rc;
}

/* Answers requests until the socket ends. parent_fd: the read end of the keeper's pipe. As
 * soon as a run has its init, the next one is started as a spare: it prepares while the
 * program runs, when the runner and the other services wait. */
static void serve(const keeper_config_t *c, int sock, int parent_fd)
{
    spare_t spare = {.pid = 0, .pidfd = -1, .ctl = -1};
    char tmp_options[sizeof spare.tmp_options] = ""; /* of the latest request */
    while (answer(c, sock, parent_fd, &spare, tmp_options) == 0)
        if (spare.pid == 0 && tmp_options[0]) spare_spawn(c, parent_fd, tmp_options, &spare);
    spare_drop(&spare);
}

/* Joins the slot's place: cgroups (v1; on v2 the clone did), network namespace, OOM score. */
static int settle(const keeper_config_t *c, int sock, int hold[2], const char **stage)
{
    int procs[CGROUP_CONTROLLERS];
    int nprocs = cgroup_dir_fd(c->cgroup) < 0 ? cgroup_procs_fds(c->cgroup, procs) : 0;
    int keep[3 + CGROUP_CONTROLLERS] = {sock, c->netns_fd, c->mntns_fd};
    int nkeep = 3;
    for (int i = 0; i < nprocs; i++)
        keep[nkeep++] = procs[i];
    child_keep_fds(keep, nkeep); /* other slots' sockets, the runner's sockets and files */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC); /* nor the runner's log pipes */
    CHILD_STEP("open /dev/null", null < 0 ? -1 : 0);
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
        CHILD_STEP("dup2 /dev/null", dup2(null, fd) < 0 ? -1 : 0);
    if (null > STDERR_FILENO) close(null);
    child_reset_signals();
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    CHILD_STEP("ignore SIGCHLD", sigaction(SIGCHLD, &ignore, NULL)); /* the kernel reaps */
    for (int i = 0; i < nprocs; i++)
        CHILD_STEP("join cgroup", child_write_all(procs[i], "0", 1));
    CHILD_STEP("setns network", setns(c->netns_fd, CLONE_NEWNET));
    /* Lowering needs CAP_SYS_RESOURCE, which containers may lack: then the program's raised
     * score still makes it the first choice. */
    (void)child_set_oom_score_adj(KEEPER_OOM_SCORE);
    for (int i = 0; i < nprocs; i++)
        close(procs[i]);
    close(c->netns_fd);
    CHILD_STEP("pipe", pipe2(hold, O_CLOEXEC));
    return 0;
}

/* n in decimal into buf (12 bytes): snprintf may take locks, which a clone of a threaded
 * runner must not. */
static void format_fd(int n, char *buf)
{
    char digits[12];
    int len = 0;
    do
        digits[len++] = (char)('0' + n % 10);
    while ((n /= 10) > 0 && len < 11);
    for (int i = 0; i < len; i++)
        buf[i] = digits[len - 1 - i];
    buf[len] = '\0';
}

static void set_cloexec(const int *fds, int n, bool on)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) fcntl(fds[i], F_SETFD, on ? FD_CLOEXEC : 0);
}

/* Replaces the runner's image in this process by the keeper program (see keeper.h); the
 * descriptors pass by number, the filter in a memory file. Returns only when that failed,
 * with errno, and the process is the in-image keeper still. */
static void exec_program(const keeper_config_t *c, int sock, const int hold[2])
{
    int fds[ARG_COUNT] = {sock, c->mntns_fd, hold[0], hold[1], -1};
    fds[ARG_FILTER] = seccomp_policy_to_memfd(c->seccomp);
    if (fds[ARG_FILTER] < 0) return;
    char numbers[ARG_COUNT][12];
    char *argv[ARG_COUNT + 2] = {(char *)c->program};
    for (int i = 0; i < ARG_COUNT; i++) {
        format_fd(fds[i], numbers[i]);
        argv[i + 1] = numbers[i];
    }
    char *env[] = {NULL};
    set_cloexec(fds, ARG_COUNT, false);
    execve(c->program, argv, env);
    int saved = errno;
    set_cloexec(fds, ARG_COUNT, true);
    close(fds[ARG_FILTER]);
    errno = saved;
}

/* The first message: pid 0 when the keeper serves (code: errno of a keeper program that
 * could not run, the keeper staying in the runner's image), else -1 with the failed step. */
static int send_ready(int sock, int pid, int code, const char *stage)
{
    reply_t ready = {.pid = pid, .code = code};
    for (size_t i = 0; stage && stage[i] && i + 1 < sizeof ready.stage; i++)
        ready.stage[i] = stage[i];
    return send_fds(sock, &ready, sizeof ready, NULL, 0);
}

__attribute__((noreturn)) static void keeper_main(const keeper_config_t *c, int sock)
{
    const char *stage = "";
    int hold[2];
    if (settle(c, sock, hold, &stage) != 0) {
        send_ready(sock, -1, errno ? errno : EINVAL, stage);
        _exit(1);
    }
    int code = 0;
    if (c->program) {
        exec_program(c, sock, hold);
        code = errno ? errno : ENOEXEC;
    }
    if (send_ready(sock, 0, code, "exec") != 0) _exit(1);
    serve(c, sock, hold[0]);
    _exit(0);
}

/* Parses the keeper program's arguments into fds (each an open descriptor). 0 or -1. */
static int parse_args(int argc, char **argv, int *fds)
{
    if (argc != ARG_COUNT + 1) return -1;
    for (int i = 0; i < ARG_COUNT; i++) {
        char *end;
        errno = 0;
        long n = strtol(argv[i + 1], &end, 10);
        if (errno || *end || end == argv[i + 1] || n < 0 || n > INT_MAX ||
            fcntl((int)n, F_GETFD) < 0)
            return -1;
        fds[i] = (int)n;
    }
    return 0;
}

int keeper_program_main(int argc, char **argv)
{
    int fds[ARG_COUNT];
    if (parse_args(argc, argv, fds) != 0) {
        fprintf(stderr, "lcx-keeper: a sandbox slot's keeper, started by lcx-runner only\n");
        return 2;
    }
    set_cloexec(fds, ARG_COUNT, true); /* the inits it clones close them anyway (jail.c) */
    char err[128];
    seccomp_policy_t *filter = seccomp_policy_from_fd(fds[ARG_FILTER], err, sizeof err);
    close(fds[ARG_FILTER]);
    if (!filter) {
        send_ready(fds[ARG_SOCK], -1, EINVAL, "keeper program: seccomp filter");
        return 1;
    }
    keeper_config_t c = {.mntns_fd = fds[ARG_MNTNS], .seccomp = filter};
    if (send_ready(fds[ARG_SOCK], 0, 0, NULL) == 0) serve(&c, fds[ARG_SOCK], fds[ARG_HOLD_READ]);
    seccomp_policy_destroy(&filter);
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * The runner's side
 */

/* Waits for one reply (and the descriptor it may carry, else *fd is -1); EPIPE when the
 * keeper is gone or silent. */
static int read_reply(keeper_t *self, reply_t *reply, int *fd)
{
    struct pollfd p = {.fd = self->sock, .events = POLLIN};
    int rc;
    do
        rc = poll(&p, 1, KEEPER_REPLY_MS);
    while (rc < 0 && errno == EINTR);
    reply_t got;
    int fds[FD_COUNT], nfds = 0;
    ssize_t n = rc > 0 ? recv_fds(self->sock, &got, sizeof got, fds, FD_COUNT, &nfds) : -1;
    *fd = n == (ssize_t)sizeof got && nfds > 0 ? fds[0] : -1;
    for (int i = *fd >= 0 ? 1 : 0; i < nfds; i++)
        close(fds[i]);
    if (n != (ssize_t)sizeof got) {
        errno = EPIPE;
        return -1;
    }
    got.stage[sizeof got.stage - 1] = '\0';
    *reply = got;
    return 0;
}

/* Ends the keeper process (killed: a keeper that was asked to stop has nothing to finish). */
static void stop(keeper_t *self)
{
    if (self->sock >= 0) close(self->sock);
    self->sock = -1;
    if (self->pid <= 0) return;
    syscall(SYS_pidfd_send_signal, self->pidfd, SIGKILL, NULL, 0);
    pid_t waited;
    do
        waited = waitpid(self->pid, NULL, 0);
    while (waited < 0 && errno == EINTR);
    close(self->pidfd);
    self->pid = 0;
    self->pidfd = -1;
}

/* Starts the keeper process and waits until it is settled. */
static int spawn(keeper_t *self, char *err, size_t errlen)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(err, errlen, "socketpair: %s", strerror(errno));
        return -1;
    }
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&self->pidfd;
    args.exit_signal = SIGCHLD;
    int dir_fd = cgroup_dir_fd(self->config.cgroup);
    if (dir_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)dir_fd;
    }
    /* A raw clone: glibc's fork() would take locks other runner threads may hold. */
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) keeper_main(&self->config, sv[1]);
    close(sv[1]);
    self->sock = sv[0];
    if (pid < 0) {
        snprintf(err, errlen, "clone3: %s", strerror(errno));
        return -1;
    }
    self->pid = pid;
    reply_t ready;
    int ignored;
    if (read_reply(self, &ready, &ignored) != 0) {
        snprintf(err, errlen, "sandbox keeper: no answer");
    } else if (ready.pid != 0) {
        snprintf(err, errlen, "sandbox keeper: %s: %s", ready.stage, strerror(ready.code));
    } else {
        if (ready.code != 0)
            lcx_log(LCX_WARN,
                    "sandbox keeper program cannot run; the keeper keeps the runner's image",
                    "program", self->config.program, "error", strerror(ready.code), NULL);
        return 0;
    }
    stop(self);
    return -1;
}

keeper_t *keeper_new(const keeper_config_t *config, char *err, size_t errlen)
{
    keeper_t *self = lcx_calloc(1, sizeof *self);
    self->config = *config;
    self->sock = self->pidfd = -1;
    if (spawn(self, err, errlen) != 0) keeper_destroy(&self);
    return self;
}

void keeper_destroy(keeper_t **self_p)
{
    if (!self_p || !*self_p) return;
    stop(*self_p);
    free(*self_p);
    *self_p = NULL;
}

pid_t keeper_pid(const keeper_t *self)
{
    return self->pid;
}

size_t keeper_string_room(void)
{
    return KEEPER_MAX_REQUEST - sizeof(request_t);
}

/* The request for spec into a new buffer; its length in *len. NULL with errno (E2BIG). */
static char *pack_request(const jail_spec_t *spec, size_t *len)
{
    request_t r;
    memset(&r, 0, sizeof r);
    r.uid = (uint32_t)spec->uid;
    r.has_workdir = spec->root.work_tree_fd >= 0;
    r.cpu_ms = spec->cpu_ms;
    r.file_bytes = spec->file_bytes;
    memcpy(r.tmp_options, spec->root.tmp_options, sizeof r.tmp_options);
    r.tmp_options[sizeof r.tmp_options - 1] = '\0';
    size_t size = sizeof r;
    for (char *const *a = spec->argv; *a; a++, r.argc++)
        size += strlen(*a) + 1;
    for (char *const *e = spec->env; *e; e++, r.envc++)
        size += strlen(*e) + 1;
    if (size > KEEPER_MAX_REQUEST || r.argc + r.envc > KEEPER_MAX_STRINGS) {
        errno = E2BIG;
        return NULL;
    }
    char *buf = lcx_malloc(size);
    memcpy(buf, &r, sizeof r);
    size_t at = sizeof r;
    for (int pass = 0; pass < 2; pass++)
        for (char *const *s = pass == 0 ? spec->argv : spec->env; *s; s++) {
            size_t n = strlen(*s) + 1;
            memcpy(buf + at, *s, n);
            at += n;
        }
    *len = size;
    return buf;
}

/* One request and its answer: init's pid, or -1 with errno (EPIPE: the keeper is gone). */
static pid_t ask(keeper_t *self, const char *req, size_t len, const int *fds, int nfds, int *pidfd)
{
    if (self->sock < 0 || send_fds(self->sock, req, len, fds, nfds) != 0) {
        errno = EPIPE;
        return -1;
    }
    reply_t reply;
    if (read_reply(self, &reply, pidfd) != 0) return -1;
    if (reply.pid > 0 && *pidfd >= 0) return reply.pid;
    if (*pidfd >= 0) close(*pidfd);
    *pidfd = -1;
    errno = reply.code ? reply.code : EPROTO;
    return -1;
}

pid_t keeper_start(keeper_t *self, const jail_spec_t *spec, int *pidfd)
{
    size_t len;
    char *req = pack_request(spec, &len);
    if (!req) return -1;
    int fds[FD_COUNT] = {spec->stdin_fd, spec->out_fd,    spec->err_fd,
                         spec->error_fd, spec->status_fd, spec->root.work_tree_fd};
    int nfds = spec->root.work_tree_fd >= 0 ? FD_COUNT : FD_WORKDIR;
    pid_t pid = ask(self, req, len, fds, nfds, pidfd);
    if (pid < 0 && errno == EPIPE) {
        /* Gone (killed by hand or by the OOM killer), or hung: one new keeper, one retry. An
         * init the old one may have started dies with it (keeper.h). */
        char err[256];
        lcx_log(LCX_WARN, "sandbox keeper is gone, starting a new one", NULL);
        stop(self);
        if (spawn(self, err, sizeof err) == 0)
            pid = ask(self, req, len, fds, nfds, pidfd);
        else
            lcx_log(LCX_ERROR, "cannot start a sandbox keeper", "error", err, NULL);
        if (pid < 0 && errno == 0) errno = EPIPE;
    }
    int saved = errno;
    free(req);
    errno = saved;
    return pid;
}
