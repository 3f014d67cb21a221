"""What a run produces: verdicts, output, limits, stdin and args (API.md "Running code")."""

import time

from harness import (check_execution_shape, describe, expect, parse_time, signal_is, timeout)

MIB = 1024 * 1024


def test_completed_fields(stack):
    e = stack.run("python", "print('ok')\n")
    check_execution_shape(e)
    expect(e["status"] == "COMPLETED", "status: %s" % describe(e))
    expect(e["stdout"] == "ok\n" and e["stderr"] == "", "output: %s" % describe(e))
    expect(e["exit_code"] == 0 and e["signal"] is None and e["reason"] is None,
           "exit fields: %s" % describe(e))
    expect(e["stdout_truncated"] is False and e["stderr_truncated"] is False,
           "truncated flags: %s" % describe(e))
    expect(e["attempts"] == 1, "attempts %r, expected 1" % e["attempts"])
    for k in ("execution_time_ms", "cpu_time_ms", "memory_kb"):
        expect(isinstance(e[k], int) and e[k] >= 0, "%s is %r on a finished run" % (k, e[k]))
    expect(e["execution_time_ms"] < 5000, "execution_time_ms %r for print('ok')"
           % e["execution_time_ms"])
    expect(e["memory_kb"] > 0, "memory_kb %r: a python process uses some memory"
           % e["memory_kb"])
    # Inferred: for an interpreted language compile_output is null (nothing was compiled); ""
    # is accepted too.
    expect(e["compile_output"] in (None, ""), "compile_output %r" % e["compile_output"])
    q, s, f = (parse_time(e[k]) for k in ("queued_at", "started_at", "finished_at"))
    expect(q <= s <= f, "queued_at <= started_at <= finished_at fails: %s %s %s"
           % (e["queued_at"], e["started_at"], e["finished_at"]))


def test_compile_error_c(stack):
    e = stack.run("c", "#include <stdio.h>\nint main(void) {\n    printf(\"x\")\n    return 0;\n}\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "compile_error",
           "C compile error: %s" % describe(e))
    expect(isinstance(e["compile_output"], str) and e["compile_output"].strip(),
           "compile_output is empty: %s" % describe(e))
    expect("error" in e["compile_output"], "compile_output does not say error: %r"
           % e["compile_output"][:500])


def test_compile_error_java(stack):
    e = stack.run("java", "public class Main {\n    public static void main(String[] a) {\n"
                          "        int x = \"not an int\";\n    }\n}\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "compile_error",
           "Java compile error: %s" % describe(e))
    expect(isinstance(e["compile_output"], str) and e["compile_output"].strip(),
           "compile_output is empty: %s" % describe(e))


def test_compiled_success_has_compile_step(stack):
    """A C program that compiles with a warning still runs; the run's own output is stdout."""
    e = stack.run("c", "#include <stdio.h>\nint main(void) { int unused; puts(\"fine\"); return 0; }\n")
    expect(e["status"] == "COMPLETED" and e["stdout"] == "fine\n", "C run: %s" % describe(e))


def test_runtime_error_python(stack):
    e = stack.run("python", "a = 1\nb = 0\nprint(a / b)\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "exit_code" and e["exit_code"] == 1,
           "python ZeroDivisionError: %s" % describe(e))
    expect("line 3" in (e["stderr"] or ""), "stderr does not name line 3: %r" % e["stderr"])
    expect("ZeroDivisionError" in e["stderr"], "stderr lacks the exception: %r" % e["stderr"])


def test_runtime_error_javascript(stack):
    e = stack.run("javascript", "const a = 1;\nconst b = null;\nconsole.log(b.field);\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "exit_code" and e["exit_code"] == 1,
           "javascript TypeError: %s" % describe(e))
    expect(":3" in (e["stderr"] or ""), "stderr does not name line 3 (':3'): %r" % e["stderr"])


def test_exit_code_3(stack):
    e = stack.run("python", "import sys\nprint('bye')\nsys.exit(3)\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "exit_code" and e["exit_code"] == 3,
           "exit 3: %s" % describe(e))
    expect(e["signal"] is None, "signal %r on a normal exit" % e["signal"])
    expect(e["stdout"] == "bye\n", "stdout before the exit is kept: %r" % e["stdout"])
    e = stack.run("bash", "echo out; echo err >&2; exit 3\n")
    expect(e["status"] == "FAILED" and e["reason"] == "exit_code" and e["exit_code"] == 3
           and e["stdout"] == "out\n" and e["stderr"] == "err\n", "bash exit 3: %s" % describe(e))


def test_killed_by_signal(stack):
    # SIGSEGV rather than SIGKILL, so that it cannot be confused with a limit kill.
    e = stack.run("python", "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "signal",
           "SIGSEGV: %s" % describe(e))
    # Inferred: `signal` is the number (11); the name is accepted too.
    expect(signal_is(e["signal"], 11, "SIGSEGV"), "signal %r, expected 11 / SIGSEGV"
           % e["signal"])
    expect(e["exit_code"] is None, "exit_code %r on a signal death (inferred: null)"
           % e["exit_code"])
    e = stack.run("c", "#include <stdlib.h>\nint main(void) { abort(); }\n")
    expect(e["status"] == "FAILED" and e["reason"] == "signal" and signal_is(e["signal"], 6,
                                                                              "SIGABRT"),
           "C abort(): %s" % describe(e))


def test_timeout_busy_loop(stack):
    t0 = time.monotonic()
    e = stack.run("python", "while True:\n    pass\n", {"limits": {"time_ms": 1000}})
    elapsed = time.monotonic() - t0
    check_execution_shape(e)
    expect(e["status"] == "TIMEOUT", "busy loop with time_ms 1000: %s" % describe(e))
    # The limit was honoured, not the 5 s default (some slack for start-up and scheduling).
    expect(elapsed < 4.5, "busy loop with time_ms 1000 took %.1f s to finish" % elapsed)
    expect(e["execution_time_ms"] is not None and 900 <= e["execution_time_ms"] <= 3000,
           "execution_time_ms %r for a 1000 ms limit" % e["execution_time_ms"])


def test_timeout_sleep_wall_clock(stack):
    """A sleeping program uses no CPU: the wall-clock limit must stop it."""
    t0 = time.monotonic()
    e = stack.run("bash", "sleep 20\n", {"limits": {"time_ms": 1000}})
    elapsed = time.monotonic() - t0
    expect(e["status"] == "TIMEOUT", "sleep 20 with time_ms 1000: %s" % describe(e))
    expect(elapsed < 4.5, "sleep with time_ms 1000 took %.1f s to finish" % elapsed)


def test_timeout_reason_names_the_limit(stack):
    """TIMEOUT says which limit stopped it: wall_time for a sleeper (it uses no CPU); for busy
    threads, cpu_time exactly when their CPU time passed the limit before the wall clock did
    (on a busy machine the wall clock may come first: the reason must agree with the figures)."""
    e = stack.run("bash", "sleep 20\n", {"limits": {"time_ms": 1000}})
    expect(e["status"] == "TIMEOUT" and e["reason"] == "wall_time", "sleeper: %s" % describe(e))
    src = ("#include <pthread.h>\nstatic void *spin(void *a) { for (;;) ; return a; }\n"
           "int main(void) {\n  pthread_t t;\n  for (int i = 0; i < 3; i++)"
           " pthread_create(&t, 0, spin, 0);\n  spin(0);\n}\n")
    e = stack.run("c", src, {"limits": {"time_ms": 2000}})
    expect(e["status"] == "TIMEOUT" and e["reason"] in ("cpu_time", "wall_time"),
           "four spinners: %s" % describe(e))
    if e["reason"] == "wall_time":
        expect(e["cpu_time_ms"] is not None and e["cpu_time_ms"] <= 2000,
               "wall_time named with cpu_time_ms %r over the limit" % e["cpu_time_ms"])
    else:
        expect(e["execution_time_ms"] < 2000 or e["cpu_time_ms"] > 2000,
               "cpu_time named: %r ms wall, %r ms CPU" % (e["execution_time_ms"], e["cpu_time_ms"]))


def test_figures_are_honest(stack):
    """memory_kb is the peak of the run's own processes, not its cgroup's page cache nor the
    limit (on cgroup v1 and v2 alike); figures of a program that never ran are null, not 0."""
    e = stack.run("python", "print('hi')\n")
    expect(e["status"] == "COMPLETED", describe(e))
    expect(e["memory_kb"] and 0 < e["memory_kb"] < 64 * 1024,
           "python hello world: memory_kb %r" % e["memory_kb"])
    for lang, src, limit_mb in (("cpp", "#include <cstdio>\nint main() { std::puts(\"hi\"); }\n", 16),
                                ("c", "#include <stdio.h>\nint main(void) { puts(\"hi\"); }\n", 8)):
        e = stack.run(lang, src, {"limits": {"memory_mb": limit_mb}})
        expect(e["status"] == "COMPLETED", "%s: %s" % (lang, describe(e)))
        expect(e["memory_kb"] and 0 < e["memory_kb"] < limit_mb * 1024 * 3 // 4,
               "%s hello world under %d MiB: memory_kb %r" % (lang, limit_mb, e["memory_kb"]))
    # A program that touches 40 MiB shows at least that.
    e = stack.run("c", "#include <stdlib.h>\n#include <stdio.h>\n"
                       "int main(void) { volatile char *p = malloc(40 << 20);\n"
                       "  for (long i = 0; i < (40 << 20); i += 4096) p[i] = 1;\n"
                       "  printf(\"%d\\n\", p[4096]); }\n", {"limits": {"memory_mb": 128}})
    expect(e["status"] == "COMPLETED" and e["memory_kb"] >= 40 * 1024,
           "40 MiB touched: memory_kb %r (%s)" % (e["memory_kb"], describe(e)))
    e = stack.run("c", "int main(void) { return undeclared; }\n")
    expect(e["reason"] == "compile_error", describe(e))
    for k in ("execution_time_ms", "cpu_time_ms", "memory_kb", "exit_code", "signal"):
        expect(e[k] is None, "compile error: %s is %r, not null" % (k, e[k]))


# Drops toolchain files from the page cache and reads them in again: they are charged to the
# run's cgroup then, up to its limit, and a cgroup's peak reads as the limit.
_FILL_PAGE_CACHE = """import os
def files():
    for d in ('/usr/lib/jvm', '/usr/lib/x86_64-linux-gnu', '/usr/lib'):
        for root, dirs, names in os.walk(d):
            for n in names:
                yield os.path.join(root, n)
total = 0
for path in files():
    if total >= 96 << 20:
        break
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        continue
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while total < 96 << 20:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        total += len(b)
    os.close(fd)
print('read', flush=True)
"""


def test_stopped_run_memory_is_its_own(stack):
    """A run stopped before its program ended (time limit, output limit) reports the peak of
    its own processes, measured before the kill: not null, and below the limit even when its
    cgroup's page cache filled up to it."""
    limit_mb = 32
    cases = (("TIMEOUT", "wall_time", _FILL_PAGE_CACHE + "import time\ntime.sleep(60)\n"),
             ("FAILED", "output_limit",
              _FILL_PAGE_CACHE + "import sys\nwhile True:\n    sys.stdout.write('x' * 9999)\n"))
    for status, reason, src in cases:
        e = stack.run("python", src, {"limits": {"memory_mb": limit_mb, "time_ms": 8000}})
        expect(e["status"] == status and e["reason"] == reason, describe(e))
        expect(e["stdout"].startswith("read\n"), "the program did not get going: %s" % describe(e))
        expect(e["memory_kb"] is not None and 0 < e["memory_kb"] < limit_mb * 1024 * 3 // 4,
               "%s under %d MiB: memory_kb %r" % (reason, limit_mb, e["memory_kb"]))


def test_default_time_limit(stack):
    """No limits given: the default wall limit (5 s) applies."""
    t0 = time.monotonic()
    e = stack.run("bash", "sleep 30\n")
    elapsed = time.monotonic() - t0
    expect(e["status"] == "TIMEOUT", "sleep 30 with default limits: %s" % describe(e))
    expect(4.0 <= elapsed < 9.0, "default limit: finished after %.1f s, expected about 5 s"
           % elapsed)


def test_output_limit(stack):
    e = stack.run("python", "import sys\nwhile True:\n    sys.stdout.write('x' * 999 + '\\n')\n")
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "output_limit",
           "endless output: %s" % describe(e))
    expect(e["stdout_truncated"] is True, "stdout_truncated %r" % e["stdout_truncated"])
    n = len((e["stdout"] or "").encode("utf-8"))
    expect(0 < n <= MIB, "stdout kept %d bytes, expected 1..%d" % (n, MIB))
    # "output kept up to the limit": most of the MiB is there.
    expect(n >= MIB // 2, "only %d bytes of stdout kept" % n)
    expect(set(e["stdout"]) <= {"x", "\n"}, "stdout is corrupted")


def test_stderr_output_limit(stack):
    e = stack.run("bash", "while :; do echo eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee >&2; done\n",
                  {"limits": {"time_ms": 10000}})
    expect(e["status"] == "FAILED" and e["reason"] == "output_limit"
           and e["stderr_truncated"] is True, "endless stderr: %s" % describe(e))
    n = len((e["stderr"] or "").encode("utf-8"))
    expect(0 < n <= MIB, "stderr kept %d bytes" % n)


def test_stdin_echo(stack):
    src = "import sys\nsys.stdout.write(sys.stdin.read())\n"
    data = "hello\nworld \u00e9\n\nlast line without newline"
    e = stack.run("python", src, {"stdin": data})
    expect(e["status"] == "COMPLETED" and e["stdout"] == data, "stdin echo: %s" % describe(e))
    # No stdin given: the program reads EOF at once rather than hanging.
    e = stack.run("python", src, {"limits": {"time_ms": 3000}})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "", "no stdin: %s" % describe(e))
    # Larger stdin (512 KiB) arrives whole.
    big = ("0123456789abcdef" * 64 + "\n") * 500
    e = stack.run("python", "import sys\nd = sys.stdin.read()\nprint(len(d))\n", {"stdin": big})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "%d\n" % len(big),
           "512 KiB stdin: %s" % describe(e))
    # Each language reads stdin.
    e = stack.run("c", "#include <stdio.h>\nint main(void){int a,b; if(scanf(\"%d %d\",&a,&b)!=2)"
                       "return 1; printf(\"%d\\n\", a+b); return 0;}\n", {"stdin": "40 2\n"})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "42\n", "C stdin: %s" % describe(e))


def test_args(stack):
    args = ["a", "b c", "--flag", "$HOME", "*", "\u00e9"]
    e = stack.run("python", "import sys\nfor a in sys.argv[1:]:\n    print(a)\n", {"args": args})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "".join(a + "\n" for a in args),
           "args passed without a shell: %s" % describe(e))
    e = stack.run("bash", "echo \"$#:$1:$2\"\n", {"args": ["x y", "z"]})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "2:x y:z\n", "bash args: %s" % describe(e))
    e = stack.run("python", "import sys\nprint(len(sys.argv))\n", {"args": []})
    expect(e["status"] == "COMPLETED" and e["stdout"] == "1\n", "empty args: %s" % describe(e))


def test_memory_limit(stack):
    """Allocating 600 MiB under memory_mb 64 fails with reason memory_limit (inferred: the
    contract's reason for this, rather than exit_code from a MemoryError)."""
    e = stack.run("python", "b = bytearray(600 * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n"
                            "    b[i] = 1\nprint('survived')\n",
                  {"limits": {"memory_mb": 64, "time_ms": 10000}})
    check_execution_shape(e)
    expect(e["status"] == "FAILED" and e["reason"] == "memory_limit",
           "600 MiB under a 64 MiB limit: %s" % describe(e))
    expect(e["stdout"] != "survived\n", "the program survived the memory limit")


def test_program_writes_files_in_scratch(stack):
    """The working directory is writable (private scratch) and starts empty of other runs'
    files."""
    e = stack.run("bash", "echo data > f.txt && cat f.txt && ls | sort | tr '\\n' ' '\n")
    expect(e["status"] == "COMPLETED" and e["stdout"].startswith("data\n"),
           "writing a file in the working directory: %s" % describe(e))
    e2 = stack.run("bash", "test -e f.txt && echo leaked || echo clean\n")
    expect(e2["status"] == "COMPLETED" and e2["stdout"] == "clean\n",
           "a file of a previous run is visible: %s" % describe(e2))


@timeout(60)
def test_parallel_runs(stack):
    """Two slots: two 2-second sleeps on different sessions finish in about 2 s, not 4."""
    ids = []
    t0 = time.monotonic()
    for _ in range(2):
        s = stack.create_session("bash", "sleep 2; echo done\n")
        ids.append(stack.start_run(s["session_id"]))
    es = [stack.wait_execution(i) for i in ids]
    elapsed = time.monotonic() - t0
    for e in es:
        expect(e["status"] == "COMPLETED" and e["stdout"] == "done\n", describe(e))
    expect(elapsed < 3.8, "two 2 s runs on 2 slots took %.1f s" % elapsed)
