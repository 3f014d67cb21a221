/*
 * privs: giving up root between fork and exec (system calls only, async-signal-safe).
 *
 * Two steps, so that the first can be taken ahead by a process that still needs its
 * capabilities (a spare init, which mounts the work directory once its job arrives):
 *
 * privs_limit empties the bounding and ambient sets, locks the securebits so that uid 0 could
 * never regain a capability, and sets no_new_privs, so that neither set-uid binaries nor file
 * capabilities give anything after execve. The caller keeps its own capabilities; its children
 * inherit all of it.
 *
 * privs_drop then leaves the calling process with uid and gid `id` (real, effective, saved and
 * file system), no supplementary groups and no capabilities in any set. It checks that
 * privs_limit's steps were taken (by this process or an ancestor) and fails otherwise.
 */
#ifndef LCX_PRIVS_H
#define LCX_PRIVS_H

#include <sys/types.h>

/* Both: 0, or -1 with errno and *stage naming the step that failed. */
int privs_limit(const char **stage);
int privs_drop(uid_t id, const char **stage);

/* Empties the effective, permitted and inheritable capability sets, keeping the uid. */
int privs_clear_caps(void);

#endif
