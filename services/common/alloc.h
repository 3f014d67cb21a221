/*
 * alloc: lcx's one policy for running out of memory. czmq, which every service uses, aborts
 * when an allocation fails; lcx does the same, everywhere: these never return NULL. They log
 * one line to stderr and abort, so no caller checks and no caller half-checks. A service that
 * dies so is restarted by its supervisor, and its peers retry what was in flight (a user sees a
 * short 503 at most); a sandboxed run whose keeper dies ends as internal_error.
 *
 * lcx_alloc_install() makes jansson allocate through lcx_malloc as well; every service calls
 * it once at start (lcx_settings_start does).
 */
#ifndef LCX_ALLOC_H
#define LCX_ALLOC_H

#include <stddef.h>

void *lcx_malloc(size_t size);
void *lcx_calloc(size_t count, size_t size);
void *lcx_realloc(void *ptr, size_t size);
char *lcx_strdup(const char *text);
char *lcx_strndup(const char *text, size_t max);

void lcx_alloc_install(void);

#endif
