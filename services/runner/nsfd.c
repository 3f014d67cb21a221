/* nsfd: namespaces kept by a descriptor (see nsfd.h). */
#include "nsfd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the helper reports: 0, or the errno of the failed step and its message. */
typedef struct {
    int code;
    char message[200];
} helper_report_t;

static const char *ns_name(int clone_flag)
{
    switch (clone_flag) {
    case CLONE_NEWNET:
        return "net";
    case CLONE_NEWNS:
        return "mnt";
    case CLONE_NEWIPC:
        return "ipc";
    case CLONE_NEWUTS:
        return "uts";
    default:
        return NULL;
    }
}

/* The helper: unshare, setup, report, then wait until the parent closes `hold`. */
__attribute__((noreturn)) static void helper(int clone_flag, nsfd_setup_fn *setup, void *arg,
                                             int report_fd, int hold_fd)
{
    helper_report_t r = {0, ""};
    if (unshare(clone_flag) != 0) {
        r.code = errno;
        snprintf(r.message, sizeof r.message, "unshare: %s", strerror(errno));
    } else if (setup && setup(arg, r.message, sizeof r.message) != 0) {
        r.code = errno ? errno : EINVAL;
    }
    ssize_t n = write(report_fd, &r, sizeof r);
    char byte;
    if (n == (ssize_t)sizeof r && r.code == 0) n = read(hold_fd, &byte, 1); /* until EOF */
    _exit(r.code == 0 ? 0 : 1);
}

static int reap(pid_t pid)
{
    int status;
    pid_t waited;
    do
        waited = waitpid(pid, &status, 0);
    while (waited < 0 && errno == EINTR);
    return waited == pid ? 0 : -1;
}

/* Reads the helper's report and opens its namespace. */
static int take_ns(pid_t pid, int clone_flag, int report_fd, char *err, size_t errlen)
{
    helper_report_t r;
    ssize_t n;
    do
        n = read(report_fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof r) {
        snprintf(err, errlen, "namespace helper died");
        return -1;
    }
    if (r.code != 0) {
        snprintf(err, errlen, "%s", r.message);
        errno = r.code;
        return -1;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_name(clone_flag));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) snprintf(err, errlen, "open %s: %s", path, strerror(errno));
    return fd;
}

int nsfd_create(int clone_flag, nsfd_setup_fn *setup, void *arg, char *err, size_t errlen)
{
    if (!ns_name(clone_flag)) {
        snprintf(err, errlen, "unsupported namespace");
        return -1;
    }
    int report[2], hold[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(hold, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(report[0]);
        close(report[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        close(hold[1]);
        helper(clone_flag, setup, arg, report[1], hold[0]);
    }
    close(report[1]);
    close(hold[0]);
    int fd = -1;
    if (pid < 0)
        snprintf(err, errlen, "fork: %s", strerror(errno));
    else
        fd = take_ns(pid, clone_flag, report[0], err, errlen);
    close(report[0]);
    close(hold[1]); /* lets the helper exit */
    if (pid > 0 && reap(pid) != 0 && fd >= 0) {
        snprintf(err, errlen, "waitpid: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    return fd;
}
