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
 * rootfs_enter is called by each run's first process (between clone and exec, so it makes only
 * system calls): it enters a private copy of that namespace, mounts a fresh /proc (of the run's
 * PID namespace, other users' processes invisible), a size-capped tmpfs on /tmp and the run's
 * work directory on /work, and changes into /work.
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

/* Per-run arguments of rootfs_enter, prepared before the clone. */
typedef struct {
    int mntns_fd;         /* the prepared namespace */
    int workdir_fd;       /* the run's work directory (any descriptor of it), -1: an empty one */
    char tmp_options[64]; /* mount options of /tmp, from rootfs_enter_prepare */
} rootfs_enter_t;

/* Fills e for a run whose /tmp holds at most tmp_mb MiB (0: 64 MiB). */
void rootfs_enter_prepare(const rootfs_t *self, int workdir_fd, long tmp_mb, rootfs_enter_t *e);

/* Async-signal-safe. 0, or -1 with errno and *stage naming the step that failed. */
int rootfs_enter(const rootfs_enter_t *e, const char **stage);

#endif
