/*
 * toolchain: which configured languages this machine can actually run. A language is served
 * when every program its compile and run commands name exists and is executable, and its
 * version command succeeds; the first line that command prints is the version advertised.
 */
#ifndef LCX_TOOLCHAIN_H
#define LCX_TOOLCHAIN_H

#include "languages.h"
#include "lcx_proto.h"
#include "sandbox.h"

/* Appends the served languages' ids to msg's `languages` and "id=version" to `versions`
 * (msg is a READY message). Returns how many are served. */
int toolchain_probe(const lcx_languages_t *languages, sandbox_t *sandbox, lcx_msg_t *msg);

#endif
