"""Hostile programs through the real stack (issue #3): each one is contained with an honest
status and reason, nothing escapes, the host and other runs are unaffected, and no process,
cgroup or file is left behind."""

import atexit
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import time

from harness import (children_of, describe, expect, isolated, parent_of, processes_with,
                     signal_is, timeout)

MIB = 1024 * 1024

# A file of the host the programs try to reach; it must survive every test unchanged.
CANARY = "/tmp/lcx-hostile-canary-%d" % os.getpid()
CANARY_TEXT = "host data %d\n" % random.randrange(10 ** 9)
with open(CANARY, "w") as _f:
    _f.write(CANARY_TEXT)
atexit.register(lambda: os.path.exists(CANARY) and os.unlink(CANARY))


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


PASSWD_DIGEST = _digest("/etc/passwd")


def _marker():
    """A unique sleep duration: it names a test's processes in the host's process list."""
    return "7%d.%06d" % (random.randrange(10), random.randrange(10 ** 6))


# --------------------------------------------------------------------------------------------
# Leftover checks


def _cgroup_mounts():
    """{controller or 'cgroup2': mount point} of the host."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if rfields[0] == "cgroup2":
                mounts.setdefault("cgroup2", fields[4])
            elif rfields[0] == "cgroup":
                for opt in rfields[2].split(","):
                    mounts.setdefault(opt, fields[4])
    return mounts


def _runner_groups(stack):
    """The runner's lcx-<pid> cgroup directories (pids and memory hierarchies)."""
    pid = stack.procs["runner"].pid
    mounts = _cgroup_mounts()
    dirs = []
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            names = controllers.split(",") if controllers else ["cgroup2"]
            for name in names:
                if name in ("pids", "memory") or (name == "cgroup2" and "pids" not in mounts):
                    if name in mounts:
                        dirs.append(os.path.join(mounts[name] + path.rstrip("/"), "lcx-%d" % pid))
    return dirs


def _scratch_leftovers(stack):
    """What the scratch directory holds beyond the runner's own directory (runner-<pid>-*)
    with one empty ready-* directory per slot."""
    own = stack.runner_scratch()
    if own is None:
        return ["no runner-%d-* directory" % stack.procs["runner"].pid]

    def empty(name):
        try:
            return not os.listdir(os.path.join(own, name))
        except OSError:  # removed meanwhile: the next look decides
            return False
    left = [e for e in sorted(os.listdir(stack.scratch_dir)) if e != os.path.basename(own)]
    entries = sorted(os.listdir(own))
    ready = [e for e in entries if e.startswith("ready-") and empty(e)]
    left += [e for e in entries if e not in ready]
    if len(ready) > stack.runner_slots:
        left += ready
    return left


def _cgroup_problems(stack, groups):
    """What is wrong with the runner's cgroups: each must hold one cgroup per slot, and each
    slot nothing but its keeper (a child of the runner) and at most one spare init."""
    problems = []
    runner = stack.procs["runner"].pid
    for g in groups:
        if not os.path.isdir(g):
            problems.append("%s is missing" % g)
            continue
        subs = sorted(d for d in os.listdir(g) if os.path.isdir(os.path.join(g, d)))
        if subs != ["slot%d" % i for i in range(stack.runner_slots)]:
            problems.append("unexpected cgroups in %s: %s" % (g, subs))
        for s in subs:
            with open(os.path.join(g, s, "cgroup.procs")) as f:
                procs = f.read().split()
            keepers = [p for p in procs if parent_of(p) == runner]
            # The keeper's spare init waits for the slot's next job: a child of the keeper
            # that has no children of its own.
            spares = [p for p in procs if parent_of(p) in [int(k) for k in keepers]
                      and not children_of(int(p))]
            left = [p for p in procs if p not in keepers and p not in spares]
            if len(keepers) != 1:
                problems.append("%s/%s holds %d keepers" % (g, s, len(keepers)))
            if len(spares) > 1:
                problems.append("%s/%s holds %d spare inits" % (g, s, len(spares)))
            if left:
                problems.append("processes left in %s/%s: %s" % (g, s, left))
    return problems


def assert_no_leftovers(stack, marker=None):
    """No process with the marker, the runner's cgroups as _cgroup_problems wants them, the
    scratch directory empty, the canary and /etc/passwd intact."""
    deadline = time.monotonic() + 3
    while marker and processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    if marker:
        left = processes_with(marker)
        for pid in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        expect(not left, "processes of the run survived it: %s" % left)
    groups = _runner_groups(stack)
    expect(groups, "no cgroup of the runner found")
    # The runner sends the result once the program has exited and its output is read; the
    # rest of the run (init, killed, and what it left) is gone just after (sandbox_settle).
    deadline = time.monotonic() + 3
    while _cgroup_problems(stack, groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    problems = _cgroup_problems(stack, groups)
    expect(not problems, "; ".join(problems))
    # The runner removes a job's directory just after sending the result, and then prepares
    # the slot's next one (ready-*, empty: nothing of a run may reach the next).
    deadline = time.monotonic() + 3
    while _scratch_leftovers(stack) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _scratch_leftovers(stack)
    expect(not left, "scratch directory holds more than an empty prepared directory per slot: "
           "%s" % left)
    with open(CANARY) as f:
        expect(f.read() == CANARY_TEXT, "the host canary file was changed")
    expect(_digest("/etc/passwd") == PASSWD_DIGEST, "/etc/passwd of the host changed")


def assert_others_fine(stack):
    """A plain run right after completes normally: the runner and its slots still work."""
    e = stack.run("python", "print(6 * 7)\n")
    expect(e["status"] == "COMPLETED" and e["stdout"] == "42\n",
           "a plain run after the hostile one: %s" % describe(e))


def run_beside(stack, language, source, limits):
    """Starts the hostile run, then a plain one beside it on the other slot; returns the
    hostile execution after checking the plain one was unaffected."""
    s = stack.create_session(language, source)
    eid = stack.start_run(s["session_id"], {"limits": limits})
    time.sleep(0.3)
    t0 = time.monotonic()
    plain = stack.run("python", "print(sum(range(10)))\n")
    took = time.monotonic() - t0
    expect(plain["status"] == "COMPLETED" and plain["stdout"] == "45\n",
           "a plain run beside the hostile one: %s" % describe(plain))
    expect(took < 5, "a plain run beside the hostile one took %.1f s" % took)
    return stack.wait_execution(eid)


def expect_verdict(e, status, reason=None):
    """status and reason; a TIMEOUT asked for without a reason may name either limit."""
    reasons = ("wall_time", "cpu_time") if status == "TIMEOUT" and reason is None else (reason,)
    expect(e["status"] == status and e["reason"] in reasons,
           "expected %s/%s: %s" % (status, reason, describe(e)))


# --------------------------------------------------------------------------------------------
# Processes


@timeout(60)
def test_fork_bomb_bash(stack):
    e = run_beside(stack, "bash", ":(){ :|:& };:\nsleep 10\n", {"time_ms": 2000})
    expect_verdict(e, "TIMEOUT")
    assert_no_leftovers(stack)
    assert_others_fine(stack)


@timeout(60)
def test_fork_bomb_c(stack):
    src = "#include <unistd.h>\nint main(void) { for (;;) fork(); }\n"
    e = run_beside(stack, "c", src, {"time_ms": 2000})
    expect_verdict(e, "TIMEOUT")
    assert_no_leftovers(stack)
    assert_others_fine(stack)


@timeout(60)
def test_fork_bomb_python(stack):
    src = ("import os\nwhile True:\n    try:\n        os.fork()\n"
           "    except OSError:\n        pass\n")
    e = run_beside(stack, "python", src, {"time_ms": 2000})
    expect_verdict(e, "TIMEOUT")
    assert_no_leftovers(stack)


@timeout(60)
def test_java_thread_bomb(stack):
    src = ("public class Main {\n  public static void main(String[] a) {\n"
           "    for (int i = 0; ; i++) {\n"
           "      Thread t = new Thread(() -> { try { Thread.sleep(100000); }"
           " catch (Exception e) {} });\n"
           "      t.start();\n    }\n  }\n}\n")
    e = stack.run("java", src, {"limits": {"time_ms": 5000}})
    # The pids cgroup refuses the threads: the JVM reports it and ends (or is stopped).
    expect(e["status"] in ("FAILED", "TIMEOUT"), "thread bomb: %s" % describe(e))
    if e["status"] == "FAILED":
        expect(e["reason"] == "exit_code" and "unable to create" in (e["stderr"] or ""),
               "thread bomb: %s" % describe(e))
    assert_no_leftovers(stack)
    assert_others_fine(stack)


@timeout(60)
def test_java_shutdown_hook_never_ends(stack):
    marker = _marker()
    src = ("public class Main {\n  public static void main(String[] a) throws Exception {\n"
           "    Runtime.getRuntime().addShutdownHook(new Thread(() -> {\n"
           "      try { new ProcessBuilder(\"/bin/sleep\", \"%s\").start(); Thread.sleep(1000000); }"
           " catch (Exception e) {}\n    }));\n"
           "    System.out.println(\"main done\");\n  }\n}\n" % marker)
    e = stack.run("java", src, {"limits": {"time_ms": 3000}})
    expect_verdict(e, "TIMEOUT")
    expect(e["stdout"] == "main done\n", "stdout: %s" % describe(e))
    assert_no_leftovers(stack, marker)


def test_sleep_forever(stack):
    t0 = time.monotonic()
    e = stack.run("python", "import time\ntime.sleep(10 ** 9)\n", {"limits": {"time_ms": 1000}})
    expect_verdict(e, "TIMEOUT")
    expect(time.monotonic() - t0 < 5, "sleep forever took %.1f s" % (time.monotonic() - t0))
    assert_no_leftovers(stack)


def test_daemon_python_double_fork(stack):
    marker = _marker()
    src = ("import os, sys\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
           "        os.closerange(0, 3)\n        os.execv('/bin/sleep', ['sleep', '%s'])\n"
           "    os._exit(0)\nprint('parent done')\n" % marker)
    t0 = time.monotonic()
    e = stack.run("python", src)
    expect_verdict(e, "COMPLETED")
    expect(time.monotonic() - t0 < 4, "a daemon kept the run going")
    assert_no_leftovers(stack, marker)


def test_daemon_c_daemon_call(stack):
    marker = _marker()
    src = ("#include <stdlib.h>\n#include <unistd.h>\n#include <stdio.h>\n"
           "int main(void) {\n  puts(\"bye\"); fflush(stdout);\n"
           "  if (daemon(0, 0) != 0) return 1;\n"
           "  execl(\"/bin/sleep\", \"sleep\", \"%s\", (char *)0);\n  return 2;\n}\n" % marker)
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")  # daemon() forks and the original process exits 0
    assert_no_leftovers(stack, marker)


def test_daemon_bash_nohup(stack):
    marker = _marker()
    e = stack.run("bash", "nohup sleep %s >/dev/null 2>&1 &\ndisown\necho detached\n" % marker)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "detached\n", describe(e))
    assert_no_leftovers(stack, marker)


def test_kill_everything(stack):
    """kill -9 -1 inside the run reaches only the run's own processes."""
    marker = _marker()
    e = stack.run("bash", "sleep %s &\nkill -9 -1\necho still here\n" % marker)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "still here\n", describe(e))
    for service in ("gateway", "session", "dispatcher", "runner"):
        expect(stack.alive(service), "%s died of the run's kill -9 -1" % service)
    assert_no_leftovers(stack, marker)
    assert_others_fine(stack)


# --------------------------------------------------------------------------------------------
# Memory and CPU


@timeout(60)
def test_memory_bomb_python(stack):
    src = "a = []\nwhile True:\n    a.append(bytearray(16 * 1024 * 1024))\n"
    e = run_beside(stack, "python", src, {"memory_mb": 64, "time_ms": 10000})
    expect_verdict(e, "FAILED", "memory_limit")
    assert_no_leftovers(stack)


def test_memory_bomb_c_touched(stack):
    src = ("#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
           "int main(void) {\n  for (;;) { char *p = malloc(64 << 20); if (!p) return 3;"
           " memset(p, 1, 64 << 20); }\n}\n")
    e = stack.run("c", src, {"limits": {"memory_mb": 128, "time_ms": 10000}})
    expect_verdict(e, "FAILED", "memory_limit")
    expect(e["memory_kb"] is not None and e["memory_kb"] <= 128 * 1024 + 1024,
           "peak %r above the 128 MiB limit" % e["memory_kb"])
    assert_no_leftovers(stack)


def test_memory_untouched_allocation_c(stack):
    """8 GiB reserved but never touched costs nothing: the run completes, its peak is small."""
    src = ("#include <stdlib.h>\n#include <stdio.h>\n"
           "int main(void) {\n  char *p = malloc(8UL << 30);\n"
           "  printf(\"%s\\n\", p ? \"reserved\" : \"refused\");\n  return 0;\n}\n")
    e = stack.run("c", src, {"limits": {"memory_mb": 64}})
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] in ("reserved\n", "refused\n"), describe(e))
    expect(e["memory_kb"] < 64 * 1024, "peak %r KiB for an untouched allocation" % e["memory_kb"])
    assert_no_leftovers(stack)


def test_memory_bomb_java_off_heap(stack):
    src = ("import java.nio.ByteBuffer;\nimport java.util.*;\n"
           "public class Main {\n  public static void main(String[] a) {\n"
           "    List<ByteBuffer> keep = new ArrayList<>();\n"
           "    while (true) { ByteBuffer b = ByteBuffer.allocateDirect(32 << 20);\n"
           "      for (int i = 0; i < b.capacity(); i += 4096) b.put(i, (byte) 1);\n"
           "      keep.add(b); }\n  }\n}\n")
    e = stack.run("java", src, {"limits": {"memory_mb": 160, "time_ms": 15000}})
    # The cgroup's OOM killer stops it (the JVM's own direct-memory cap is far above 160 MiB).
    expect_verdict(e, "FAILED", "memory_limit")
    assert_no_leftovers(stack)


def test_memory_bomb_javascript_buffers(stack):
    src = "const keep = [];\nwhile (true) keep.push(Buffer.alloc(32 * 1024 * 1024, 1));\n"
    e = stack.run("javascript", src, {"limits": {"memory_mb": 128, "time_ms": 10000}})
    expect_verdict(e, "FAILED", "memory_limit")
    assert_no_leftovers(stack)


@timeout(60)
def test_cpu_spin_many_threads(stack):
    src = ("#include <pthread.h>\n#include <unistd.h>\n"
           "static void *spin(void *a) { for (volatile long i = 0;; i++) ; return a; }\n"
           "int main(void) {\n  pthread_t t[16];\n"
           "  for (int i = 0; i < 16; i++) pthread_create(&t[i], 0, spin, 0);\n"
           "  pthread_join(t[0], 0);\n}\n")
    t0 = time.monotonic()
    e = run_beside(stack, "c", src, {"time_ms": 1500})
    expect_verdict(e, "TIMEOUT")
    expect(time.monotonic() - t0 < 8, "16 spinning threads took %.1f s" % (time.monotonic() - t0))
    # CPU time covers every thread: more than the wall time on a machine with 2+ cores.
    expect(e["cpu_time_ms"] >= 1000, "cpu_time_ms %r for 16 spinning threads" % e["cpu_time_ms"])
    assert_no_leftovers(stack)


# --------------------------------------------------------------------------------------------
# Output and input


def test_output_flood_lines_javascript(stack):
    e = stack.run("javascript", "for (;;) console.log('flood');\n", {"limits": {"time_ms": 10000}})
    expect_verdict(e, "FAILED", "output_limit")
    expect(e["stdout_truncated"] is True and 0 < len(e["stdout"]) <= MIB, describe(e))
    assert_no_leftovers(stack)


def test_output_pipe_holds_the_cap(stack):
    # node's stdout never blocks: what a full pipe refuses stays in its memory, and a flood
    # would end as a memory limit whenever the runner reads slowly. The pipe holds the cap.
    src = ("import os\nos.set_blocking(1, False)\n"
           "n = os.write(1, b'x' * %d)\nos.write(2, b'wrote %%d' %% n)\n" % MIB)
    e = stack.run("python", src)
    expect_verdict(e, "COMPLETED")
    expect(len(e["stdout"]) == MIB and e["stderr"] == "wrote %d" % MIB, describe(e))
    assert_no_leftovers(stack)


def test_output_one_huge_write(stack):
    e = stack.run("python", "import sys\nsys.stdout.write('y' * (64 * 1024 * 1024))\n")
    expect_verdict(e, "FAILED", "output_limit")
    expect(e["stdout_truncated"] is True and len(e["stdout"]) <= MIB, describe(e))
    assert_no_leftovers(stack)


def test_invalid_utf8_output(stack):
    e = stack.run("python", "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\xc3( \\x80end\\n')\n"
                            "sys.stderr.buffer.write(b'\\xed\\xa0\\x80')\n")
    expect_verdict(e, "COMPLETED")
    expect(isinstance(e["stdout"], str) and e["stdout"].startswith("ok ")
           and e["stdout"].endswith("end\n"), "stdout %r" % e["stdout"])
    assert_no_leftovers(stack)


def test_closed_stdout(stack):
    src = ("#include <stdio.h>\n#include <unistd.h>\n"
           "int main(void) {\n  close(1);\n  printf(\"lost\\n\");\n"
           "  fprintf(stderr, \"still talking\\n\");\n  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "" and e["stderr"] == "still talking\n", describe(e))
    assert_no_leftovers(stack)


def test_read_without_stdin(stack):
    src = "#include <stdio.h>\nint main(void) { int c = getchar(); printf(\"%d\\n\", c); return 0; }\n"
    t0 = time.monotonic()
    e = stack.run("c", src, {"limits": {"time_ms": 3000}})
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "-1\n" and time.monotonic() - t0 < 3, describe(e))
    assert_no_leftovers(stack)


def test_fd_exhaustion(stack):
    src = ("import os\nfds = []\ntry:\n    while True:\n        fds.append(os.open('/dev/null', os.O_RDONLY))\n"
           "except OSError as e:\n    print(e.errno, len(fds) < 300)\n")
    e = stack.run("python", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "24 True\n", "fd exhaustion (EMFILE below 300): %s" % describe(e))
    assert_no_leftovers(stack)


def test_fill_scratch_space(stack):
    """The work directory and /tmp are size-capped tmpfs: ENOSPC, not a full host disk."""
    src = ("for d in . /tmp; do\n  for i in $(seq 200); do\n"
           "    head -c 1000000 /dev/zero > $d/fill$i 2>/dev/null || { echo $d full; break; }\n"
           "  done\ndone\n")
    e = stack.run("bash", src, {"limits": {"time_ms": 20000}})
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == ". full\n/tmp full\n", describe(e))
    assert_no_leftovers(stack)


# --------------------------------------------------------------------------------------------
# Reaching the host


def test_read_host_secrets(stack):
    src = ("import os\nfor p in ('/etc/shadow', '/root', '/home', '/var/log', '/sys', %r):\n"
           "    print(p, os.path.exists(p))\n"
           "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [os.getpid()])\n"
           "try:\n    open('/proc/1/environ').read()\n    print('init environ readable')\n"
           "except OSError:\n    print('init hidden')\n"
           "print(sorted(os.environ))\n" % CANARY)
    e = stack.run("python", src)
    expect_verdict(e, "COMPLETED")
    lines = e["stdout"].splitlines()
    expect(all(l.endswith("False") for l in lines[:6]), "host paths visible: %s" % lines[:6])
    expect(lines[6] == "True", "other processes visible in /proc: %s" % describe(e))
    expect(lines[7] == "init hidden", describe(e))
    expect("LCX" not in lines[8] and "HOME" in lines[8], "environment: %s" % lines[8])
    assert_no_leftovers(stack)


def test_read_host_secrets_javascript(stack):
    src = ("const fs = require('fs');\nfor (const p of ['/etc/shadow', '/proc/1/environ',"
           " '/proc/1/cmdline']) {\n  try { fs.readFileSync(p); console.log(p, 'READ'); }"
           " catch (e) { console.log(p, e.code); }\n}\n"
           "console.log(Object.keys(process.env).filter(k => k.startsWith('LCX')).length);\n")
    e = stack.run("javascript", src)
    expect_verdict(e, "COMPLETED")
    expect("READ" not in e["stdout"] and e["stdout"].endswith("\n0\n"), describe(e))
    assert_no_leftovers(stack)


def test_write_outside_workdir(stack):
    src = ("for p in /etc/lcx-x /usr/lcx-x /lcx-x ../lcx-x /dev/lcx-x /proc/lcx-x; do\n"
           "  (echo x > $p) 2>/dev/null && echo WROTE $p\ndone\n"
           "echo ok > inside && cat inside\n"
           "echo x > %s.x && echo private tmp\n" % CANARY)  # the run's own /tmp
    e = stack.run("bash", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "ok\nprivate tmp\n", "writes outside the work directory: %s"
           % describe(e))
    for p in ("/etc/lcx-x", "/usr/lcx-x", "/lcx-x", CANARY + ".x"):
        expect(not os.path.exists(p), "%s appeared on the host" % p)
    assert_no_leftovers(stack)


def test_symlinks_aimed_at_the_supervisor(stack):
    """Links to host files and the scratch parent, a replaced stdin file, a chmod 0 directory:
    cleanup must follow none of them."""
    src = ("import os\nos.symlink('/etc/passwd', 'passwd')\nos.symlink(%r, 'canary')\n"
           "os.symlink('..', 'up')\nos.symlink('/', 'root')\n"
           "os.unlink('.stdin')\nos.symlink('/etc/passwd', '.stdin')\n"
           "os.makedirs('d/e')\nos.symlink('/etc', 'd/e/etc')\nos.chmod('d', 0)\n"
           "os.unlink('main.py')\nos.symlink(%r, 'main.py')\nprint('planted')\n"
           % (CANARY, CANARY))
    e = stack.run("python", src, {"stdin": "input"})
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "planted\n", describe(e))
    assert_no_leftovers(stack)
    expect(os.path.exists(CANARY), "the canary was removed through a link")


def test_hard_link_to_host_file(stack):
    e = stack.run("bash", "ln /etc/passwd here 2>/dev/null && echo LINKED || echo refused\n"
                          "ln /usr/bin/python3 py 2>/dev/null && echo LINKED || echo refused\n")
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "refused\nrefused\n", describe(e))
    assert_no_leftovers(stack)


def test_network_to_host_loopback_and_outside(stack):
    src = ("import socket\nfor host, port in (('127.0.0.1', %d), ('127.0.0.1', %d), "
           "('192.0.2.1', 80), ('::1', %d)):\n"
           "    s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)\n"
           "    s.settimeout(3)\n    try:\n        s.connect((host, port))\n"
           "        print('CONNECTED', host, port)\n    except OSError as e:\n"
           "        print('blocked')\n"
           % (stack.http_port, stack.runner_port, stack.http_port))
    e = stack.run("python", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "blocked\n" * 4, "network reached: %s" % describe(e))
    assert_no_leftovers(stack)


def test_raw_and_netlink_sockets(stack):
    src = ("#include <stdio.h>\n#include <errno.h>\n#include <sys/socket.h>\n"
           "int main(void) {\n  int fams[] = {16, 17, 40, 38, 5};\n"
           "  for (int i = 0; i < 5; i++) {\n    int s = socket(fams[i], SOCK_RAW, 0);\n"
           "    printf(\"%d %s\\n\", fams[i], s >= 0 ? \"OPEN\" : errno == EAFNOSUPPORT ? \"denied\" : \"error\");\n"
           "  }\n  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "16 denied\n17 denied\n40 denied\n38 denied\n5 denied\n", describe(e))
    assert_no_leftovers(stack)


# --------------------------------------------------------------------------------------------
# Privileges and the kernel


def test_ptrace(stack):
    src = ("#include <stdio.h>\n#include <errno.h>\n#include <string.h>\n#include <sys/ptrace.h>\n"
           "#include <unistd.h>\n"
           "int main(void) {\n  long a = ptrace(PTRACE_TRACEME, 0, 0, 0);\n"
           "  printf(\"traceme %s\\n\", a == 0 ? \"ALLOWED\" : strerror(errno));\n"
           "  long b = ptrace(PTRACE_ATTACH, getppid(), 0, 0);\n"
           "  printf(\"attach %s\\n\", b == 0 ? \"ALLOWED\" : strerror(errno));\n  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "traceme Operation not permitted\nattach Operation not permitted\n",
           describe(e))
    assert_no_leftovers(stack)


def test_setuid_binaries(stack):
    src = ("id -u\nfor b in /usr/bin/su /usr/bin/passwd /usr/bin/mount /usr/bin/newgrp; do\n"
           "  test -u $b && echo suid $b\ndone\n"
           "su -c 'id -u' root </dev/null 2>/dev/null && echo BECAME ROOT\n"
           "mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED\n"
           "newgrp root </dev/null 2>/dev/null && echo NEWGRP\n"
           "exit 0\n")
    e = stack.run("bash", src)
    expect_verdict(e, "COMPLETED")
    lines = e["stdout"].splitlines()
    expect(lines and lines[0] != "0", "the program runs as root: %s" % describe(e))
    for bad in ("BECAME ROOT", "MOUNTED", "NEWGRP"):
        expect(bad not in e["stdout"], "%s: %s" % (bad, describe(e)))
    assert_no_leftovers(stack)


def test_nested_namespaces(stack):
    src = ("#define _GNU_SOURCE\n#include <sched.h>\n#include <stdio.h>\n#include <errno.h>\n"
           "#include <string.h>\n#include <signal.h>\n#include <sys/wait.h>\n"
           "static char stack[65536];\nstatic int child(void *a) { return 0; }\n"
           "int main(void) {\n  int flags[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID};\n"
           "  for (int i = 0; i < 4; i++) {\n"
           "    int u = unshare(flags[i]);\n"
           "    int c = clone(child, stack + sizeof stack, flags[i] | SIGCHLD, 0);\n"
           "    if (c > 0) waitpid(c, 0, 0);\n"
           "    printf(\"%s %s\\n\", u == 0 ? \"UNSHARED\" : \"no\", c > 0 ? \"CLONED\" : \"no\");\n"
           "  }\n  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "no no\n" * 4, "namespaces created: %s" % describe(e))
    e = stack.run("bash", "unshare -U -r id 2>/dev/null || echo refused\n")
    expect(e["stdout"] == "refused\n", "unshare(1): %s" % describe(e))
    assert_no_leftovers(stack)


def test_kernel_interfaces_denied(stack):
    src = ("#include <stdio.h>\n#include <errno.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n"
           "#include <sys/ioctl.h>\n#include <linux/io_uring.h>\n"
           "int main(void) {\n  struct io_uring_params p = {0};\n  char c = 'x';\n"
           "  long r[] = {\n    syscall(SYS_io_uring_setup, 4, &p),\n"
           "    syscall(SYS_bpf, 0, 0, 0),\n    syscall(SYS_perf_event_open, 0, 0, -1, -1, 0),\n"
           "    syscall(SYS_keyctl, 0, 0, 0, 0, 0),\n    syscall(SYS_userfaultfd, 0),\n"
           "    syscall(SYS_init_module, 0, 0, \"\"),\n    syscall(SYS_reboot, 0, 0, 0, 0),\n"
           "    syscall(SYS_ioctl, 0, TIOCSTI, &c),\n    syscall(SYS_sethostname, \"x\", 1),\n  };\n"
           "  int denied = 0;\n  for (unsigned i = 0; i < sizeof r / sizeof r[0]; i++)\n"
           "    if (r[i] < 0) denied++;\n  printf(\"%d of %zu denied\\n\", denied, sizeof r / sizeof r[0]);\n"
           "  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "9 of 9 denied\n", describe(e))
    assert_no_leftovers(stack)


def test_file_watches_denied(stack):
    """inotify and fanotify fail with EPERM: the toolchains' files are the same inodes in every
    run, so a watch would see what the neighbours open. The run itself goes on and ends well."""
    src = ("#include <stdio.h>\n#include <errno.h>\n#include <string.h>\n#include <unistd.h>\n"
           "#include <sys/syscall.h>\n#include <sys/inotify.h>\n#include <sys/fanotify.h>\n"
           "static void report(const char *name, long rc) {\n"
           "  printf(\"%s %s\\n\", name, rc >= 0 ? \"ALLOWED\" : strerror(errno));\n}\n"
           "int main(void) {\n"
           "  report(\"inotify_init\", syscall(SYS_inotify_init));\n"
           "  report(\"inotify_init1\", inotify_init1(IN_CLOEXEC));\n"
           "  report(\"fanotify_init\", fanotify_init(FAN_CLASS_NOTIF, 0));\n"
           "  puts(\"still running\");\n  return 0;\n}\n")
    e = stack.run("c", src)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "inotify_init Operation not permitted\n"
                          "inotify_init1 Operation not permitted\n"
                          "fanotify_init Operation not permitted\nstill running\n", describe(e))
    # In python too: the standard way a program would watch files, through libc.
    py = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
          "fd = libc.inotify_init1(0)\n"
          "print('watch', fd, os.strerror(ctypes.get_errno()) if fd < 0 else 'ALLOWED')\n"
          "print('alive')\n")
    e = stack.run("python", py)
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "watch -1 Operation not permitted\nalive\n", describe(e))
    assert_no_leftovers(stack)


_I386_SRC = ("#include <stdio.h>\nint main(void) {\n  long r;\n  fflush(stdout);\n"
             "  __asm__ volatile (\"int $0x80\" : \"=a\"(r) : \"a\"(20L));\n"
             "  printf(\"getpid via int 0x80: %ld\\n\", r);\n  return 0;\n}\n")


def _host_i386_behaviour():
    """What this host's kernel does with `int $0x80` outside any sandbox: ("delivered", None)
    when the i386 call runs (IA32 emulation on), ("signal", N) when the kernel itself kills the
    process first (no IA32 support, or ia32_emulation=0: SIGSEGV), or (None, why) when it cannot
    be probed."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None, "no C compiler on the host"
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "i386.c"), os.path.join(d, "i386")
        with open(src, "w") as f:
            f.write(_I386_SRC)
        if subprocess.run([cc, "-o", exe, src], capture_output=True).returncode != 0:
            return None, "the probe does not compile"
        p = subprocess.run([exe], capture_output=True, timeout=10)
    if p.returncode < 0:
        return "signal", -p.returncode
    if p.returncode == 0 and b"getpid via int 0x80" in p.stdout:
        return "delivered", None
    return None, "the bare probe exited %d" % p.returncode


def test_32bit_syscall_entry(stack):
    """int $0x80 (the i386 ABI) never runs a system call in a run, and the run says how it ended.
    Where the host's kernel delivers i386 calls, seccomp must stop it (SIGSYS: the filter only
    knows x86-64); where the kernel itself faults the instruction first (SIGSEGV without IA32
    emulation), the run must report that same signal."""
    host, detail = _host_i386_behaviour()
    e = stack.run("c", _I386_SRC)
    ended_by_signal = e["status"] == "FAILED" and e["reason"] == "signal"
    expect("getpid via int 0x80" not in (e["stdout"] or ""),
           "the i386 call returned inside the sandbox: %s" % describe(e))
    if host == "signal":
        expect(ended_by_signal and (signal_is(e["signal"], 31, "SIGSYS") or e["signal"] == detail),
               "host kills int $0x80 with signal %d; lcx said %s" % (detail, describe(e)))
    else:
        # Delivered on the host (or not probeable): the filter's own verdict, strictly.
        expect(ended_by_signal and signal_is(e["signal"], 31, "SIGSYS"),
               "i386 system call (host: %s): %s" % (host or detail, describe(e)))
    assert_no_leftovers(stack)


def test_cgroup_and_sysfs_unreachable(stack):
    # The limit files of cgroup v1 and v2 alike: whichever this host has must be out of reach.
    e = stack.run("bash", "ls /sys 2>/dev/null && echo SYS\n"
                          "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max"
                          " /sys/fs/cgroup/pids.max; do echo 0 > $f 2>/dev/null && echo CG; done\n"
                          "cat /proc/self/cgroup | grep -v ':/$' || echo rooted\n")
    expect_verdict(e, "COMPLETED")
    expect(e["stdout"] == "rooted\n", "cgroups or sysfs visible: %s" % describe(e))
    assert_no_leftovers(stack)


# --------------------------------------------------------------------------------------------
# Compile bombs (own stack: a short compile time limit)


@isolated(extra_flags={"runner": ["--compile-time-ms", "4000"]})
@timeout(120)
def test_compile_bombs(stack):
    cases = [
        ("c", "#include </dev/random>\nint main(void) { return 0; }\n"),
        ("c", "#include </dev/zero>\nint main(void) { return 0; }\n"),
        ("cpp", "template <int N> struct F { enum { v = F<N - 1>::v + F<N - 2>::v }; };\n"
                "template <> struct F<0> { enum { v = 0 }; };\n"
                "template <> struct F<1> { enum { v = 1 }; };\n"
                "#define X(n) F<n>::v +\nint main() { return X(900) X(901) X(902) 0; }\n"),
        ("cpp", "template <class T, int N> struct B { typedef B<B<T, N - 1>, N - 1> next;"
                " typename next::next n; };\n"
                "template <class T> struct B<T, 0> { char c; };\nB<int, 40> b;\n"
                "int main() { return 0; }\n"),
        ("c", "char huge[1L << 30] = {1};\nint main(void) { return huge[5]; }\n"),
        ("c", "#define A0 \"aaaaaaaaaaaaaaaa\"\n"
              + "".join("#define A%d A%d A%d A%d A%d A%d A%d A%d A%d\n" % ((i,) + (i - 1,) * 8)
                        for i in range(1, 11))
              + "const char *s = A10;\nint main(void) { return s[0]; }\n"),
    ]
    for lang, src in cases:
        t0 = time.monotonic()
        e = stack.run(lang, src)
        took = time.monotonic() - t0
        expect(e["status"] == "FAILED" and e["reason"] in ("compile_error", "memory_limit"),
               "%s compile bomb %r: %s" % (lang, src[:40], describe(e)))
        expect(took < 20, "compile bomb %r took %.1f s" % (src[:40], took))
        assert_no_leftovers(stack)
    assert_others_fine(stack)
