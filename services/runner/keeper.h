/*
 * keeper: one long-lived process per sandbox slot that starts the slot's runs from inside the
 * slot's cgroups and network namespace.
 *
 * Why it exists: on cgroup v1, moving a process into a cgroup (a write to cgroup.procs) waits
 * for an RCU grace period: 3-15 ms per run on this machine kind, more than the rest of the
 * sandbox together. A process is born in its parent's cgroups, so the keeper joins once and
 * every init it clones starts in place. (cgroup v2's clone3 CLONE_INTO_CGROUP avoids the move
 * too; the keeper serves both versions so that there is one path.)
 *
 *   runner thread  -- request: a jail_spec_t (argv, env, limits; descriptors by SCM_RIGHTS) -->
 *   keeper         -- reply: init's pid or an errno, and a pidfd of init ------------------->
 *
 * over a SOCK_SEQPACKET pair, one request at a time (a slot runs one program at a time). The
 * keeper ignores SIGCHLD, so the kernel reaps the inits it starts; the runner watches each by
 * its pidfd. The keeper holds the write end of a pipe whose read end every init checks after
 * PR_SET_PDEATHSIG: an init whose keeper is already gone ends at once.
 *
 * The spare init. As soon as a run has its init, the keeper starts the next one ahead
 * (jail_spare_start): it clones it with its PID, IPC and UTS namespaces, and the spare enters
 * the cgroup namespace and the root, mounts /proc and /tmp and sets the host name, while the
 * program runs and the runner waits. The next request then goes to the spare with the work
 * directory as a detached tree (the keeper sees the runner's mounts; the spare no longer
 * does), and the spare only mounts it, forks the program and execs: about 0.35 ms less from
 * job to program here. A spare that is gone, or whose /tmp does not fit the request, is
 * replaced by a direct start. So a slot's cgroup holds the keeper, a spare (a child of the
 * keeper without children of its own; cgroup_kill_all leaves both alone) and the run.
 *
 * The keeper ends when its socket reaches EOF: the runner stopped it or is gone (even by
 * kill -9). The inits it started then die by PR_SET_PDEATHSIG, and their PID namespaces with
 * them. Should the keeper die on its own, the next keeper_start starts a new one.
 *
 * In the slot's cgroups the keeper counts as one process (pids.max must allow for it) and its
 * few pages count towards the memory figures. Its OOM score is the lowest it may set, and the
 * inits it starts inherit it; programs raise theirs (jail.h).
 *
 * The keeper process makes system calls only: it may be started again by a threaded runner.
 *
 * The keeper program. A process forked from the runner carries the runner's image: about 180
 * mappings of its libraries, threads' stacks and heaps. Every init the keeper clones copies
 * them, and init's fork of the program copies them again; that cost about 0.9 ms per run here.
 * So once settled the keeper execs `program` (lcx-keeper, built next to lcx-runner: libc,
 * libseccomp and jansson only), which serves the same requests from a small image:
 *
 *   lcx-keeper SOCK MNTNS HOLD_READ HOLD_WRITE FILTER     (descriptor numbers)
 *
 * the socket, the prepared root's mount namespace, the two ends of the keeper's pipe and a
 * memory file with the compiled seccomp filter. Should the exec fail (the file is missing),
 * the keeper serves from the runner's image as before and the runner logs a warning.
 */
#ifndef LCX_KEEPER_H
#define LCX_KEEPER_H

#include "cgroup.h"
#include "jail.h"
#include "seccomp_policy.h"

#include <stddef.h>
#include <sys/types.h>

#define KEEPER_MAX_REQUEST (64 * 1024) /* argv and env of one run together, with the header */
#define KEEPER_MAX_STRINGS 1024        /* argv and env entries of one run together */

typedef struct {
    const cgroup_t *cgroup;          /* joined once, at the start */
    int netns_fd;                    /* entered once */
    int mntns_fd;                    /* the prepared root (rootfs.h), held for every run */
    const seccomp_policy_t *seccomp; /* the filter each program applies */
    const char *program;             /* the keeper program; NULL: serve from the runner's image */
} keeper_config_t;

typedef struct keeper_t keeper_t;

/* The keeper program's main (services/runner/keeper/main.c): serves one slot's requests on the
 * descriptors its arguments name. Its exit status. */
int keeper_program_main(int argc, char **argv);

/* Starts the keeper (in the cgroup and network namespace of config, which must outlive it).
 * NULL with a reason. */
keeper_t *keeper_new(const keeper_config_t *config, char *err, size_t errlen);

/* Stops the keeper; inits it started that still run are killed. */
void keeper_destroy(keeper_t **self_p);

/* The keeper's process id, for the runner's own bookkeeping (it sits in the slot's cgroup). */
pid_t keeper_pid(const keeper_t *self);

/* Starts init of a run (jail.h) in the keeper. spec's seccomp, root.mntns_fd and parent_fd are
 * the keeper's own and ignored here; its descriptors are copied to the keeper and stay the
 * caller's. Returns init's pid with a pidfd in *pidfd, or -1 with errno (E2BIG: argv and env
 * exceed KEEPER_MAX_REQUEST). Failures after the clone arrive on spec->error_fd. */
pid_t keeper_start(keeper_t *self, const jail_spec_t *spec, int *pidfd);

/* Bytes of KEEPER_MAX_REQUEST left for the strings (argv and env, each with its NUL) after the
 * request's fixed header: what a run's command, arguments and environment share. */
size_t keeper_string_room(void);

#endif
