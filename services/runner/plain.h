/*
 * plain: the child of the unsafe mode (--unsafe-no-sandbox): the program in its own session
 * and process group, with rlimits and an explicit environment, and nothing else. For
 * development machines that cannot sandbox; never for untrusted code.
 */
#ifndef LCX_PLAIN_H
#define LCX_PLAIN_H

#include <sys/types.h>

typedef struct {
    char *const *argv; /* argv[0] is an absolute path */
    char *const *env;
    const char *workdir; /* NULL: stay where the runner is */
    int stdin_fd, out_fd, err_fd;
    int error_fd; /* write end, close-on-exec: a jail_error_t when exec fails */
    long cpu_ms, file_bytes;
} plain_spec_t;

/* Forks the child; its pid, or -1 with errno. */
pid_t plain_start(const plain_spec_t *spec);

#endif
