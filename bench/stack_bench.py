#!/usr/bin/env python3
"""Benchmarks of the whole lcx stack (issue #6). Starts the real services on free loopback
ports, measures, and prints each figure next to its baseline measured in the same run.

    bench/stack_bench.py api|e2e|throughput|memory ...

api         requests/s and p50/p99 latency at 64 connections (wrk): session create, get,
            autosave spread over sessions and on one session; baseline: GET /health/live, the
            gateway alone (no backend), on the same machine at the same moment
e2e         run + GET ?wait of a python hello world, median of 30; baseline: a bare python3
            after each run; the overhead split into the sandbox's part (the same program in the
            sandbox alone against bare runs, bench/sandbox_bench.c; root only) and the rest
throughput  python hello worlds per second at saturation; baseline: two parallel loops of bare
            python3 (the machine has 2 cores)
Runs are driven by bench/loadgen.c (C, one keep-alive connection per client), which also spawns
the bare baselines, so that both sides pay the same small driver cost.
memory      resident memory of each service idle and after load
keys        what API keys cost: session create, autosave and end to end through a second stack
            with LCX_AUTH=keys (a client key with its quotas checked), measured alternately
            with the first stack (no keys) in the same run; target: within 5 %

With root, e2e and throughput also print the floor of the design at the same moments
(bench/floor_bench.c: four skeleton processes passing a run's eleven messages over ZeroMQ, the
real sandbox, no service work) and throughput the sandbox's own rate (two slots, no messages).

Every timed figure is the median of repeated runs (the machine is small and noisy).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.environ.get("LCX_BENCH_BIN", os.path.join(ROOT, "build", "bin"))  # A/B runs point it elsewhere
PYTHON = "/usr/bin/python3"
HELLO = 'print("Hello, World!")'
REPEATS = int(os.environ.get("LCX_BENCH_REPEATS", "3"))


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Stack:
    """The four services with loopback endpoints and the run guards lifted."""

    def __init__(self):
        self.slots = int(os.environ.get("LCX_BENCH_SLOTS", "2"))  # the runner's default
        self.tmp = tempfile.mkdtemp(prefix="lcx-bench-")
        self.key = None  # the key every request sends (none: this gateway has no keys)
        p = free_ports(4)
        self.http_port = p[3]
        ep = lambda port: "tcp://127.0.0.1:%d" % port
        self.commands = {
            "session": ["lcx-session", "--session-endpoint", ep(p[0]), "--dispatcher-endpoint",
                        ep(p[1]), "--data-dir", os.path.join(self.tmp, "data"),
                        "--run-cooldown-ms", "0", "--runs-per-minute", "0",
                        "--runs-per-session", "0", "--anon-runs-per-minute", "0",
                        "--anon-concurrent-runs", "0"],
            "dispatcher": ["lcx-dispatcher", "--dispatcher-endpoint", ep(p[1]),
                           "--runner-endpoint", ep(p[2])],
            "runner": ["lcx-runner", "--runner-endpoint", ep(p[2]), "--scratch-dir",
                       os.path.join(self.tmp, "scratch"), "--runner-slots", str(self.slots)],
            "gateway": ["lcx-gateway", "--session-endpoint", ep(p[0]), "--http-port",
                        str(self.http_port)],
        }
        # A bootstrap admin key, for the section that adds a gateway with keys (section_keys).
        self.admin_key = subprocess.run([os.path.join(BIN, "lcx-keygen"), "api-key"],
                                        check=True, capture_output=True, text=True).stdout.strip()
        key_file = os.path.join(self.tmp, "admin.key")
        with open(key_file, "w") as f:
            f.write(self.admin_key + "\n")
        self.commands["session"] += ["--admin-key-file", key_file]
        self.session_endpoint = ep(p[0])
        self.procs = {}

    def start(self):
        log = open(os.path.join(self.tmp, "services.log"), "w")
        for name, cmd in self.commands.items():
            self.procs[name] = subprocess.Popen([os.path.join(BIN, cmd[0])] + cmd[1:],
                                                stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the stack did not become healthy; see " + self.tmp)

    def stop(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def keyed_gateway(self):
        """A second gateway on the same store, with LCX_AUTH=keys, seen through a client key
        (its quotas checked on every run, high enough never to refuse one): the same backend
        at the same moments, so the two gateways differ by keys alone."""
        view = Keyed(self)
        port = free_ports(1)[0]
        log = open(os.path.join(self.tmp, "keyed-gateway.log"), "w")
        self.procs["gateway-keys"] = subprocess.Popen(
            [os.path.join(BIN, "lcx-gateway"), "--session-endpoint", self.session_endpoint,
             "--http-port", str(port), "--auth", "keys", "--data-dir",
             os.path.join(self.tmp, "data")], stdout=log, stderr=log)
        view.http_port, view.key = port, self.admin_key
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if view.request("GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        status, body = view.request("POST", "/admin/keys", {
            "name": "bench", "role": "client",
            "quotas": {"runs_per_minute": 1000000, "concurrent_runs": 1000}})
        assert status == 201, (status, body)
        view.key = body["key"]
        return view

    def request(self, method, path, body=None, timeout=40):
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            data = json.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if data else {}
            if self.key:
                headers["Authorization"] = "Bearer " + self.key
            conn.request(method, path, data, headers)
            r = conn.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
        finally:
            conn.close()

    def session(self, language="python", source=HELLO):
        status, body = self.request("POST", "/code-sessions",
                                    {"language": language, "source_code": source})
        assert status == 201, (status, body)
        return body["session_id"]

    def run(self, session_id):
        status, body = self.request("POST", "/code-sessions/%s/run" % session_id, {})
        assert status == 202, (status, body)
        status, e = self.request("GET", "/executions/%s?wait=30000" % body["execution_id"])
        assert status == 200 and e["status"] == "COMPLETED", e
        return e

    def rss_kb(self):
        out = {}
        for name, p in self.procs.items():
            with open("/proc/%d/status" % p.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1])
        return out


class Keyed(Stack):
    """Stack's client methods against its keyed gateway (Stack.keyed_gateway)."""

    def __init__(self, stack):  # no services of its own
        self.tmp = os.path.join(stack.tmp, "keyed")
        os.makedirs(self.tmp, exist_ok=True)
        self.slots = stack.slots


def median(values):
    return statistics.median(values) if values else float("nan")


# ---- api -----------------------------------------------------------------------------------

WRK_LUA = """
ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
counter = 0
request = function()
  counter = counter + 1
  %(body)s
end
"""


def wrk(stack, lua_body, seconds=3):
    """Runs wrk at 64 connections; returns (requests/s, p50 ms, p99 ms)."""
    script = os.path.join(stack.tmp, "bench.lua")
    if stack.key:
        lua_body = lua_body.replace('{["Content-Type"]="application/json"}',
                                    '{["Content-Type"]="application/json", '
                                    '["Authorization"]="Bearer %s"}' % stack.key)
    with open(script, "w") as f:
        f.write(WRK_LUA % {"ids": os.path.join(stack.tmp, "ids"), "body": lua_body})
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "--latency", "-s", script,
                          "http://127.0.0.1:%d" % stack.http_port],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = p50 = p99 = float("nan")
    errors = 0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif parts[:1] == ["50%"]:
            p50 = to_ms(parts[1])
        elif parts[:1] == ["99%"]:
            p99 = to_ms(parts[1])
        elif "Non-2xx" in line or "Socket errors" in line:
            errors += 1
    if errors:
        print("  (wrk reported errors: %s)" % " ".join(l for l in out.splitlines()
                                                     if "Non-2xx" in l or "Socket" in l))
    return rps, p50, p99


def to_ms(text):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * scale
    return float("nan")


API_CASES = [
    ("GET /health/live (baseline)",
     'return wrk.format("GET", "/health/live")'),
    ("POST /code-sessions",
     'return wrk.format("POST", "/code-sessions", {["Content-Type"]="application/json"},'
     ' \'{"language":"python","source_code":"print(1)"}\')'),
    ("GET /code-sessions/{id}",
     'return wrk.format("GET", "/code-sessions/" .. ids[counter % #ids + 1])'),
    ("PATCH, spread over 1000 sessions",
     'return wrk.format("PATCH", "/code-sessions/" .. ids[counter % #ids + 1],'
     ' {["Content-Type"]="application/json"}, \'{"source_code":"print(\' .. counter .. \')"}\')'),
    ("PATCH, all on one session",
     'return wrk.format("PATCH", "/code-sessions/" .. ids[1],'
     ' {["Content-Type"]="application/json"}, \'{"source_code":"print(\' .. counter .. \')"}\')'),
]


def write_ids(stack, n=1000):
    with open(os.path.join(stack.tmp, "ids"), "w") as f:
        for _ in range(n):
            f.write(stack.session() + "\n")


def section_api(stack):
    print("== API at 64 connections (wrk, %d x 3 s, medians); target: 15000/s, p99 < 10 ms"
          % REPEATS)
    write_ids(stack)
    rows, baseline = [], None
    for label, body in API_CASES:
        runs = [wrk(stack, body) for _ in range(REPEATS)]
        rps, p50, p99 = (median([r[i] for r in runs]) for i in range(3))
        baseline = baseline or rps
        rows.append((label, rps, p50, p99, rps / baseline))
    print("%-36s %10s %9s %9s %9s" % ("request", "req/s", "p50 ms", "p99 ms", "vs base"))
    for label, rps, p50, p99, ratio in rows:
        print("%-36s %10.0f %9.2f %9.2f %8.2fx" % (label, rps, p50, p99, ratio))


# ---- e2e -----------------------------------------------------------------------------------

LOADGEN = os.path.join(ROOT, "build", "bench", "loadgen")


def figures(argv):
    """Runs one of bench/'s C programs (built by bench/run); returns its key=value figures."""
    out = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(map(str, argv[:2])), out.stderr.strip()))
    return {k: float(v) for k, v in (kv.split("=") for kv in out.stdout.split())}


def loadgen(*args, key=None):
    env = dict(os.environ, LCX_BENCH_AUTH=key) if key else None
    out = subprocess.run([LOADGEN] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=120, env=env)
    if out.returncode != 0:
        raise RuntimeError("loadgen %s failed: %s" % (args[0], out.stderr.strip()))
    return {k: float(v) for k, v in (kv.split("=") for kv in out.stdout.split())}


def bare_python(seconds, loops):
    return loadgen("bare", seconds, loops, PYTHON, "-c", HELLO)


SANDBOX_BENCH = os.path.join(ROOT, "build", "bench", "sandbox_bench")
FLOOR_BENCH = os.path.join(ROOT, "build", "bench", "floor_bench")
KEEPER = os.path.join(BIN, "lcx-keeper")


def floor(mode, *args):
    """bench/floor_bench.c's figures for one mode, or None without root."""
    if os.geteuid() != 0 or not os.path.exists(FLOOR_BENCH):
        return None
    return figures([FLOOR_BENCH, mode, KEEPER] + list(args) + [PYTHON, "-c", HELLO])


def sandbox_added(runs):
    """What the sandbox alone adds to the hello world (median ms, bench/sandbox_bench.c,
    interleaved with bare runs), or None without root."""
    if os.geteuid() != 0 or not os.path.exists(SANDBOX_BENCH):
        return None
    r = figures([SANDBOX_BENCH, runs, KEEPER, PYTHON, "-c", HELLO])
    return r["sandbox_ms"] - r["bare_ms"]


def section_e2e(stack, runs=30):
    print("== end to end: POST run + GET ?wait of a python hello world (%d x %d runs, medians)"
          % (REPEATS, runs))
    sid = stack.session()
    loadgen("e2e", stack.http_port, 3, sid)  # warm caches, as a live system is
    e2e, run, bare, added, floors = [], [], [], [], []
    for _ in range(REPEATS):
        # each lcx run is followed by a bare one: both see the same moments of the machine
        r = loadgen("e2e", stack.http_port, runs, sid, PYTHON, "-c", HELLO)
        e2e.append(r["e2e_ms"])
        run.append(r["exec_ms"])
        bare.append(r["bare_ms"])
        added.append(sandbox_added(runs))
        f = floor("e2e", runs)
        floors.append(f and f["e2e_ms"] - f["bare_ms"])
    m_e2e, m_bare, m_run = median(e2e), median(bare), median(run)
    over = m_e2e - m_bare
    print("%-48s %9.2f ms" % ("bare python3 process (baseline, alternating)", m_bare))
    print("%-48s %9.2f ms   %.2fx the bare process" % ("lcx end to end", m_e2e, m_e2e / m_bare))
    print("%-48s %9.2f ms   (target: at most 3 ms)" % ("overhead over the bare process", over))
    if None not in added:
        m_added = median(added)
        print("%-48s %9.2f ms" % ("  the sandbox's part (alone, against bare runs)", m_added))
        print("%-48s %9.2f ms" % ("  the services' part (the rest)", over - m_added))
    if None not in floors:
        print("%-48s %9.2f ms   (the design's floor at these moments)"
              % ("skeleton services' overhead (floor_bench)", median(floors)))
    print("%-48s %9.2f ms" % ("run step inside the sandbox (execution_time_ms)", m_run))


# ---- throughput ----------------------------------------------------------------------------

def section_throughput(stack, clients=8):
    print("== throughput at saturation: python hello worlds per second (%d x 5 s, medians)"
          % REPEATS)
    sessions = [stack.session() for _ in range(clients)]
    bare, lcx, floors, alone = [], [], [], []
    for _ in range(REPEATS):
        bare.append(bare_python(5, 2)["rate"])
        lcx.append(loadgen("runs", stack.http_port, 5, *sessions)["rate"])
        f, a = floor("runs", 5, clients), floor("sandbox", 5)
        floors.append(f and f["rate"])
        alone.append(a and a["rate"])
    m_bare, m_lcx = median(bare), median(lcx)
    print("%-48s %9.1f /s" % ("two loops of bare python3 (baseline)", m_bare))
    print("%-48s %9.1f /s" % ("lcx, %d clients, %s runner slots" % (clients, stack.slots), m_lcx))
    print("%-48s %9.0f %%   (target: at least 85 %%)" % ("lcx / baseline", 100 * m_lcx / m_bare))
    if None not in floors + alone:
        for label, rates in (("skeleton services, %d clients (floor_bench)" % clients, floors),
                             ("the sandbox alone, two slots, no messages", alone)):
            print("%-48s %9.1f /s  %3.0f %% of the baseline (a floor)"
                  % (label, median(rates), 100 * median(rates) / m_bare))


# ---- keys ----------------------------------------------------------------------------------

def section_keys(stack, runs=30):
    rounds = max(REPEATS, 5)
    print("== API keys: the same calls through a gateway without keys and one with"
          " LCX_AUTH=keys, on one backend, alternating (%d rounds, medians); target: within 5 %%"
          % rounds)
    keyed = stack.keyed_gateway()
    gateways = (stack, keyed)
    for g in gateways:
        write_ids(g)
    sessions = [g.session() for g in gateways]
    for g, sid in zip(gateways, sessions):
        loadgen("e2e", g.http_port, 3, sid, key=g.key)  # warm caches, as a live system is
    labels = ("POST /code-sessions req/s", "PATCH, spread over 1000 sessions req/s",
              "end to end (run + ?wait) ms")
    rows = {label: ([], []) for label in labels}
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)  # neither side always goes first
        for i in order:
            g = gateways[i]
            rows[labels[0]][i].append(wrk(g, API_CASES[1][1])[0])
            rows[labels[1]][i].append(wrk(g, API_CASES[3][1])[0])
            rows[labels[2]][i].append(
                loadgen("e2e", g.http_port, runs, sessions[i], key=g.key)["e2e_ms"])
    print("%-40s %12s %12s %9s" % ("", "no keys", "keys", "keys/none"))
    for label, (plain, keys) in rows.items():
        a, b = median(plain), median(keys)
        print("%-40s %12.2f %12.2f %8.3fx" % (label, a, b, b / a))


# ---- memory --------------------------------------------------------------------------------

def section_memory(stack, idle):
    print("== resident memory (target: each service under 16 MiB idle)")
    loaded = stack.rss_kb()
    print("%-12s %12s %14s" % ("service", "idle MiB", "after load MiB"))
    for name in ("gateway", "session", "dispatcher", "runner"):
        print("%-12s %12.1f %14.1f" % (name, idle[name] / 1024, loaded[name] / 1024))


def main(sections):
    stack = Stack().start()
    try:
        time.sleep(1)
        idle = stack.rss_kb()
        for s in sections:
            if s == "memory":
                section_memory(stack, idle)
            else:
                globals()["section_" + s](stack)
            sys.stdout.flush()
    finally:
        stack.stop()


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["api", "e2e", "throughput", "memory"]
    unknown = [s for s in wanted if s not in ("api", "e2e", "throughput", "memory", "keys")]
    if unknown:
        sys.exit("stack_bench: unknown section(s) %s" % unknown)
    main(wanted)
