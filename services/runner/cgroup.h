/*
 * cgroup: the control groups the sandbox runs programs in.
 *
 * cgroup_detect finds how the host offers them: cgroup v2 with the memory and pids controllers
 * delegated to us, else cgroup v1 with separate memory, pids and cpuacct hierarchies. Groups are
 * created below the runner's own cgroup, in "lcx-<runner pid>/<name>", one per sandbox slot and
 * reused run after run: cgroup_begin resets the counters of a group, cgroup_end reads what the
 * run used (peak memory, CPU time, whether the OOM killer acted), for every process of the run.
 *
 * The CPU scheduler's controller ("cpu", on v1 a hierarchy of its own or one with cpuacct) is
 * optional: where the host has it, cgroup_share_cpu gives each slot's group the same share and
 * a quota, so that a run of many processes (each in a session of its own: the kernel's
 * autogroups would give each session a share) takes no more than its slot's part of the CPUs.
 *
 * Processes join a group by writing "0" to the descriptors cgroup_procs_fds returns (a child
 * joins itself between fork and exec; async-signal-safe), or, on v2, by clone3 with
 * CLONE_INTO_CGROUP and cgroup_dir_fd. Only each slot's keeper joins (keeper.h): on v1 a move
 * waits for an RCU grace period, so runs are born in place instead.
 */
#ifndef LCX_CGROUP_H
#define LCX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum { CGROUP_V1 = 1, CGROUP_V2 = 2 };
/* CPUACCT: CPU time accounting (v1 cpuacct, v2 cpu.stat); CPU: the scheduler's share. */
enum { CGROUP_MEMORY, CGROUP_PIDS, CGROUP_CPUACCT, CGROUP_CPU, CGROUP_CONTROLLERS };

/* Where the hierarchies are and where the runner sits in them. */
typedef struct {
    int version;
    char base[CGROUP_CONTROLLERS][PATH_MAX]; /* the runner's cgroup directory, per controller */
    bool has[CGROUP_CONTROLLERS];            /* cpuacct and cpu are optional */
    char description[96];                    /* e.g. "cgroup v1 (memory,pids,cpuacct,cpu)" */
} cgroup_host_t;

/* What one run used, from cgroup_begin to cgroup_end. */
typedef struct {
    long memory_kb; /* peak, every process of the run together */
    long cpu_ms;    /* user and system time of every process of the run */
    bool oom_killed;
} cgroup_stats_t;

typedef struct cgroup_t cgroup_t;

/* Fills host; -1 with a reason when neither version has the memory and pids controllers. */
int cgroup_detect(cgroup_host_t *host, char *err, size_t errlen);

/* Removes the "lcx-<pid>" groups of runners that no longer exist (left by a kill -9). */
void cgroup_remove_stale(const cgroup_host_t *host);

/* Creates the group "lcx-<our pid>/<name>" in every controller; NULL with a reason. */
cgroup_t *cgroup_create(const cgroup_host_t *host, const char *name, char *err, size_t errlen);

/* Kills what is left in the group, removes it (and lcx-<pid> once it is empty). */
void cgroup_destroy(cgroup_t **self_p);

/* Memory limit (0: none; swap is never allowed on top) and the most processes and threads
 * (0: none). Writes only what changed since the last call. */
int cgroup_limit(cgroup_t *self, long memory_mb, long max_processes);

/* An equal CPU share for the group (cpu.shares 1024 on v1, cpu.weight 100 on v2) and a quota
 * of `cpus` CPUs (0: none) per CFS period of CGROUP_CPU_PERIOD_US (cpu.cfs_quota_us on v1,
 * cpu.max on v2). 0, or -1 with errno (ENOTSUP: the host has no cpu controller). */
#define CGROUP_CPU_PERIOD_US 100000
int cgroup_share_cpu(cgroup_t *self, long cpus);

/* Resets the counters cgroup_end reports. */
int cgroup_begin(cgroup_t *self);
int cgroup_end(cgroup_t *self, cgroup_stats_t *stats);

/* The cgroup.procs descriptors a process writes "0" to in order to join (one per hierarchy);
 * returns how many were stored in fds (at most CGROUP_CONTROLLERS). */
int cgroup_procs_fds(const cgroup_t *self, int fds[CGROUP_CONTROLLERS]);

/* v2: a descriptor of the group directory for CLONE_INTO_CGROUP; -1 on v1. */
int cgroup_dir_fd(const cgroup_t *self);

/* Number of processes in the group, -1 when unknown. */
long cgroup_count(const cgroup_t *self);

/* The largest peak resident set (VmHWM of /proc/PID/status) of the group's processes but the
 * slot's `keeper` (0: none) and its spare init, in KiB: what the run's own processes used so
 * far, without the page cache a group's peak counts. -1 when no process could be read. */
long cgroup_peak_rss_kb(const cgroup_t *self, pid_t keeper);

/* SIGKILLs every process of the group until nothing else is left but the slot's `keeper` (0:
 * none) and a spare init of it (keeper.h). Processes read from cgroup.procs are signalled
 * through pidfds (by pid where the kernel has none), so a pid reused meanwhile is never hit.
 * 0, or -1: ETIMEDOUT if something is left after timeout_ms, or the errno of a failed read of
 * the group (what it holds is then unknown, which is no success). */
int cgroup_kill_all(cgroup_t *self, pid_t keeper, int timeout_ms);

#endif
