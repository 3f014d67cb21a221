/*
 * seccomp_policy: the system-call filter of sandboxed programs (libseccomp).
 *
 * A deny-list: everything a user program needs is allowed; these fail with EPERM (or, for
 * clone3, ENOSYS so that libc falls back to clone, whose flags the filter can see):
 *   namespaces    unshare, setns, clone with any CLONE_NEW* flag
 *   mounts        mount, umount2, pivot_root, chroot and the new mount API
 *   other tasks   ptrace, process_vm_readv/writev
 *   watching      inotify_init, inotify_init1, fanotify_init: the toolchains' files are the
 *                 same inodes in every run, so a watch would see the neighbours' opens
 *   kernel        keyctl, add_key, request_key, bpf, perf_event_open, io_uring_*, userfaultfd,
 *                 init/finit/delete_module, kexec_*, reboot, swapon/off, acct, quotactl,
 *                 open_by_handle_at, syslog, clock and host name setters, iopl/ioperm
 *   sockets       every family but AF_UNIX, AF_INET and AF_INET6 (EAFNOSUPPORT): no netlink,
 *                 packet, vsock, ...; the network namespace is empty, so IP goes nowhere
 *   terminals     ioctl TIOCSTI and TIOCLINUX
 * A system call of another architecture (the 32-bit x86 entry, x32) kills the process.
 *
 * The filter is compiled once to BPF; applying it is one prctl, safe between fork and exec.
 */
#ifndef LCX_SECCOMP_POLICY_H
#define LCX_SECCOMP_POLICY_H

#include <stddef.h>

typedef struct seccomp_policy_t seccomp_policy_t;

seccomp_policy_t *seccomp_policy_new(char *err, size_t errlen);
void seccomp_policy_destroy(seccomp_policy_t **self_p);

/* A new memory file holding the compiled filter, without close-on-exec: how the filter reaches
 * the keeper program (keeper.h). System calls only. Its descriptor, or -1 with errno. */
int seccomp_policy_to_memfd(const seccomp_policy_t *self);

/* The filter a memory file from seccomp_policy_to_memfd holds. NULL with a reason. */
seccomp_policy_t *seccomp_policy_from_fd(int fd, char *err, size_t errlen);

/* Installs the filter on the calling thread. Needs no_new_privs (or CAP_SYS_ADMIN).
 * Async-signal-safe. 0, or -1 with errno. */
int seccomp_policy_apply(const seccomp_policy_t *self);

#endif
