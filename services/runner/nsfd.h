/*
 * nsfd: namespaces made once and kept by a descriptor, so that a run can enter a prepared one
 * with setns() instead of paying for its creation (an empty network namespace costs about a
 * millisecond to create and as much to free; a prepared root costs a dozen mounts).
 *
 * A short-lived helper process unshares the namespace, optionally prepares it, and waits while
 * the caller opens /proc/<helper>/ns/<kind>; the descriptor keeps the namespace alive after the
 * helper is gone. Call while the process is single-threaded or at least from a thread that may
 * fork (the helper runs ordinary code).
 */
#ifndef LCX_NSFD_H
#define LCX_NSFD_H

#include <stddef.h>

/* Prepares the new namespace inside the helper; 0, or -1 with errno. */
typedef int(nsfd_setup_fn)(void *arg, char *err, size_t errlen);

/* A descriptor of a new namespace of type `clone_flag` (CLONE_NEWNET, CLONE_NEWNS, ...) after
 * setup (may be NULL) ran in it; -1 with a reason. */
int nsfd_create(int clone_flag, nsfd_setup_fn *setup, void *arg, char *err, size_t errlen);

#endif
