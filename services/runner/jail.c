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
                  s->status_fd, s->parent_fd, s->root.mntns_fd, s->root.workdir_fd};
    child_keep_fds(keep, (int)(sizeof keep / sizeof keep[0]));
}

/* Namespaces and root: everything the program inherits. */
static void init_setup(const jail_spec_t *s)
{
    const char *stage = "root";
    keep_only_own_fds(s);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(s->error_fd, "pdeathsig");
    if (parent_gone(s->parent_fd)) _exit(CHILD_EXEC_FAILED);
    child_reset_signals(); /* the keeper ignores SIGCHLD; init must not */
    if (unshare(CLONE_NEWCGROUP) != 0) child_fail(s->error_fd, "unshare cgroup namespace");
    if (rootfs_enter(&s->root, &stage) != 0) child_fail(s->error_fd, stage);
    if (sethostname(JAIL_HOSTNAME, strlen(JAIL_HOSTNAME)) != 0)
        child_fail(s->error_fd, "sethostname");
    close(s->parent_fd); /* the namespaces are entered: none of these is needed any more */
    close(s->root.mntns_fd);
    if (s->root.workdir_fd >= 0) close(s->root.workdir_fd);
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
        _exit(child_write_all(s->status_fd, &status, sizeof status) == 0 ? 0 : CHILD_EXEC_FAILED);
    }
}

__attribute__((noreturn)) static void init_main(const jail_spec_t *s)
{
    init_setup(s);
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

pid_t jail_start(const jail_spec_t *spec, int *pidfd)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) init_main(spec);
    return pid;
}
