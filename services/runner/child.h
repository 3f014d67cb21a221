/*
 * child: helpers for the code that runs in a new process between fork/clone and exec, where
 * the runner's other threads make only async-signal-safe calls allowed.
 */
#ifndef LCX_CHILD_H
#define LCX_CHILD_H

#include <stddef.h>

/* Every signal back to its default action and none blocked: the runner's dispositions (an
 * ignored SIGPIPE, handlers, a blocked mask) must not leak into the program. */
void child_reset_signals(void);

/* Exit status of a child that failed before or at exec (as a shell's "cannot execute"). */
#define CHILD_EXEC_FAILED 127

/* Sends the failed step and errno (a jail_error_t) on error_fd, then ends the process with
 * CHILD_EXEC_FAILED. */
__attribute__((noreturn)) void child_fail(int error_fd, const char *stage);

/* Places `from` at `to`, without close-on-exec. 0 or -1. */
int child_move_fd(int from, int to);

/* Closes every descriptor above stderr but the n in keep (which it sorts; -1 entries are
 * ignored). */
void child_keep_fds(int *keep, int n);

/* write(2) of all len bytes, again after EINTR. 0 or -1. */
int child_write_all(int fd, const void *data, size_t len);

/* Writes value (its text, e.g. "1000") to /proc/self/oom_score_adj. 0 or -1. */
int child_set_oom_score_adj(const char *value);

/* In a function returning int with a `const char **stage` parameter: runs `call`, and on
 * failure names the step in *stage and returns -1. */
#define CHILD_STEP(name, call)                                                                     \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            *stage = name;                                                                         \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

#endif
