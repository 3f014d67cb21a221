"""
Integration test harness for lcx: starts the four real services, talks HTTP to the gateway (on a
free loopback port), and stops, kills or restarts single services. The services talk over
ipc:// sockets in the stack's private socket directory (stack.socket_dir, mode 0700), as the
embedded default does in /run/lcx.

Python 3 standard library only.

    stack = Stack()            # or Stack(extra_flags={"session": ["--runs-per-minute", "3"]})
    stack.start()              # waits until GET /health is 200 and shows every runner
    r = stack.request("POST", "/code-sessions", json={"language": "c"})
    r.status, r.headers["location"], r.body     # body: parsed JSON, else text
    stack.kill9("session"); stack.restart("session")
    stack.close()              # always; also registered with atexit

Several runners: Stack(runners=2) starts services "runner" and "runner2" (or
Stack(runners=["runner", "runner-b"])), each its own lcx-runner process with its own
--runner-id (its service name) and scratch directory; kill9/restart/stop/alive take the name.
"""

import atexit
import http.client
import json as jsonlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# LCX_TEST_BIN_DIR: run the tests against binaries elsewhere (default build/bin).
BIN_DIR = os.environ.get("LCX_TEST_BIN_DIR") or os.path.join(ROOT, "build", "bin")
SERVICES = ("session", "dispatcher", "runner", "gateway")  # a default Stack's services, in order

# Settings lcx-session gets unless a test overrides them, so that tests are not rate limited.
DEFAULT_SESSION_LIMITS = {
    "run_cooldown_ms": "0",
    "runs_per_minute": "1000",
    "runs_per_session": "100000",
    # Every test client is 127.0.0.1: the per-address quotas would bind the whole suite as one
    # caller. The quota tests turn them on.
    "anon_runs_per_minute": "0",
    "anon_concurrent_runs": "0",
}

TERMINAL = ("COMPLETED", "FAILED", "TIMEOUT", "CANCELLED")

EXECUTION_FIELDS = (
    "execution_id", "session_id", "language", "status", "reason", "stdout", "stderr",
    "compile_output", "exit_code", "signal", "execution_time_ms", "cpu_time_ms", "memory_kb",
    "stdout_truncated", "stderr_truncated", "attempts", "queued_at", "started_at", "finished_at",
    "sandbox",  # lcx: how the runner isolated the program (issue #3: an unsafe run shows it)
    "source_version",  # the session version whose text the execution ran
)
SESSION_FIELDS = (
    "session_id", "status", "language", "source_code", "version", "created_at", "updated_at",
)

UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

_live_stacks = []


class SetupError(Exception):
    """The stack could not be started (binaries missing, a service died, never ready)."""


class Skip(Exception):
    """Raised by a test whose subject this host lacks (say which, and why): run.py reports
    the test as skipped with the message, neither passed nor failed."""


# --------------------------------------------------------------------------------------------
# HTTP


class Response:
    """status (int), headers (dict, lower-case names), body (parsed JSON or text), raw (bytes),
    elapsed (seconds). Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, raw, elapsed=0.0):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.elapsed = elapsed
        self.json_ok = False
        try:
            self.body = jsonlib.loads(raw.decode("utf-8")) if raw else None
            self.json_ok = bool(raw)
        except (ValueError, UnicodeDecodeError):
            self.body = raw.decode("utf-8", "replace")

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        text = self.raw[:600].decode("utf-8", "replace")
        more = "..." if len(self.raw) > 600 else ""
        return "<HTTP %s %s%s>" % (self.status, text, more)


def http_request(port, method, path, json=None, data=None, headers=None, timeout=10.0,
                 host="127.0.0.1"):
    """One request on a fresh connection. `json` is encoded with Content-Type application/json;
    `data` (bytes or str) is sent as is with only the headers given. Raises on network errors
    (socket.timeout, ConnectionRefusedError, ...)."""
    hdrs = {"Connection": "close"}
    body = None
    if json is not None:
        body = jsonlib.dumps(json).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    elif data is not None:
        body = data.encode("utf-8") if isinstance(data, str) else data
    if headers:
        hdrs.update(headers)
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=body, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            if conn.sock is None:
                raise  # reset while connecting (a server going away): there is nothing to read
            # else the server answered early (e.g. 413) and closed: read what it said
        resp = conn.getresponse()
        raw = resp.read()
        hd = {k.lower(): v for k, v in resp.getheaders()}
        return Response(resp.status, hd, raw, time.monotonic() - start)
    finally:
        conn.close()


def raw_http(port, head, body=b"", timeout=10.0, host="127.0.0.1"):
    """Sends raw request bytes `head` (request line and headers, ending in a blank line), then
    `body` in chunks, stopping early if the server answers first (as curl does). Returns a
    Response. For bodies the server is expected to refuse (413) and for malformed requests."""
    if isinstance(head, str):
        head = head.encode("latin-1")
    start = time.monotonic()
    deadline = start + timeout
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(head)
        pos = 0
        while pos < len(body):
            r, w, _ = select.select([s], [s], [], max(0.0, deadline - time.monotonic()))
            if r:
                break  # the server has answered (or closed): stop sending
            if not w:
                raise socket.timeout("timed out sending the body")
            try:
                pos += s.send(body[pos:pos + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading the response")
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
            parsed = _parse_response(buf, final=False)
            if parsed is not None:
                status, hd, raw = parsed
                if status == 100:  # 100 Continue: drop it and keep reading
                    buf = buf[buf.index(b"\r\n\r\n") + 4:]
                    continue
                return Response(status, hd, raw, time.monotonic() - start)
        parsed = _parse_response(buf, final=True)
        if parsed is None:
            raise ConnectionError("no HTTP response (got %r)" % buf[:200])
        status, hd, raw = parsed
        return Response(status, hd, raw, time.monotonic() - start)
    finally:
        s.close()


def _parse_response(buf, final):
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/\d\.\d (\d{3})", lines[0])
    if not m:
        raise ConnectionError("bad status line %r" % lines[0])
    status = int(m.group(1))
    hd = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hd[k.strip().lower()] = v.strip()
    rest = buf[end + 4:]
    if status == 100 or status == 204 or status == 304:
        return status, hd, b""
    if "content-length" in hd:
        n = int(hd["content-length"])
        return (status, hd, rest[:n]) if len(rest) >= n else None
    if hd.get("transfer-encoding", "").lower() == "chunked":
        out, p = b"", 0
        while True:
            e = rest.find(b"\r\n", p)
            if e < 0:
                return None
            size = int(rest[p:e].split(b";")[0], 16)
            if size == 0:
                return status, hd, out
            if len(rest) < e + 2 + size + 2:
                return None
            out += rest[e + 2:e + 2 + size]
            p = e + 2 + size + 2
    return (status, hd, rest) if final else None


# --------------------------------------------------------------------------------------------
# Processes


def sse_events(text):
    """The events of a Server-Sent Events body: a dict of fields (id, event, data) per event
    (comments and blocks without data left out)."""
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                k, _, v = line.partition(":")
                fields[k] = v[1:] if v.startswith(" ") else v
        if "data" in fields:
            events.append(fields)
    return events


def new_api_key():
    """A fresh API key from lcx-keygen api-key."""
    out = subprocess.run([os.path.join(BIN_DIR, "lcx-keygen"), "api-key"], check=True,
                         capture_output=True, text=True).stdout.strip()
    if not out.startswith("lcx_"):
        raise SetupError("lcx-keygen api-key printed %r" % out)
    return out


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound once, then released)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class Stack:
    """The four services as separate processes, with a private temp dir: the gateway on a free
    port, the services' own endpoints ipc:// sockets in self.socket_dir (self.session_endpoint,
    self.dispatcher_endpoint, self.runner_endpoint).

    extra_flags: {"session": ["--flag", "value", ...], ...} appended to a service's command line.
    extra_env:   {"runner": {"LCX_X": "1"}, ...} added to a service's environment.
    session_limits: overrides of DEFAULT_SESSION_LIMITS (setting name -> value); None values
    drop a setting so the service default applies.
    runners: how many runners (1: one service "runner", as always; N: "runner", "runner2", ...
    "runnerN"), or a list of their service names. With more than one, each runner gets
    --runner-id <its name> and its own scratch directory (the first one: self.scratch_dir).
    extra_flags["runner"] / extra_env["runner"] go to every runner; a runner's own name adds
    flags (after those) or variables for it alone.
    keys: the gateway runs with LCX_AUTH=keys and the store registers a fresh bootstrap admin
    key (self.admin_key), which self.request sends unless the call gives its own
    Authorization (None: none at all).
    """

    def __init__(self, extra_flags=None, extra_env=None, session_limits=None, runner_slots=2,
                 name="stack", runners=1, keys=False):
        self.name = name
        self.extra_flags = extra_flags or {}
        self.extra_env = {k: dict(v) for k, v in (extra_env or {}).items()}
        self.limits = dict(DEFAULT_SESSION_LIMITS)
        for k, v in (session_limits or {}).items():
            if v is None:
                self.limits.pop(k, None)
            else:
                self.limits[k] = str(v)
        self.runner_slots = runner_slots
        if isinstance(runners, int):
            if runners < 1:
                raise ValueError("runners must be at least 1")
            runners = ["runner"] + ["runner%d" % i for i in range(2, runners + 1)]
        self.runners = tuple(runners)
        if (not self.runners or len(set(self.runners)) != len(self.runners)
                or set(self.runners) & {"session", "dispatcher", "gateway"}):
            raise ValueError("bad runner names %r" % (self.runners,))
        self.services = ("session", "dispatcher") + self.runners + ("gateway",)
        self.tmp = tempfile.mkdtemp(prefix="lcx-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.scratch_dir = os.path.join(self.tmp, "scratch")
        # One scratch parent per runner: the first one's is self.scratch_dir.
        self.scratch_dirs = {r: self.scratch_dir if i == 0
                             else os.path.join(self.tmp, "scratch-" + r)
                             for i, r in enumerate(self.runners)}
        os.makedirs(self.data_dir)
        for d in self.scratch_dirs.values():
            os.makedirs(d)
        self.admin_key = None
        if keys:
            self.admin_key = new_api_key()
            key_file = os.path.join(self.tmp, "admin.key")
            with open(key_file, "w") as f:
                f.write(self.admin_key + "\n")
            os.chmod(key_file, 0o600)
            self.extra_env.setdefault("session", {})["LCX_ADMIN_KEY_FILE"] = key_file
            self.extra_env.setdefault("gateway", {}).setdefault("LCX_AUTH", "keys")
        p = free_ports(4)
        # The ports are only free ports now (test_hostile aims at one from the sandbox): the
        # services' endpoints are ipc:// sockets in a directory only root may enter.
        self.session_port, self.dispatcher_port, self.runner_port, self.http_port = p
        self.socket_dir = os.path.join(self.tmp, "run")
        self.session_endpoint = "ipc://%s/session" % self.socket_dir
        self.dispatcher_endpoint = "ipc://%s/dispatcher" % self.socket_dir
        self.runner_endpoint = "ipc://%s/runner" % self.socket_dir
        self.procs = {}
        self.logs = {}
        self.closed = False
        _live_stacks.append(self)

    # -- command lines

    def endpoint(self, port):
        """A tcp:// loopback endpoint (for tests that start a service of their own on a port)."""
        return "tcp://127.0.0.1:%d" % port

    def binary(self, service):
        return os.path.join(BIN_DIR, "lcx-" + ("runner" if service in self.runners else service))

    def command(self, service):
        binary = self.binary(service)
        extra = list(self.extra_flags.get(service, []))
        if service == "session":
            args = ["--session-endpoint", self.session_endpoint,
                    "--dispatcher-endpoint", self.dispatcher_endpoint,
                    "--data-dir", self.data_dir]
            for k, v in self.limits.items():
                args += ["--" + k.replace("_", "-"), v]
        elif service == "dispatcher":
            args = ["--dispatcher-endpoint", self.dispatcher_endpoint,
                    "--runner-endpoint", self.runner_endpoint]
        elif service in self.runners:
            args = ["--runner-endpoint", self.runner_endpoint,
                    "--scratch-dir", self.scratch_dirs[service],
                    "--runner-slots", str(self.runner_slots)]
            if len(self.runners) > 1:
                args += ["--runner-id", service]
            if service != "runner":  # flags for every runner, then this one's own
                extra = list(self.extra_flags.get("runner", [])) + extra
        elif service == "gateway":
            args = ["--session-endpoint", self.session_endpoint,
                    "--http-host", "127.0.0.1", "--http-port", str(self.http_port)]
        else:
            raise ValueError("unknown service %r" % service)
        return [binary] + args + extra

    def runner_scratch(self, service="runner", parent=None):
        """The directory a runner works in: runner-<pid>-<random> in its scratch parent
        (`parent`, default the one the harness gives it; services/runner/scratch.h), or None
        while it has none."""
        p = self.procs.get(service)
        parent = parent or self.scratch_dirs[service]
        if p is None:
            return None
        prefix = "runner-%d-" % p.pid
        for name in sorted(os.listdir(parent)):
            if name.startswith(prefix):
                return os.path.join(parent, name)
        return None

    def log_path(self, service):
        return os.path.join(self.tmp, service + ".log")

    # -- lifecycle

    def start(self, ready_timeout=20.0):
        for service in self.services:
            binary = self.binary(service)
            if not os.access(binary, os.X_OK):
                raise SetupError("%s is missing (run `make all`)" % os.path.relpath(binary, ROOT))
        for service in self.services:
            self.start_service(service)
        self.wait_ready(ready_timeout, need_runners=len(self.runners))
        return self

    def start_service(self, service):
        if service in self.procs and self.procs[service].poll() is None:
            raise RuntimeError("%s is already running" % service)
        env = dict(os.environ)
        for k in list(env):  # only what the test asks for: no stray LCX_* from the caller
            if k.startswith("LCX_") and not k.startswith("LCX_TEST_"):
                del env[k]
        env["LCX_LOG_LEVEL"] = "debug"  # tests follow an execution through its per-job lines
        if service in self.runners and service != "runner":
            env.update(self.extra_env.get("runner", {}))
        env.update(self.extra_env.get(service, {}))
        log = open(self.log_path(service), "ab")
        log.write(("==== %s start: %s\n" % (time.strftime("%H:%M:%S"),
                                            " ".join(self.command(service)))).encode())
        log.flush()
        proc = subprocess.Popen(self.command(service), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env, cwd=self.tmp,
                                start_new_session=True)
        log.close()
        self.procs[service] = proc
        return proc

    def health(self, timeout=3.0):
        return self.request("GET", "/health", timeout=timeout)

    def wait_ready(self, timeout=20.0, need_runners=1):
        """Polls GET /health until 200 with at least `need_runners` runners."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            dead = self.dead_services()
            if dead:
                raise SetupError("service exited during startup: %s\n%s"
                                 % (", ".join(dead), self.log_tails()))
            try:
                r = self.health(timeout=2.0)
                last = repr(r)
                if r.status == 200 and runner_count(r.body) >= need_runners:
                    return r
            except (OSError, http.client.HTTPException) as e:
                last = "%s: %s" % (type(e).__name__, e)
            time.sleep(0.2)
        raise SetupError("stack not ready after %.0f s (last /health: %s)\n%s"
                         % (timeout, last, self.log_tails()))

    def dead_services(self):
        return ["%s (exit %s)" % (s, p.returncode) for s, p in self.procs.items()
                if p.poll() is not None]

    def alive(self, service):
        p = self.procs.get(service)
        return p is not None and p.poll() is None

    def stop(self, service, timeout=5.0):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status."""
        p = self.procs.get(service)
        if p is None:
            return None
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(p)
                p.wait(5)
        self._kill_group(p)  # leftovers of the group (e.g. children it started)
        return p.returncode

    def kill9(self, service):
        p = self.procs.get(service)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGKILL)
        p.wait(5)

    def restart(self, service, kill=False):
        """Stops (or kill -9s) one service and starts it again with the same ports and dirs."""
        if kill:
            self.kill9(service)
        else:
            self.stop(service)
        return self.start_service(service)

    @staticmethod
    def _kill_group(p):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        if self.closed:
            return
        self.closed = True
        for service in reversed(self.services):
            try:
                self.stop(service, timeout=3.0)
            except Exception:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self in _live_stacks:
            _live_stacks.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- logs

    def log_marks(self):
        marks = {}
        for s in self.services:
            try:
                marks[s] = os.path.getsize(self.log_path(s))
            except OSError:
                marks[s] = 0
        return marks

    def log_tails(self, lines=25, since=None):
        out = []
        for s in self.services:
            try:
                with open(self.log_path(s), "rb") as f:
                    if since:
                        f.seek(since.get(s, 0))
                    text = f.read().decode("utf-8", "replace")
            except OSError:
                continue
            tail = text.splitlines()[-lines:]
            if tail:
                state = "running" if self.alive(s) else "NOT RUNNING"
                out.append("---- %s.log (%s), last %d lines%s:" % (
                    s, state, len(tail), " of this test" if since else ""))
                out.extend("    " + l for l in tail)
        return "\n".join(out)

    # -- HTTP

    def request(self, method, path, json=None, data=None, headers=None, timeout=10.0):
        headers = dict(headers or {})
        if self.admin_key and "Authorization" not in headers:
            headers["Authorization"] = "Bearer " + self.admin_key
        headers = {k: v for k, v in headers.items() if v is not None}
        return http_request(self.http_port, method, path, json=json, data=data,
                            headers=headers, timeout=timeout)

    def raw(self, head, body=b"", timeout=10.0):
        return raw_http(self.http_port, head, body, timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- API helpers (each asserts the success status of the call it makes)

    def create_session(self, language=None, source_code=None):
        body = {}
        if language is not None:
            body["language"] = language
        if source_code is not None:
            body["source_code"] = source_code
        r = self.post("/code-sessions", json=body)
        expect(r.status == 201, "POST /code-sessions %s -> %r" % (short(body), r))
        return r.body

    def start_run(self, session_id, body=None, headers=None):
        if body is None:
            r = self.request("POST", "/code-sessions/%s/run" % session_id, headers=headers)
        else:
            r = self.post("/code-sessions/%s/run" % session_id, json=body, headers=headers)
        expect(r.status == 202, "POST /code-sessions/%s/run %s -> %r"
               % (session_id, short(body), r))
        return r.body["execution_id"]

    def wait_execution(self, execution_id, total=60.0):
        """GET /executions/{id}?wait=30000 until the execution is terminal (at most `total`)."""
        deadline = time.monotonic() + total
        while True:
            left = deadline - time.monotonic()
            wait = int(max(0, min(30000, left * 1000)))
            r = self.get("/executions/%s?wait=%d" % (execution_id, wait),
                         timeout=wait / 1000.0 + 10)
            expect(r.status == 200, "GET /executions/%s -> %r" % (execution_id, r))
            if r.body.get("status") in TERMINAL:
                return r.body
            if time.monotonic() >= deadline:
                raise AssertionError("execution %s not finished after %.0f s: %s"
                                     % (execution_id, total, short(r.body)))
            time.sleep(0.05)  # a ?wait that returns early must not make us spin

    def run(self, language, source_code, run_body=None, total=60.0):
        """Creates a session, runs it and returns the finished execution."""
        s = self.create_session(language, source_code)
        eid = self.start_run(s["session_id"], run_body)
        return self.wait_execution(eid, total)


def _atexit():
    for st in list(_live_stacks):
        st.close()


atexit.register(_atexit)


# --------------------------------------------------------------------------------------------
# Assertions


def runner_count(health):
    """The number of runners /health reports (components.runners as a count, a list or an
    object with count/total/connected); 0 when it cannot be found."""
    if not isinstance(health, dict):
        return 0
    comps = health.get("components")
    if not isinstance(comps, dict):
        return 0
    for key, v in comps.items():
        if "runner" not in key.lower():
            continue
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            return v
        if isinstance(v, list):
            return len(v)
        if isinstance(v, dict):
            for k in ("count", "runners", "total", "connected", "alive"):
                if isinstance(v.get(k), int) and not isinstance(v.get(k), bool):
                    return v[k]
            if isinstance(v.get("runners"), list):
                return len(v["runners"])
    return 0


def processes_with(needle):
    """pids of the host (not this one) whose command line contains `needle`; the arguments
    are separated by NULs there."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or d == str(os.getpid()):
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if needle.encode() in f.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def proc_stat(pid):
    """The fields of /proc/<pid>/stat after the command name (state first), None when gone."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()  # the name may hold anything
    except (OSError, IndexError):
        return None


def parent_of(pid):
    fields = proc_stat(pid)
    return int(fields[1]) if fields else None


def state_of(pid):
    fields = proc_stat(pid)
    return fields[0] if fields else None


def children_of(parent):
    """The pids whose parent is `parent`."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and parent_of(d) == parent]


def short(obj, n=300):
    text = obj if isinstance(obj, str) else jsonlib.dumps(obj)
    return text if len(text) <= n else text[:n] + "...(%d chars)" % len(text)


def until(fn, seconds, what):
    """Calls fn() until it returns a true value; returns it, or fails after `seconds`."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except OSError as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError("%s: not within %.0f s (last: %r)" % (what, seconds, last))


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def expect_status(r, status, what=""):
    ok = r.status in status if isinstance(status, (tuple, list, set)) else r.status == status
    expect(ok, "%s: expected HTTP %s, got %r" % (what or "request", status, r))


def error_shape_problem(r):
    """None when r.body is {"error": non-empty str, "details": [str, ...]}, else what is wrong."""
    if not r.json_ok:
        return "body is not JSON (content-type %r): %r" % (r.headers.get("content-type"),
                                                          r.raw[:200])
    b = r.body
    if not isinstance(b, dict):
        return "body is not an object: %s" % short(b)
    if not isinstance(b.get("error"), str) or not b["error"].strip():
        return "no non-empty string 'error': %s" % short(b)
    if not isinstance(b.get("details"), list) or not all(isinstance(d, str) for d in b["details"]):
        return "'details' is not a list of strings: %s" % short(b)
    return None


def expect_error(r, status, what=""):
    """Asserts an error response: the status (int or tuple of accepted ones) and the shape."""
    expect_status(r, status, what)
    p = error_shape_problem(r)
    expect(p is None, "%s: HTTP %d error body: %s" % (what or "request", r.status, p))


class Checker:
    """Collects several independent checks and reports every failure at once."""

    def __init__(self):
        self.failures = []

    def check(self, cond, message):
        if not cond:
            self.failures.append(message)
        return cond

    def run(self, label, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except AssertionError as e:
            self.failures.append("%s: %s" % (label, e))
        except (OSError, http.client.HTTPException) as e:
            self.failures.append("%s: %s: %s" % (label, type(e).__name__, e))
        return None

    def error(self, label, r_or_fn, status):
        """`r_or_fn`: a Response or a callable returning one."""
        def go():
            r = r_or_fn() if callable(r_or_fn) else r_or_fn
            expect_error(r, status, label)
            return r
        return self.run(label, go)

    def done(self):
        if self.failures:
            raise AssertionError("%d check(s) failed:\n  - %s"
                                 % (len(self.failures), "\n  - ".join(self.failures)))


def check_time(value, what):
    expect(isinstance(value, str) and TIME_RE.match(value),
           "%s is not RFC 3339 UTC with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ): %r"
           % (what, value))
    t = parse_time(value)
    expect(abs(t - time.time()) < 600, "%s is not near the current time: %r" % (what, value))
    return t


def parse_time(value):
    import calendar
    base, ms = value[:-1].split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + int(ms) / 1000.0


def check_uuid(value, what):
    expect(isinstance(value, str) and UUID4_RE.match(value),
           "%s is not a lower-case UUID v4: %r" % (what, value))


def check_keys(obj, keys, what, exact=True):
    expect(isinstance(obj, dict), "%s is not an object: %s" % (what, short(obj)))
    missing = [k for k in keys if k not in obj]
    extra = [k for k in obj if k not in keys]
    expect(not missing, "%s lacks %s: %s" % (what, missing, short(obj)))
    if exact:
        expect(not extra, "%s has fields the contract does not name %s: %s"
               % (what, extra, short(obj)))


def check_execution_shape(e, what="execution"):
    check_keys(e, EXECUTION_FIELDS, what)
    check_uuid(e["execution_id"], what + ".execution_id")
    check_uuid(e["session_id"], what + ".session_id")
    expect(e["status"] in ("QUEUED", "RUNNING") + TERMINAL, "%s.status %r" % (what, e["status"]))
    for k in ("stdout", "stderr", "compile_output", "reason", "language"):
        expect(e[k] is None or isinstance(e[k], str), "%s.%s is %r" % (what, k, e[k]))
    for k in ("exit_code", "execution_time_ms", "cpu_time_ms", "memory_kb", "attempts"):
        expect(e[k] is None or (isinstance(e[k], int) and not isinstance(e[k], bool)),
               "%s.%s is not an integer or null: %r" % (what, k, e[k]))
    # signal: a number (9) or a name ("SIGKILL"); the contract does not say which (inferred).
    expect(e["signal"] is None or isinstance(e["signal"], (int, str)),
           "%s.signal is %r" % (what, e["signal"]))
    for k in ("stdout_truncated", "stderr_truncated"):
        expect(e[k] is None or isinstance(e[k], bool), "%s.%s is %r" % (what, k, e[k]))
    check_time(e["queued_at"], what + ".queued_at")
    for k in ("started_at", "finished_at"):
        if e[k] is not None:
            check_time(e[k], what + "." + k)
    if e["status"] in TERMINAL:
        expect(e["finished_at"] is not None, "%s is %s but finished_at is null: %s"
               % (what, e["status"], short(e)))
    else:
        expect(e["finished_at"] is None, "%s is %s but has finished_at: %s"
               % (what, e["status"], short(e)))
        expect(e["exit_code"] is None, "%s is %s but has exit_code: %s"
               % (what, e["status"], short(e)))
    if e["status"] == "COMPLETED":
        expect(e["reason"] is None, "%s COMPLETED with a reason: %r" % (what, e["reason"]))
    if e["status"] == "FAILED":
        expect(e["reason"] in ("exit_code", "signal", "compile_error", "memory_limit",
                               "output_limit", "runner_lost", "internal_error"),
               "%s.reason %r is not one of the contract's" % (what, e["reason"]))
    if e["status"] == "TIMEOUT":
        expect(e["reason"] in ("wall_time", "cpu_time"),
               "%s.reason %r: a TIMEOUT says which limit" % (what, e["reason"]))


def signal_is(value, number, name):
    """The contract does not say whether `signal` is a number or a name: accept both."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value == number
    if isinstance(value, str):
        return value.upper() in (name, name[3:], str(number))
    return False


def describe(e):
    """A short summary of an execution for failure messages."""
    if not isinstance(e, dict):
        return short(e)
    keys = ("status", "reason", "exit_code", "signal", "stdout", "stderr", "compile_output",
            "stdout_truncated", "execution_time_ms", "attempts")
    return short({k: (short(e.get(k), 200) if isinstance(e.get(k), str) else e.get(k))
                  for k in keys}, 900)


# --------------------------------------------------------------------------------------------
# Test markers read by run.py


def isolated(**stack_kwargs):
    """Marks a test that needs its own Stack (it kills services or changes settings); the
    keyword arguments go to Stack()."""
    def mark(fn):
        fn.isolated = stack_kwargs
        return fn
    return mark


def pending(issue, why):
    """Marks a test of behaviour that a later issue builds: run.py reports it as skipped (with
    the issue) instead of running it. Remove the marker when the issue lands."""
    def mark(fn):
        fn.pending = "pending issue #%d: %s" % (issue, why)
        return fn
    return mark


def timeout(seconds):
    """Overrides run.py's per-test timeout."""
    def mark(fn):
        fn.timeout = seconds
        return fn
    return mark
