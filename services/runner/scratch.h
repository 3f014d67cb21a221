/*
 * scratch: the runner's own directory in scratch_dir, the sweep of dead runners' ones, and the
 * file system steps job directories share (making them, emptying and removing them without
 * following links).
 *
 *   <scratch_dir>/                      settings scratch_dir, shared by the runners of a host
 *       runner-<pid>-<random>/          one runner's, mode 0700, flock'ed while it lives
 *           ready-<random>/             its slots' job directories (job.h)
 *
 * A runner killed with kill -9 leaves its directory behind, with the job directories in it. A
 * flock dies with the last descriptor of its holder, whatever ended it, so at start
 * scratch_open sweeps every sibling runner-* directory whose lock it can take: its runner is
 * gone. Sweeping unmounts whatever is mounted at or below the directory (umount2 MNT_DETACH;
 * usually nothing: the tmpfs of a work directory is mounted in the runner's own mount
 * namespace, which ends with its processes) and removes it with openat/unlinkat, following no
 * link a program planted. One log line names each directory swept. A live runner's directory
 * is never touched: its lock is held.
 *
 * The lock is on the directory's own descriptor, taken before the directory can be found
 * empty of it: a runner that finds its new directory swept (removed meanwhile by another
 * runner's start) makes another.
 */
#ifndef LCX_SCRATCH_H
#define LCX_SCRATCH_H

#include <stddef.h>

#define SCRATCH_RUNNER_PREFIX "runner" /* runner-<pid>-<random> */

typedef struct scratch_t scratch_t;

/* Creates `parent` (mkdir -p) and this runner's directory in it, locked, and sweeps the
 * directories of runners that are gone. Call before starting threads that fork. NULL with a
 * reason. */
scratch_t *scratch_open(const char *parent, char *err, size_t errlen);

/* Unmounts and removes this runner's directory (whatever its slots left in it) and drops the
 * lock. */
void scratch_close(scratch_t **self_p);

/* The absolute path of this runner's directory: where its job directories go. */
const char *scratch_path(const scratch_t *self);

/* mkdir -p of path, mode 0755 for what it creates. 0, or -1 with errno. */
int scratch_make_parents(const char *path);

/* Creates the directory <prefix>-<random hex> (mode 0700) in parent_fd; its name in name.
 * 0, or -1 with errno. */
int scratch_make_dir(int parent_fd, const char *prefix, char *name, size_t size);

/* rm -rf of parent_fd/name without following links (directories made unreadable by a program
 * are made ours again first). 0 (also when it is gone already), or -1 with errno. */
int scratch_remove_tree(int parent_fd, const char *name);

/* Removes everything in the directory parent_fd/name, as scratch_remove_tree, but keeps the
 * directory. 0, or -1. */
int scratch_empty_dir(int parent_fd, const char *name);

#endif
