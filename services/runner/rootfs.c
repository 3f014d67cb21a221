/* rootfs: the prepared minimal root and entering it (see rootfs.h). */
#include "rootfs.h"
#include "child.h"

#include "alloc.h"
#include "nsfd.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Where the helper assembles the root inside its own mount namespace: any directory will do,
 * as the mount is invisible outside that namespace. */
#define BUILD_DIR "/tmp"
#define ROOT_OPTIONS "size=1m,nr_inodes=512,mode=0755"
#define DEV_OPTIONS "size=64k,nr_inodes=64,mode=0755"
#define TMP_DEFAULT_MB 64
#define TMP_INODES 4096
#define MS_HARDEN (MS_NOSUID | MS_NODEV)

struct rootfs_t {
    int mntns_fd;
};

/* Top-level host entries: symlinks are copied (merged /usr), directories bound read-only. */
static const char *const top_entries[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

/* Parts of /etc toolchains resolve (glob patterns; what does not exist is skipped).
 * /etc/alternatives: /usr/bin/java -> /etc/alternatives/java -> the JDK;
 * /etc/java-*: the JDK's conf/ and lib/jvm.cfg are symlinks into it. */
static const char *const etc_entries[] = {"/etc/alternatives", "/etc/java-*", "/etc/ssl",
                                          "/etc/ld.so.cache", "/etc/localtime"};

typedef struct {
    const rootfs_config_t *config;
    char *err;
    size_t errlen;
} build_t;

static int fail(build_t *b, const char *what, const char *path)
{
    int saved = errno;
    snprintf(b->err, b->errlen, "%s %s: %s", what, path, strerror(saved));
    errno = saved;
    return -1;
}

/* --------------------------------------------------------------------------------------------
 * Building (in the helper: ordinary code)
 */

/* Creates every missing directory of `path` (absolute, below BUILD_DIR). */
static int make_path(build_t *b, const char *path, bool last_is_dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *slash = strchr(buf + strlen(BUILD_DIR) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return fail(b, "mkdir", buf);
        *slash = '/';
    }
    if (last_is_dir && mkdir(buf, 0755) != 0 && errno != EEXIST) return fail(b, "mkdir", buf);
    return 0;
}

/* Bind-mounts host `src` read-only, nosuid, nodev at the same path in the new root. */
static int bind_readonly(build_t *b, const char *src, bool is_dir)
{
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s%s", BUILD_DIR, src);
    if (make_path(b, dst, is_dir) != 0) return -1;
    if (!is_dir) {
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return fail(b, "create", dst);
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0) return fail(b, "bind", src);
    if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_HARDEN, NULL) != 0)
        return fail(b, "remount read-only", dst);
    return 0;
}

/* A host path as it is: a symlink is copied, a directory or file bound read-only. */
static int copy_entry(build_t *b, const char *src)
{
    struct stat st;
    if (lstat(src, &st) != 0) return errno == ENOENT ? 0 : fail(b, "lstat", src);
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX], dst[PATH_MAX];
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0) return fail(b, "readlink", src);
        target[n] = '\0';
        snprintf(dst, sizeof dst, "%s%s", BUILD_DIR, src);
        if (make_path(b, dst, false) != 0) return -1;
        return symlink(target, dst) == 0 ? 0 : fail(b, "symlink", dst);
    }
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
        return bind_readonly(b, src, S_ISDIR(st.st_mode));
    return 0;
}

static int copy_glob(build_t *b, const char *pattern)
{
    glob_t g;
    int rc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOMATCH) return 0;
    if (rc != 0) {
        snprintf(b->err, b->errlen, "glob %s failed", pattern);
        errno = EINVAL;
        return -1;
    }
    int result = 0;
    for (size_t i = 0; i < g.gl_pathc && result == 0; i++)
        result = copy_entry(b, g.gl_pathv[i]);
    globfree(&g);
    return result;
}

static int write_file(build_t *b, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/etc/%s", BUILD_DIR, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail(b, "create", path);
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    close(fd);
    if (n != (ssize_t)len) return fail(b, "write", path);
    return 0;
}

/* passwd, group and hosts naming root and the sandbox users (lcx0, lcx1, ...): getpwuid()
 * answers, and nothing of the host's accounts is visible. In the namespace's helper, a forked
 * child (nsfd.h): plain malloc, its failure an error of the build. */
static int write_identity(build_t *b)
{
    size_t size = 256 + (size_t)b->config->users * 96;
    char *passwd = malloc(size), *group = malloc(size);
    int rc = -1;
    if (!passwd || !group) {
        errno = ENOMEM;
        snprintf(b->err, b->errlen, "out of memory");
        goto out;
    }
    size_t p = (size_t)snprintf(passwd, size, "root:x:0:0:root:/:/usr/sbin/nologin\n");
    size_t g = (size_t)snprintf(group, size, "root:x:0:\n");
    for (long i = 0; i < b->config->users; i++) {
        long id = b->config->uid_base + i;
        p += (size_t)snprintf(passwd + p, size - p, "lcx%ld:x:%ld:%ld:lcx:/tmp:/bin/sh\n", i, id,
                              id);
        g += (size_t)snprintf(group + g, size - g, "lcx%ld:x:%ld:\n", i, id);
    }
    if (write_file(b, "passwd", passwd) == 0 && write_file(b, "group", group) == 0 &&
        write_file(b, "hosts", "127.0.0.1 localhost\n::1 localhost\n") == 0)
        rc = 0;
out:
    free(passwd);
    free(group);
    return rc;
}

static int make_dev(build_t *b)
{
    static const struct {
        const char *name;
        unsigned minor;
    } nodes[] = {{"null", 3}, {"zero", 5}, {"random", 8}, {"urandom", 9}};
    static const char *const links[][2] = {{"fd", "/proc/self/fd"},
                                           {"stdin", "/proc/self/fd/0"},
                                           {"stdout", "/proc/self/fd/1"},
                                           {"stderr", "/proc/self/fd/2"},
                                           {"shm", "/tmp"}};
    const char *dev = BUILD_DIR "/dev";
    /* Its own tmpfs: the root's is nodev, and device nodes must work here (the program cannot
     * create any: it has no CAP_MKNOD, and /dev is read-only). */
    if (mount("lcx-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, DEV_OPTIONS) != 0)
        return fail(b, "mount tmpfs", dev);
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dev, nodes[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(1, nodes[i].minor)) != 0)
            return fail(b, "mknod", path);
        if (chmod(path, 0666) != 0) return fail(b, "chmod", path); /* past the umask */
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dev, links[i][0]);
        if (symlink(links[i][1], path) != 0) return fail(b, "symlink", path);
    }
    if (mount(NULL, dev, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) != 0)
        return fail(b, "remount read-only", dev);
    return 0;
}

static int make_tree(build_t *b)
{
    static const char *const dirs[] = {"/usr", "/etc", "/dev", "/proc", "/tmp", ROOTFS_WORKDIR};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", BUILD_DIR, dirs[i]);
        if (mkdir(path, 0755) != 0) return fail(b, "mkdir", path);
    }
    if (bind_readonly(b, "/usr", true) != 0) return -1;
    for (size_t i = 0; i < sizeof top_entries / sizeof top_entries[0]; i++)
        if (copy_entry(b, top_entries[i]) != 0) return -1;
    for (size_t i = 0; i < sizeof etc_entries / sizeof etc_entries[0]; i++)
        if (copy_glob(b, etc_entries[i]) != 0) return -1;
    if (write_identity(b) != 0 || make_dev(b) != 0) return -1;
    return 0;
}

/* The helper's setup: build the tree on a tmpfs and make it the namespace's root. */
static int build(void *arg, char *err, size_t errlen)
{
    build_t *b = arg;
    b->err = err;
    b->errlen = errlen;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return fail(b, "make private", "/");
    if (mount("lcx-root", BUILD_DIR, "tmpfs", MS_HARDEN, ROOT_OPTIONS) != 0)
        return fail(b, "mount tmpfs", BUILD_DIR);
    if (make_tree(b) != 0) return -1;
    if (mount(NULL, BUILD_DIR, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_HARDEN, NULL) != 0)
        return fail(b, "remount read-only", BUILD_DIR);
    /* pivot_root(".", "."): the old root ends up on top of the new one and is detached. */
    if (chdir(BUILD_DIR) != 0) return fail(b, "chdir", BUILD_DIR);
    if (syscall(SYS_pivot_root, ".", ".") != 0) return fail(b, "pivot_root", BUILD_DIR);
    if (umount2(".", MNT_DETACH) != 0) return fail(b, "detach old root", "/");
    if (chdir("/") != 0) return fail(b, "chdir", "/");
    return 0;
}

rootfs_t *rootfs_new(const rootfs_config_t *config, char *err, size_t errlen)
{
    rootfs_t *self = lcx_calloc(1, sizeof *self);
    build_t b = {.config = config};
    self->mntns_fd = nsfd_create(CLONE_NEWNS, build, &b, err, errlen);
    if (self->mntns_fd < 0) {
        free(self);
        return NULL;
    }
    return self;
}

void rootfs_destroy(rootfs_t **self_p)
{
    if (!self_p || !*self_p) return;
    close((*self_p)->mntns_fd);
    free(*self_p);
    *self_p = NULL;
}

int rootfs_namespace_fd(const rootfs_t *self)
{
    return self->mntns_fd;
}

/* --------------------------------------------------------------------------------------------
 * Entering (in the run's first process: system calls only)
 */

void rootfs_enter_prepare(const rootfs_t *self, int workdir_fd, long tmp_mb, rootfs_enter_t *e)
{
    e->mntns_fd = self->mntns_fd;
    e->work_tree_fd = workdir_fd;
    snprintf(e->tmp_options, sizeof e->tmp_options, "size=%ldm,nr_inodes=%d,mode=1777",
             tmp_mb > 0 ? tmp_mb : TMP_DEFAULT_MB, TMP_INODES);
}

int rootfs_work_tree(int workdir_fd)
{
    return (int)syscall(SYS_open_tree, workdir_fd, "",
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
}

int rootfs_enter_root(const rootfs_enter_t *e, const char **stage)
{
    CHILD_STEP("setns prepared root", setns(e->mntns_fd, CLONE_NEWNS));
    CHILD_STEP("unshare mount namespace", unshare(CLONE_NEWNS));
    CHILD_STEP("mount /proc",
               mount("proc", "/proc", "proc", MS_HARDEN | MS_NOEXEC, "hidepid=invisible"));
    CHILD_STEP("mount /tmp", mount("lcx-tmp", "/tmp", "tmpfs", MS_HARDEN, e->tmp_options));
    return 0;
}

int rootfs_enter_work(const rootfs_enter_t *e, const char **stage)
{
    if (e->work_tree_fd >= 0)
        CHILD_STEP("mount /work", (int)syscall(SYS_move_mount, e->work_tree_fd, "", AT_FDCWD,
                                               ROOTFS_WORKDIR, MOVE_MOUNT_F_EMPTY_PATH));
    CHILD_STEP("chdir /work", chdir(ROOTFS_WORKDIR));
    return 0;
}
