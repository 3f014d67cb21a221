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

__attribute__((noreturn)) static void child_main(const plain_spec_t *s)
{
    child_reset_signals();
    if (setsid() < 0) child_fail(s->error_fd, "setsid");
    /* A runner killed outright takes its program along (not the program's descendants: only
     * the isolated mode's PID namespace does that). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(s->error_fd, "pdeathsig");
    if (child_move_fd(s->stdin_fd, STDIN_FILENO) != 0 ||
        child_move_fd(s->out_fd, STDOUT_FILENO) != 0 ||
        child_move_fd(s->err_fd, STDERR_FILENO) != 0)
        child_fail(s->error_fd, "dup2");
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(s->error_fd, "close_range");
    if (s->workdir && chdir(s->workdir) != 0) child_fail(s->error_fd, "chdir");
    if (rlimits_apply(s->cpu_ms, s->file_bytes) != 0) child_fail(s->error_fd, "rlimits");
    execve(s->argv[0], s->argv, s->env);
    child_fail(s->error_fd, "execve");
}

pid_t plain_start(const plain_spec_t *spec)
{
    pid_t pid = fork();
    if (pid == 0) child_main(spec);
    return pid;
}
