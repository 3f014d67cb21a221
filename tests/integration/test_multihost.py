"""Multi-host test (issue #5): the session store, the dispatcher, the gateway and two runners
each in its own network namespace ("host") with its own address on a private bridge, talking
over TCP with CURVE on. While clients keep autosaving and running programs, every component is
killed with SIGKILL and started again, one at a time, and a runner's link is cut mid-job and
restored. Afterwards every accepted execution must be COMPLETED with the right output, a job
whose runner died or was cut off must have completed elsewhere with attempts >= 2, and every
acknowledged autosave must read back.

The test builds its network itself and always removes it (namespaces, veths, bridge, processes,
temp dir), also when it fails or the run is cut short. Traffic goes only to the private /24 it
picks (10.231.X.0/24, X chosen so that no route of this machine overlaps it).

Topology (names carry a random suffix SFX):

    root namespace (this test) --veth-- [lcxmh-SFX-switch: bridge br0] --veth-- lcxmh-SFX-session
                                                           |  |  |  `--veth-- lcxmh-SFX-dispatcher
                                                           |  |  `-----veth-- lcxmh-SFX-gateway
                                                           |  `--------veth-- lcxmh-SFX-runner1
                                                           `-----------veth-- lcxmh-SFX-runner2

Note on `ip netns exec` and the runner's sandbox: `ip netns exec` unshares the mount namespace
and remounts /sys (so that /sys/class/net shows the namespace's devices). That drops every mount
below /sys, /sys/fs/cgroup included, and lcx-runner then refuses to start ("cannot sandbox on
this machine: no usable cgroups", from cgroup_detect() in services/runner/cgroup.c, which reads
/proc/self/mountinfo). The runner is therefore started as
`ip netns exec NS sh -c '<mount the cgroup hierarchies again> && exec lcx-runner ...'`; the
mounts are made in the private (slave) mount namespace of `ip netns exec` only, the same
hierarchies the host has, so the sandbox is the real one (no --unsafe-no-sandbox).

The scenario, with 3 clients autosaving and running all along (each: PATCH, run, PATCH while it
runs, wait for the result; retrying on 503 after Retry-After and on refused connections):
  1. kill -9 the session store while a job runs (it finishes during the 2.5 s outage), restart;
  2. kill -9 the dispatcher while jobs run, restart (reconciliation re-submits them);
  3. kill -9 the gateway, restart;
  4. kill -9 the runner of a 3 s job, measure until the job is RUNNING on the other runner,
     restart the runner;
  5. cut the link of the runner of an 8 s job on the bridge, measure until the job is RUNNING on
     the other runner, restore the link while the cut-off runner's stale attempt still runs,
     then a burst of runs.
It prints the recovery times (`recovery: ...` lines). LCX_TEST_KEEP_LOGS=DIR keeps the logs.
"""

import atexit
import http.client
import ipaddress
import json as jsonlib
import os
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import harness
from harness import BIN_DIR, TERMINAL, describe, expect, http_request, short, timeout

SERVICES = ("session", "dispatcher", "runner1", "runner2", "gateway")
HOST_OCTET = {"root": 1, "session": 10, "dispatcher": 11, "gateway": 12, "runner1": 21,
              "runner2": 22}
VETH_CODE = {"root": "r", "session": "s", "dispatcher": "d", "gateway": "g", "runner1": "1",
             "runner2": "2"}
HTTP_PORT = 8080
SESSION_PORT, STORE_PORT, RUNNER_PORT = 5550, 5551, 5552
HEARTBEAT_MS, LIVENESS = 300, 3
RUNNER_SLOTS = 3
WORKERS = 3


# --------------------------------------------------------------------------------------------
# Shell helpers


def _ip(*args, check=True):
    out = subprocess.run(["ip"] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=30)
    if check and out.returncode != 0:
        raise AssertionError("ip %s failed (%d): %s%s" % (" ".join(map(str, args)),
                                                          out.returncode, out.stdout,
                                                          out.stderr))
    return out


def _pick_subnet():
    """10.231.X.0/24 that overlaps no route of the root namespace (nor a leftover run's)."""
    routes = _ip("-4", "route", "show", "table", "all").stdout.splitlines()
    used = []
    for line in routes:
        tok = line.split()[0] if line.split() else ""
        if tok in ("default", "broadcast", "local", "unreachable", "blackhole", "prohibit"):
            tok = line.split()[1] if len(line.split()) > 1 else ""
            if tok == "default":
                continue
        try:
            used.append(ipaddress.ip_network(tok, strict=False))
        except ValueError:
            continue
    third = list(range(256))
    random.shuffle(third)
    for x in third:
        net = ipaddress.ip_network("10.231.%d.0/24" % x)
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError("no free /24 in 10.231.0.0/16 for the test network")


def _cgroup_prelude():
    """Shell commands that mount again, below /sys/fs/cgroup, the cgroup hierarchies the host
    has (`ip netns exec` hides them by remounting /sys)."""
    cmds = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, rest = pre.split(), post.split()
            if len(fields) < 5 or len(rest) < 3:
                continue
            point = fields[4].replace("\\040", " ")
            fstype, superopts = rest[0], rest[2]
            if not point.startswith("/sys/fs/cgroup"):
                continue
            if fstype == "tmpfs" and point == "/sys/fs/cgroup":
                cmds.append("mount -t tmpfs -o mode=755 lcx-cgroup-root /sys/fs/cgroup")
            elif fstype in ("cgroup", "cgroup2"):
                opts = [o for o in superopts.split(",")
                        if o not in ("rw", "ro") and not o.startswith("release_agent=")]
                if fstype == "cgroup" and all(o.startswith("name=") for o in opts):
                    opts = ["none"] + opts  # a named hierarchy without controllers
                o = ("-o " + shlex.quote(",".join(opts))) if opts else ""
                cmds.append("{ mkdir -p %s && mount -t %s %s %s %s; } || echo 'test: could not "
                            "mount %s again' >&2" % (shlex.quote(point), fstype, o, fstype,
                                                     shlex.quote(point), point))
    return "; ".join(cmds) if cmds else "true"


# --------------------------------------------------------------------------------------------
# The network and the services


class Cluster:
    """The namespaces, the bridge, the veths, the keys and the five service processes."""

    def __init__(self):
        self.closed = False
        self.created_ns = []
        self.root_veth = None
        self.procs = {}
        self.tmp = None
        self.events = []  # (monotonic, text, epoch seconds)
        harness._live_stacks.append(self)  # run.py closes these even when a test times out
        atexit.register(self.close)
        self.tmp = tempfile.mkdtemp(prefix="lcx-multihost-")
        while True:
            self.sfx = "%05x" % random.randrange(16 ** 5)
            self.prefix = "lcxmh-" + self.sfx
            if self.prefix not in _ip("netns", "list").stdout:
                break
        self.subnet = _pick_subnet()
        base = str(self.subnet.network_address).rsplit(".", 1)[0]
        self.addr = {h: "%s.%d" % (base, o) for h, o in HOST_OCTET.items()}
        self.ns = {h: "%s-%s" % (self.prefix, h) for h in HOST_OCTET if h != "root"}
        self.switch = self.prefix + "-switch"
        # veth pairs: <name>h in the host namespace, <name>b on the bridge (15 chars at most)
        self.veth = {h: "lx%s%s" % (self.sfx, c) for h, c in VETH_CODE.items()}

    # -- network

    def build_network(self):
        for ns in [self.switch] + list(self.ns.values()):
            _ip("netns", "add", ns)
            self.created_ns.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "stp_state", "0")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for host, ns in self.ns.items():
            v = self.veth[host]
            _ip("link", "add", v + "h", "netns", ns, "type", "veth", "peer", "name", v + "b",
                "netns", self.switch)
            _ip("-n", self.switch, "link", "set", v + "b", "master", "br0")
            _ip("-n", self.switch, "link", "set", v + "b", "up")
            _ip("-n", ns, "addr", "add", "%s/24" % self.addr[host], "dev", v + "h")
            _ip("-n", ns, "link", "set", v + "h", "up")
        v = self.veth["root"]
        _ip("link", "add", v + "h", "type", "veth", "peer", "name", v + "b", "netns",
            self.switch)
        self.root_veth = v + "h"
        _ip("-n", self.switch, "link", "set", v + "b", "master", "br0")
        _ip("-n", self.switch, "link", "set", v + "b", "up")
        _ip("addr", "add", "%s/24" % self.addr["root"], "dev", v + "h")
        _ip("link", "set", v + "h", "up")
        self.event("network %s up: %s" % (self.subnet, self.addr))

    def bridge_port(self, host):
        return self.veth[host] + "b"

    def set_link(self, host, up):
        _ip("-n", self.switch, "link", "set", self.bridge_port(host), "up" if up else "down")

    # -- keys

    def make_keys(self):
        keys = os.path.join(self.tmp, "keys")
        out = subprocess.run([os.path.join(BIN_DIR, "lcx-keygen"), keys], capture_output=True,
                             text=True, timeout=30)
        expect(out.returncode == 0, "lcx-keygen failed: %s %s" % (out.stdout, out.stderr))
        # Each host gets the whole public/ directory and only its own service's secret.
        for service in SERVICES:
            key_name = "runner" if service.startswith("runner") else service
            hk = os.path.join(self.host_dir(service), "keys")
            shutil.copytree(os.path.join(keys, "public"), os.path.join(hk, "public"))
            os.makedirs(os.path.join(hk, "secret"), mode=0o700)
            dst = os.path.join(hk, "secret", key_name + ".cert_secret")
            shutil.copy2(os.path.join(keys, "secret", key_name + ".cert_secret"), dst)
            os.chmod(dst, 0o600)
        # A gateway on another address than loopback requires API keys: the store registers
        # a bootstrap admin key, which the test's client sends.
        self.admin_key = harness.new_api_key()
        self.admin_key_file = os.path.join(self.host_dir("session"), "admin.key")
        with open(self.admin_key_file, "w") as f:
            f.write(self.admin_key + "\n")
        os.chmod(self.admin_key_file, 0o600)

    # -- services

    def host_dir(self, service):
        d = os.path.join(self.tmp, service)
        os.makedirs(d, exist_ok=True)
        return d

    def log_path(self, service):
        return os.path.join(self.tmp, service + ".log")

    def endpoint(self, host, port):
        return "tcp://%s:%d" % (self.addr[host], port)

    def command(self, service):
        keys = os.path.join(self.host_dir(service), "keys")
        live = ["--heartbeat-ms", str(HEARTBEAT_MS), "--liveness", str(LIVENESS)]
        if service == "session":
            data = os.path.join(self.host_dir(service), "data")
            os.makedirs(data, exist_ok=True)
            args = ["--session-endpoint", self.endpoint("session", SESSION_PORT),
                    "--dispatcher-endpoint", self.endpoint("dispatcher", STORE_PORT),
                    "--data-dir", data, "--run-cooldown-ms", "0",
                    "--runs-per-minute", "100000", "--runs-per-session", "100000",
                    "--admin-key-file", self.admin_key_file,
                    # the load is the point here, not the key's quotas
                    "--key-runs-per-minute", "0", "--key-concurrent-runs", "0"] + live
        elif service == "dispatcher":
            args = ["--dispatcher-endpoint", self.endpoint("dispatcher", STORE_PORT),
                    "--runner-endpoint", self.endpoint("dispatcher", RUNNER_PORT)] + live
        elif service.startswith("runner"):
            n = int(service[-1])
            scratch = os.path.join(self.host_dir(service), "scratch")
            os.makedirs(scratch, exist_ok=True)
            # distinct sandbox uids, as two machines would not share theirs
            args = ["--runner-endpoint", self.endpoint("dispatcher", RUNNER_PORT),
                    "--scratch-dir", scratch, "--runner-slots", str(RUNNER_SLOTS),
                    "--runner-id", service, "--sandbox-uid", str(61000 + 100 * n)] + live
        elif service == "gateway":
            args = ["--session-endpoint", self.endpoint("session", SESSION_PORT),
                    "--http-host", self.addr["gateway"], "--http-port", str(HTTP_PORT),
                    "--data-dir", os.path.join(self.host_dir(service), "data")]
        else:
            raise ValueError(service)
        args += ["--curve-dir", keys]
        binary = os.path.join(BIN_DIR, "lcx-" + ("runner" if service.startswith("runner")
                                                 else service))
        ns = self.ns[service]
        if service.startswith("runner"):
            script = _cgroup_prelude() + '; exec "$0" "$@"'
            return ["ip", "netns", "exec", ns, "sh", "-c", script, binary] + args
        return ["ip", "netns", "exec", ns, binary] + args

    def start(self, service):
        p = self.procs.get(service)
        if p is not None and p.poll() is None:
            raise RuntimeError("%s is already running" % service)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LCX_")}
        env["LCX_LOG_LEVEL"] = "debug"  # records() reads per-job lines
        cmd = self.command(service)
        with open(self.log_path(service), "ab") as log:
            log.write(("==== %s start: %s\n" % (time.strftime("%H:%M:%S"),
                                                " ".join(cmd))).encode())
            log.flush()
            self.procs[service] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                                   stderr=subprocess.STDOUT, env=env,
                                                   cwd=self.host_dir(service),
                                                   start_new_session=True)
        self.event("started %s (pid %d)" % (service, self.procs[service].pid))
        return self.procs[service]

    def kill9(self, service):
        p = self.procs[service]
        expect(p.poll() is None, "%s was already dead (exit %s) before the test killed it"
               % (service, p.returncode))
        p.send_signal(signal.SIGKILL)
        t = time.monotonic()
        p.wait(10)
        self.event("kill -9 %s (pid %d)" % (service, p.pid))
        return t

    def alive(self, service):
        p = self.procs.get(service)
        return p is not None and p.poll() is None

    def dead(self):
        return ["%s (exit %s)" % (s, p.returncode) for s, p in self.procs.items()
                if p.poll() is not None]

    def event(self, text):
        self.events.append((time.monotonic(), text, time.time()))
        print("    [%s] %s" % (time.strftime("%H:%M:%S"), text), flush=True)

    # -- logs

    def log_text(self, service):
        try:
            with open(self.log_path(service), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tails(self, lines=30):
        out = []
        for s in SERVICES:
            tail = self.log_text(s).splitlines()[-lines:]
            state = "running" if self.alive(s) else "NOT RUNNING"
            out.append("---- %s.log (%s), last %d lines:" % (s, state, len(tail)))
            out.extend("    " + l for l in tail)
        return "\n".join(out)

    def grep_logs(self, needle, limit=40):
        out = []
        for s in SERVICES:
            for line in self.log_text(s).splitlines():
                if needle in line:
                    out.append("    %s: %s" % (s, line))
        return "\n".join(out[-limit:])

    def records(self, service, event):
        """The JSON log lines of `service` whose event is `event`, as dicts."""
        out = []
        for line in self.log_text(service).splitlines():
            if line.startswith("{") and '"%s"' % event in line:
                try:
                    rec = jsonlib.loads(line)
                except ValueError:
                    continue
                if rec.get("event") == event:
                    out.append(rec)
        return out

    def incident_before(self, wall):
        """The last restart, kill or link change the test made before `wall` (epoch s)."""
        last = "start-up"
        for _, text, w in self.events:
            if w <= wall and text.startswith(("started ", "kill -9 ", "link of ")):
                last = "'%s'" % text
        return last

    def runners_started(self, execution_id):
        """The runners whose log says they started this execution."""
        return [s for s in ("runner1", "runner2")
                if any('"execution started"' in l and execution_id in l
                       for l in self.log_text(s).splitlines())]

    # -- cleanup

    def close(self):
        if self.closed:
            return
        self.closed = True
        for service, p in list(self.procs.items()):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(10)
            except Exception:
                pass
        keep = os.environ.get("LCX_TEST_KEEP_LOGS")  # a directory: copy the logs there
        if keep:
            os.makedirs(keep, exist_ok=True)
            for s in SERVICES:
                if os.path.exists(self.log_path(s)):
                    shutil.copy(self.log_path(s), os.path.join(keep, s + ".log"))
        if self.root_veth:
            _ip("link", "del", self.root_veth, check=False)
        for ns in reversed(self.created_ns):
            _ip("netns", "del", ns, check=False)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if self in harness._live_stacks:
            harness._live_stacks.remove(self)


# --------------------------------------------------------------------------------------------
# A client that behaves like the editor: retries on 503 (honouring Retry-After) and on a
# connection refused while the gateway restarts, within a bounded time.


class Client:
    def __init__(self, cluster):
        self.cluster = cluster
        self.host = cluster.addr["gateway"]
        self.lock = threading.Lock()
        self.problems = []
        self.stats = {"requests": 0, "503": 0, "conn_errors": 0, "slowest": 0.0}

    def problem(self, text):
        with self.lock:
            self.problems.append("[%s] %s" % (time.strftime("%H:%M:%S"), text))

    def once(self, method, path, body=None, headers=None, timeout=10.0):
        headers = dict(headers or {}, Authorization="Bearer " + self.cluster.admin_key)
        r = http_request(HTTP_PORT, method, path, json=body, headers=headers, timeout=timeout,
                         host=self.host)
        with self.lock:
            self.stats["requests"] += 1
            self.stats["slowest"] = max(self.stats["slowest"], r.elapsed)
        return r

    def call(self, method, path, body=None, headers=None, budget=30.0, timeout=10.0):
        """The answer that is not a 503, or None when `budget` seconds pass without one."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            try:
                r = self.once(method, path, body, headers, timeout)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.stats["conn_errors"] += 1
                if isinstance(e, (TimeoutError, OSError)) and "timed out" in str(e) \
                        and self.cluster.alive("gateway"):
                    self.problem("%s %s: no answer within %.0f s with the gateway up (a hang)"
                                 % (method, path, timeout))
                time.sleep(0.25)
                continue
            if r.status != 503:
                return r
            with self.lock:
                self.stats["503"] += 1
            ra = r.headers.get("retry-after")
            if ra is None or not ra.isdigit():
                self.problem("%s %s: 503 without a numeric Retry-After: %r" % (method, path, r))
                ra = "1"
            time.sleep(min(float(ra), 2.0))
        return None


# --------------------------------------------------------------------------------------------
# The workload


class Ledger:
    """What the clients were told: acknowledged autosaves and accepted executions."""

    def __init__(self):
        self.lock = threading.Lock()
        # execution_id -> {"session", "expect" (the acceptable stdouts), "what", "t"}
        self.accepted = {}
        self.acked = {}         # session_id -> last acknowledged source_code
        self.unsure = {}        # session_id -> texts sent after it whose PATCH got no 200
        self.patches_acked = 0
        self.completions = []   # (monotonic when a client saw it terminal, execution_id, status)

    def accept(self, eid, sid, expected, what):
        with self.lock:
            self.accepted[eid] = {"session": sid, "expect": expected, "what": what,
                                  "t": time.monotonic()}

    def ack(self, sid, text):
        with self.lock:
            self.acked[sid] = text
            self.unsure[sid] = []
            self.patches_acked += 1

    def not_acked(self, sid, text):
        with self.lock:
            self.unsure.setdefault(sid, []).append(text)

    def completed(self, eid, status):
        with self.lock:
            self.completions.append((time.monotonic(), eid, status))


def _program(worker, k):
    text = "import sys\nn = %d\nprint('w%d-%d', sum(range(n)), file=sys.stdout)\n" % (
        k, worker, k)
    return text, "w%d-%d %d\n" % (worker, k, sum(range(k)))


def _worker(client, ledger, stop, worker, sid):
    """Autosave, run, autosave again while it runs, wait for the result; until `stop`."""
    k = 0
    run_ok = False  # the latest PATCH was acknowledged: a run's text is known
    expected = None
    while not stop.is_set():
        k += 1
        text, out = _program(worker, k)
        r = client.call("PATCH", "/code-sessions/%s" % sid, {"source_code": text}, budget=30)
        if r is not None and r.status == 200:
            ledger.ack(sid, text)
            run_ok, expected = True, out
        else:
            ledger.not_acked(sid, text)
            run_ok = False
            if r is None:
                client.problem("PATCH %s: no answer but 503 for 30 s" % sid)
            else:
                client.problem("PATCH %s: %r" % (sid, r))
            continue
        if not run_ok:
            continue
        key = "w%d-%d-%06x" % (worker, k, random.randrange(16 ** 6))
        r = client.call("POST", "/code-sessions/%s/run" % sid, {},
                        headers={"Idempotency-Key": key}, budget=30)
        if r is None:
            client.problem("run of %s: no answer but 503 for 30 s" % sid)
            continue
        if r.status != 202:
            client.problem("run of %s: %r" % (sid, r))
            continue
        eid = r.body["execution_id"]
        ledger.accept(eid, sid, [expected], "worker %d run %d" % (worker, k))
        # The editor keeps autosaving while the program runs.
        k += 1
        text, out = _program(worker, k)
        r = client.call("PATCH", "/code-sessions/%s" % sid, {"source_code": text}, budget=30)
        if r is not None and r.status == 200:
            ledger.ack(sid, text)
        else:
            ledger.not_acked(sid, text)
            client.problem("PATCH %s during a run: %r" % (sid, r))
        # Wait for the result (the session allows one run at a time).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = client.call("GET", "/executions/%s?wait=5000" % eid, budget=30, timeout=20)
            if r is not None and r.status == 200 and r.body.get("status") in TERMINAL:
                ledger.completed(eid, r.body["status"])
                break
            if r is not None and r.status != 200:
                client.problem("GET /executions/%s: %r" % (eid, r))
                time.sleep(0.5)
        else:
            client.problem("execution %s (worker %d) not finished 60 s after it was accepted"
                           % (eid, worker))
            return  # its session stays busy: this worker stops
        time.sleep(0.05)


def _uids(runner):
    """The sandbox uids of a runner's slots (--sandbox-uid 61000 + 100 n, one per slot)."""
    n = int(runner[-1])
    return [61000 + 100 * n + i for i in range(RUNNER_SLOTS)]


def _long_program(tag, seconds):
    """A job that runs `seconds`; its output names the uid, hence the runner, that ran it.
    Returns (text, outputs(runners) -> the acceptable stdouts when one of `runners` ran it)."""
    text = ("import os, time\nprint('%s start', flush=True)\ntime.sleep(%s)\n"
            "print('%s done', os.getuid())\n" % (tag, seconds, tag))

    def outputs(runners=("runner1", "runner2")):
        return ["%s start\n%s done %d\n" % (tag, tag, u) for r in runners for u in _uids(r)]
    return text, outputs


# --------------------------------------------------------------------------------------------
# The test


@timeout(300)
def test_multihost_kill_restart_and_partition(stack):
    expect(os.geteuid() == 0, "the multi-host test needs root (ip netns, veth, bridge)")
    expect(shutil.which("ip"), "the multi-host test needs iproute2 (`ip`)")
    for b in ("lcx-session", "lcx-dispatcher", "lcx-gateway", "lcx-runner", "lcx-keygen"):
        expect(os.access(os.path.join(BIN_DIR, b), os.X_OK), "%s missing (make all)" % b)
    cl = Cluster()
    try:
        _scenario(cl)
    except AssertionError as e:
        raise AssertionError("%s\n\nevents:\n%s\n\nservice logs:\n%s" % (
            e, "\n".join("  +%.2f s %s" % (ev[0] - cl.events[0][0], ev[1]) for ev in cl.events),
            cl.log_tails()))
    finally:
        cl.close()


def _scenario(cl):
    cl.build_network()
    cl.make_keys()
    for service in SERVICES:
        cl.start(service)
    client = Client(cl)
    ledger = Ledger()
    figures = []
    notes = []

    # -- helpers

    def admin_runners():
        r = client.once("GET", "/admin/runners", timeout=5)
        return sorted(x.get("runner_id") for x in r.body) if r.status == 200 else None

    def wait_runners(names, budget, why):
        deadline = time.monotonic() + budget
        last = None
        while time.monotonic() < deadline:
            dead = cl.dead()
            expect(not dead, "%s: a service exited: %s" % (why, dead))
            try:
                last = admin_runners()
                if last is not None and all(n in last for n in names):
                    return time.monotonic()
            except (OSError, http.client.HTTPException) as e:
                last = "%s: %s" % (type(e).__name__, e)
            time.sleep(0.1)
        raise AssertionError("%s: runners %s not registered within %.0f s (last /admin/runners:"
                             " %s)" % (why, names, budget, last))

    def new_session(text):
        r = client.call("POST", "/code-sessions", {"language": "python", "source_code": text},
                        budget=30)
        expect(r is not None and r.status == 201, "POST /code-sessions: %r" % r)
        ledger.ack(r.body["session_id"], text)
        return r.body["session_id"]

    def start_run(sid, tag, outputs, body=None):
        r = client.call("POST", "/code-sessions/%s/run" % sid, body or {},
                        headers={"Idempotency-Key": tag}, budget=30)
        expect(r is not None and r.status == 202, "run %s: %r" % (tag, r))
        eid = r.body["execution_id"]
        ledger.accept(eid, sid, outputs, tag)
        return eid

    def start_long(tag, seconds, limit_ms):
        text, outputs = _long_program(tag, seconds)
        sid = new_session(text)
        eid = start_run(sid, tag, outputs(), {"limits": {"time_ms": limit_ms}})
        return eid, outputs

    def get(eid):
        r = client.call("GET", "/executions/%s" % eid, budget=20)
        expect(r is not None and r.status == 200, "GET /executions/%s: %r" % (eid, r))
        return r.body

    def wait_done(eid, budget, what):
        deadline = time.monotonic() + budget
        while True:
            r = client.call("GET", "/executions/%s?wait=5000" % eid, budget=30, timeout=20)
            if r is not None and r.status == 200 and r.body.get("status") in TERMINAL:
                ledger.completed(eid, r.body["status"])
                return time.monotonic(), r.body
            if time.monotonic() > deadline:
                raise AssertionError("%s: execution %s not finished within %.0f s: %r\n%s"
                                     % (what, eid, budget, r, cl.grep_logs(eid)))

    def wait_running(eids, budget=20):
        """Until each execution is RUNNING on one runner: {execution_id: runner}."""
        deadline = time.monotonic() + budget
        where = {}
        while len(where) < len(eids):
            for eid in eids:
                if eid in where:
                    continue
                on = cl.runners_started(eid)
                if on and get(eid).get("status") == "RUNNING":
                    expect(len(on) == 1, "execution %s started on %s" % (eid, on))
                    where[eid] = on[0]
            if time.monotonic() > deadline:
                raise AssertionError("not RUNNING after %.0f s: %s" % (
                    budget, {e: describe(get(e)) for e in eids if e not in where}))
            time.sleep(0.05)
        return where

    def pending_ids():
        done = {c[1] for c in ledger.completions}
        with ledger.lock:
            return {e for e in ledger.accepted if e not in done}

    def first_completion_after(t0, budget, why):
        """When a client first saw a run COMPLETED after t0 (monotonic)."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            with ledger.lock:
                ts = [c[0] for c in ledger.completions if c[0] >= t0 and c[2] == "COMPLETED"]
            if ts:
                return min(ts)
            time.sleep(0.02)
        raise AssertionError("%s: no run completed within %.0f s" % (why, budget))

    def wait_redispatch(eid, t0, lost, tag):
        """Polls until the job is RUNNING again (attempts >= 2); checks it is on the other
        runner. Returns seconds since t0."""
        deadline = t0 + 30
        while True:
            e = client.once("GET", "/executions/%s" % eid).body
            if (e.get("attempts") or 0) >= 2 and e.get("status") in ("RUNNING",) + TERMINAL:
                t = time.monotonic()
                break
            if time.monotonic() > deadline:
                raise AssertionError("%s: job %s not re-dispatched 30 s after its runner was "
                                     "lost: %s\n%s" % (tag, eid, describe(e),
                                                       cl.grep_logs(eid)))
            time.sleep(0.02)
        on = cl.runners_started(eid)
        other = "runner2" if lost == "runner1" else "runner1"
        expect(other in on, "%s: job %s RUNNING again (attempts %s) but not on %s: started on "
               "%s\n%s" % (tag, eid, e.get("attempts"), other, on, cl.grep_logs(eid)))
        cl.event("%s job RUNNING again on %s, attempts %s" % (tag, other, e.get("attempts")))
        return t - t0

    # -- start-up

    wait_runners(["runner1", "runner2"], 30, "start-up")
    r = client.once("GET", "/health")
    expect(r.status == 200, "GET /health after start-up: %r" % r)
    sandboxes = r.body["components"]["runners"].get("sandbox")
    expect(not any("UNSAFE" in str(s) for s in (sandboxes or [])),
           "a runner runs without its sandbox: %s" % sandboxes)
    cl.event("stack up over CURVE; runners' sandbox: %s" % short(sandboxes, 200))

    stop = threading.Event()
    threads = []
    for w in range(WORKERS):
        sid = new_session("print('hello')\n")
        t = threading.Thread(target=_worker, args=(client, ledger, stop, w, sid), daemon=True)
        t.start()
        threads.append(t)
    probe = new_session("print('probe')\n")
    burst = [new_session("import time\ntime.sleep(1.5)\nprint('burst %d')\n" % i)
             for i in range(2 * RUNNER_SLOTS - 1)]
    first_completion_after(time.monotonic(), 30, "warm-up")
    time.sleep(1)

    # ---- 1. the session store: kill -9 while a job runs; the job ends during the outage
    cl.event("== kill -9 the session store")
    held_eid, _ = start_long("store-down", 1.5, 10000)
    wait_running([held_eid])
    poll = {}

    def long_poll():  # a client's ?wait poll in flight when the store dies
        t = time.monotonic()
        try:
            r = client.once("GET", "/executions/%s?wait=5000" % held_eid, timeout=30)
            poll["answer"] = "HTTP %d %s" % (
                r.status, (r.body.get("status") or r.body.get("error")
                           if isinstance(r.body, dict) else "")) + (
                " (Retry-After %s)" % r.headers["retry-after"]
                if "retry-after" in r.headers else "")
        except (OSError, http.client.HTTPException) as e:
            poll["answer"] = "%s: %s" % (type(e).__name__, e)
        poll["t"] = time.monotonic() - t
    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.2)
    cl.kill9("session")
    time.sleep(2.5)
    cl.start("session")
    t_up = time.monotonic()
    eid = start_run(probe, "probe-after-store", ["probe\n"])
    t_done, e = wait_done(eid, 40, "a new run after the store restarted")
    wait_done(held_eid, 40, "the job that finished while the store was down")
    figures.append("recovery: session store restart -> a new run (sent after it) %s: %.2f s"
                   % ("completed" if e.get("status") == "COMPLETED" else
                      "ended %s %s" % (e.get("status"), e.get("reason")), t_done - t_up))
    t_first = first_completion_after(t_up, 40, "load after the store restarted")
    figures.append("recovery: session store restart -> clients' in-flight ?wait=5000 polls "
                   "answered (first completion a client saw): %.2f s" % (t_first - t_up))
    poller.join(40)
    figures.append("recovery: a ?wait=5000 poll in flight when the store was killed (down "
                   "2.5 s, job finished meanwhile) was answered after %.2f s with %s"
                   % (poll.get("t", -1), poll.get("answer")))
    cl.event("store back: a new run done after %.2f s, clients' polls after %.2f s"
             % (t_done - t_up, t_first - t_up))
    time.sleep(1)

    # ---- 2. the dispatcher: kill -9 while jobs run (reconciliation re-submits them)
    cl.event("== kill -9 the dispatcher")
    disp = [start_long("dispatcher-%d" % i, 3, 10000)[0] for i in range(2)]
    wait_running(disp)
    before = pending_ids()
    cl.kill9("dispatcher")
    time.sleep(0.5)
    cl.start("dispatcher")
    t_up = time.monotonic()
    eid = start_run(probe, "probe-after-dispatcher", ["probe\n"])
    t_first = first_completion_after(t_up, 40, "after the dispatcher restarted")
    t_done, e = wait_done(eid, 40, "a new run after the dispatcher restarted")
    t_reg = wait_runners(["runner1", "runner2"], 30, "after the dispatcher restarted")
    figures.append("recovery: dispatcher restart -> first completed run: %.2f s"
                   % (t_first - t_up))
    figures.append("recovery: dispatcher restart -> a new run (sent after it) %s: %.2f s"
                   % ("completed" if e.get("status") == "COMPLETED" else
                      "ended %s %s" % (e.get("status"), e.get("reason")), t_done - t_up))
    for eid in disp:
        wait_done(eid, 40, "a job in flight across the dispatcher restart")
    deadline = time.monotonic() + 40
    while before & pending_ids() and time.monotonic() < deadline:
        time.sleep(0.1)
    with ledger.lock:
        ts = [c[0] for c in ledger.completions if c[1] in before]
    if before and not before & pending_ids():
        figures.append("recovery: dispatcher restart -> all %d runs in flight at the kill "
                       "finished: %.2f s" % (len(before), max(ts) - t_up))
    cl.event("dispatcher back: first run done after %.2f s, runners back after %.2f s"
             % (t_first - t_up, t_reg - t_up))
    time.sleep(1)

    # ---- 3. the gateway
    cl.event("== kill -9 the gateway")
    cl.kill9("gateway")
    time.sleep(1.0)
    cl.start("gateway")
    t_up = time.monotonic()
    t_first = first_completion_after(t_up, 40, "after the gateway restarted")
    cl.event("a run completed %.2f s after the gateway restarted" % (t_first - t_up))
    time.sleep(1)

    # ---- 4. a runner killed mid-job
    cl.event("== kill -9 a runner mid-job")
    kill_eid, outputs = start_long("runner-kill", 3, 10000)
    victim = wait_running([kill_eid])[kill_eid]
    other = "runner2" if victim == "runner1" else "runner1"
    ledger.accepted[kill_eid]["expect"] = outputs([other])
    time.sleep(0.5)  # well inside its sleep
    t0 = cl.kill9(victim)
    dt = wait_redispatch(kill_eid, t0, victim, "runner-kill")
    figures.append("recovery: runner death (kill -9) -> its job RUNNING on the other runner: "
                   "%.2f s" % dt)
    cl.start(victim)
    wait_runners(["runner1", "runner2"], 30, "after %s restarted" % victim)
    wait_done(kill_eid, 40, "the runner-kill job")
    time.sleep(1)

    # ---- 5. a runner's link cut mid-job, restored while its (stale) attempt still runs
    cl.event("== cut a runner's link mid-job")
    cut_eid, outputs = start_long("link-cut", 8, 15000)
    victim = wait_running([cut_eid])[cut_eid]
    other = "runner2" if victim == "runner1" else "runner1"
    ledger.accepted[cut_eid]["expect"] = outputs([other])
    time.sleep(0.5)
    cl.set_link(victim, False)
    t0 = time.monotonic()
    cl.event("link of %s down (bridge port %s)" % (victim, cl.bridge_port(victim)))
    try:
        dt = wait_redispatch(cut_eid, t0, victim, "link-cut")
        figures.append("recovery: runner link cut -> its job RUNNING on the other runner: "
                       "%.2f s" % dt)
        time.sleep(HEARTBEAT_MS * LIVENESS / 1000.0)  # stay cut past liveness once more
    finally:
        cl.set_link(victim, True)
        cl.event("link of %s up again" % victim)
    t_up = time.monotonic()
    t_back = wait_runners(["runner1", "runner2"], 30, "after %s's link came back" % victim)
    figures.append("recovery: link restored -> %s registered again: %.2f s"
                   % (victim, t_back - t_up))
    # The cut-off runner is back, its stale attempt still running in one slot. A burst of
    # runs now needs every slot the runners really have free.
    stale_running = not any('"execution finished"' in l and cut_eid in l
                            for l in cl.log_text(victim).splitlines())
    cl.event("burst of %d runs (%s's stale attempt %s)" % (
        len(burst), victim, "still running" if stale_running else "already finished"))
    burst_ids = [None] * len(burst)

    def go(i):
        burst_ids[i] = start_run(burst[i], "burst-%d" % i, ["burst %d\n" % i])
    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(burst))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    for eid in burst_ids:
        if eid:
            wait_done(eid, 40, "a burst run")
    wait_done(cut_eid, 40, "the link-cut job")

    # ---- stop the load, then check everything
    stop.set()
    for t in threads:
        t.join(90)
    expect(not any(t.is_alive() for t in threads), "a client is still waiting after 90 s")
    cl.event("load stopped")

    problems = list(client.problems)
    dead = cl.dead()
    if dead:
        problems.append("services not running at the end: %s" % dead)

    results = {}
    bad = []
    for eid, info in sorted(ledger.accepted.items(), key=lambda kv: kv[1]["t"]):
        r = client.call("GET", "/executions/%s?wait=20000" % eid, budget=40, timeout=30)
        if r is None or r.status != 200:
            problems.append("GET execution %s (%s): %r" % (eid, info["what"], r))
            continue
        e = results[eid] = r.body
        if e.get("status") != "COMPLETED" or e.get("stdout") not in info["expect"]:
            bad.append((eid, info, e))
    # Group the wrong outcomes by cause, so that one defect reads as one problem.
    refused = {}  # execution_id -> (runner, wall time) of a runner's "job refused: no free slot"
    for s in ("runner1", "runner2"):
        for rec in cl.records(s, "job refused: no free slot"):
            refused[rec.get("execution_id")] = (s, harness.parse_time(rec["ts"]))
    groups = {}
    for eid, info, e in bad:
        if eid in refused and e.get("status") == "FAILED":
            runner, wall = refused[eid]
            key = ("FAILED %s: the dispatcher sent the job to %s, which had no free slot "
                   "('job refused: no free slot'), after %s" % (
                       e.get("reason"), runner, cl.incident_before(wall)))
        else:
            key = "%s %s" % (e.get("status"), e.get("reason") or "(wrong stdout)"
                             if e.get("status") == "COMPLETED" else e.get("reason"))
        groups.setdefault(key, []).append((eid, info, e))
    for key, items in groups.items():
        problems.append("%d accepted execution(s) ended %s: %s" % (
            len(items), key, ", ".join("%s (%s)" % (eid[:8], info["what"])
                                       for eid, info, _ in items[:8])
            + (" ..." if len(items) > 8 else "")))
    for eid, info, e in [items[0] for items in groups.values()]:
        problems.append("for example execution %s (%s): expected COMPLETED with stdout in %s, "
                        "got %s\n%s" % (eid, info["what"], short(info["expect"], 120),
                                        describe(e), cl.grep_logs(eid, 12)))
    for eid, tag in ((kill_eid, "runner-kill"), (cut_eid, "link-cut")):
        e = results.get(eid) or {}
        if (e.get("attempts") or 0) < 2:
            problems.append("the %s job %s completed with attempts %r (expected >= 2): %s"
                            % (tag, eid, e.get("attempts"), describe(e)))
    # How often each job around an event was started (informative: re-runs are not wrong).
    for eid in [held_eid] + disp + [kill_eid, cut_eid]:
        starts = sum(1 for s in ("runner1", "runner2") for l in cl.log_text(s).splitlines()
                     if '"execution started"' in l and eid in l)
        notes.append("%s: %s, attempts %s, started %d time(s) on runners"
                     % (ledger.accepted[eid]["what"], (results.get(eid) or {}).get("status"),
                        (results.get(eid) or {}).get("attempts"), starts))
    # The same attempt of one execution dispatched twice (informative).
    seen, twice = set(), set()
    for rec in cl.records("dispatcher", "execution dispatched"):
        k = (rec.get("execution_id"), rec.get("attempt"))
        (twice if k in seen else seen).add(k)
    if twice:
        notes.append("%d execution attempt(s) dispatched twice under the same attempt number "
                     "(re-submitted by reconciliation while still running): %s"
                     % (len(twice), ", ".join("%s#%s" % (e[:8], a) for e, a in sorted(twice))))
    if refused:
        notes.append("runners refused %d job(s) for want of a free slot" % len(refused))

    sessions_checked = 0
    for sid, text in sorted(ledger.acked.items()):
        r = client.call("GET", "/code-sessions/%s" % sid, budget=30)
        if r is None or r.status != 200:
            problems.append("GET session %s: %r" % (sid, r))
            continue
        sessions_checked += 1
        got = r.body.get("source_code")
        if got != text and got not in ledger.unsure.get(sid, []):
            problems.append("session %s: source_code %r, but the last acknowledged autosave "
                            "was %r (unacknowledged since: %r)"
                            % (sid, got, text, ledger.unsure.get(sid, [])))

    attempts = sorted((e.get("attempts") or 0) for e in results.values())
    print("    multihost: %d executions accepted (%d with attempts >= 2), %d autosaves "
          "acknowledged over %d sessions; client: %d requests, %d 503s retried, %d connection "
          "errors retried, slowest answer %.2f s"
          % (len(ledger.accepted), sum(1 for a in attempts if a >= 2), ledger.patches_acked,
             sessions_checked, client.stats["requests"], client.stats["503"],
             client.stats["conn_errors"], client.stats["slowest"]), flush=True)
    for line in notes:
        print("    " + line, flush=True)
    for line in figures:
        print(line, flush=True)
    expect(not problems, "%d problem(s):\n  - %s" % (len(problems), "\n  - ".join(problems)))
