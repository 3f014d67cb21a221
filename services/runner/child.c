/* child: helpers between fork and exec (see child.h). */
#include "child.h"
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void child_reset_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &action, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, reserved */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int child_move_fd(int from, int to)
{
    if (from == to) return fcntl(from, F_SETFD, 0);
    return dup2(from, to) < 0 ? -1 : 0;
}

void child_fail(int error_fd, const char *stage)
{
    jail_error_t e;
    memset(&e, 0, sizeof e);
    e.code = errno ? errno : EINVAL;
    for (size_t i = 0; stage[i] && i + 1 < sizeof e.stage; i++)
        e.stage[i] = stage[i];
    ssize_t n = write(error_fd, &e, sizeof e);
    (void)n;
    _exit(CHILD_EXEC_FAILED);
}

void child_keep_fds(int *keep, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: a dozen numbers */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned next = STDERR_FILENO + 1;
    for (int i = 0; i < n; i++) {
        if (keep[i] < (int)next) continue;
        if ((unsigned)keep[i] > next) close_range(next, (unsigned)keep[i] - 1, 0);
        next = (unsigned)keep[i] + 1;
    }
    close_range(next, ~0U, 0);
}

int child_write_all(int fd, const void *data, size_t len)
{
    ssize_t n;
    do
        n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

int child_set_oom_score_adj(const char *value)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = child_write_all(fd, value, strlen(value));
    close(fd);
    return rc;
}
