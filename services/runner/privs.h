/*
 * privs: giving up root between fork and exec (system calls only, async-signal-safe).
 *
 * privs_drop leaves the calling process with uid and gid `id` (real, effective, saved and file
 * system), no supplementary groups, no capabilities in any set (bounding and ambient included),
 * the securebits locked so that uid 0 could never regain any, and no_new_privs, so that neither
 * set-uid binaries nor file capabilities give anything back after execve.
 */
#ifndef LCX_PRIVS_H
#define LCX_PRIVS_H

#include <sys/types.h>

/* 0, or -1 with errno and *stage naming the step that failed. */
int privs_drop(uid_t id, const char **stage);

/* Empties the effective, permitted and inheritable capability sets, keeping the uid. */
int privs_clear_caps(void);

#endif
