"""Forged broker messages: a local process speaks the protocol on the services' own endpoints,
as an attacker did on the landed stack (PROTOCOL.md 2, 6.2, 6.3, 13). Every forged message is
refused, the services stay up, and a real run completes afterwards:

- a READY listing invented running jobs (1100, more than any slot count; or 1024 within its
  slots), then DISCONNECT: nothing is adopted, nothing waits in the queue;
- a READY reusing the live runner's name with 1024 slots: refused, the runner keeps its name,
  and the next users' jobs (source and stdin) go to it alone;
- a JOB (and HEARTBEAT, DRAIN, CANCEL) sent to the dispatcher's store socket by a peer that is
  not the store: dropped, nothing runs;
- a runner reporting for a job it does not hold: ignored, the real result stands.

The forger is build/tools/lcx-forge (tests/tools/lcx_forge.c), run as root: root may enter the
socket directory. A user other than root cannot even connect to the embedded endpoints."""

import json
import os
import shutil
import subprocess
import threading
import time
import uuid

from harness import ROOT, expect, isolated, timeout, until

FORGE = os.path.join(ROOT, "build", "tools", "lcx-forge")
PYTHON = "/usr/bin/python3"  # the system's: a user other than root can run it


class Forger:
    """One lcx-forge process on `endpoint`: send() writes a message (a dict with "cmd"), close()
    ends its input and returns the messages it received (dicts)."""

    def __init__(self, endpoint, routing_id=None, listen_ms=500, curve=None):
        expect(os.access(FORGE, os.X_OK), "%s is missing (run make all)" % FORGE)
        cmd = [FORGE, endpoint, "--listen-ms", str(listen_ms)]
        if routing_id:
            cmd += ["--routing-id", routing_id]
        if curve:  # (its secret certificate, the server's public one)
            cmd += ["--curve"] + list(curve)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append(json.loads(raw))

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def received(self, cmd=None):
        return [m for m in list(self.lines) if cmd is None or m["cmd"] == cmd]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)
        self.reader.join(10)
        err = self.proc.stderr.read().decode()
        expect(self.proc.returncode == 0, "lcx-forge exited %d: %s" % (self.proc.returncode, err))
        return self.received()


def forge(endpoint, messages, routing_id=None, listen_ms=500, curve=None):
    """Sends `messages` from one fresh connection; the messages received."""
    f = Forger(endpoint, routing_id, listen_ms, curve)
    for m in messages:
        f.send(m)
    return f.close()


def ready(name, slots, running=(), languages=("python", "c", "bash")):
    return {"cmd": "READY", "runner_id": name, "slots": slots, "languages": list(languages),
            "running": list(running), "sandbox": "forged"}


def invented(n):
    return ["%s/1" % uuid.uuid4() for _ in range(n)]


def lines_since(stack, service, marks, needle):
    """The JSON log lines of `service` written since `marks` that contain `needle`."""
    with open(stack.log_path(service), "rb") as f:
        f.seek(marks.get(service, 0))
        text = f.read().decode("utf-8", "replace")
    return [json.loads(l) for l in text.splitlines() if needle in l and l.startswith("{")]


def queue(stack):
    r = stack.get("/admin/queue")
    expect(r.status == 200, "GET /admin/queue: %r" % r)
    return r.body


def runners(stack):
    r = stack.get("/admin/runners")
    expect(r.status == 200, "GET /admin/runners: %r" % r)
    return r.body


def assert_all_up_and_running(stack, token):
    dead = stack.dead_services()
    expect(not dead, "services died: %s\n%s" % (dead, stack.log_tails()))
    e = stack.run("python", "print(input()[::-1])", {"stdin": token})
    expect(e["status"] == "COMPLETED" and e["stdout"] == token[::-1] + "\n",
           "a real run after the forgeries: %s" % e)


@isolated()
@timeout(120)
def test_forged_ready_with_invented_running_jobs(stack):
    marks = stack.log_marks()
    # More running jobs than any runner has slots: the READY is refused whole.
    got = forge(stack.runner_endpoint, [ready("forger-many", 1024, invented(1100)),
                                        {"cmd": "DISCONNECT", "message": "bye"}])
    expect(not got, "the dispatcher answered a refused READY: %s" % got)
    until(lambda: lines_since(stack, "dispatcher", marks, "forger-many"), 10,
          "the refusal logged")
    refused = lines_since(stack, "dispatcher", marks, "forger-many")
    expect(any(l["event"] == "runner refused" and "slots" in l["why"] for l in refused),
           "no 'runner refused' for 1100 running jobs: %s" % refused[:3])
    # Within its slots: the dispatcher asks the store, which confirms none of them.
    ids = invented(1024)
    got = forge(stack.runner_endpoint, [ready("forger-slots", 1024, ids), {"sleep_ms": 1500},
                                        {"cmd": "DISCONNECT", "message": "bye"}])
    expect(not [m for m in got if m["cmd"] == "JOB"], "the forger got a job: %s" % got[:3])
    dropped = until(lambda: [l for l in lines_since(stack, "dispatcher", marks, "forger-slots")
                             if l["event"] == "execution not adopted"
                             and l.get("why") == "the store does not confirm it"],
                    10, "the unconfirmed jobs dropped with a log line")
    expect(len(dropped) == 1024, "%d of 1024 invented jobs dropped" % len(dropped))
    adopted = [l for l in lines_since(stack, "dispatcher", marks, "forger-")
               if l["event"] == "execution adopted"]
    expect(not adopted, "invented jobs adopted: %s" % adopted[:3])
    time.sleep(0.5)  # the DISCONNECT is handled; /admin/queue shows the latest heartbeat
    q = queue(stack)
    expect(q["queue_depth"] == 0 and q["runners"] == 1, "after the forged READYs: %s" % q)
    # The queue is not full: runs are accepted and complete.
    for i in range(3):
        assert_all_up_and_running(stack, "after-ready-%d" % i)


@isolated()
@timeout(120)
def test_forged_ready_with_a_live_runners_name(stack):
    real = until(lambda: runners(stack), 10, "the runner registered")[0]
    marks = stack.log_marks()
    impostor = Forger(stack.runner_endpoint, listen_ms=300)
    impostor.send(ready(real["runner_id"], 1024))
    impostor.send({"cmd": "HEARTBEAT", "free_slots": 1024})
    until(lambda: [l for l in lines_since(stack, "dispatcher", marks, "runner refused")
                   if l.get("runner_id") == real["runner_id"]], 10, "the impostor refused")
    try:
        for i in range(4):  # the next users' jobs, with their stdin
            secret = "secret-%d-%s" % (i, uuid.uuid4().hex[:8])
            e = stack.run("python", "print('ran ' + input())", {"stdin": secret})
            expect(e["status"] == "COMPLETED" and e["stdout"] == "ran %s\n" % secret,
                   "run %d with an impostor connected: %s" % (i, e))
            impostor.send({"cmd": "HEARTBEAT", "free_slots": 1024})
    finally:
        got = impostor.close()
    expect(not [m for m in got if m["cmd"] in ("JOB", "HEARTBEAT", "DISCONNECT")],
           "the impostor heard from the dispatcher: %s" % got[:3])
    now = runners(stack)
    expect(len(now) == 1 and now[0]["runner_id"] == real["runner_id"]
           and now[0]["slots"] == real["slots"] and now[0]["sandbox"] != "forged",
           "the runner's registration changed: %s" % now)
    why = [l["why"] for l in lines_since(stack, "dispatcher", marks, "runner refused")]
    expect(why and all("in use" in w for w in why), "refusals: %s" % why)
    assert_all_up_and_running(stack, "after-impostor")


@isolated()
@timeout(120)
def test_forged_job_on_the_store_socket(stack):
    sid = stack.create_session("python", "print('forged job ran')")["session_id"]
    real = until(lambda: runners(stack), 10, "the runner registered")[0]
    eid = str(uuid.uuid4())
    marks = stack.log_marks()
    job = {"cmd": "JOB", "execution_id": eid, "session_id": sid, "language": "python",
           "source_code": "print('forged job ran')", "attempt": 1, "time_ms": 5000,
           "memory_mb": 256, "stdin": "stolen", "corr": 7}
    got = forge(stack.dispatcher_endpoint,
                [job, {"cmd": "HEARTBEAT"}, {"cmd": "DRAIN", "runner_id": real["runner_id"]},
                 {"cmd": "CANCEL", "execution_id": eid},
                 {"cmd": "UPDATE_ACK", "execution_id": eid, "attempt": 1, "status": "QUEUED"}],
                listen_ms=1500)
    expect(not got, "the dispatcher answered a stranger on its store socket: %s" % got)
    dropped = until(lambda: lines_since(stack, "dispatcher", marks, "stranger on the store socket"),
                    10, "the stranger's messages logged")
    commands = sorted(l["command"] for l in dropped)
    expect(commands == ["CANCEL", "DRAIN", "HEARTBEAT", "JOB", "UPDATE_ACK"],
           "dropped: %s" % dropped)
    time.sleep(1.0)
    for service in ("dispatcher", "runner", "session"):
        ran = [l for l in lines_since(stack, service, marks, eid)
               if "stranger" not in l.get("event", "")]
        expect(not ran, "the forged job went on in the %s: %s" % (service, ran[:3]))
    now = runners(stack)
    expect(len(now) == 1 and now[0]["draining"] is False, "the forged DRAIN worked: %s" % now)
    expect(stack.get("/executions/%s" % eid).status == 404, "the forged job has a record")
    assert_all_up_and_running(stack, "after-forged-job")


@isolated()
@timeout(120)
def test_runner_reports_only_for_jobs_it_holds(stack):
    s = stack.create_session("python", "import time\ntime.sleep(2)\nprint('real result')\n")
    eid = stack.start_run(s["session_id"])
    until(lambda: stack.get("/executions/%s" % eid).body.get("status") == "RUNNING", 15,
          "the real run RUNNING")
    marks = stack.log_marks()
    forged = {"cmd": "UPDATE", "execution_id": eid, "attempt": 1, "status": "COMPLETED",
              "stdout": "forged result\n", "exit_code": 0, "started_at": 1, "finished_at": 2}
    # Not registered at all: told to register, nothing forwarded.
    got = forge(stack.runner_endpoint, [forged])
    expect([m["cmd"] for m in got] == ["DISCONNECT"], "a stranger's UPDATE: %s" % got)
    # Registered under a name of its own, serving nothing: its word on another's job is dropped.
    got = forge(stack.runner_endpoint, [ready("forger-reporter", 1, languages=()),
                                        {"sleep_ms": 300}, forged,
                                        {"cmd": "DISCONNECT", "message": "bye"}])
    expect([m["cmd"] for m in got if m["cmd"] != "HEARTBEAT"] == ["UPDATE_ACK"],
           "a registered forger's UPDATE (acknowledged so that it stops, not forwarded): %s"
           % got)
    stale = until(lambda: [l for l in lines_since(stack, "dispatcher", marks, eid)
                           if l["event"] == "stale update dropped"], 10, "the update dropped")
    expect(stale, "no 'stale update dropped' line")
    e = stack.wait_execution(eid)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "real result\n",
           "the forged result replaced the real one: %s" % e)
    assert_all_up_and_running(stack, "after-forged-update")


def test_other_users_cannot_connect(stack):
    """The embedded endpoints are ipc:// sockets in a directory only root may enter: nobody
    (uid 65534) cannot connect to any of them; root can."""
    st = os.stat(stack.socket_dir)
    expect(st.st_uid == 0 and st.st_mode & 0o777 == 0o700,
           "socket directory %s: uid %d, mode %o" % (stack.socket_dir, st.st_uid, st.st_mode))
    probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1])\n    print('CONNECTED')\n"
             "except OSError as e:\n    print(type(e).__name__)\n")
    for endpoint in (stack.session_endpoint, stack.dispatcher_endpoint, stack.runner_endpoint):
        path = endpoint[len("ipc://"):]
        as_root = subprocess.run([PYTHON, "-c", probe, path], capture_output=True, text=True,
                                 timeout=30)
        expect(as_root.stdout.strip() == "CONNECTED", "root cannot connect to %s: %s %s"
               % (path, as_root.stdout, as_root.stderr))
        as_nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                    PYTHON, "-c", probe, path], capture_output=True, text=True,
                                   timeout=30, cwd="/")
        expect(as_nobody.stdout.strip() == "PermissionError",
               "uid 65534 connecting to %s: %s %s" % (path, as_nobody.stdout, as_nobody.stderr))
    e = stack.run("python", "print('still fine')")
    expect(e["status"] == "COMPLETED", "a run after the probes: %s" % e)


# --------------------------------------------------------------------------------------------
# The genuine cases the refusals must leave alone


SLOW = ["--heartbeat-ms", "3000"]  # liveness 3: a silent runner expires after 9 s


@isolated(extra_flags={"runner": ["--runner-id", "steady-name"] + SLOW, "dispatcher": SLOW,
                       "session": SLOW})
@timeout(120)
def test_runner_restarting_under_its_name_is_let_in(stack):
    """A runner that dies and starts again under the same name is let in as soon as it registers:
    its old connection is seen closed (by the check of the new READY, or by a heartbeat), so the
    name is free, without waiting for the old registration to expire."""
    until(lambda: runners(stack), 20, "the runner registered")
    for round_ in range(2):
        marks = stack.log_marks()
        stack.kill9("runner")
        t0 = time.monotonic()
        stack.start_service("runner")
        joined = until(lambda: [l for l in lines_since(stack, "dispatcher", marks, "steady-name")
                                if l["event"] == "runner joined"], 30, "the runner back")
        took = time.monotonic() - t0
        lost = [l.get("why") for l in lines_since(stack, "dispatcher", marks, "steady-name")
                if l["event"] == "runner lost"]
        refused = lines_since(stack, "dispatcher", marks, "runner refused")
        expect(not refused, "the restarted runner was refused: %s" % refused)
        expect(len(joined) == 1 and lost == ["connection closed"] and took < 9,
               "round %d: joined %d times after %.1f s, the old one lost: %s"
               % (round_, len(joined), took, lost))
        assert_all_up_and_running(stack, "restart-%d" % round_)


def _restart_dispatcher_under_a_running_job(stack):
    """kill -9 of the dispatcher while a job runs; the job must be adopted, not run again. The
    marks of the logs from the kill."""
    s = stack.create_session("python", "import time\ntime.sleep(3)\nprint('once')\n")
    eid = stack.start_run(s["session_id"])
    until(lambda: stack.get("/executions/%s" % eid).body.get("status") == "RUNNING", 15,
          "the run RUNNING")
    marks = stack.log_marks()
    stack.kill9("dispatcher")
    stack.start_service("dispatcher")
    e = stack.wait_execution(eid, total=40)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "once\n" and e["attempts"] == 1,
           "the job across the restart: %s" % e)
    adopted = [l for l in lines_since(stack, "dispatcher", marks, eid)
               if l["event"] == "execution adopted"]
    expect(len(adopted) == 1, "adoption lines: %s" % adopted)
    again = [l for l in lines_since(stack, "runner", marks, eid) if l["event"] == "execution started"]
    expect(not again, "the job ran a second time: %s" % again)
    return eid, marks


@isolated()
@timeout(90)
def test_dispatcher_restart_adopts_the_running_job(stack):
    """After a dispatcher restart the runner's running job is adopted (the store re-submitted it
    first, so the dispatcher holds it), not run a second time."""
    _restart_dispatcher_under_a_running_job(stack)


@isolated(extra_flags={"session": ["--heartbeat-ms", "2500"]})
@timeout(90)
def test_dispatcher_restart_adopts_what_the_store_confirms(stack):
    """The same when the runner registers before the store re-submits (the store heartbeats
    slowly here): the dispatcher asks the store (ADOPT), which confirms the job."""
    eid, marks = _restart_dispatcher_under_a_running_job(stack)
    confirmed = [l for l in lines_since(stack, "session", marks, eid)
                 if l["event"] == "adoption confirmed"]
    expect(len(confirmed) == 1, "the store's confirmations: %s" % confirmed)


KEYS = "keys"  # below the stack's temp dir


def _curve_stack():
    """A stack with CURVE on every link (keys from lcx-keygen in its own temp dir)."""
    from harness import BIN_DIR, Stack
    import tempfile
    keys = os.path.join(tempfile.mkdtemp(prefix="lcx-forge-keys-"), KEYS)
    out = subprocess.run([os.path.join(BIN_DIR, "lcx-keygen"), keys], capture_output=True,
                         text=True, timeout=30)
    expect(out.returncode == 0, "lcx-keygen: %s %s" % (out.stdout, out.stderr))
    flags = {s: ["--curve-dir", keys] for s in ("session", "dispatcher", "runner", "gateway")}
    return Stack(extra_flags=flags, name="forged-curve"), keys


@timeout(120)
def test_curve_store_socket_admits_only_the_stores_key(stack):
    """With CURVE, the dispatcher's store socket admits only the session store's key: another
    service's key (a runner's, a gateway's) cannot connect there, not even as "lcx-session",
    which would otherwise take the store's link over."""
    curved, keys = _curve_stack()
    try:
        curved.start()
        server = os.path.join(keys, "public", "dispatcher.cert")
        marks = curved.log_marks()
        for who in ("runner", "gateway"):
            secret = os.path.join(keys, "secret", who + ".cert_secret")
            got = forge(curved.dispatcher_endpoint,
                        [{"cmd": "HEARTBEAT"},
                         {"cmd": "CANCEL", "execution_id": str(uuid.uuid4())}],
                        routing_id="lcx-session", listen_ms=1500, curve=(secret, server))
            expect(not got, "a %s key on the store socket was answered: %s" % (who, got))
        refused = lines_since(curved, "dispatcher", marks, "CURVE client refused")
        expect(len(refused) >= 2, "no refusal of the other keys logged: %s" % refused)
        # The store's link is still the store's: runs complete, and the store hears its
        # dispatcher.
        for i in range(2):
            assert_all_up_and_running(curved, "curve-%d" % i)
        h = curved.get("/health").body
        expect(h["components"]["dispatcher"]["status"] == "ok", "after the attempts: %s" % h)
        # A runner's key still serves its purpose on the runners' socket.
        got = forge(curved.runner_endpoint, [ready("curve-forger", 1, languages=())],
                    listen_ms=1500, curve=(os.path.join(keys, "secret", "runner.cert_secret"),
                                           server))
        expect([m["cmd"] for m in got][:1] == ["HEARTBEAT"], "a keyed runner: %s" % got)
    finally:
        curved.close()
        shutil.rmtree(os.path.dirname(keys), ignore_errors=True)
