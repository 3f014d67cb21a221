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
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define JAIL_HOSTNAME "lcx"

/* --------------------------------------------------------------------------------------------
 * The program (PID 2)
 */

__attribute__((noreturn)) static void program_main(const jail_spec_t *s)
{
    const char *stage = "privileges";
    if (setsid() < 0) child_fail(s->error_fd, "setsid");
    /* The program (and all it starts) is the OOM killer's first choice, before init and the
     * keeper, whose score it inherited. Raising needs no privilege. */
    if (child_set_oom_score_adj("1000") != 0) child_fail(s->error_fd, "oom_score_adj");
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

/* True when the parent is gone already (it died before PR_SET_PDEATHSIG took effect). */
static bool parent_gone(int parent_fd)
{
    struct pollfd p = {.fd = parent_fd, .events = POLLIN};
    return poll(&p, 1, 0) != 0;
}

/* Closes every descriptor but the run's own: init never execs, and must hold neither the
 * keeper's socket nor the write end of the keeper's pipe. */
static void keep_only_own_fds(const jail_spec_t *s)
{
    int keep[] = {s->stdin_fd,  s->out_fd,    s->err_fd,        s->error_fd,
                  s->status_fd, s->parent_fd, s->root.mntns_fd, s->root.work_tree_fd};
    child_keep_fds(keep, (int)(sizeof keep / sizeof keep[0]));
}

/* Namespaces and root: all that the program inherits but its work directory, and nothing
 * that depends on the job (a spare init does it before its job is known). */
static int init_prepare(const jail_spec_t *s, const char **stage)
{
    CHILD_STEP("pdeathsig", prctl(PR_SET_PDEATHSIG, SIGKILL));
    if (parent_gone(s->parent_fd)) _exit(CHILD_EXEC_FAILED);
    child_reset_signals(); /* the keeper ignores SIGCHLD; init must not */
    CHILD_STEP("unshare cgroup namespace", unshare(CLONE_NEWCGROUP));
    if (rootfs_enter_root(&s->root, stage) != 0) return -1;
    CHILD_STEP("sethostname", sethostname(JAIL_HOSTNAME, strlen(JAIL_HOSTNAME)));
    /* The limits on what any exec may gain, inherited by the program: one system call per
     * capability, taken here rather than between the job and its exec. */
    return privs_limit(stage);
}

/* Reaps until the program itself is reaped; its status goes to the supervisor. */
__attribute__((noreturn)) static void init_wait(const jail_spec_t *s, pid_t program)
{
    jail_report_t report = {0, 0};
    for (;;) {
        int status;
        struct rusage usage;
        pid_t pid = (pid_t)syscall(SYS_wait4, -1, &status, __WALL, &usage);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) _exit(CHILD_EXEC_FAILED);
        if (usage.ru_maxrss > report.maxrss_kb) report.maxrss_kb = usage.ru_maxrss;
        if (pid != program) continue;
        report.status = status;
        _exit(child_write_all(s->status_fd, &report, sizeof report) == 0 ? 0 : CHILD_EXEC_FAILED);
    }
}

/* The job's part, once prepared: the work directory, then the program. */
__attribute__((noreturn)) static void init_run(const jail_spec_t *s)
{
    const char *stage = "root";
    if (rootfs_enter_work(&s->root, &stage) != 0) child_fail(s->error_fd, stage);
    close(s->parent_fd); /* the namespaces are entered: none of these is needed any more */
    close(s->root.mntns_fd);
    if (s->root.work_tree_fd >= 0) close(s->root.work_tree_fd);
    /* vfork: no copy of init's memory (a copy of the keeper's, itself of the runner's) for a
     * child that execs at once, and none of fork()'s locks. The child makes system calls only,
     * writes nothing of init's memory, and ends in execve or _exit. */
    pid_t program = vfork();
    if (program == 0) program_main(s);
    if (program < 0) child_fail(s->error_fd, "fork program");
    close(s->error_fd); /* EOF for the supervisor once the program has exec'd */
    close(s->stdin_fd);
    close(s->out_fd); /* the pipes end when the run's processes are gone */
    close(s->err_fd);
    if (privs_clear_caps() != 0) _exit(CHILD_EXEC_FAILED);
    init_wait(s, program);
}

__attribute__((noreturn)) static void init_main(const jail_spec_t *s)
{
    const char *stage = "root";
    keep_only_own_fds(s);
    if (init_prepare(s, &stage) != 0) child_fail(s->error_fd, stage);
    init_run(s);
}

/* A spare init: prepared at once, then its job from `ctl`. A failed preparation is reported
 * on the job's error_fd, as a direct start reports it. */
__attribute__((noreturn)) static void spare_main(const jail_spec_t *base, int ctl,
                                                 jail_receive_fn *receive, void *arg)
{
    int keep[] = {ctl, base->parent_fd, base->root.mntns_fd};
    child_keep_fds(keep, (int)(sizeof keep / sizeof keep[0]));
    const char *stage = "root";
    int prepared = init_prepare(base, &stage), saved = errno;
    jail_spec_t spec;
    if (receive(arg, ctl, &spec) != 0) _exit(CHILD_EXEC_FAILED);
    close(ctl);
    spec.seccomp = base->seccomp;
    spec.parent_fd = base->parent_fd;
    spec.root.mntns_fd = base->root.mntns_fd;
    if (prepared != 0) {
        errno = saved;
        child_fail(spec.error_fd, stage);
    }
    init_run(&spec);
}

static pid_t clone_init(int *pidfd)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

pid_t jail_spare_start(const jail_spec_t *base, int *pidfd, int *ctl, jail_receive_fn *receive,
                       void *arg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    pid_t pid = clone_init(pidfd);
    if (pid == 0) {
        close(sv[0]);
        spare_main(base, sv[1], receive, arg);
    }
    int saved = errno;
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        errno = saved;
        return -1;
    }
    *ctl = sv[0];
    return pid;
}

pid_t jail_start(const jail_spec_t *spec, int *pidfd)
{
    pid_t pid = clone_init(pidfd);
    if (pid == 0) init_main(spec);
    return pid;
}
