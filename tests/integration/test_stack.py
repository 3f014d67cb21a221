"""services/lcx-stack, the supervisor behind `make run`, started for real: it says "serving" only
once /health/ready answers, fails loudly (non-zero, with the cause) when the stack cannot start,
starts a service that died again, leaves a runner that exited by itself (drained) stopped while
the rest go on, and stops everything in order on SIGTERM."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import BIN_DIR, ROOT, children_of, expect, free_ports, http_request, timeout, until


class Supervised:
    """One lcx-stack process with a private data, scratch and socket directory (the default
    endpoints, ipc:// sockets in LCX_SOCKET_DIR) and its gateway on a free port; its stderr is
    collected in self.lines."""

    def __init__(self, runners=1, http_port=None):
        self.tmp = tempfile.mkdtemp(prefix="lcx-stack-")
        ports = free_ports(4)
        self.http_port = http_port or ports[3]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LCX_")}
        env.update({
            "LCX_SOCKET_DIR": os.path.join(self.tmp, "run"),
            "LCX_HTTP_PORT": str(self.http_port),
            "LCX_DATA_DIR": os.path.join(self.tmp, "data"),
            "LCX_SCRATCH_DIR": os.path.join(self.tmp, "scratch"),
            "LCX_RUNNERS": str(runners),
            "LCX_STACK_BIN_DIR": BIN_DIR,
            "LCX_STACK_START_S": "40",
        })
        self.lines = []
        self.proc = subprocess.Popen([os.path.join(ROOT, "services", "lcx-stack")], env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def said(self, text):
        return [line for line in self.lines if text.lower() in line.lower()]

    def text(self):
        return "\n".join(self.lines[-40:])

    def wait_serving(self):
        until(lambda: self.said("lcx: serving") or self.proc.poll() is not None, 60,
              "lcx-stack to say serving")
        expect(self.proc.poll() is None, "lcx-stack ended while starting:\n" + self.text())

    def service_pid(self, binary, extra=""):
        """The pid of the supervised service running `binary` (with `extra` in its command)."""
        for pid in children_of(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if os.path.basename(cmdline.split(" ")[0]) == binary and extra in cmdline:
                return pid
        return None

    def get(self, path):
        return http_request(self.http_port, "GET", path, timeout=5)

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _ready(s):
    try:
        return s.get("/health/ready").status == 200
    except OSError:
        return False


@timeout(120)
def test_stack_port_taken_fails_with_cause(stack):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    s = Supervised(http_port=taken.getsockname()[1])
    try:
        rc = s.proc.wait(timeout=60)
        s.reader.join(5)
        expect(rc != 0, "lcx-stack exited %d with the port taken:\n%s" % (rc, s.text()))
        expect(s.said("address already in use"), "the cause is not named:\n" + s.text())
        expect(not s.said("lcx: serving"), "it said serving:\n" + s.text())
        expect(not children_of(s.proc.pid), "services left running")
    finally:
        taken.close()
        s.close()


@timeout(150)
def test_stack_restarts_a_dead_service_and_stops_in_order(stack):
    s = Supervised()
    try:
        s.wait_serving()
        expect(_ready(s), "serving but /health/ready is not 200")
        for binary in ("lcx-dispatcher", "lcx-session"):
            victim = s.service_pid(binary)
            expect(victim, "no %s under lcx-stack" % binary)
            os.kill(victim, signal.SIGKILL)
            until(lambda: s.said("%s killed by signal" % binary[4:]), 10,
                  "a log line for the killed %s" % binary)
            until(lambda: s.service_pid(binary) not in (None, victim), 15, binary + " started again")
            until(lambda: _ready(s), 30, "ready again after %s restarted" % binary)
        expect(s.proc.poll() is None, "lcx-stack ended:\n" + s.text())
        # A run goes through the restarted stack.
        r = http_request(s.http_port, "POST", "/code-sessions",
                         json={"language": "bash", "source_code": "echo hi\n"})
        expect(r.status == 201, "create: %r" % r)
        sid = r.body["session_id"]
        r = http_request(s.http_port, "POST", "/code-sessions/%s/run" % sid, json={})
        expect(r.status == 202, "run: %r" % r)
        r = http_request(s.http_port, "GET", "/executions/%s?wait=20000" % r.body["execution_id"],
                         timeout=30)
        expect(r.body.get("status") == "COMPLETED" and r.body.get("stdout") == "hi\n", "run: %r" % r)
        services = children_of(s.proc.pid)
        s.proc.send_signal(signal.SIGTERM)
        rc = s.proc.wait(timeout=60)
        expect(rc == 0, "SIGTERM: exit %d:\n%s" % (rc, s.text()))
        expect(not [p for p in services if os.path.exists("/proc/%d" % p)
                    and open("/proc/%d/stat" % p).read().split()[2] != "Z"],
               "services still running after SIGTERM")
    finally:
        s.close()


@timeout(150)
def test_stack_drained_runner_stays_stopped(stack):
    s = Supervised(runners=2)
    try:
        s.wait_serving()
        until(lambda: len(s.get("/admin/runners").body or []) == 2, 20, "two runners listed")
        first = s.service_pid("lcx-runner", "runner-1")
        r = http_request(s.http_port, "POST", "/admin/runners/runner-1/drain")
        expect(r.status == 202, "drain: %r" % r)
        until(lambda: s.said("runner-1 exited by itself"), 20, "the drained runner's exit noted")
        time.sleep(2.5)  # longer than the first restart delay: it must not come back
        expect(s.service_pid("lcx-runner", "runner-1") is None,
               "the drained runner was started again (was %s)" % first)
        expect(s.proc.poll() is None, "lcx-stack ended after a drain:\n" + s.text())
        until(lambda: _ready(s), 20, "ready with the other runner")
        expect(s.service_pid("lcx-runner", "runner-2"), "runner-2 is not running")
        s.proc.send_signal(signal.SIGTERM)
        expect(s.proc.wait(timeout=60) == 0, "SIGTERM after a drain:\n" + s.text())
    finally:
        s.close()
