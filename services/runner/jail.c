/* jail: init and the program of an isolated run (see jail.h). System calls only below. */
#include "jail.h"
#include "child.h"

#include "privs.h"
#include "rlimits.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAIL_HOSTNAME "lcx"

static int write_all(int fd, const void *data, size_t len)
{
    ssize_t n;
    do
        n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

/* /proc/self/oom_score_adj; `value` is its text. */
static int set_oom_score_adj(const char *value)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write_all(fd, value, strlen(value));
    close(fd);
    return rc;
}

/* --------------------------------------------------------------------------------------------
 * The program (PID 2)
 */

__attribute__((noreturn)) static void program_main(const jail_spec_t *s)
{
    const char *stage = "privileges";
    if (setsid() < 0) child_fail(s->error_fd, "setsid");
    /* init shares the runner's pages until it writes them, so the OOM killer would rate it as
     * large as the runner: the program (and all it starts) goes first. Raising needs no
     * privilege, lowering init's would need CAP_SYS_RESOURCE, which containers often lack. */
    if (set_oom_score_adj("1000") != 0) child_fail(s->error_fd, "oom_score_adj");
    if (child_move_fd(s->stdin_fd, STDIN_FILENO) != 0 ||
        child_move_fd(s->out_fd, STDOUT_FILENO) != 0 ||
        child_move_fd(s->err_fd, STDERR_FILENO) != 0)
        child_fail(s->error_fd, "dup2");
    /* Everything else closes at exec; error_fd stays open until then. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(s->error_fd, "close_range");
    if (rlimits_apply(s->cpu_ms, s->file_bytes) != 0) child_fail(s->error_fd, "rlimits");
    if (privs_drop(s->uid, &stage) != 0) child_fail(s->error_fd, stage);
    if (seccomp_policy_apply(s->seccomp) != 0) child_fail(s->error_fd, "seccomp");
    execve(s->argv[0], s->argv, s->env);
    child_fail(s->error_fd, "execve");
}

/* --------------------------------------------------------------------------------------------
 * init (PID 1)
 */

/* True when the supervisor is gone already (it died before PR_SET_PDEATHSIG took effect). */
static bool supervisor_gone(int alive_fd)
{
    struct pollfd p = {.fd = alive_fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

static void join_cgroups(const jail_spec_t *s)
{
    for (int i = 0; i < s->cgroup_nfds; i++)
        if (write_all(s->cgroup_fds[i], "0", 1) != 0) child_fail(s->error_fd, "join cgroup");
}

/* Closes every descriptor but the run's own: init never execs, and a copy of another run's
 * pipe (cloned from a runner thread at the same moment) would keep that pipe open. */
static void keep_only_own_fds(const jail_spec_t *s)
{
    int keep[16 + CGROUP_CONTROLLERS];
    int n = 0;
    int own[] = {s->stdin_fd, s->out_fd,   s->err_fd,        s->error_fd,       s->status_fd,
                 s->alive_fd, s->netns_fd, s->root.mntns_fd, s->root.workdir_fd};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        keep[n++] = own[i];
    for (int i = 0; i < s->cgroup_nfds; i++)
        keep[n++] = s->cgroup_fds[i];
    for (int i = 1; i < n; i++) /* insertion sort: a dozen numbers */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned next = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < (int)next) continue;
        if ((unsigned)keep[i] > next) close_range(next, (unsigned)keep[i] - 1, 0);
        next = (unsigned)keep[i] + 1;
    }
    close_range(next, ~0U, 0);
}

/* Namespaces, cgroup and root: everything the program inherits. */
static void init_setup(const jail_spec_t *s)
{
    const char *stage = "root";
    keep_only_own_fds(s);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(s->error_fd, "pdeathsig");
    if (supervisor_gone(s->alive_fd)) _exit(CHILD_EXEC_FAILED);
    child_reset_signals();
    join_cgroups(s);
    if (s->netns_fd >= 0 && setns(s->netns_fd, CLONE_NEWNET) != 0)
        child_fail(s->error_fd, "setns network");
    if (unshare(CLONE_NEWCGROUP) != 0) child_fail(s->error_fd, "unshare cgroup namespace");
    if (rootfs_enter(&s->root, &stage) != 0) child_fail(s->error_fd, stage);
    if (sethostname(JAIL_HOSTNAME, strlen(JAIL_HOSTNAME)) != 0)
        child_fail(s->error_fd, "sethostname");
    close(s->alive_fd); /* the namespaces are entered: none of these is needed any more */
    close(s->netns_fd);
    close(s->root.mntns_fd);
    if (s->root.workdir_fd >= 0) close(s->root.workdir_fd);
    for (int i = 0; i < s->cgroup_nfds; i++)
        close(s->cgroup_fds[i]);
}

/* Reaps until the program itself is reaped; its status goes to the supervisor. */
__attribute__((noreturn)) static void init_wait(const jail_spec_t *s, pid_t program)
{
    for (;;) {
        int status;
        pid_t pid = (pid_t)syscall(SYS_wait4, -1, &status, __WALL, NULL);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) _exit(CHILD_EXEC_FAILED);
        if (pid != program) continue;
        _exit(write_all(s->status_fd, &status, sizeof status) == 0 ? 0 : CHILD_EXEC_FAILED);
    }
}

__attribute__((noreturn)) static void init_main(const jail_spec_t *s)
{
    init_setup(s);
    /* A raw fork: glibc's fork() would take locks other runner threads may have held. */
    pid_t program = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (program == 0) program_main(s);
    if (program < 0) child_fail(s->error_fd, "fork program");
    close(s->error_fd); /* EOF for the supervisor once the program has exec'd */
    close(s->stdin_fd);
    close(s->out_fd); /* the pipes end when the run's processes are gone */
    close(s->err_fd);
    if (privs_clear_caps() != 0) _exit(CHILD_EXEC_FAILED);
    init_wait(s, program);
}

pid_t jail_start(const jail_spec_t *spec, int *pidfd)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    if (spec->cgroup_dir_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)spec->cgroup_dir_fd;
    }
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) init_main(spec);
    return pid;
}
