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
