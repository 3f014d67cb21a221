/* plain: the unsafe mode's child (see plain.h). Between fork and exec: async-signal-safe only. */
#include "plain.h"
#include "child.h"

#include "jail.h"
#include "rlimits.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PLAIN_EXEC_FAILED 127

__attribute__((noreturn)) static void fail(const plain_spec_t *s, const char *stage)
{
    jail_error_t e;
    memset(&e, 0, sizeof e);
    e.code = errno ? errno : EINVAL;
    for (size_t i = 0; stage[i] && i + 1 < sizeof e.stage; i++)
        e.stage[i] = stage[i];
    ssize_t n = write(s->error_fd, &e, sizeof e);
    (void)n;
    _exit(PLAIN_EXEC_FAILED);
}

__attribute__((noreturn)) static void child_main(const plain_spec_t *s)
{
    child_reset_signals();
    if (setsid() < 0) fail(s, "setsid");
    /* A runner killed outright takes its program along (not the program's descendants: only
     * the isolated mode's PID namespace does that). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(s, "pdeathsig");
    if (child_move_fd(s->stdin_fd, STDIN_FILENO) != 0 ||
        child_move_fd(s->out_fd, STDOUT_FILENO) != 0 ||
        child_move_fd(s->err_fd, STDERR_FILENO) != 0)
        fail(s, "dup2");
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(s, "close_range");
    if (s->workdir && chdir(s->workdir) != 0) fail(s, "chdir");
    if (rlimits_apply(s->cpu_ms, s->file_bytes) != 0) fail(s, "rlimits");
    execve(s->argv[0], s->argv, s->env);
    fail(s, "execve");
}

pid_t plain_start(const plain_spec_t *spec)
{
    pid_t pid = fork();
    if (pid == 0) child_main(spec);
    return pid;
}
