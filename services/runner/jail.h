/*
 * jail: the processes of one isolated run.
 *
 *   keeper      the slot's long-lived process (keeper.h), already in the slot's cgroups and
 *   |           network namespace
 *   `- init     PID 1 of a new PID namespace; new IPC, UTS and cgroup namespaces, the prepared
 *      |        root (rootfs_enter_root), the limits of what an exec may gain (privs_limit);
 *      |        dies with the keeper (PR_SET_PDEATHSIG)
 *      `- program  PID 2 (vfork): setsid, stdin/stdout/stderr, rlimits, every privilege dropped
 *                  (privs_drop), the seccomp filter, execve
 *
 * init reaps whatever dies in the namespace and, when the program itself has exited, writes
 * a jail_report_t (its wait status and the peak resident set of the processes reaped) to
 * status_fd and exits; the kernel then kills every process left in the PID
 * namespace (daemons, forks) before init is gone. So killing init kills the run, and an init
 * that is gone (its pidfd readable) means nothing of the run is left.
 *
 * init's first steps (namespaces, the root, /proc, /tmp, the host name, the limits) do not depend
 * on the job, so a keeper may start a spare init ahead (jail_spare_start): it takes those steps at
 * once and waits for its job, which then starts with the work directory and the program.
 *
 * Everything between the clone and the exec makes system calls only.
 */
#ifndef LCX_JAIL_H
#define LCX_JAIL_H

#include "rootfs.h"
#include "seccomp_policy.h"

#include <sys/types.h>

typedef struct {
    char *const *argv; /* argv[0]: a path inside the new root */
    char *const *env;
    int stdin_fd, out_fd, err_fd; /* become the program's 0, 1 and 2 */
    long cpu_ms;                  /* rlimits, see rlimits.h */
    long file_bytes;
    uid_t uid; /* and gid */
    const seccomp_policy_t *seccomp;
    rootfs_enter_t root; /* root.work_tree_fd: the detached tree (rootfs_work_tree) or -1 */
    int error_fd;        /* write end: a jail_error_t when something fails before exec */
    int status_fd;       /* write end: init writes a jail_report_t when the program ends */
    int parent_fd; /* read end of a pipe only init's parent holds open: EOF means it is gone */
} jail_spec_t;

typedef struct {
    int code; /* errno */
    char stage[60];
} jail_error_t;

/* What init reports when the program has exited. maxrss_kb is the largest resident set of any
 * process of the run that init reaped (the program and everything that ended before it):
 * the memory the run's own processes used, without the page cache its cgroup is charged for
 * (the toolchain's files it read), which a cgroup's peak counts. */
typedef struct {
    int status;     /* the program's wait status */
    long maxrss_kb; /* from wait4's rusage, the peak over every reaped process */
} jail_report_t;

/* Starts init as a child of the caller (the keeper). Its pid, with a pidfd in *pidfd; -1 with
 * errno when the clone failed. Failures after the clone arrive on error_fd. */
pid_t jail_start(const jail_spec_t *spec, int *pidfd);

/* In a spare init: reads its job from ctl into *spec (argv, env, descriptors, limits; the
 * spare adds seccomp, parent_fd and root.mntns_fd of its base). 0, or -1 to end the init. */
typedef int(jail_receive_fn)(void *arg, int ctl, jail_spec_t *spec);

/* Starts a spare init as a child of the caller: prepared by base (seccomp, parent_fd,
 * root.mntns_fd and root.tmp_options; nothing else of it is read), it waits until `receive`
 * has its job from the other end of *ctl, a SOCK_SEQPACKET socket (close-on-exec), and runs
 * it. Its pid, with a pidfd in *pidfd; -1 with errno. An init whose socket ends before a job
 * arrives exits. */
pid_t jail_spare_start(const jail_spec_t *base, int *pidfd, int *ctl, jail_receive_fn *receive,
                       void *arg);

#endif
