/*
 * scratch: the runner's own scratch directory and the sweep of dead runners' ones (see
 * scratch.h).
 */
#include "scratch.h"

#include "alloc.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRATCH_MKDIR_TRIES 8 /* random suffixes tried before giving up */
#define SCRATCH_OWN_TRIES 8   /* own directories made before giving up (each swept at once) */
#define SCRATCH_RM_DEPTH 130  /* deepest tree removed: a job's 128 levels below two of ours */
#define SCRATCH_RM_PASSES 3   /* readdir passes over one directory */

struct scratch_t {
    int parent_fd;       /* scratch_dir */
    int fd;              /* our directory, flock'ed while we live */
    char name[64];       /* runner-<pid>-<random> */
    char path[PATH_MAX]; /* scratch_dir (resolved)/name */
};

/* --------------------------------------------------------------------------------------------
 * Making directories
 */

int scratch_make_parents(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *slash = strchr(buf + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash) *slash = '\0';
        if (buf[0] && mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        if (!slash) return 0;
        *slash = '/';
    }
}

static unsigned random_suffix(void)
{
    unsigned value = 0;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) != (ssize_t)sizeof value)
        value = (unsigned)lcx_mono_ms() ^ (unsigned)getpid() ^ (unsigned)gettid();
    return value;
}

int scratch_make_dir(int parent_fd, const char *prefix, char *name, size_t size)
{
    for (int i = 0; i < SCRATCH_MKDIR_TRIES; i++) {
        if (snprintf(name, size, "%s-%08x", prefix, random_suffix()) >= (int)size) {
            errno = ENAMETOOLONG;
            break;
        }
        if (mkdirat(parent_fd, name, 0700) == 0) return 0;
        if (errno != EEXIST) break;
    }
    if (size) name[0] = '\0';
    return -1;
}

/* --------------------------------------------------------------------------------------------
 * Removing directories
 */

static int remove_tree(int parent_fd, const char *name, int depth);

/* Makes a directory we cannot enter ours again, through an O_PATH descriptor so that a symlink
 * put in its place is never followed. */
static int unlock_dir(int parent_fd, const char *name)
{
    int fd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = chmod(path, 0700);
    close(fd);
    return rc;
}

static int open_dir_nofollow(int parent_fd, const char *name)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(parent_fd, name, flags);
    if (fd < 0 && errno == EACCES && unlock_dir(parent_fd, name) == 0)
        fd = openat(parent_fd, name, flags);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
        fchmod(fd, st.st_mode | 0700); /* so its entries can be unlinked */
    return fd;
}

/* Removes one entry of an open directory. */
static int remove_entry(int dir_fd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) return remove_tree(dir_fd, name, depth + 1);
    return unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT ? 0 : -1;
}

static bool is_dot_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* One readdir pass; -1 when some entry could not be removed. */
static int remove_entries(DIR *dir, int depth)
{
    int rc = 0;
    struct dirent *entry;
    rewinddir(dir);
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (is_dot_entry(name)) continue;
        if (remove_entry(dirfd(dir), name, depth) != 0) rc = -1;
    }
    return rc;
}

static bool has_entries(DIR *dir)
{
    struct dirent *entry;
    rewinddir(dir);
    while ((entry = readdir(dir)) != NULL)
        if (!is_dot_entry(entry->d_name)) return true;
    return false;
}

/* parent_fd/name opened for reading its entries, never through a link; NULL with errno set. */
static DIR *open_dir_stream(int parent_fd, const char *name)
{
    int fd = open_dir_nofollow(parent_fd, name);
    if (fd < 0) return NULL;
    DIR *dir = fdopendir(fd);
    if (!dir) close(fd);
    return dir;
}

/* rm -rf of parent_fd/name without following links. */
static int remove_tree(int parent_fd, const char *name, int depth)
{
    if (depth > SCRATCH_RM_DEPTH) {
        errno = ELOOP;
        return -1;
    }
    DIR *dir = open_dir_stream(parent_fd, name);
    if (!dir) return errno == ENOENT ? 0 : -1;
    int rc = -1;
    for (int pass = 0; pass < SCRATCH_RM_PASSES && rc != 0; pass++) {
        remove_entries(dir, depth);
        rc = unlinkat(parent_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
    }
    int saved = errno;
    closedir(dir);
    errno = saved;
    return rc;
}

int scratch_remove_tree(int parent_fd, const char *name)
{
    return remove_tree(parent_fd, name, 0);
}

int scratch_empty_dir(int parent_fd, const char *name)
{
    DIR *dir = open_dir_stream(parent_fd, name);
    if (!dir) return -1;
    int rc = -1;
    for (int pass = 0; pass < SCRATCH_RM_PASSES && rc != 0; pass++)
        rc = remove_entries(dir, 0) == 0 && !has_entries(dir) ? 0 : -1;
    closedir(dir);
    return rc;
}

/* --------------------------------------------------------------------------------------------
 * Mounts
 */

/* The mount point (5th field) of a /proc/self/mountinfo line into out, its octal escapes
 * (\040 for a space, ...) decoded. False when the line has none or it does not fit. */
static bool mount_point(const char *line, char *out, size_t size)
{
    const char *p = line;
    for (int field = 0; field < 4; field++) {
        p = strchr(p, ' ');
        if (!p) return false;
        p++;
    }
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\n') {
        char c = *p++;
        if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
            p[2] <= '7') {
            c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
            p += 3;
        }
        if (n + 1 >= size) return false;
        out[n++] = c;
    }
    out[n] = '\0';
    return n > 0;
}

/* Whether path is dir or inside it. */
static bool is_below(const char *path, const char *dir)
{
    size_t len = strlen(dir);
    return strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static int deepest_first(const void *a, const void *b)
{
    size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
    return x > y ? -1 : x < y;
}

/* The mount points of this mount namespace at or below dir, deepest first; how many in *n. */
static char **mounts_below(const char *dir, size_t *n)
{
    *n = 0;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return NULL;
    char **points = NULL, *line = NULL, point[PATH_MAX];
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!mount_point(line, point, sizeof point) || !is_below(point, dir)) continue;
        points = lcx_realloc(points, (*n + 1) * sizeof *points);
        points[(*n)++] = lcx_strdup(point);
    }
    free(line);
    fclose(f);
    if (*n) qsort(points, *n, sizeof *points, deepest_first);
    return points;
}

/* Detaches every mount at or below dir (never following a link at the end of a path); how
 * many it detached. */
static int unmount_below(const char *dir)
{
    size_t n;
    char **points = mounts_below(dir, &n);
    int detached = 0;
    for (size_t i = 0; i < n; i++) {
        if (umount2(points[i], MNT_DETACH | UMOUNT_NOFOLLOW) == 0) detached++;
        free(points[i]);
    }
    free(points);
    return detached;
}

/* --------------------------------------------------------------------------------------------
 * The runner's directory and the sweep
 */

/* Whether the directory fd is still linked: one another runner's start swept is not. */
static bool still_linked(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_nlink > 0;
}

/* Opens parent_fd/name (a directory, no link) and takes its lock; -1 when it is gone, not a
 * directory, or locked by its live runner (or a runner sweeping it). */
static int open_locked(int parent_fd, const char *name)
{
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && still_linked(fd)) return fd;
    close(fd);
    return -1;
}

/* Makes runner-<pid>-<random>, locked. A directory that another runner's start sweeps before
 * we hold its lock is lost to it: then another one. */
static int create_own(scratch_t *self)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%s-%d", SCRATCH_RUNNER_PREFIX, (int)getpid());
    for (int i = 0; i < SCRATCH_OWN_TRIES; i++) {
        if (scratch_make_dir(self->parent_fd, prefix, self->name, sizeof self->name) != 0)
            return -1;
        self->fd = open_locked(self->parent_fd, self->name);
        if (self->fd >= 0) return 0;
    }
    errno = EAGAIN;
    return -1;
}

/* Removes parent/name with whatever is mounted in it. One log line. */
static void sweep_one(const scratch_t *self, const char *parent, const char *name)
{
    int fd = open_locked(self->parent_fd, name);
    if (fd < 0) return; /* its runner lives (or another runner sweeps it) */
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", parent, name) >= (int)sizeof path) {
        close(fd);
        return;
    }
    int mounts = unmount_below(path);
    if (scratch_remove_tree(self->parent_fd, name) == 0)
        lcx_log(LCX_INFO, "swept the scratch directory of a runner that is gone", "path", path,
                LCX_LOG_INT("mounts", mounts), NULL);
    else
        lcx_log(LCX_WARN, "cannot sweep the scratch directory of a runner that is gone", "path",
                path, LCX_LOG_INT("mounts", mounts), "error", strerror(errno), NULL);
    close(fd);
}

/* Every sibling runner-* directory whose lock is free. */
static void sweep(const scratch_t *self, const char *parent)
{
    int fd = dup(self->parent_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        lcx_log(LCX_WARN, "cannot read the scratch directory", "path", parent, "error",
                strerror(errno), NULL);
        return;
    }
    size_t plen = strlen(SCRATCH_RUNNER_PREFIX);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, SCRATCH_RUNNER_PREFIX, plen) != 0 || name[plen] != '-' ||
            strcmp(name, self->name) == 0)
            continue;
        sweep_one(self, parent, name);
    }
    closedir(d);
}

/* The steps of scratch_open: NULL, or what failed (errno set). */
static const char *open_steps(scratch_t *self, const char *parent)
{
    char real[PATH_MAX];
    if (scratch_make_parents(parent) != 0 || !realpath(parent, real))
        return "cannot create the scratch directory";
    self->parent_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->parent_fd < 0) return "cannot open the scratch directory";
    if (create_own(self) != 0) return "cannot create a directory in the scratch directory";
    if (snprintf(self->path, sizeof self->path, "%s/%s", real, self->name) >=
        (int)sizeof self->path) {
        errno = ENAMETOOLONG;
        return "scratch path too long";
    }
    sweep(self, real);
    return NULL;
}

scratch_t *scratch_open(const char *parent, char *err, size_t errlen)
{
    if (!parent || !*parent) {
        snprintf(err, errlen, "no scratch directory configured");
        return NULL;
    }
    scratch_t *self = lcx_calloc(1, sizeof *self);
    self->parent_fd = self->fd = -1;
    const char *failed = open_steps(self, parent);
    if (failed) {
        snprintf(err, errlen, "%s (%s): %s", failed, parent, strerror(errno));
        scratch_close(&self);
    }
    return self;
}

void scratch_close(scratch_t **self_p)
{
    if (!self_p || !*self_p) return;
    scratch_t *self = *self_p;
    if (self->fd >= 0) {
        unmount_below(self->path);
        if (scratch_remove_tree(self->parent_fd, self->name) != 0)
            lcx_log(LCX_WARN, "cannot remove the runner's scratch directory", "path", self->path,
                    "error", strerror(errno), NULL);
        close(self->fd);
    }
    if (self->parent_fd >= 0) close(self->parent_fd);
    free(self);
    *self_p = NULL;
}

const char *scratch_path(const scratch_t *self)
{
    return self->path;
}
