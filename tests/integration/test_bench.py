"""`make bench` keeps working: its quick sections build and run (with few repeats), and every
bench program builds. The figures themselves are benchmarks, never asserted here."""
import os
import re
import subprocess

from harness import ROOT, expect


def _bench_run(section, **env):
    result = subprocess.run([os.path.join(ROOT, "bench", "run"), section], cwd=ROOT,
                            env=dict(os.environ, **env), capture_output=True, text=True,
                            timeout=120)
    expect(result.returncode == 0, "bench/run %s failed (%d):\n%s%s"
           % (section, result.returncode, result.stdout, result.stderr))
    return result.stdout


def test_bench_hops_prints_every_link(stack):
    out = _bench_run("hops", LCX_BENCH_TRIPS="10")
    for link in ("pipe", "ZeroMQ, loopback TCP"):
        for gap in ("0 ms", "15 ms"):
            expect(re.search(r"^%s +%s +[\d.]+ us" % (re.escape(link), gap), out, re.M),
                   "no %s row after %s idle in:\n%s" % (link, gap, out))
    expect(re.search(r"6 hops .* = [\d.]+ ms", out), "no end-to-end floor line in:\n" + out)


def test_bench_sandbox_prints_both_programs(stack):
    if os.geteuid() != 0:
        return  # the section skips itself without root
    out = _bench_run("sandbox", LCX_BENCH_RUNS="3")
    for program in ("/bin/true", "python3 -c pass"):
        expect(re.search(r"^%s +3 " % re.escape(program), out, re.M),
               "no %s row in:\n%s" % (program, out))


def test_bench_neighbours_prints_the_slowdown(stack):
    if os.geteuid() != 0:
        return  # the section skips itself without root
    out = _bench_run("neighbours", LCX_BENCH_NEIGHBOUR_RUNS="1")
    expect(re.search(r"^beside 60 setsid spinning processes +1 +[\d.]+ +[\d.]+ +[\d.]+x$", out,
                     re.M), "no slowdown row in:\n" + out)


def test_bench_programs_build(stack):
    """Every bench program (the stack section's load generator and driver too), built as
    bench/run builds them for its sections."""
    _bench_run("build")


def test_floor_bench_runs_every_mode(stack):
    """bench/floor_bench.c (skeleton services around the real sandbox) in each of its modes,
    briefly, with /bin/true: each prints its figures and leaves no mount or directory behind."""
    if os.geteuid() != 0:
        return  # it needs the sandbox, as make bench's stack section does
    _bench_run("build")
    floor = os.path.join(ROOT, "build", "bench", "floor_bench")
    keeper = os.path.join(ROOT, "build", "bin", "lcx-keeper")
    modes = {"e2e": (["3"], r"e2e_ms=[\d.]+ bare_ms=[\d.]+"),
             "runs": (["0.5", "3"], r"runs=[1-9]\d* rate=[\d.]+"),
             "sandbox": (["0.5"], r"runs=[1-9]\d* rate=[\d.]+")}
    for mode, (args, shape) in modes.items():
        result = subprocess.run([floor, mode, keeper] + args + ["/bin/true"], capture_output=True,
                                text=True, timeout=60)
        expect(result.returncode == 0 and re.fullmatch(shape, result.stdout.strip()),
               "floor_bench %s: %d\n%s%s" % (mode, result.returncode, result.stdout, result.stderr))
    with open("/proc/mounts") as mounts:
        left = [line for line in mounts if "lcx-bench-floor" in line]
    expect(not left, "floor_bench left mounts: %s" % left)
    expect(not [d for d in os.listdir("/tmp") if d.startswith("lcx-bench-floor")],
           "floor_bench left its work directories in /tmp")
