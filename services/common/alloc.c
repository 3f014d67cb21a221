/* alloc: allocation that aborts on failure (see alloc.h). */
#include "alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Written with write(2): stdio may itself need memory. */
static void out_of_memory(size_t size)
{
    char line[96];
    int n =
        snprintf(line, sizeof line, "lcx: out of memory (allocating %zu bytes); aborting\n", size);
    if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nothing more to do: abort below */
    }
    abort();
}

void *lcx_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

void *lcx_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *lcx_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p) out_of_memory(size);
    return p;
}

char *lcx_strdup(const char *text)
{
    char *p = strdup(text);
    if (!p) out_of_memory(strlen(text) + 1);
    return p;
}

char *lcx_strndup(const char *text, size_t max)
{
    char *p = strndup(text, max);
    if (!p) out_of_memory(max + 1);
    return p;
}

void lcx_alloc_install(void)
{
    json_set_alloc_funcs(lcx_malloc, free);
}
