/*
 * test_sandbox: the isolated sandbox and its modules (cgroup, seccomp policy, root, privileges)
 * with real programs. Needs root (skipped otherwise). Every run must leave nothing behind: no
 * process, no file in its work directory's parent, an empty slot cgroup, and after
 * sandbox_destroy no cgroup of ours at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "sandbox.h"
#include "seccomp_policy.h"
#include "util.h"

#define PY "/usr/bin/python3"
#define UID_BASE 61000
#define KEEPER_PROGRAM "build/bin/lcx-keeper"

typedef struct {
    sandbox_t *sandbox;
    cgroup_host_t host;
    char parent[64]; /* holds the work directories */
    int parent_fd;
    char workdir[128];
    char name[32];
} fixture_t;

static fixture_t fx;
static char keeper_program[PATH_MAX]; /* lcx-keeper of this build, as the runner uses it */
static char *const test_env[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL};

static int group_setup(void **state)
{
    if (geteuid() != 0) return 0; /* every test skips */
    char err[512] = "";
    if (cgroup_detect(&fx.host, err, sizeof err) != 0) {
        fprintf(stderr, "cgroup_detect: %s\n", err);
        return -1;
    }
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.slots = 2;
    config.uid_base = UID_BASE;
    config.scratch_mb = 8;
    config.tmp_mb = 8;
    if (!realpath(KEEPER_PROGRAM, keeper_program)) {
        fprintf(stderr, "%s: %s (make all builds it)\n", KEEPER_PROGRAM, strerror(errno));
        return -1;
    }
    config.keeper = keeper_program;
    fx.sandbox = sandbox_new(&config, err, sizeof err);
    if (!fx.sandbox) {
        fprintf(stderr, "sandbox_new: %s\n", err);
        return -1;
    }
    snprintf(fx.parent, sizeof fx.parent, "/tmp/lcx-test-sandbox-XXXXXX");
    if (!mkdtemp(fx.parent)) return -1;
    fx.parent_fd = open(fx.parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fx.parent_fd >= 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    if (fx.parent_fd <= 0) return 0;
    sandbox_destroy(&fx.sandbox);
    close(fx.parent_fd);
    return rmdir(fx.parent);
}

/* A fresh work directory with its tmpfs, as job.c makes them. */
static int setup(void **state)
{
    if (!fx.sandbox) return 0;
    static int counter;
    snprintf(fx.name, sizeof fx.name, "w%d", counter++);
    if (mkdirat(fx.parent_fd, fx.name, 0700) != 0) return -1;
    if (sandbox_workdir_mount(fx.sandbox, fx.parent_fd, fx.name) != 0) return -1;
    snprintf(fx.workdir, sizeof fx.workdir, "%s/%s", fx.parent, fx.name);
    return 0;
}

static void assert_parent_empty(void)
{
    DIR *d = opendir(fx.parent);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("left behind in the scratch parent: %s", e->d_name);
    closedir(d);
}

static int teardown(void **state)
{
    if (!fx.sandbox) return 0;
    if (sandbox_workdir_unmount(fx.sandbox, fx.parent_fd, fx.name) != 0) return -1;
    if (unlinkat(fx.parent_fd, fx.name, AT_REMOVEDIR) != 0) return -1;
    assert_parent_empty();
    return 0;
}

#define SKIP_UNLESS_ROOT()                                                                         \
    do {                                                                                           \
        if (!fx.sandbox) skip();                                                                   \
    } while (0)

/* Runs argv in the sandbox in the fixture's work directory. */
static sandbox_result_t run_argv(char *const *argv, long wall_ms, long memory_mb)
{
    sandbox_spec_t spec = {.argv = argv,
                           .env = test_env,
                           .workdir = fx.workdir,
                           .wall_ms = wall_ms,
                           .cpu_ms = wall_ms,
                           .memory_mb = memory_mb,
                           .max_processes = 32,
                           .output_bytes = 65536,
                           .file_bytes = 1 << 20,
                           .cancel_fd = -1};
    sandbox_result_t r;
    if (sandbox_run(fx.sandbox, &spec, &r) != 0) fail_msg("sandbox_run: %s", strerror(errno));
    sandbox_settle(fx.sandbox); /* the tests look for what a run left behind */
    return r;
}

static sandbox_result_t run_py(const char *code)
{
    char *argv[] = {PY, "-c", (char *)code, NULL};
    return run_argv(argv, 10000, 256);
}

static sandbox_result_t run_sh(const char *script)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    return run_argv(argv, 10000, 256);
}

static void expect_output(sandbox_result_t *r, const char *out)
{
    if (r->signaled || r->exit_code != 0 || strcmp(r->out, out) != 0)
        fail_msg("exit %d signal %d, stdout '%s' (expected '%s'), stderr '%s'", r->exit_code,
                 r->signaled ? r->signal : 0, r->out, out, r->err);
    sandbox_result_free(r);
}

/* The pids of the host whose command line contains `marker`. */
static int host_processes_with(const char *marker)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, cmd, sizeof cmd - 1);
        close(fd);
        for (ssize_t i = 0; i < n; i++)
            if (cmd[i] == '\0') cmd[i] = ' ';
        cmd[n > 0 ? n : 0] = '\0';
        if (strstr(cmd, marker)) found++;
    }
    closedir(d);
    return found;
}

/* The parent of process pid, -1 when it is gone. */
/* Reads a process's state letter and parent from /proc; false when it is gone. */
static bool stat_of(long pid, char *state, long *ppid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *close_paren = strrchr(text, ')'); /* the name may hold anything */
    return close_paren && sscanf(close_paren + 1, " %c %ld", state, ppid) == 2;
}

static long parent_of(long pid)
{
    char state;
    long ppid;
    return stat_of(pid, &state, &ppid) ? ppid : -1;
}

/* Whether the process has exited within 5 s (a zombie its parent has yet to reap counts). */
static bool exits_soon(long pid)
{
    for (int i = 0; i < 500; i++) {
        char state;
        long ppid;
        if (!stat_of(pid, &state, &ppid) || state == 'Z') return true;
        usleep(10000);
    }
    return false;
}

static bool has_children(long pid)
{
    char path[64], text[16] = "";
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", pid, pid);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    bool any = fgets(text, sizeof text, f) != NULL && text[0] != '\0';
    fclose(f);
    return any;
}

typedef enum { PROC_KEEPER, PROC_SPARE, PROC_LEFT } proc_kind_t;

/* A slot's process: its keeper (our child), a spare init (the keeper's child without children
 * of its own, keeper.h), or something a run left behind. */
static proc_kind_t kind_of(long pid)
{
    long parent = parent_of(pid);
    if (parent == (long)getpid()) return PROC_KEEPER;
    if (parent > 0 && parent_of(parent) == (long)getpid() && !has_children(pid)) return PROC_SPARE;
    return PROC_LEFT;
}

/* Reads slot `slot`'s pids cgroup: the number of its processes of `kind`; *last: the last
 * pid counted. */
static long scan_slot(int slot, proc_kind_t kind, long *last)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lcx-%d/slot%d/cgroup.procs", fx.host.base[CGROUP_PIDS],
             (int)getpid(), slot);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long n = 0, pid;
    *last = -1;
    while (fscanf(f, "%ld", &pid) == 1)
        if (kind_of(pid) == kind) {
            n++;
            *last = pid;
        }
    fclose(f);
    return n;
}

static long slot_count(int slot, proc_kind_t kind)
{
    long last;
    return scan_slot(slot, kind, &last);
}

static long slot_processes(int slot)
{
    return slot_count(slot, PROC_LEFT);
}

/* The pid of slot `slot`'s spare init, -1 when there is none. */
static long slot_spare(int slot)
{
    long spare;
    return scan_slot(slot, PROC_SPARE, &spare) < 0 ? -1 : spare;
}

/* The pid of slot `slot`'s keeper, -1 when there is none. */
static long slot_keeper(int slot)
{
    long keeper;
    return scan_slot(slot, PROC_KEEPER, &keeper) < 0 ? -1 : keeper;
}

/* --------------------------------------------------------------------------------------------
 * cgroup module
 */

static void test_cgroup_detect(void **state)
{
    SKIP_UNLESS_ROOT();
    assert_true(fx.host.version == CGROUP_V1 || fx.host.version == CGROUP_V2);
    assert_true(fx.host.has[CGROUP_MEMORY] && fx.host.has[CGROUP_PIDS]);
    assert_non_null(strstr(fx.host.description, "memory"));
    assert_non_null(strstr(sandbox_mode(fx.sandbox), fx.host.description));
    assert_non_null(strstr(sandbox_mode(fx.sandbox), "namespaces+pivot_root+seccomp"));
}

static void test_cgroup_create_limit_remove(void **state)
{
    SKIP_UNLESS_ROOT();
    char err[256];
    cgroup_t *cg = cgroup_create(&fx.host, "unit", err, sizeof err);
    if (!cg) fail_msg("cgroup_create: %s", err);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/lcx-%d/unit", fx.host.base[CGROUP_MEMORY], (int)getpid());
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(cgroup_limit(cg, 64, 10), 0);
    assert_int_equal(cgroup_limit(cg, 128, 0), 0); /* raise, then unlimited processes */
    assert_int_equal(cgroup_limit(cg, 32, 5), 0);  /* lower again */
    assert_int_equal(cgroup_limit(cg, 0, 5), 0);   /* no memory limit */
    assert_int_equal(cgroup_begin(cg), 0);
    cgroup_stats_t stats;
    assert_int_equal(cgroup_end(cg, &stats), 0);
    assert_false(stats.oom_killed);
    assert_int_equal(cgroup_count(cg), 0);
    cgroup_destroy(&cg);
    assert_null(cg);
    assert_int_not_equal(stat(path, &st), 0); /* removed */
}

/* The first line of slot `slot`'s cpu control file `name`, "" when unreadable. */
static void cpu_control(int slot, const char *name, char *out, size_t size)
{
    char path[PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/lcx-%d/slot%d/%s", fx.host.base[CGROUP_CPU], (int)getpid(),
             slot, name);
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f) return;
    if (!fgets(out, (int)size, f)) out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

/* Where the host has a cpu controller, each slot has an equal share and a quota of one CPU
 * (the default). */
static void test_slots_have_a_cpu_share(void **state)
{
    SKIP_UNLESS_ROOT();
    if (!fx.host.has[CGROUP_CPU]) {
        fprintf(stderr, "skipped: this host's cgroups have no cpu controller (%s)\n",
                fx.host.description);
        skip();
    }
    assert_non_null(strstr(fx.host.description, "cpu"));
    char text[64], expected[64];
    for (int slot = 0; slot < 2; slot++) {
        if (fx.host.version == CGROUP_V2) {
            cpu_control(slot, "cpu.weight", text, sizeof text);
            assert_string_equal(text, "100");
            snprintf(expected, sizeof expected, "%d %d", CGROUP_CPU_PERIOD_US,
                     CGROUP_CPU_PERIOD_US);
            cpu_control(slot, "cpu.max", text, sizeof text);
            assert_string_equal(text, expected);
        } else {
            snprintf(expected, sizeof expected, "%d", CGROUP_CPU_PERIOD_US);
            cpu_control(slot, "cpu.shares", text, sizeof text);
            assert_string_equal(text, "1024");
            cpu_control(slot, "cpu.cfs_period_us", text, sizeof text);
            assert_string_equal(text, expected);
            cpu_control(slot, "cpu.cfs_quota_us", text, sizeof text);
            assert_string_equal(text, expected);
        }
    }
}

/* A child of ours that joins cg and waits to be killed; its pid. */
static pid_t child_in(cgroup_t *cg)
{
    int fds[CGROUP_CONTROLLERS];
    int n = cgroup_procs_fds(cg, fds);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < n; i++)
            if (write(fds[i], "0", 1) != 1) _exit(1);
        for (;;)
            pause();
    }
    return pid;
}

/* The wait status of our child pid, within 5 s; -1 when it is still alive. */
static int status_soon(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(10000);
    }
    return -1;
}

/* kill_all kills the group's processes but the keeper it is told to spare, then that too. */
static void test_cgroup_kill_all_kills_members(void **state)
{
    SKIP_UNLESS_ROOT();
    char err[256];
    cgroup_t *cg = cgroup_create(&fx.host, "unit-kill", err, sizeof err);
    if (!cg) fail_msg("cgroup_create: %s", err);
    pid_t keeper = child_in(cg), other = child_in(cg);
    assert_true(keeper > 0 && other > 0);
    for (int i = 0; i < 500 && cgroup_count(cg) < 2; i++)
        usleep(10000);
    assert_int_equal(cgroup_count(cg), 2);
    assert_int_equal(cgroup_kill_all(cg, keeper, 2000), 0);
    int status = status_soon(other);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(waitpid(keeper, &status, WNOHANG), 0); /* spared: still alive */
    assert_int_equal(cgroup_kill_all(cg, 0, 2000), 0);
    status = status_soon(keeper);
    assert_true(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cgroup_destroy(&cg);
}

/* A group whose process count cannot be read (its directories removed behind its back) is not
 * reported empty: killing what it holds fails. */
static void test_cgroup_unknown_count_fails_the_kill(void **state)
{
    SKIP_UNLESS_ROOT();
    char err[256];
    cgroup_t *cg = cgroup_create(&fx.host, "unit-gone", err, sizeof err);
    if (!cg) fail_msg("cgroup_create: %s", err);
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        if (!fx.host.has[c]) continue;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/lcx-%d/unit-gone", fx.host.base[c], (int)getpid());
        if (rmdir(path) != 0 && errno != ENOENT) fail_msg("rmdir %s: %s", path, strerror(errno));
    }
    assert_int_equal(cgroup_count(cg), -1);
    assert_int_equal(cgroup_kill_all(cg, 0, 100), -1);
    cgroup_destroy(&cg);
}

/* --------------------------------------------------------------------------------------------
 * Isolation
 */

static void test_runs_unprivileged(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r = run_py("import os\n"
                                "print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
                                "s = open('/proc/self/status').read()\n"
                                "print([l.split()[1] for l in s.splitlines()\n"
                                "       if l.split(':')[0] in ('CapEff', 'CapPrm', 'CapBnd',\n"
                                "                              'NoNewPrivs', 'Seccomp')])\n");
    char expected[256];
    snprintf(expected, sizeof expected,
             "%d %d %d []\n['0000000000000000', '0000000000000000', '0000000000000000', '1', "
             "'2']\n",
             UID_BASE, UID_BASE, UID_BASE);
    /* slot 0 or 1: accept either uid */
    if (strstr(r.out, "61001")) {
        snprintf(expected, sizeof expected,
                 "%d %d %d []\n['0000000000000000', '0000000000000000', '0000000000000000', "
                 "'1', '2']\n",
                 UID_BASE + 1, UID_BASE + 1, UID_BASE + 1);
    }
    expect_output(&r, expected);
}

static void test_host_secrets_invisible(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r = run_sh("for f in /etc/shadow /root /home /var /run /sys/fs/cgroup; do "
                                "test -e $f && echo visible $f; done; "
                                "cat /etc/shadow 2>/dev/null || echo no-shadow; "
                                "echo x > /usr/x 2>/dev/null || echo usr-ro; "
                                "echo x > /x 2>/dev/null || echo root-ro; "
                                "echo x > /etc/passwd 2>/dev/null || echo etc-ro");
    expect_output(&r, "no-shadow\nusr-ro\nroot-ro\netc-ro\n");
}

static void test_proc_shows_only_the_run(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r =
        run_py("import os\n"
               "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
               "print(pids == [os.getpid()], os.getpid())\n");
    expect_output(&r, "True 2\n");
}

static void test_no_network(void **state)
{
    SKIP_UNLESS_ROOT();
    /* A listening socket on the host's loopback: the program must not reach it. */
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(server >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(server, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(server, 1), 0);
    socklen_t len = sizeof addr;
    assert_int_equal(getsockname(server, (struct sockaddr *)&addr, &len), 0);
    char code[512];
    snprintf(code, sizeof code,
             "import socket\n"
             "for host in ('127.0.0.1', '192.0.2.1'):\n"
             "    s = socket.socket()\n"
             "    s.settimeout(2)\n"
             "    try:\n"
             "        s.connect((host, %d))\n"
             "        print('connected', host)\n"
             "    except OSError as e:\n"
             "        print('refused', host)\n",
             ntohs(addr.sin_port));
    sandbox_result_t r = run_py(code);
    close(server);
    expect_output(&r, "refused 127.0.0.1\nrefused 192.0.2.1\n");
}

static void test_seccomp_blocks(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r =
        run_py("import ctypes, os, socket\n"
               "libc = ctypes.CDLL(None, use_errno=True)\n"
               "def err(rc):\n"
               "    return os.strerror(ctypes.get_errno()) if rc != 0 else 'allowed'\n"
               "print('unshare', err(libc.unshare(0x20000000)))\n"      /* CLONE_NEWUTS */
               "print('unshare-user', err(libc.unshare(0x10000000)))\n" /* CLONE_NEWUSER */
               "print('ptrace', err(libc.ptrace(16, 1, 0, 0)))\n"       /* PTRACE_ATTACH */
               "print('mount', err(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))\n"
               "def fd_err(fd):\n"
               "    return err(-1) if fd < 0 else 'allowed'\n"
               "print('inotify', fd_err(libc.inotify_init1(0)))\n"
               "print('fanotify', fd_err(libc.fanotify_init(0, 0)))\n"
               "for fam in (40, 16, 17):\n" /* VSOCK NETLINK PACKET */
               "    try:\n"
               "        socket.socket(fam, socket.SOCK_DGRAM)\n"
               "        print(fam, 'allowed')\n"
               "    except OSError as e:\n"
               "        print(fam, e.errno == 97)\n" /* EAFNOSUPPORT */
               "socket.socket(socket.AF_UNIX).close()\n"
               "print('unix ok')\n");
    expect_output(&r, "unshare Operation not permitted\n"
                      "unshare-user Operation not permitted\n"
                      "ptrace Operation not permitted\n"
                      "mount Operation not permitted\n"
                      "inotify Operation not permitted\n"
                      "fanotify Operation not permitted\n"
                      "40 True\n16 True\n17 True\nunix ok\n");
}

static void test_seccomp_policy_builds(void **state)
{
    SKIP_UNLESS_ROOT();
    char err[256];
    seccomp_policy_t *p = seccomp_policy_new(err, sizeof err);
    if (!p) fail_msg("seccomp_policy_new: %s", err);
    seccomp_policy_destroy(&p);
    assert_null(p);
}

/* Counts the live output of each stream. */
static void count_output(void *arg, int stream, const char *data, size_t len)
{
    (void)data;
    ((size_t *)arg)[stream == SANDBOX_STDOUT ? 0 : 1] += len;
}

/* Live output stops at the cap, as the result does, even within one large write. */
static void test_live_output_stays_under_the_cap(void **state)
{
    (void)state;
    SKIP_UNLESS_ROOT();
    char *argv[] = {PY, "-c", "import sys; sys.stdout.write('x' * 100000); sys.stdout.flush()",
                    NULL};
    size_t live[2] = {0, 0};
    sandbox_spec_t spec = {.argv = argv,
                           .env = test_env,
                           .workdir = fx.workdir,
                           .wall_ms = 10000,
                           .memory_mb = 256,
                           .output_bytes = 4096,
                           .cancel_fd = -1,
                           .on_output = count_output,
                           .output_arg = live};
    sandbox_result_t r;
    assert_int_equal(sandbox_run(fx.sandbox, &spec, &r), 0);
    sandbox_settle(fx.sandbox);
    assert_true(r.out_truncated);
    assert_int_equal(strlen(r.out), 4096);
    assert_int_equal(live[0], 4096);
    sandbox_result_free(&r);
}

/* --------------------------------------------------------------------------------------------
 * Limits and accounting
 */

static void test_memory_limit_is_oom(void **state)
{
    SKIP_UNLESS_ROOT();
    char *argv[] = {PY, "-c", "b = bytearray(300 * 1024 * 1024)\nprint('alive')\n", NULL};
    sandbox_result_t r = run_argv(argv, 10000, 64);
    assert_true(r.memory_limit);
    assert_true(r.signaled && r.signal == SIGKILL);
    assert_string_equal(r.out, "");
    assert_true(r.memory_kb > 32 * 1024 && r.memory_kb <= 64 * 1024 + 64);
    sandbox_result_free(&r);
}

/* A run stopped before its program ended (here by the wall-clock limit) reports the peak of
 * its own processes, not the cgroup's, which counts the page cache of every file the run read
 * and so reads as the limit for a small program under a small limit. */
static void test_stopped_run_reports_its_processes_peak(void **state)
{
    SKIP_UNLESS_ROOT();
    /* It drops the toolchain files' pages from the page cache and reads them in again: they
     * are charged to its cgroup then, up to its limit. */
    char *argv[] = {PY, "-c",
                    "import os, time\n"
                    "def files():\n"
                    "    for d in ('/usr/lib/jvm', '/usr/lib/x86_64-linux-gnu', '/usr/lib'):\n"
                    "        for root, dirs, names in os.walk(d):\n"
                    "            for n in names:\n"
                    "                yield os.path.join(root, n)\n"
                    "total = 0\n"
                    "for path in files():\n"
                    "    if total >= 128 << 20: break\n"
                    "    try:\n"
                    "        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)\n"
                    "    except OSError:\n"
                    "        continue\n"
                    "    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)\n"
                    "    while total < 128 << 20:\n"
                    "        b = os.read(fd, 1 << 20)\n"
                    "        if not b: break\n"
                    "        total += len(b)\n"
                    "    os.close(fd)\n"
                    "print('read', total >= 128 << 20, flush=True)\n"
                    "time.sleep(60)\n",
                    NULL};
    sandbox_result_t r = run_argv(argv, 6000, 32);
    if (!r.timed_out || strcmp(r.out, "read True\n") != 0)
        fail_msg("timed out %d, memory limit %d, exit %d/%d, out '%s', err '%.300s'", r.timed_out,
                 r.memory_limit, r.exit_code, r.signal, r.out, r.err);
    if (r.memory_kb <= 0 || r.memory_kb >= 32 * 1024)
        fail_msg("memory_kb %ld for a sleeping python under 32 MiB", r.memory_kb);
    sandbox_result_free(&r);
}

static void test_cpu_covers_children(void **state)
{
    SKIP_UNLESS_ROOT();
    /* Two child processes spin ~400 ms each; the parent shell itself uses nothing. */
    sandbox_result_t r = run_sh("spin() { " PY " -c 'import time\n"
                                "t = time.process_time()\n"
                                "while time.process_time() - t < 0.4: pass'; }; "
                                "spin & spin & wait; echo done");
    assert_string_equal(r.out, "done\n");
    if (r.cpu_ms < 700) fail_msg("cpu_ms %ld, expected >= 700 for two 400 ms children", r.cpu_ms);
    sandbox_result_free(&r);
}

static void test_fork_bomb_contained(void **state)
{
    SKIP_UNLESS_ROOT();
    char *argv[] = {"/bin/bash", "-c", "f() { f | f & }; f; sleep 1; echo survived", NULL};
    int64_t start = lcx_mono_ms();
    sandbox_result_t r = run_argv(argv, 2000, 256);
    assert_true(lcx_mono_ms() - start < 5000);
    sandbox_result_free(&r);
    assert_int_equal(slot_processes(0), 0);
    assert_int_equal(slot_processes(1), 0);
}

static void test_daemon_does_not_outlive_the_run(void **state)
{
    SKIP_UNLESS_ROOT();
    const char *marker = "31.4159265";
    char script[256];
    snprintf(script, sizeof script, "setsid sleep %s </dev/null >/dev/null 2>&1 & echo started",
             marker);
    int64_t start = lcx_mono_ms();
    sandbox_result_t r = run_sh(script);
    assert_true(lcx_mono_ms() - start < 3000);
    expect_output(&r, "started\n");
    assert_int_equal(host_processes_with(marker), 0);
    assert_int_equal(slot_processes(0), 0);
    assert_int_equal(slot_processes(1), 0);
}

static void test_scratch_space_is_capped(void **state)
{
    SKIP_UNLESS_ROOT();
    /* The work directory and /tmp hold 8 MiB each (config); files of 1 MB (under the file size
     * limit of 1 MiB) fill them. */
    sandbox_result_t r = run_sh("fill() { for i in $(seq 20); do "
                                "head -c 1000000 /dev/zero > $1/f$i 2>/dev/null || "
                                "{ echo $1 full; return; }; done; echo $1 not full; }; "
                                "fill . ; fill /tmp");
    expect_output(&r, ". full\n/tmp full\n");
}

static void test_workdir_files_and_cleanup(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r = run_sh("echo hi > f && ln -s /etc/passwd link && mkdir -p a/b && "
                                "chmod 0 a && cat f && pwd");
    expect_output(&r, "hi\n/work\n");
    /* teardown unmounts and removes; the parent must then be empty */
}

static void test_argv0_in_workdir(void **state)
{
    SKIP_UNLESS_ROOT();
    char path[256];
    snprintf(path, sizeof path, "%s/prog.sh", fx.workdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho \"$0\"\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0755), 0);
    char *argv[] = {path, NULL};
    sandbox_result_t r = run_argv(argv, 5000, 64);
    expect_output(&r, "/work/prog.sh\n");
}

/* The executable a process runs, "" when unknown. */
static void exe_of(long pid, char *path, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/%ld/exe", pid);
    ssize_t n = readlink(link, path, size - 1);
    path[n > 0 ? n : 0] = '\0';
}

static void test_keeper_sits_in_each_slot(void **state)
{
    SKIP_UNLESS_ROOT();
    for (int slot = 0; slot < 2; slot++) {
        assert_int_equal(slot_count(slot, PROC_KEEPER), 1);
        assert_int_equal(slot_processes(slot), 0);
        char exe[PATH_MAX];
        exe_of(slot_keeper(slot), exe, sizeof exe);
        assert_string_equal(exe, keeper_program); /* its own small image, not ours */
    }
    sandbox_result_t r = run_sh("cat /proc/self/cgroup | grep -c lcx- || true");
    expect_output(&r, "0\n"); /* its own cgroup namespace: the slot's group is its root */
}

static void test_killed_keeper_is_replaced(void **state)
{
    SKIP_UNLESS_ROOT();
    long before[2] = {slot_keeper(0), slot_keeper(1)};
    for (int slot = 0; slot < 2; slot++) {
        assert_true(before[slot] > 0);
        assert_int_equal(kill((pid_t)before[slot], SIGKILL), 0);
    }
    for (int i = 0; i < 2; i++) {
        sandbox_result_t r = run_sh("echo again");
        expect_output(&r, "again\n");
    }
    long replaced = 0;
    for (int slot = 0; slot < 2; slot++) {
        long now = slot_keeper(slot);
        if (now > 0 && now != before[slot]) replaced++;
        assert_int_equal(slot_processes(slot), 0);
    }
    assert_true(replaced >= 1); /* the slot (or slots) the runs used */
}

/* The slot's spare init once it is there (the keeper starts it when a run's init is gone):
 * its pid, or -1 after 5 s without one. */
static long await_spare(int slot)
{
    for (int i = 0; i < 500; i++) {
        long spare = slot_spare(slot);
        if (spare > 0) return spare;
        usleep(10000);
    }
    return -1;
}

/* After a run the keeper holds the next run's init ready; the next run uses it up, and the
 * keeper starts another. */
static void test_spare_init_starts_the_next_run(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r = run_sh("echo one");
    expect_output(&r, "one\n");
    int slot = slot_spare(0) > 0 || await_spare(0) > 0 ? 0 : 1;
    long spare = await_spare(slot);
    assert_true(spare > 0);
    char exe[PATH_MAX];
    exe_of(spare, exe, sizeof exe);
    assert_string_equal(exe, keeper_program);
    r = run_sh("echo two");
    expect_output(&r, "two\n");
    assert_true(exits_soon(spare)); /* it ran "two" and is gone (its keeper may reap it late) */
    long next = await_spare(slot);
    assert_true(next > 0 && next != spare);
    assert_int_equal(slot_processes(slot), 0);
}

/* A spare that is gone (killed by hand) leaves the next run to start its own init. (One killed
 * in the instant it is handed its job takes that run with it, as a killed init does.) */
static void test_killed_spare_is_not_missed(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_result_t r = run_sh("echo one");
    expect_output(&r, "one\n");
    for (int slot = 0; slot < 2; slot++) {
        long spare = slot_spare(slot);
        if (spare <= 0) continue;
        assert_int_equal(kill((pid_t)spare, SIGKILL), 0);
        for (int i = 0; i < 500 && slot_spare(slot) == spare; i++) /* gone, reaped */
            usleep(10000);
    }
    r = run_sh("echo two");
    expect_output(&r, "two\n");
    for (int slot = 0; slot < 2; slot++)
        assert_int_equal(slot_processes(slot), 0);
}

/* stdin must be a regular file: a FIFO (which a compile step could plant) is refused at once,
 * never waited on. */
static void test_fifo_stdin_is_refused(void **state)
{
    SKIP_UNLESS_ROOT();
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s.fifo", fx.workdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *argv[] = {"/bin/cat", NULL};
    sandbox_spec_t spec = {
        .argv = argv, .stdin_path = fifo, .workdir = fx.workdir, .wall_ms = 1000, .cancel_fd = -1};
    sandbox_result_t r;
    int rc = sandbox_run(fx.sandbox, &spec, &r);
    int saved = errno;
    unlink(fifo);
    assert_int_equal(rc, -1);
    assert_int_equal(saved, EINVAL);
}

static void test_missing_program_is_an_error(void **state)
{
    SKIP_UNLESS_ROOT();
    char *argv[] = {"/usr/bin/no-such-program", NULL};
    sandbox_spec_t spec = {.argv = argv, .workdir = fx.workdir, .wall_ms = 1000, .cancel_fd = -1};
    sandbox_result_t r;
    assert_int_equal(sandbox_run(fx.sandbox, &spec, &r), -1);
    assert_int_equal(errno, ENOENT);
    sandbox_settle(fx.sandbox);
    assert_int_equal(slot_processes(0), 0);
}

/* `echo word` through sb prints word. */
static void expect_echo(sandbox_t *sb, const char *word)
{
    char command[64], expected[64];
    snprintf(command, sizeof command, "echo %s", word);
    snprintf(expected, sizeof expected, "%s\n", word);
    char *argv[] = {"/bin/sh", "-c", command, NULL};
    sandbox_spec_t spec = {.argv = argv, .wall_ms = 5000, .output_bytes = 4096, .cancel_fd = -1};
    sandbox_result_t r;
    assert_int_equal(sandbox_run(sb, &spec, &r), 0);
    assert_string_equal(r.out, expected);
    sandbox_result_free(&r);
}

/* Without the keeper program the keepers serve from the runner's image: slower, the same. */
static void test_keeper_without_its_program(void **state)
{
    if (geteuid() != 0) skip();
    char err[512];
    memset(err, 'x', sizeof err); /* not a string: a success must not read it as one */
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.uid_base = UID_BASE;
    config.keeper = "/nonexistent/lcx-keeper";
    sandbox_t *sb = sandbox_new(&config, err, sizeof err);
    if (!sb) fail_msg("sandbox_new: %.*s", (int)sizeof err, err);
    assert_int_equal(err[0], '\0');
    expect_echo(sb, "served");
    sandbox_destroy(&sb);
}

/* The unsafe mode says so, and still runs programs (no isolation). */
static void test_unsafe_mode(void **state)
{
    char err[256];
    memset(err, 'x', sizeof err);
    sandbox_config_t config;
    sandbox_config_defaults(&config);
    config.unsafe_no_sandbox = true;
    sandbox_t *sb = sandbox_new(&config, err, sizeof err);
    if (!sb) fail_msg("sandbox_new: %.*s", (int)sizeof err, err);
    assert_int_equal(err[0], '\0');
    assert_int_equal(strncmp(sandbox_mode(sb), "UNSAFE", 6), 0);
    assert_int_equal(sandbox_workdir_mount(sb, AT_FDCWD, "/nonexistent"), 0); /* no-op */
    expect_echo(sb, "plain");
    sandbox_destroy(&sb);
}

/* Last: sandbox_destroy removes every cgroup this process made. */
static void test_destroy_removes_cgroups(void **state)
{
    SKIP_UNLESS_ROOT();
    sandbox_destroy(&fx.sandbox);
    for (int c = 0; c < CGROUP_CONTROLLERS; c++) {
        if (!fx.host.has[c]) continue;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/lcx-%d", fx.host.base[c], (int)getpid());
        struct stat st;
        if (stat(path, &st) == 0) fail_msg("%s is left behind", path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cgroup_detect),
        cmocka_unit_test(test_cgroup_create_limit_remove),
        cmocka_unit_test(test_cgroup_kill_all_kills_members),
        cmocka_unit_test(test_slots_have_a_cpu_share),
        cmocka_unit_test(test_cgroup_unknown_count_fails_the_kill),
        cmocka_unit_test(test_seccomp_policy_builds),
        cmocka_unit_test_setup_teardown(test_runs_unprivileged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_secrets_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proc_shows_only_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seccomp_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_limit_is_oom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_run_reports_its_processes_peak, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cpu_covers_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_bomb_contained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemon_does_not_outlive_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scratch_space_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workdir_files_and_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_output_stays_under_the_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argv0_in_workdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_program_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_stdin_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeper_sits_in_each_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_keeper_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_init_starts_the_next_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_spare_is_not_missed, setup, teardown),
        cmocka_unit_test(test_unsafe_mode),
        cmocka_unit_test(test_destroy_removes_cgroups),
        cmocka_unit_test(test_keeper_without_its_program), /* after: a sandbox of its own */
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
