/* rlimits: a program's resource limits (see rlimits.h). */
#include "rlimits.h"

#include <sys/resource.h>

/* Sets one limit, never above the hard limit we already have (raising it needs privilege). */
static int set_limit(int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit now;
    if (getrlimit(resource, &now) != 0) return -1;
    if (now.rlim_max != RLIM_INFINITY && hard > now.rlim_max) hard = now.rlim_max;
    struct rlimit limit = {.rlim_cur = soft < hard ? soft : hard, .rlim_max = hard};
    return setrlimit(resource, &limit);
}

int rlimits_apply(long cpu_ms, long file_bytes)
{
    if (cpu_ms > 0) {
        /* One second of slack: the supervisor's own accounting decides; this only stops a
         * process the supervisor somehow lost. */
        rlim_t seconds = (rlim_t)((cpu_ms + 999) / 1000);
        if (set_limit(RLIMIT_CPU, seconds, seconds + 1) != 0) return -1;
    }
    if (file_bytes > 0) {
        rlim_t bytes = (rlim_t)file_bytes;
        if (set_limit(RLIMIT_FSIZE, bytes, bytes) != 0) return -1;
    }
    if (set_limit(RLIMIT_CORE, 0, 0) != 0) return -1;
    if (set_limit(RLIMIT_NOFILE, RLIMITS_NOFILE, RLIMITS_NOFILE) == 0) return 0;
    /* Some hosts (valgrind) only let the soft limit move. */
    return set_limit(RLIMIT_NOFILE, RLIMITS_NOFILE, RLIM_INFINITY);
}
