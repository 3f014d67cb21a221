/*
 * version: the one version of lcx, printed by every binary's --version.
 */
#ifndef LCX_VERSION_H
#define LCX_VERSION_H

#define LCX_VERSION "0.1.0"

#endif
