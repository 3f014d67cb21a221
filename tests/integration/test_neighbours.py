"""Runs do not take each other's CPU: each slot has a CPU share of its own and a quota of one
CPU (the cgroup cpu controller), so a run of many processes, each in a session of its own (the
kernel's autogroups give every session a share of its own), leaves the run beside it its part.
Skipped where the host's cgroups have no cpu controller (the runner then logs that it runs
without one)."""
import re
import statistics
import time

from harness import Skip, describe, expect, timeout

# A CPU loop of about 0.2 s, timed inside the program: start-up does not count.
NEIGHBOUR = ("import time\nt = time.clock_gettime(time.CLOCK_MONOTONIC)\nn = 0\n"
             "for i in range(3000000):\n    n += i\n"
             "print((time.clock_gettime(time.CLOCK_MONOTONIC) - t) * 1000)\n")

# 60 children that each leave for a session of their own and spin until the run's end.
HOG = ("#include <stdio.h>\n#include <unistd.h>\n"
       "int main(void) {\n  for (int i = 0; i < 60; i++)\n"
       "    if (fork() == 0) { setsid(); for (;;) ; }\n"
       "  puts(\"spawned\");\n  fflush(stdout);\n  for (;;) pause();\n}\n")


def _controllers(mode):
    """The cgroup controllers a runner's sandbox mode names: "... cgroup v1 (memory,pids,...)"."""
    m = re.search(r"cgroup v\d \(([^)]*)\)", mode or "")
    return m.group(1).split(",") if m else []


def _neighbour_ms(stack):
    e = stack.run("python", NEIGHBOUR, {"limits": {"time_ms": 30000}})
    expect(e["status"] == "COMPLETED", "the neighbour: %s" % describe(e))
    return float(e["stdout"])


def _median_ms(stack, n=3):
    return statistics.median(_neighbour_ms(stack) for _ in range(n))


@timeout(180)
def test_cpu_hog_leaves_the_neighbour_its_share(stack):
    mode = stack.run("python", "pass\n")["sandbox"]
    if "cpu" not in _controllers(mode):
        raise Skip("this host's cgroups have no cpu controller (runner: %s): the slots have "
                   "no CPU share to test" % mode)
    expect(stack.runner_slots >= 2, "needs two slots")
    alone = _median_ms(stack)
    s = stack.create_session("c", HOG)
    hog = stack.start_run(s["session_id"], {"limits": {"time_ms": 30000}})
    try:
        deadline = time.monotonic() + 20
        while stack.get("/executions/%s" % hog).body["status"] == "QUEUED":
            expect(time.monotonic() < deadline, "the hog never started")
            time.sleep(0.1)
        time.sleep(2)  # its compile step, then its sixty processes spinning
        expect(stack.get("/executions/%s" % hog).body["status"] == "RUNNING",
               "the hog is not running: %s" % describe(stack.get("/executions/%s" % hog).body))
        beside = _median_ms(stack)
    finally:
        stack.post("/executions/%s/cancel" % hog)
    e = stack.wait_execution(hog)
    expect(e["status"] == "CANCELLED", "the hog: %s" % describe(e))
    expect(beside <= 4 * alone,
           "a 0.2 s CPU loop took %.0f ms beside the hog, %.0f ms alone (%.1fx; at most 4x)"
           % (beside, alone, beside / alone))
