/*
 * rlimits: the resource limits every program gets (async-signal-safe, between fork and exec):
 * CPU seconds (a backup of the cgroup accounting), the largest file it may write, open files,
 * and no core dumps. A limit is never raised above the hard limit the runner has.
 */
#ifndef LCX_RLIMITS_H
#define LCX_RLIMITS_H

#define RLIMITS_NOFILE 256 /* open files of a program */

/* cpu_ms and file_bytes: 0 means none. 0, or -1 with errno. */
int rlimits_apply(long cpu_ms, long file_bytes);

#endif
