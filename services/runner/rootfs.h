/*
 * rootfs: the minimal root file system programs see.
 *
 * rootfs_new prepares it once, in a mount namespace of its own that a descriptor keeps: a small
 * tmpfs (read-only once built) as "/", pivot_root'ed into, holding
 *   /usr                          the host's, bind-mounted read-only, nosuid, nodev
 *   /bin /sbin /lib /lib64 ...    the host's symlinks into /usr (or read-only binds)
 *   /etc                          only what toolchains resolve: alternatives (java), the
 *                                 JDK's configuration, ssl, ld.so.cache, localtime, and a
 *                                 generated passwd, group and hosts naming the sandbox users
 *   /dev                          null, zero, random, urandom, fd, stdin, stdout, stderr
 *   /proc /tmp /work              empty mount points
 * Nothing of the host's /etc/shadow, /home, /root, /var, /run, /sys or the runner's files.
 *
 * Each run's first process enters it (between clone and exec, so with system calls only): a
 * private copy of that namespace, a fresh /proc (of the run's PID namespace, other users'
 * processes invisible), a size-capped tmpfs on /tmp, then the run's work directory on /work
 * and the current directory there.
 */
#ifndef LCX_ROOTFS_H
#define LCX_ROOTFS_H

#include <stddef.h>

#define ROOTFS_WORKDIR "/work"

typedef struct {
    long uid_base; /* sandbox users, named in the generated /etc/passwd */
    long users;
} rootfs_config_t;

typedef struct rootfs_t rootfs_t;

rootfs_t *rootfs_new(const rootfs_config_t *config, char *err, size_t errlen);
void rootfs_destroy(rootfs_t **self_p);

/* The prepared namespace, for processes that start runs (keeper.h). */
int rootfs_namespace_fd(const rootfs_t *self);

/* Per-run arguments of entering the root, prepared before the clone. */
typedef struct {
    int mntns_fd;         /* the prepared namespace */
    int work_tree_fd;     /* the run's work directory: from the runner, any descriptor of it;
                             in init, its detached copy (rootfs_work_tree); -1: an empty one */
    char tmp_options[64]; /* mount options of /tmp, from rootfs_enter_prepare */
} rootfs_enter_t;

/* Fills e for a run whose /tmp holds at most tmp_mb MiB (0: 64 MiB). */
void rootfs_enter_prepare(const rootfs_t *self, int workdir_fd, long tmp_mb, rootfs_enter_t *e);

/* A detached copy of the mount of the directory workdir_fd, which the caller's mount namespace
 * must see: what rootfs_enter_work mounts on /work from inside the run's namespace. The new
 * descriptor (close-on-exec), or -1 with errno. System calls only. */
int rootfs_work_tree(int workdir_fd);

/* Entering, in two steps so that a run's first process can take the first before its job is
 * known (keeper.h). Both async-signal-safe; 0, or -1 with errno and *stage naming the step.
 * The root: a private copy of the prepared namespace, a fresh /proc and /tmp. */
int rootfs_enter_root(const rootfs_enter_t *e, const char **stage);
/* The work: e->work_tree_fd (a detached tree) on /work, and the current directory there. */
int rootfs_enter_work(const rootfs_enter_t *e, const char **stage);

#endif
