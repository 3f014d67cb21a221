/*
 * sandbox: runs one program under limits and collects what it did. The one interface through
 * which the runner starts user code.
 *
 * Isolated mode (issue #3, the default; needs root, namespaces and cgroups): each run gets new
 * PID, mount, IPC, UTS and cgroup namespaces, the network namespace of its slot (empty, made
 * once), the prepared minimal root (rootfs.h) with its work directory on /work and a private
 * /tmp, a uid and gid of its slot (uid_base + slot) with no capabilities and no_new_privs, the
 * seccomp filter (seccomp_policy.h), rlimits, and the slot's cgroup for memory, processes and
 * CPU accounting. Each slot's keeper (keeper.h), a process that sits in the slot's cgroup and
 * network namespace, starts its runs there. See jail.h for the processes and cgroup.h for the
 * accounting. Up to `slots` runs go at once; more wait for a free slot.
 *
 * Unsafe mode (--unsafe-no-sandbox, development only): a child in its own session and process
 * group with rlimits, a memory watchdog sampling its resident set, nothing more.
 *
 * Both: an explicit environment (spec->env only), stdin from a file, a wall-time deadline that
 * kills the whole run, output caps, cancellation.
 */
#ifndef LCX_SANDBOX_H
#define LCX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum { SANDBOX_STDOUT = 1, SANDBOX_STDERR = 2 };

/* Called from sandbox_run as output arrives (before caps are applied to what is kept). */
typedef void(sandbox_output_fn)(void *arg, int stream, const char *data, size_t len);

typedef struct {
    char *const *argv;      /* argv[0] is an absolute path; no shell, no PATH search */
    char *const *env;       /* the whole environment */
    const char *workdir;    /* the program's working directory (isolated: mounted on /work, and
                               an argv[0] inside it is translated); NULL: an empty one */
    const char *stdin_path; /* file opened read-only as stdin; NULL means /dev/null */
    long wall_ms;           /* wall-clock limit; the whole run is killed past it */
    long cpu_ms;            /* CPU time limit (0: none) */
    long memory_mb;         /* memory limit (0: none) */
    long max_processes;     /* processes and threads (0: none) */
    long output_bytes;      /* cap for stdout and for stderr, each; more kills the program */
    long file_bytes;        /* largest file the program may write (0: none) */
    int cancel_fd;          /* when readable, the run is killed and marked cancelled; -1: none */
    sandbox_output_fn *on_output;
    void *output_arg;
} sandbox_spec_t;

typedef struct {
    int exit_code; /* valid when !signaled */
    int signal;    /* valid when signaled */
    bool signaled;
    bool timed_out;    /* wall or CPU limit */
    bool cpu_limit;    /* timed out by the CPU limit (else by the wall-clock one) */
    bool output_limit; /* a stream passed output_bytes */
    bool memory_limit;
    bool cancelled;
    long wall_ms;
    long cpu_ms;
    long memory_kb; /* peak resident set of the run's processes (see sandbox.c slot_figures) */
    char *out;      /* stdout kept (at most output_bytes), NUL-terminated */
    size_t out_len;
    bool out_truncated;
    char *err; /* stderr kept */
    size_t err_len;
    bool err_truncated;
} sandbox_result_t;

typedef struct sandbox_t sandbox_t;

typedef struct {
    bool unsafe_no_sandbox; /* the process-group mode, no isolation */
    long slots;             /* runs at once (a cgroup, a uid and a network namespace each) */
    long uid_base;          /* slot i runs as uid and gid uid_base + i */
    long scratch_mb;        /* size of a work directory (sandbox_workdir_mount) */
    long tmp_mb;            /* size of a run's /tmp */
    long cpus; /* CPUs one run may use at once: its slot's CPU quota (0: none), where the host
                  has a cpu cgroup controller (cgroup.h) */
    const char *keeper; /* path of lcx-keeper (keeper.h), outliving the sandbox; NULL: the
                           keepers serve from the caller's image */
} sandbox_config_t;

/* unsafe_no_sandbox false, 1 slot, uid 61000, 64 MiB each, 1 CPU. */
void sandbox_config_defaults(sandbox_config_t *config);

/* NULL with a reason in err when the machine cannot run programs this way (isolated mode: not
 * root, no namespaces, no cgroups); err is "" on success. Isolated mode moves the calling process
 * into a mount namespace of its own, so call it before starting threads. config NULL: the defaults.
 */
sandbox_t *sandbox_new(const sandbox_config_t *config, char *err, size_t errlen);
void sandbox_destroy(sandbox_t **self_p);

/* How programs are isolated here, for /health and every result; starts with "UNSAFE" in the
 * unsafe mode. */
const char *sandbox_mode(const sandbox_t *self);

/* Isolated mode: mounts a tmpfs of scratch_mb MiB (nosuid, nodev) on the directory `name` of
 * parent_fd, so that what a run writes in its work directory is capped and vanishes at
 * sandbox_workdir_unmount. The mounts live in the runner's own mount namespace. No-ops in the
 * unsafe mode. 0, or -1 with errno. */
int sandbox_workdir_mount(sandbox_t *self, int parent_fd, const char *name);
int sandbox_workdir_unmount(sandbox_t *self, int parent_fd, const char *name);

/* Runs spec to the end. 0 with *result filled, or -1 (and errno) when the program could not be
 * started at all (result then holds nothing to free). In the isolated mode it returns as soon
 * as the program has exited and its output is read: what it left running has been sent
 * SIGKILL but may take a little longer to be gone; see sandbox_settle. */
int sandbox_run(sandbox_t *self, const sandbox_spec_t *spec, sandbox_result_t *result);
/* Waits until every process of the calling thread's last run is gone and checks that its
 * slot's cgroup is empty. Optional: the next run on that slot does it first anyway; a caller
 * calls it once the result is on its way, so that the wait costs nothing. */
void sandbox_settle(sandbox_t *self);
void sandbox_result_free(sandbox_result_t *result);

#endif
