/*
 * test_scratch: the runner's own scratch directory (locked while it lives) and the sweep of the
 * directories of runners that are gone: their mounts detached, their trees removed without
 * following links, a live runner's directory kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char parent[64];
static char outside[96]; /* a file the dead runner's links point at; must survive */

static int setup(void **state)
{
    snprintf(parent, sizeof parent, "/tmp/lcx-test-scratch-XXXXXX");
    if (!mkdtemp(parent)) return -1;
    snprintf(outside, sizeof outside, "%s.outside", parent);
    FILE *f = fopen(outside, "w");
    if (!f) return -1;
    fputs("keep me\n", f);
    return fclose(f);
}

static int teardown(void **state)
{
    unlink(outside);
    return rmdir(parent); /* empty again: everything was removed */
}

static void make_file(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("x\n", f);
    assert_int_equal(fclose(f), 0);
}

/* The entries of parent starting with prefix: how many, the last one in name. */
static int entries_with(const char *prefix, char *name, size_t size)
{
    DIR *d = opendir(parent);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            n++;
            if (name) snprintf(name, size, "%s", e->d_name);
        }
    closedir(d);
    return n;
}

/* Whether this mount namespace has a mount at path. */
static bool mounted(const char *path)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    assert_non_null(f);
    char line[4096], point[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1 && strcmp(point, path) == 0;
    fclose(f);
    return found;
}

/* A dead runner's directory: nested files, a chmod 0 directory, links to the outside file and
 * to the parent, and (as root) a tmpfs with a file on it. */
static void plant_dead(const char *dir, bool with_mount)
{
    char path[256];
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/ready-1", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/ready-1/a", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/ready-1/a/file", dir);
    make_file(path);
    snprintf(path, sizeof path, "%s/ready-1/a", dir);
    assert_int_equal(chmod(path, 0), 0);
    snprintf(path, sizeof path, "%s/ready-1/outside", dir);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof path, "%s/up", dir);
    assert_int_equal(symlink("..", path), 0);
    if (!with_mount) return;
    snprintf(path, sizeof path, "%s/ready-2", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mount("lcx-test", path, "tmpfs", 0, "size=1m"), 0);
    snprintf(path, sizeof path, "%s/ready-2/on-tmpfs", dir);
    make_file(path);
}

/* A child holding the lock of a directory, as a live runner does; its pid. */
static pid_t hold_lock(const char *dir)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "1", 1) != 1) _exit(1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
    return pid;
}

static void test_own_directory_is_locked_and_removed(void **state)
{
    char err[256] = "";
    char sub[96];
    snprintf(sub, sizeof sub, "%s/made/by/open", parent); /* mkdir -p */
    scratch_t *s = scratch_open(sub, err, sizeof err);
    if (!s) fail_msg("scratch_open: %s", err);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "runner-%d-", (int)getpid());
    const char *path = scratch_path(s);
    assert_non_null(strstr(path, prefix));
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1); /* ours, held */
    assert_int_equal(errno, EWOULDBLOCK);
    close(fd);
    char file[PATH_MAX + 8];
    snprintf(file, sizeof file, "%s/left", path);
    make_file(file);
    scratch_close(&s);
    assert_null(s);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(sub, sizeof sub, "%s/made/by/open", parent);
    assert_int_equal(rmdir(sub), 0);
    snprintf(sub, sizeof sub, "%s/made/by", parent);
    assert_int_equal(rmdir(sub), 0);
    snprintf(sub, sizeof sub, "%s/made", parent);
    assert_int_equal(rmdir(sub), 0);
}

static void test_sweep_removes_dead_and_keeps_live(void **state)
{
    bool root = geteuid() == 0;
    char dead[128], live[128], other[128], mount_point[160];
    snprintf(dead, sizeof dead, "%s/runner-999999-0000dead", parent);
    snprintf(live, sizeof live, "%s/runner-999998-00000001", parent);
    snprintf(other, sizeof other, "%s/not-a-runner", parent);
    plant_dead(dead, root);
    snprintf(mount_point, sizeof mount_point, "%s/ready-2", dead);
    assert_int_equal(mkdir(live, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);
    pid_t holder = hold_lock(live);
    char err[256] = "";
    scratch_t *s = scratch_open(parent, err, sizeof err);
    if (!s) fail_msg("scratch_open: %s", err);
    struct stat st;
    assert_int_not_equal(lstat(dead, &st), 0); /* swept */
    assert_false(mounted(mount_point));        /* its mount detached */
    assert_int_equal(stat(live, &st), 0);      /* its runner lives */
    assert_int_equal(stat(other, &st), 0);     /* not a runner's: never touched */
    assert_int_equal(stat(outside, &st), 0);   /* no link was followed */
    assert_int_equal(entries_with("runner-", NULL, 0), 2);
    scratch_close(&s);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    /* Its holder gone, the next start sweeps the live one too. */
    s = scratch_open(parent, err, sizeof err);
    if (!s) fail_msg("scratch_open: %s", err);
    assert_int_not_equal(stat(live, &st), 0);
    char name[256];
    assert_int_equal(entries_with("runner-", name, sizeof name), 1);
    scratch_close(&s);
    assert_int_equal(entries_with("runner-", NULL, 0), 0);
    assert_int_equal(rmdir(other), 0);
}

static void test_no_scratch_directory_is_an_error(void **state)
{
    char err[256] = "";
    assert_null(scratch_open("", err, sizeof err));
    assert_true(err[0] != '\0');
    char file[96];
    snprintf(file, sizeof file, "%s/file", parent);
    make_file(file);
    assert_null(scratch_open(file, err, sizeof err)); /* not a directory */
    assert_non_null(strstr(err, file));
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_directory_is_locked_and_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_removes_dead_and_keeps_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_scratch_directory_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
