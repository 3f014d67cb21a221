/* cgroup: v2 or v1 control groups for the sandbox slots (see cgroup.h). */
#include "cgroup.h"
#include "alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CG_LINE 4096
#define CG_GROUP_PREFIX "lcx-"
#define CG_KILL_PAUSE_US 1000 /* between two rounds of kill_all */
#define CG_RMDIR_TRIES 200    /* times CG_KILL_PAUSE_US: how long removal waits for exits */
#define CG_KILL_BATCH 128     /* processes one round of kill_all signals at most */

/* The control files a group keeps open. */
enum {
    F_MEM_PROCS,
    F_PIDS_PROCS,
    F_CPUACCT_PROCS,
    F_CPU_PROCS,
    F_MEM_LIMIT,
    F_SWAP_LIMIT,
    F_MEM_PEAK,
    F_MEM_OOM,
    F_PIDS_MAX,
    F_PIDS_CURRENT,
    F_CPU_USAGE,
    F_KILL,
    F_COUNT
};

typedef struct {
    int controller;
    const char *v1;  /* file name on v1, NULL: none */
    const char *v2;  /* on v2 */
    bool required;   /* when its controller is there */
    bool read_write; /* else read-only */
} cg_file_t;

static const cg_file_t cg_files[F_COUNT] = {
    [F_MEM_PROCS] = {CGROUP_MEMORY, "cgroup.procs", "cgroup.procs", true, true},
    [F_PIDS_PROCS] = {CGROUP_PIDS, "cgroup.procs", NULL, true, true},
    [F_CPUACCT_PROCS] = {CGROUP_CPUACCT, "cgroup.procs", NULL, true, true},
    [F_CPU_PROCS] = {CGROUP_CPU, "cgroup.procs", NULL, true, true},
    [F_MEM_LIMIT] = {CGROUP_MEMORY, "memory.limit_in_bytes", "memory.max", true, true},
    [F_SWAP_LIMIT] = {CGROUP_MEMORY, "memory.memsw.limit_in_bytes", "memory.swap.max", false, true},
    [F_MEM_PEAK] = {CGROUP_MEMORY, "memory.max_usage_in_bytes", "memory.peak", false, true},
    [F_MEM_OOM] = {CGROUP_MEMORY, "memory.oom_control", "memory.events", true, false},
    [F_PIDS_MAX] = {CGROUP_PIDS, "pids.max", "pids.max", true, true},
    [F_PIDS_CURRENT] = {CGROUP_PIDS, "pids.current", "pids.current", true, false},
    [F_CPU_USAGE] = {CGROUP_CPUACCT, "cpuacct.usage", "cpu.stat", false, true},
    [F_KILL] = {CGROUP_MEMORY, NULL, "cgroup.kill", false, true},
};

static const char *const controller_names[CGROUP_CONTROLLERS] = {"memory", "pids", "cpuacct",
                                                                 "cpu"};

struct cgroup_t {
    int version;
    bool has[CGROUP_CONTROLLERS];
    char group[CGROUP_CONTROLLERS][PATH_MAX]; /* lcx-<pid> */
    char dir[CGROUP_CONTROLLERS][PATH_MAX];   /* lcx-<pid>/<name> */
    int fd[F_COUNT];
    int dir_fd;         /* v2: for CLONE_INTO_CGROUP */
    long memory_mb;     /* last limits written; -1: never */
    long max_processes; /* idem */
    long oom_base;      /* oom_kill count at cgroup_begin */
    long cpu_base_us;   /* v2: usage_usec at cgroup_begin */
};

/* --------------------------------------------------------------------------------------------
 * Small file helpers
 */

static int read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    int saved = errno;
    close(fd);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

static int fd_write(int fd, const char *text)
{
    size_t len = strlen(text);
    return pwrite(fd, text, len, 0) == (ssize_t)len ? 0 : -1;
}

static int fd_read(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    if (n < 0) return -1;
    buf[n] = '\0';
    return 0;
}

/* The whole (short) file at path into buf, NUL-terminated. 0 or -1. */
static int fd_read_path(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fd_read(fd, buf, size);
    close(fd);
    return rc;
}

/* The number after "key " in a "key value" list (memory.events, oom_control, cpu.stat). */
static long keyed_value(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n') line++;
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') return atol(line + klen + 1);
    }
    return -1;
}

static bool has_word(const char *list, const char *word, char sep)
{
    size_t len = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, sep);
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && strncmp(p, word, len) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* --------------------------------------------------------------------------------------------
 * Detection
 */

/* One cgroup mount of /proc/self/mountinfo. */
typedef struct {
    char root[PATH_MAX];
    char point[PATH_MAX];
    char type[16];
    char options[512];
} cg_mount_t;

/* Parses one mountinfo line; false when it is not a cgroup mount. */
static bool parse_mount(char *line, cg_mount_t *m)
{
    char *save = NULL, *field[6];
    int n = 0;
    for (char *tok = strtok_r(line, " \n", &save); tok && n < 5; tok = strtok_r(NULL, " \n", &save))
        field[n++] = tok;
    char *dash = strstr(save ? save : "", "- ");
    if (n < 5 || !dash) return false;
    char type[16], source[64], options[512];
    if (sscanf(dash, "- %15s %63s %511s", type, source, options) != 3) return false;
    if (strcmp(type, "cgroup") != 0 && strcmp(type, "cgroup2") != 0) return false;
    snprintf(m->root, sizeof m->root, "%s", field[3]);
    snprintf(m->point, sizeof m->point, "%s", field[4]);
    snprintf(m->type, sizeof m->type, "%s", type);
    snprintf(m->options, sizeof m->options, "%s", options);
    return true;
}

/* Our path in the hierarchy of `controller` (v1), or in the v2 one (controller NULL). */
static int own_path(const char *controller, char *out, size_t size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    char line[CG_LINE];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *first = strchr(line, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (!second) continue;
        *second = '\0';
        const char *list = first + 1;
        bool match = controller ? has_word(list, controller, ',') : (strcmp(line, "0") == 0);
        if (match && snprintf(out, size, "%s", second + 1) < (int)size) rc = 0;
    }
    fclose(f);
    return rc;
}

/* mount point + (own path relative to the mount's root). */
static int join_base(const cg_mount_t *m, const char *own, char *out, size_t size)
{
    size_t rlen = strlen(m->root);
    const char *rel = own;
    if (strcmp(m->root, "/") != 0 && strncmp(own, m->root, rlen) == 0) rel = own + rlen;
    if (strcmp(rel, "/") == 0) rel = "";
    return snprintf(out, size, "%s%s", m->point, rel) < (int)size ? 0 : -1;
}

static void describe(cgroup_host_t *host)
{
    char list[64] = "";
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        /* v2's cpu.stat is there without a controller */
        if (!host->has[c] || (host->version == CGROUP_V2 && c == CGROUP_CPUACCT)) continue;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", len ? "," : "", controller_names[c]);
    }
    snprintf(host->description, sizeof host->description, "cgroup v%d (%s)", host->version, list);
}

/* v2: usable when our cgroup (or its parent, where we may enable them) offers memory and pids. */
static bool try_v2(cgroup_host_t *host, const cg_mount_t *m)
{
    char own[PATH_MAX], base[PATH_MAX], path[PATH_MAX + 32], list[512];
    if (own_path(NULL, own, sizeof own) != 0 || join_base(m, own, base, sizeof base) != 0)
        return false;
    snprintf(path, sizeof path, "%s/cgroup.controllers", base);
    if (read_text(path, list, sizeof list) != 0) return false;
    list[strcspn(list, "\n")] = '\0';
    if (!has_word(list, "memory", ' ') || !has_word(list, "pids", ' ')) return false;
    host->version = CGROUP_V2;
    for (int c = 0; c < CGROUP_CONTROLLERS; c++)
        snprintf(host->base[c], sizeof host->base[c], "%s", base);
    host->has[CGROUP_MEMORY] = host->has[CGROUP_PIDS] = true;
    host->has[CGROUP_CPUACCT] = true; /* cpu.stat's usage_usec exists without the cpu controller */
    host->has[CGROUP_CPU] = has_word(list, "cpu", ' ');
    return true;
}

/* v1: one hierarchy per controller we use. */
static void try_v1(cgroup_host_t *host, const cg_mount_t *m)
{
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        char own[PATH_MAX];
        if (host->has[c] || !has_word(m->options, controller_names[c], ',')) continue;
        if (own_path(controller_names[c], own, sizeof own) != 0) continue;
        if (join_base(m, own, host->base[c], sizeof host->base[c]) != 0) continue;
        if (access(host->base[c], W_OK) == 0) host->has[c] = true;
    }
}

int cgroup_detect(cgroup_host_t *host, char *err, size_t errlen)
{
    memset(host, 0, sizeof *host);
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        snprintf(err, errlen, "cannot read /proc/self/mountinfo: %s", strerror(errno));
        return -1;
    }
    char line[CG_LINE];
    cg_mount_t m;
    cgroup_host_t v1 = {.version = CGROUP_V1};
    bool v2 = false;
    while (!v2 && fgets(line, sizeof line, f)) {
        if (!parse_mount(line, &m)) continue;
        if (strcmp(m.type, "cgroup2") == 0)
            v2 = try_v2(host, &m);
        else
            try_v1(&v1, &m);
    }
    fclose(f);
    if (!v2 && !(v1.has[CGROUP_MEMORY] && v1.has[CGROUP_PIDS])) {
        snprintf(err, errlen,
                 "no usable cgroups: need v2 with the memory and pids controllers, or writable "
                 "v1 memory and pids hierarchies");
        return -1;
    }
    if (!v2) *host = v1;
    describe(host);
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * Stale groups
 */

/* rmdir of every subdirectory of dir, then of dir. */
static void remove_group_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        rmdir(path); /* fails (EBUSY) while it has processes: then it is not stale */
    }
    closedir(d);
    rmdir(dir);
}

void cgroup_remove_stale(const cgroup_host_t *host)
{
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        if (!host->has[c] || (host->version == CGROUP_V2 && c > 0)) continue;
        DIR *d = opendir(host->base[c]);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, CG_GROUP_PREFIX, strlen(CG_GROUP_PREFIX)) != 0) continue;
            long pid = atol(e->d_name + strlen(CG_GROUP_PREFIX));
            if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", host->base[c], e->d_name) < (int)sizeof path)
                remove_group_dir(path);
        }
        closedir(d);
    }
}

/* --------------------------------------------------------------------------------------------
 * Creation and removal
 */

/* v2: lets the children of dir use memory, pids (and cpu when offered). */
static int enable_v2(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    if (write_text(path, "+memory +pids") != 0) return -1;
    write_text(path, "+cpu"); /* optional: cpu.stat has usage_usec without it */
    return 0;
}

static int make_dirs(cgroup_t *self, const cgroup_host_t *host, const char *name, char *err,
                     size_t errlen)
{
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        if (!self->has[c]) continue;
        snprintf(self->group[c], sizeof self->group[c], "%s/%s%d", host->base[c], CG_GROUP_PREFIX,
                 (int)getpid());
        if (snprintf(self->dir[c], sizeof self->dir[c], "%s/%s", self->group[c], name) >=
            (int)sizeof self->dir[c]) {
            snprintf(err, errlen, "cgroup path too long");
            return -1;
        }
        if (self->version == CGROUP_V2 && c > 0) continue; /* one directory for all */
        if (self->version == CGROUP_V2 && enable_v2(host->base[c]) != 0) goto fail;
        if (mkdir(self->group[c], 0755) != 0 && errno != EEXIST) goto fail;
        if (self->version == CGROUP_V2 && enable_v2(self->group[c]) != 0) goto fail;
        if (mkdir(self->dir[c], 0755) != 0 && errno != EEXIST) goto fail;
        continue;
    fail:
        snprintf(err, errlen, "cannot create cgroup %s: %s", self->dir[c], strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether cgroup.procs file i is that of a hierarchy an earlier one is of already (v1: cpu and
 * cpuacct are often mounted together): a process joins each hierarchy once, since every move
 * costs an RCU grace period. */
static bool joined_before(const cgroup_t *self, int i)
{
    for (int j = F_MEM_PROCS; j < i; j++)
        if (self->fd[j] >= 0 &&
            strcmp(self->dir[cg_files[j].controller], self->dir[cg_files[i].controller]) == 0)
            return true;
    return false;
}

static int open_files(cgroup_t *self, char *err, size_t errlen)
{
    for (int i = 0; i < F_COUNT; i++) {
        const cg_file_t *f = &cg_files[i];
        const char *name = self->version == CGROUP_V2 ? f->v2 : f->v1;
        if (!name || !self->has[f->controller]) continue;
        if (i <= F_CPU_PROCS && joined_before(self, i)) continue;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", self->dir[f->controller], name);
        self->fd[i] = open(path, (f->read_write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (self->fd[i] < 0 && f->required) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
    }
    if (self->version == CGROUP_V2) {
        self->dir_fd = open(self->dir[CGROUP_MEMORY], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (self->dir_fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", self->dir[0], strerror(errno));
            return -1;
        }
    }
    return 0;
}

cgroup_t *cgroup_create(const cgroup_host_t *host, const char *name, char *err, size_t errlen)
{
    cgroup_t *self = lcx_calloc(1, sizeof *self);
    self->version = host->version;
    memcpy(self->has, host->has, sizeof self->has);
    self->dir_fd = -1;
    self->memory_mb = self->max_processes = -1;
    for (int i = 0; i < F_COUNT; i++)
        self->fd[i] = -1;
    if (make_dirs(self, host, name, err, errlen) != 0 || open_files(self, err, errlen) != 0) {
        cgroup_destroy(&self);
        return NULL;
    }
    return self;
}

static void pause_briefly(void)
{
    struct timespec ts = {0, CG_KILL_PAUSE_US * 1000L};
    nanosleep(&ts, NULL);
}

void cgroup_destroy(cgroup_t **self_p)
{
    if (!self_p || !*self_p) return;
    cgroup_t *self = *self_p;
    cgroup_kill_all(self, 0, 1000);
    for (int i = 0; i < F_COUNT; i++)
        if (self->fd[i] >= 0) close(self->fd[i]);
    if (self->dir_fd >= 0) close(self->dir_fd);
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        if (!self->dir[c][0] || (self->version == CGROUP_V2 && c > 0)) continue;
        for (int i = 0; i < CG_RMDIR_TRIES && rmdir(self->dir[c]) != 0 && errno == EBUSY; i++)
            pause_briefly();   /* exiting processes still hold it */
        rmdir(self->group[c]); /* fails while other slots' groups remain: the last one removes */
    }
    free(self);
    *self_p = NULL;
}

/* --------------------------------------------------------------------------------------------
 * Limits and accounting
 */

/* The text to the control file `name` of the group's directory of controller c. 0 or -1. */
static int write_control(const cgroup_t *self, int c, const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", self->dir[c], name);
    return write_text(path, text);
}

int cgroup_share_cpu(cgroup_t *self, long cpus)
{
    if (!self->has[CGROUP_CPU]) {
        errno = ENOTSUP;
        return -1;
    }
    char quota[64];
    if (self->version == CGROUP_V2) {
        if (cpus > 0)
            snprintf(quota, sizeof quota, "%ld %d", cpus * CGROUP_CPU_PERIOD_US,
                     CGROUP_CPU_PERIOD_US);
        else
            snprintf(quota, sizeof quota, "max %d", CGROUP_CPU_PERIOD_US);
        if (write_control(self, CGROUP_CPU, "cpu.weight", "100") != 0) return -1;
        return write_control(self, CGROUP_CPU, "cpu.max", quota);
    }
    char period[32];
    snprintf(period, sizeof period, "%d", CGROUP_CPU_PERIOD_US);
    snprintf(quota, sizeof quota, "%ld", cpus > 0 ? cpus * CGROUP_CPU_PERIOD_US : -1L);
    if (write_control(self, CGROUP_CPU, "cpu.shares", "1024") != 0 ||
        write_control(self, CGROUP_CPU, "cpu.cfs_period_us", period) != 0)
        return -1;
    return write_control(self, CGROUP_CPU, "cpu.cfs_quota_us", quota);
}

/* "-1"/"max" for none, else the number of bytes. */
static void limit_text(const cgroup_t *self, long mb, char *out, size_t size)
{
    if (mb <= 0)
        snprintf(out, size, "%s", self->version == CGROUP_V2 ? "max" : "-1");
    else
        snprintf(out, size, "%lld", (long long)mb * 1024 * 1024);
}

/* v1: memsw (memory + swap) is kept equal to memory (no swap) and must never be below it, so
 * raising writes memsw first and lowering writes memory first. */
static int limit_memory_v1(cgroup_t *self, long mb)
{
    char text[32];
    limit_text(self, mb, text, sizeof text);
    long now = self->memory_mb; /* <= 0: unlimited (or never written: the kernel's unlimited) */
    bool raise = mb <= 0 || (now > 0 && mb > now);
    int swap = self->fd[F_SWAP_LIMIT];
    if (swap >= 0 && raise && fd_write(swap, text) != 0) return -1;
    if (fd_write(self->fd[F_MEM_LIMIT], text) != 0) return -1;
    if (swap >= 0 && !raise && fd_write(swap, text) != 0) return -1;
    return 0;
}

static int limit_memory(cgroup_t *self, long mb)
{
    if (self->version == CGROUP_V1) return limit_memory_v1(self, mb);
    char text[32];
    limit_text(self, mb, text, sizeof text);
    if (fd_write(self->fd[F_MEM_LIMIT], text) != 0) return -1;
    if (self->fd[F_SWAP_LIMIT] >= 0) fd_write(self->fd[F_SWAP_LIMIT], "0");
    return 0;
}

int cgroup_limit(cgroup_t *self, long memory_mb, long max_processes)
{
    if (memory_mb < 0) memory_mb = 0;
    if (max_processes < 0) max_processes = 0;
    if (memory_mb != self->memory_mb) {
        if (limit_memory(self, memory_mb) != 0) return -1;
        self->memory_mb = memory_mb;
    }
    if (max_processes != self->max_processes) {
        char text[32];
        if (max_processes > 0)
            snprintf(text, sizeof text, "%ld", max_processes);
        else
            snprintf(text, sizeof text, "max");
        if (fd_write(self->fd[F_PIDS_MAX], text) != 0) return -1;
        self->max_processes = max_processes;
    }
    return 0;
}

static long oom_kills(const cgroup_t *self)
{
    char text[1024];
    if (fd_read(self->fd[F_MEM_OOM], text, sizeof text) != 0) return -1;
    return keyed_value(text, "oom_kill");
}

/* CPU time in microseconds so far; -1 when unknown. */
static long long cpu_usage_us(const cgroup_t *self)
{
    char text[1024];
    if (self->fd[F_CPU_USAGE] < 0 || fd_read(self->fd[F_CPU_USAGE], text, sizeof text) != 0)
        return -1;
    if (self->version == CGROUP_V2) return keyed_value(text, "usage_usec");
    return atoll(text) / 1000; /* cpuacct.usage: nanoseconds */
}

int cgroup_begin(cgroup_t *self)
{
    if (self->fd[F_MEM_PEAK] >= 0) {
        /* v1: writing 0 resets the maximum to the current usage; v2 (6.12+): any write resets
         * what this descriptor reports. Older v2 kernels keep the all-time peak. */
        const char *reset = self->version == CGROUP_V2 ? "reset" : "0";
        if (fd_write(self->fd[F_MEM_PEAK], reset) != 0 && self->version == CGROUP_V1) return -1;
    }
    self->cpu_base_us = 0;
    if (self->version == CGROUP_V1 && self->fd[F_CPU_USAGE] >= 0) {
        if (fd_write(self->fd[F_CPU_USAGE], "0") != 0) return -1;
    } else {
        long long us = cpu_usage_us(self);
        self->cpu_base_us = us > 0 ? (long)us : 0;
    }
    self->oom_base = oom_kills(self);
    return 0;
}

int cgroup_end(cgroup_t *self, cgroup_stats_t *stats)
{
    memset(stats, 0, sizeof *stats);
    char text[64];
    if (self->fd[F_MEM_PEAK] >= 0 && fd_read(self->fd[F_MEM_PEAK], text, sizeof text) == 0)
        stats->memory_kb = (long)(atoll(text) / 1024);
    long long us = cpu_usage_us(self);
    if (us >= 0) stats->cpu_ms = (long)((us - self->cpu_base_us) / 1000);
    if (stats->cpu_ms < 0) stats->cpu_ms = 0;
    long kills = oom_kills(self);
    stats->oom_killed = kills >= 0 && self->oom_base >= 0 && kills > self->oom_base;
    return 0;
}

/* --------------------------------------------------------------------------------------------
 * Processes
 */

int cgroup_procs_fds(const cgroup_t *self, int fds[CGROUP_CONTROLLERS])
{
    int n = 0;
    for (int i = F_MEM_PROCS; i <= F_CPU_PROCS; i++) /* each hierarchy once (open_files) */
        if (self->fd[i] >= 0) fds[n++] = self->fd[i];
    return n;
}

int cgroup_dir_fd(const cgroup_t *self)
{
    return self->dir_fd;
}

long cgroup_count(const cgroup_t *self)
{
    char text[64];
    if (fd_read(self->fd[F_PIDS_CURRENT], text, sizeof text) != 0) return -1;
    return atol(text);
}

/* The parent of pid (from /proc), -1 when unknown. */
static long parent_of(long pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (fd_read_path(path, text, sizeof text) != 0) return -1;
    const char *close_paren = strrchr(text, ')'); /* the name may hold anything */
    long ppid;
    return close_paren && sscanf(close_paren + 1, " %*c %ld", &ppid) == 1 ? ppid : -1;
}

static bool has_children(long pid)
{
    char path[64], text[16];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    return fd_read_path(path, text, sizeof text) != 0 || text[0] != '\0';
}

/* The keeper, and a child of it with none of its own: a spare init (keeper.h) that waits for
 * the slot's next job. Nothing of a run can be either: a run's processes live in the PID
 * namespace of its init, whose end takes them all. */
static bool spared(long pid, pid_t keeper)
{
    if (keeper <= 0) return false;
    return pid == keeper || (parent_of(pid) == keeper && !has_children(pid));
}

/* The group's cgroup.procs (of the pids hierarchy on v1), open for reading; NULL with errno. */
static FILE *open_procs(const cgroup_t *self)
{
    char path[PATH_MAX + 32];
    int c = self->version == CGROUP_V2 ? CGROUP_MEMORY : CGROUP_PIDS;
    snprintf(path, sizeof path, "%s/cgroup.procs", self->dir[c]);
    return fopen(path, "re");
}

/* A process to kill: a pid read from cgroup.procs names whatever process has that number by
 * the time it is used, so it is held by a pidfd, which names one process for good. */
typedef struct {
    long pid;
    int pidfd;   /* -1: none, the kernel has no pidfd_open (ENOSYS): killed by pid */
    bool listed; /* cgroup.procs still listed the pid after the pidfd was open */
} cg_victim_t;

static int victim_compare(const void *a, const void *b)
{
    long x = ((const cg_victim_t *)a)->pid, y = ((const cg_victim_t *)b)->pid;
    return x < y ? -1 : x > y;
}

/* Up to CG_KILL_BATCH listed processes but the spared ones, each with a pidfd, sorted by pid.
 * How many, or -1 with errno. */
static int open_victims(const cgroup_t *self, pid_t keeper, cg_victim_t *v)
{
    FILE *f = open_procs(self);
    if (!f) return -1;
    int n = 0;
    long pid;
    while (n < CG_KILL_BATCH && fscanf(f, "%ld", &pid) == 1) {
        if (pid <= 0 || spared(pid, keeper)) continue;
        int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        if (fd < 0 && errno != ENOSYS) continue; /* gone already (ESRCH) */
        v[n++] = (cg_victim_t){.pid = pid, .pidfd = fd, .listed = false};
    }
    fclose(f);
    qsort(v, (size_t)n, sizeof *v, victim_compare);
    return n;
}

/* Marks the victims cgroup.procs lists again, now that their pidfds are open. A pidfd whose
 * process is still alive afterwards holds the process that was listed: a pid is not reused
 * while its process exists. 0, or -1 with errno. */
static int confirm_victims(const cgroup_t *self, cg_victim_t *v, int n)
{
    FILE *f = open_procs(self);
    if (!f) return -1;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        cg_victim_t key = {.pid = pid};
        cg_victim_t *hit = bsearch(&key, v, (size_t)n, sizeof *v, victim_compare);
        if (hit) hit->listed = true;
    }
    fclose(f);
    return 0;
}

static bool victim_kill(const cg_victim_t *v)
{
    if (!v->listed) return false; /* left the group (it exited): its pid may be another's */
    if (v->pidfd >= 0) return syscall(SYS_pidfd_send_signal, v->pidfd, SIGKILL, NULL, 0) == 0;
    return kill((pid_t)v->pid, SIGKILL) == 0;
}

/* One round: SIGKILL to the processes listed in cgroup.procs but the spared ones, through
 * pidfds. How many it signalled, or -1 with errno when the list cannot be read. */
static long kill_listed(const cgroup_t *self, pid_t keeper)
{
    cg_victim_t v[CG_KILL_BATCH];
    int n = open_victims(self, keeper, v);
    if (n < 0) return -1;
    int rc = n > 0 ? confirm_victims(self, v, n) : 0;
    int saved = errno;
    long signalled = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && victim_kill(&v[i])) signalled++;
        if (v[i].pidfd >= 0) close(v[i].pidfd);
    }
    errno = saved;
    return rc == 0 ? signalled : -1;
}

/* The VmHWM line of /proc/<pid>/status in KiB; -1 when unknown (gone, or a zombie has none). */
static long vm_hwm_kb(long pid)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (fd_read_path(path, text, sizeof text) != 0) return -1;
    const char *line = strstr(text, "\nVmHWM:");
    return line ? atol(line + strlen("\nVmHWM:")) : -1;
}

long cgroup_peak_rss_kb(const cgroup_t *self, pid_t keeper)
{
    FILE *f = open_procs(self);
    if (!f) return -1;
    long pid, peak = -1;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (pid <= 0 || spared(pid, keeper)) continue;
        long kb = vm_hwm_kb(pid);
        if (kb > peak) peak = kb;
    }
    fclose(f);
    return peak;
}

int cgroup_kill_all(cgroup_t *self, pid_t keeper, int timeout_ms)
{
    long rounds = timeout_ms * 1000L / CG_KILL_PAUSE_US + 1;
    long alone = keeper > 0 && kill(keeper, 0) == 0 ? 1 : 0;
    for (long i = 0; i < rounds; i++) {
        long count = cgroup_count(self);
        if (count < 0) return -1; /* unknown: the group may hold anything */
        if (count <= alone) return 0;
        if (keeper <= 0 && self->fd[F_KILL] >= 0 && fd_write(self->fd[F_KILL], "1") == 0) {
            /* v2 cgroup.kill: the kernel kills them all, including ones forking right now */
        } else {
            long signalled = kill_listed(self, keeper);
            if (signalled < 0) return -1;
            if (signalled == 0) return 0; /* only spared ones are left */
        }
        pause_briefly();
    }
    errno = ETIMEDOUT;
    return -1;
}
