/* seccomp_policy: the deny-list filter (see seccomp_policy.h). */
#include "seccomp_policy.h"
#include "child.h"

#include "alloc.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct seccomp_policy_t {
    struct sock_fprog prog;
};

/* Denied with EPERM. Names this libseccomp does not know are skipped. */
static const char *const denied[] = {"unshare",
                                     "setns",
                                     "mount",
                                     "umount",
                                     "umount2",
                                     "pivot_root",
                                     "chroot",
                                     "move_mount",
                                     "open_tree",
                                     "fsopen",
                                     "fsconfig",
                                     "fsmount",
                                     "fspick",
                                     "mount_setattr",
                                     "ptrace",
                                     "process_vm_readv",
                                     "process_vm_writev",
                                     "keyctl",
                                     "add_key",
                                     "request_key",
                                     "bpf",
                                     "perf_event_open",
                                     "io_uring_setup",
                                     "io_uring_enter",
                                     "io_uring_register",
                                     "userfaultfd",
                                     "init_module",
                                     "finit_module",
                                     "delete_module",
                                     "kexec_load",
                                     "kexec_file_load",
                                     "reboot",
                                     "swapon",
                                     "swapoff",
                                     "acct",
                                     "quotactl",
                                     "quotactl_fd",
                                     "lookup_dcookie",
                                     "open_by_handle_at",
                                     "name_to_handle_at",
                                     "inotify_init",
                                     "inotify_init1",
                                     "fanotify_init",
                                     "iopl",
                                     "ioperm",
                                     "syslog",
                                     "settimeofday",
                                     "clock_settime",
                                     "clock_adjtime",
                                     "adjtimex",
                                     "sethostname",
                                     "setdomainname",
                                     "vhangup",
                                     "uselib",
                                     "_sysctl",
                                     "nfsservctl"};

static const uint64_t namespace_flags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
                                           CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
                                           CLONE_NEWNET, CLONE_NEWTIME};

static int deny_names(scmp_filter_ctx ctx)
{
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR) continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (rc != 0) return rc;
    }
    return 0;
}

static int deny_namespaces(scmp_filter_ctx ctx)
{
    for (size_t i = 0; i < sizeof namespace_flags / sizeof namespace_flags[0]; i++) {
        uint64_t flag = namespace_flags[i];
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        if (rc != 0) return rc;
    }
    /* clone3 passes its flags in memory, where a filter cannot look: make libc use clone. */
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* socket() and socketpair() of any family but AF_UNIX (1), AF_INET (2), AF_INET6 (10). */
static int deny_families(scmp_filter_ctx ctx)
{
    const int calls[] = {SCMP_SYS(socket), SCMP_SYS(socketpair)};
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), calls[c], 1,
                                  SCMP_A0(SCMP_CMP_GT, AF_INET6));
        for (uint64_t family = AF_INET + 1; rc == 0 && family < AF_INET6; family++)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), calls[c], 1,
                                  SCMP_A0(SCMP_CMP_EQ, family));
        if (rc != 0) return rc;
    }
    return 0;
}

/* The kernel reads ioctl's request as 32 bits: compare only those, or a request with high
 * bits set would slip past. */
static int deny_ioctls(scmp_filter_ctx ctx)
{
    const uint64_t requests[] = {TIOCSTI, TIOCLINUX};
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, requests[i]));
        if (rc != 0) return rc;
    }
    return 0;
}

/* A whole program from the start of fd (its size is the file's). 0, or a negative errno. */
static int read_bpf(int fd, struct sock_fprog *prog)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return -EINVAL;
    struct sock_filter *code = lcx_malloc((size_t)size);
    if (pread(fd, code, (size_t)size, 0) != (ssize_t)size) {
        free(code);
        return -EIO;
    }
    prog->filter = code;
    prog->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}

/* The compiled program, read back from a memory file (libseccomp 2.5 exports to a descriptor). */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
    int fd = memfd_create("lcx-seccomp", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc == 0) rc = read_bpf(fd, prog);
    close(fd);
    return rc;
}

static int build(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* the sandbox sets it */
    /* A binary tree over the system call numbers: every allowed call of the program passes
     * the filter, so a linear list of the denied ones would cost on each. */
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (rc == 0) rc = deny_names(ctx);
    if (rc == 0) rc = deny_namespaces(ctx);
    if (rc == 0) rc = deny_families(ctx);
    if (rc == 0) rc = deny_ioctls(ctx);
    if (rc == 0) rc = export_bpf(ctx, prog);
    return rc;
}

seccomp_policy_t *seccomp_policy_new(char *err, size_t errlen)
{
    seccomp_policy_t *self = lcx_calloc(1, sizeof *self);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ctx ? build(ctx, &self->prog) : -ENOMEM; /* libseccomp's own allocation */
    if (ctx) seccomp_release(ctx);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp filter: %s", strerror(-rc));
        free(self);
        return NULL;
    }
    return self;
}

void seccomp_policy_destroy(seccomp_policy_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->prog.filter);
    free(*self_p);
    *self_p = NULL;
}

int seccomp_policy_to_memfd(const seccomp_policy_t *self)
{
    int fd = memfd_create("lcx-seccomp", 0);
    if (fd < 0) return -1;
    if (child_write_all(fd, self->prog.filter, self->prog.len * sizeof(struct sock_filter)) != 0) {
        int saved = errno ? errno : EIO;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

seccomp_policy_t *seccomp_policy_from_fd(int fd, char *err, size_t errlen)
{
    seccomp_policy_t *self = lcx_calloc(1, sizeof *self);
    int rc = read_bpf(fd, &self->prog);
    if (rc != 0) {
        snprintf(err, errlen, "seccomp filter from descriptor %d: %s", fd, strerror(-rc));
        free(self);
        return NULL;
    }
    return self;
}

int seccomp_policy_apply(const seccomp_policy_t *self)
{
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &self->prog, 0, 0);
}
