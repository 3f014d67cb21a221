"""Chaos test (issue #5): on one machine, with two runners and fast liveness, a load of
autosaves and runs goes on while each service in turn is killed with SIGKILL and started again
(session store, dispatcher, gateway, each runner), twice over. Clients behave like real ones:
on 503 (which must carry Retry-After) or a refused/reset connection (a gateway restart) they
retry within a bounded time, runs carry an Idempotency-Key so a retry never starts a second
execution, and only acknowledged autosaves (200) and accepted runs (202) are recorded.

Afterwards: every accepted execution is terminal and correct (COMPLETED with the expected
stdout), no execution of any session is left QUEUED or RUNNING, every acknowledged autosave
reads back (one writer per session; the text of the highest acknowledged version, checked after
every kill and at the end), a job whose runner died mid-run completed on the other runner with
attempts >= 2, and no request hung. Prints the recovery times measured: runner death -> the job
RUNNING again elsewhere, dispatcher restart -> first completed run.

The dispatcher is killed while long jobs run: in the first round on two slots, in the second on
every slot of both runners (a busy system), so the restarted dispatcher meets runners that
re-register while all their slots are taken."""

import http.client
import json
import random
import threading
import time
import uuid

from harness import TERMINAL, describe, http_request, isolated, parse_time, short, timeout

HB = ["--heartbeat-ms", "300", "--liveness", "3"]
RUNNERS = ("runner", "runner2")
AUTOSAVE_THREADS = 4
SESSIONS_PER_AUTOSAVE_THREAD = 4
RUN_THREADS = 3
CLIENT_TIMEOUT = 10.0  # longer than any answer may take (backend timeout 5 s): else a hang
RETRY_BUDGET = 20.0  # how long a client keeps retrying one call through an outage
PROBE_SLEEP = 3.0  # the long job a runner is killed under


def _now():
    return time.monotonic()


class Client:
    """An HTTP client that retries like a real one: on a connection error (the gateway
    restarting) and on 503 + Retry-After, until `budget` seconds have passed. Counts what it
    saw; a 503 without Retry-After and a call that times out (a hang) are problems."""

    def __init__(self, port, problems):
        self.port = port
        self.problems = problems
        self.lock = threading.Lock()
        self.stats = {"calls": 0, "503": 0, "conn_errors": 0, "gave_up": 0, "hangs": 0}

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def call(self, method, path, body=None, headers=None, budget=RETRY_BUDGET,
             timeout_s=CLIENT_TIMEOUT):
        """The first answer that is not 503, or None when it gave up."""
        deadline = _now() + budget
        while True:
            self.count("calls")
            t0 = _now()
            try:
                r = http_request(self.port, method, path, json=body, headers=headers,
                                 timeout=timeout_s)
            except (OSError, http.client.HTTPException) as e:
                if _now() - t0 >= timeout_s - 0.5:
                    self.count("hangs")
                    self.problems.add("hang: %s %s got no answer in %.0f s (%s)"
                                      % (method, path, timeout_s, type(e).__name__))
                else:
                    self.count("conn_errors")
                if _now() + 0.2 > deadline:
                    self.count("gave_up")
                    return None
                time.sleep(0.2)
                continue
            if r.status != 503:
                return r
            self.count("503")
            ra = r.headers.get("retry-after", "")
            if not ra.isdigit():
                self.problems.add("503 without a valid Retry-After: %s %s -> %r"
                                  % (method, path, r))
                ra = "1"
            pause = min(float(ra), 1.0)
            if _now() + pause > deadline:
                self.count("gave_up")
                return None
            time.sleep(pause)


class Problems:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, text):
        with self.lock:
            if len(self.items) < 200:
                self.items.append(text)

    def __bool__(self):
        return bool(self.items)


class Shared:
    """What the chaos thread and the load threads share."""

    def __init__(self):
        self.stop = threading.Event()
        self.epoch = 0  # bumped after every kill + restart: writers then read back
        self.lock = threading.Lock()
        self.accepted = []  # {eid, expected, sid, what, accepted_at}
        self.acked_autosaves = 0
        self.runs_done = 0


# --------------------------------------------------------------------------------------------
# Load


def wait_terminal(client, eid, total):
    """GET /executions/{eid}?wait until terminal or `total` seconds; the last body or None."""
    deadline = _now() + total
    last = None
    while _now() < deadline:
        wait = int(max(0, min(5000, (deadline - _now()) * 1000)))
        r = client.call("GET", "/executions/%s?wait=%d" % (eid, wait),
                        budget=max(1.0, deadline - _now()), timeout_s=wait / 1000.0 + 8)
        if r is not None and r.status == 200:
            last = r.body
            if last.get("status") in TERMINAL:
                return last
        time.sleep(0.05)
    return last


class AutosaveWriter(threading.Thread):
    """The only writer of its sessions: PATCHes them in turn, remembers for each the highest
    acknowledged version and its text, and the texts sent since (unacknowledged: they may or
    may not have been applied). After every chaos event it reads its sessions back."""

    def __init__(self, idx, client, shared, problems, sessions):
        super().__init__(daemon=True, name="autosave-%d" % idx)
        self.idx, self.client, self.shared, self.problems = idx, client, shared, problems
        # sid -> {"v": acked version, "text": acked text, "pending": [texts sent since]}
        self.state = {s["session_id"]: {"v": s["version"], "text": s["source_code"],
                                        "pending": []} for s in sessions}
        self.seen_epoch = 0
        self.acks = 0
        self.n = 0
        self.error = None

    def text(self, sid):
        self.n += 1
        filler = "# " + "x" * random.randrange(10, 400) + "\n"
        return "# autosave %s %d.%d\nprint(%d)\n%s" % (sid[:8], self.idx, self.n, self.n, filler)

    def patch(self, sid, text, budget=RETRY_BUDGET):
        st = self.state[sid]
        st["pending"].append(text)
        r = self.client.call("PATCH", "/code-sessions/%s" % sid, {"source_code": text},
                             budget=budget)
        if r is None:
            return False
        if r.status != 200:
            self.problems.add("autosave %s: unexpected answer %r" % (sid, r))
            return False
        v = r.body.get("version")
        if not isinstance(v, int) or v <= st["v"]:
            self.problems.add("autosave %s: acknowledged version %r after acknowledged "
                              "version %d (an acknowledged write was lost?)" % (sid, v, st["v"]))
        st["v"], st["text"], st["pending"] = v, text, []
        self.acks += 1
        with self.shared.lock:
            self.shared.acked_autosaves += 1
        return True

    def read_back(self, sid, final=False):
        st = self.state[sid]
        r = self.client.call("GET", "/code-sessions/%s" % sid, budget=30)
        if r is None or r.status != 200:
            self.problems.add("autosave %s: read back failed: %r" % (sid, r))
            return
        v, text = r.body.get("version"), r.body.get("source_code")
        if v == st["v"] and text == st["text"]:
            return
        if not final and isinstance(v, int) and v > st["v"] and text in st["pending"]:
            return  # a write we were not told about landed: allowed, it was never promised
        self.problems.add("autosave %s%s: acknowledged version %d %r, read back version %r %r"
                          % (sid, " (final)" if final else " (after a kill)", st["v"],
                             short(st["text"], 40), v, short(text or "", 40)))

    def run(self):
        try:
            while not self.shared.stop.is_set():
                for sid in self.state:
                    if self.shared.stop.is_set():
                        break
                    self.patch(sid, self.text(sid))
                    time.sleep(0.02)
                if self.shared.epoch != self.seen_epoch:
                    self.seen_epoch = self.shared.epoch
                    for sid in self.state:
                        self.read_back(sid)
            # The last write of every session is acknowledged (all services are up by now).
            for sid in self.state:
                if not self.patch(sid, self.text(sid), budget=40):
                    self.problems.add("autosave %s: the final PATCH was not acknowledged in "
                                      "40 s with every service up" % sid)
        except Exception as e:  # a bug here must fail the test, not vanish with the thread
            self.error = "%s: %s" % (type(e).__name__, e)


PROGRAMS = (
    # (what, source template, stdin, expected template)
    ("quick", "print('{t}')\n", None, "{t}\n"),
    ("1s", "import time\ntime.sleep(1.0)\nprint('{t}')\n", None, "{t}\n"),
    ("stdin", "import sys\nprint(sys.stdin.read()[::-1])\n", "{t}", "{r}\n"),
    ("0.5s", "import time\nprint('a{t}', flush=True)\ntime.sleep(0.5)\nprint('b{t}')\n", None,
     "a{t}\nb{t}\n"),
)


def submit(client, sid, source, stdin=None, budget=RETRY_BUDGET, time_ms=None):
    """Saves `source` (retrying until acknowledged), then starts a run with an Idempotency-Key
    (retrying with the same key). Returns (stage, response or None): stage "patch" when the
    save was not acknowledged (no run was asked for), else "run"."""
    r = client.call("PATCH", "/code-sessions/%s" % sid, {"source_code": source}, budget=budget)
    if r is None or r.status != 200:
        return "patch", r
    key = uuid.uuid4().hex
    body = {"stdin": stdin} if stdin is not None else {}
    if time_ms is not None:
        body["limits"] = {"time_ms": time_ms}
    r = client.call("POST", "/code-sessions/%s/run" % sid, body,
                    headers={"Idempotency-Key": key}, budget=budget)
    return "run", r


class RunClient(threading.Thread):
    """Saves a program with a known output, runs it, waits for the result, and again."""

    def __init__(self, idx, client, shared, problems, sid):
        super().__init__(daemon=True, name="runs-%d" % idx)
        self.idx, self.client, self.shared, self.problems, self.sid = (
            idx, client, shared, problems, sid)
        self.error = None

    def run(self):
        try:
            n = 0
            while not self.shared.stop.is_set():
                n += 1
                what, src, stdin, out = PROGRAMS[(n + self.idx) % len(PROGRAMS)]
                token = "t%d_%d_%04x" % (self.idx, n, random.randrange(1 << 16))
                source = src.format(t=token)
                stdin = stdin.format(t=token) if stdin else None
                expected = out.format(t=token, r=token[::-1])
                stage, r = submit(self.client, self.sid, source, stdin)
                if stage == "patch" and r is not None:
                    self.problems.add("saving the program of %s: unexpected answer %r"
                                      % (self.sid, r))
                if r is None or stage == "patch":
                    continue  # the PATCH or the run was not acknowledged: nothing recorded
                if r.status == 409 and isinstance(r.body, dict) and r.body.get("execution_id"):
                    # an earlier run we never got an answer for is still going: let it finish
                    wait_terminal(self.client, r.body["execution_id"], 60)
                    continue
                if r.status != 202:
                    self.problems.add("run on %s: unexpected answer %r" % (self.sid, r))
                    time.sleep(0.5)
                    continue
                eid = r.body["execution_id"]
                with self.shared.lock:
                    self.shared.accepted.append({"eid": eid, "expected": expected,
                                                 "sid": self.sid, "what": what,
                                                 "accepted_at": time.time()})
                e = wait_terminal(self.client, eid, 60)
                with self.shared.lock:
                    self.shared.runs_done += 1
                if e is None or e.get("status") not in TERMINAL:
                    return  # stuck: the final check reports it; this session stays busy
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)


# --------------------------------------------------------------------------------------------
# Chaos


def log_lines(stack, service, needle):
    try:
        with open(stack.log_path(service), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if needle in line]
    except OSError:
        return []


def story(stack, eid, limit=14):
    """Every log line naming the execution, across the services (for failure messages)."""
    out = []
    for s in stack.services:
        for line in log_lines(stack, s, eid):
            out.append("%s: %s" % (s, line))
    return "\n      ".join(out[-limit:]) or "(no log line names it)"


def runner_of(stack, eid):
    """The runners whose log shows the execution started."""
    return [r for r in RUNNERS
            if any('"execution started"' in l for l in log_lines(stack, r, eid))]


@isolated(runners=2, runner_slots=3, extra_flags={"session": HB, "dispatcher": HB, "runner": HB})
@timeout(300)
def test_chaos(stack):
    t_test = _now()
    problems = Problems()
    shared = Shared()
    client = Client(stack.http_port, problems)
    figures = {"runner_redispatch_s": [], "dispatcher_first_completed_s": [],
               "dispatcher_probe_completed_s": []}
    events = []  # (name, monotonic kill, wall kill, wall restart)

    # -- sessions
    autosave_sessions = [[stack.create_session("python", "print(0)\n")
                          for _ in range(SESSIONS_PER_AUTOSAVE_THREAD)]
                         for _ in range(AUTOSAVE_THREADS)]
    run_sids = [stack.create_session("python")["session_id"] for _ in range(RUN_THREADS)]
    probe_sids = [stack.create_session("python")["session_id"] for _ in range(14)]
    probe_runs = []  # accepted probe runs, checked like the others
    killed_mid_run = []  # {eid, runner, t_kill}

    writers = [AutosaveWriter(i, client, shared, problems, sessions)
               for i, sessions in enumerate(autosave_sessions)]
    runners = [RunClient(i, client, shared, problems, sid) for i, sid in enumerate(run_sids)]
    for t in writers + runners:
        t.start()

    def accept_probe(sid, seconds, label):
        """Starts a probe run of `seconds` on sid; its record, or None if not accepted."""
        token = "p%04x" % random.randrange(1 << 16)
        source = ("import time\nprint('start {t}', flush=True)\ntime.sleep({s})\n"
                  "print('end {t}')\n").format(t=token, s=seconds)
        _, r = submit(client, sid, source, time_ms=20000)  # the default limit is 5 s
        if r is None or r.status != 202:
            problems.add("probe run (%s) not accepted with every service up: %r" % (label, r))
            return None
        rec = {"eid": r.body["execution_id"], "expected": "start %s\nend %s\n" % (token, token),
               "sid": sid, "what": "probe " + label, "accepted_at": time.time()}
        probe_runs.append(rec)
        return rec

    free_probes = list(probe_sids)

    def probe_session():
        """A probe session with no execution going."""
        for _ in range(len(free_probes)):
            sid = free_probes.pop(0)
            free_probes.append(sid)
            r = client.call("GET", "/code-sessions/%s/executions" % sid)
            if r is not None and r.status == 200 and all(
                    x.get("status") in TERMINAL for x in r.body):
                return sid
        raise AssertionError("no idle probe session")

    def wait_running(eid, seconds, min_attempts=1):
        deadline = _now() + seconds
        while _now() < deadline:
            r = client.call("GET", "/executions/%s" % eid, budget=5)
            if r is not None and r.status == 200:
                b = r.body
                if b.get("status") == "RUNNING" and (b.get("attempts") or 0) >= min_attempts:
                    return b
                if b.get("status") in TERMINAL:
                    return b
            time.sleep(0.05)
        return None

    def settle(need_runners=2):
        stack.wait_ready(30, need_runners=need_runners)
        shared.epoch += 1

    def kill_restart(name, down_s):
        t_kill, w_kill = _now(), time.time()
        stack.kill9(name)
        time.sleep(down_s)
        w_start = time.time()
        stack.start_service(name)
        events.append((name, t_kill, w_kill, w_start))
        print("    chaos %5.1f s: kill -9 %s, down %.1f s, started again"
              % (t_kill - t_test, name, down_s), flush=True)
        return w_start

    def kill_runner_mid_run(target):
        """Long probes until one runs on `target`, then kill -9 of `target` under it; measures
        the time until that job is RUNNING again (attempt >= 2) on the other runner."""
        for k in killed_mid_run:  # an earlier victim must not die a second time under this kill
            wait_terminal(client, k["eid"], 20)
        victim = None
        for _ in range(6):
            rec = accept_probe(probe_session(), PROBE_SLEEP, "killed runner")
            if rec is None:
                continue
            b = wait_running(rec["eid"], 15)
            if b is None or b.get("status") != "RUNNING":
                problems.add("probe %s never RUNNING: %s" % (rec["eid"], describe(b)))
                continue
            on = []
            deadline = _now() + 2
            while not on and _now() < deadline:
                on = runner_of(stack, rec["eid"])
                time.sleep(0.02)
            if on == [target]:
                victim = rec
                break
        if victim is None:
            problems.add("could not get a probe job onto %s to kill it mid-run" % target)
            kill_restart(target, 0.5)
            settle()
            return
        t_kill, w_kill = _now(), time.time()
        stack.kill9(target)
        print("    chaos %5.1f s: kill -9 %s while it runs %s"
              % (t_kill - t_test, target, victim["eid"]), flush=True)
        killed_mid_run.append({"eid": victim["eid"], "runner": target, "t_kill": t_kill})
        b = wait_running(victim["eid"], 20, min_attempts=2)
        if b is not None and b.get("status") == "RUNNING":
            figures["runner_redispatch_s"].append(_now() - t_kill)
        else:
            problems.add("job %s of the killed %s not RUNNING again within 20 s: %s"
                         % (victim["eid"], target, describe(b)))
        w_start = time.time()
        stack.start_service(target)
        events.append((target, t_kill, w_kill, w_start))
        settle()

    def kill_dispatcher_busy(down_s, fill):
        """kill -9 of the dispatcher while long jobs run on both runners (with `fill`: on every
        slot of both), then a quick run retried every 0.1 s on 503 from the moment the new
        dispatcher starts: the time until it is COMPLETED is the recovery figure."""
        recs = [accept_probe(probe_session(), 6.0 if fill else 2.5, "dispatcher restart")
                for _ in range(len(RUNNERS) * stack.runner_slots if fill else 2)]
        deadline = _now() + 6
        running = 0
        while _now() < deadline:
            states = [client.call("GET", "/executions/%s" % rec["eid"], budget=5)
                      for rec in recs if rec]
            running = sum(1 for r in states if r is not None and r.status == 200
                          and r.body.get("status") == "RUNNING")
            if running == len(states):
                break
            time.sleep(0.1)
        time.sleep(0.4)  # /admin/queue shows the dispatcher's last heartbeat to the store
        q = client.call("GET", "/admin/queue")
        print("    chaos: %d long jobs RUNNING before the dispatcher kill; /admin/queue %s"
              % (running, q.body if q else None), flush=True)
        w_start = kill_restart("dispatcher", down_s)
        t_start = _now()
        sid = probe_session()
        token = "d%04x" % random.randrange(1 << 16)
        r = client.call("PATCH", "/code-sessions/%s" % sid,
                        {"source_code": "print('%s')\n" % token})
        if r is not None and r.status == 200:
            key = uuid.uuid4().hex
            while True:
                try:
                    r = http_request(stack.http_port, "POST", "/code-sessions/%s/run" % sid,
                                     json={}, headers={"Idempotency-Key": key},
                                     timeout=CLIENT_TIMEOUT)
                except (OSError, http.client.HTTPException):
                    r = None
                if (r is not None and r.status != 503) or _now() - t_start > 20:
                    break
                time.sleep(0.1)
        if r is None or r.status != 202:
            problems.add("a run right after the dispatcher restart: not accepted within 20 s: %r"
                         % r)
        else:
            rec = {"eid": r.body["execution_id"], "expected": token + "\n", "sid": sid,
                   "what": "probe after dispatcher restart", "accepted_at": time.time()}
            probe_runs.append(rec)
            e = wait_terminal(client, rec["eid"], 30)
            if e is not None and e.get("status") == "COMPLETED":
                figures["dispatcher_probe_completed_s"].append(_now() - t_start)
        settle()
        return w_start

    # -- the chaos: each service in turn, twice, a few seconds apart
    dispatcher_restarts = []  # wall time of each dispatcher start after a kill
    try:
        time.sleep(3)
        for rnd, (store_down, disp_down) in enumerate(((1.5, 1.0), (3.0, 2.0))):
            kill_restart("session", store_down)
            settle()
            time.sleep(3)
            dispatcher_restarts.append(kill_dispatcher_busy(disp_down, fill=rnd == 1))
            time.sleep(3)
            kill_restart("gateway", 0.3 if rnd == 0 else 1.5)
            settle()
            time.sleep(3)
            for target in RUNNERS:
                kill_runner_mid_run(target)
                time.sleep(3)
    finally:
        shared.stop.set()
        for t in writers + runners:
            t.join(90)
    t_chaos_end = _now()

    # -- checks
    for t in writers + runners:
        if t.is_alive():
            problems.add("client thread %s still running 90 s after the load stopped" % t.name)
        if t.error:
            problems.add("client thread %s crashed: %s" % (t.name, t.error))

    accepted = shared.accepted + probe_runs
    finals = {}
    bad = []  # (eid, what was wrong)
    deadline = _now() + 60
    for rec in accepted:
        e = wait_terminal(client, rec["eid"], max(1.0, deadline - _now()))
        finals[rec["eid"]] = e
        if e is None or e.get("status") not in TERMINAL:
            bad.append((rec["eid"], "accepted execution %s (%s) not terminal 60 s after the "
                        "chaos: %s" % (rec["eid"], rec["what"], describe(e))))
        elif e.get("status") != "COMPLETED" or e.get("stdout") != rec["expected"]:
            bad.append((rec["eid"], "accepted execution %s (%s) wrong: expected COMPLETED with "
                        "stdout %r, got %s" % (rec["eid"], rec["what"], rec["expected"],
                                               describe(e))))
    if bad:
        kinds = {}
        for eid, _ in bad:
            e = finals.get(eid) or {}
            k = "%s/%s" % (e.get("status"), e.get("reason"))
            kinds[k] = kinds.get(k, 0) + 1
        refused = sum(1 for eid, _ in bad if "job refused: no free slot" in story(stack, eid))
        problems.add("%d of %d accepted executions not COMPLETED with the expected output "
                     "(status/reason: %s; %d of them were refused by a runner with 'job refused:"
                     " no free slot'); the first ones with their logs follow"
                     % (len(bad), len(accepted), kinds, refused))
    # The details go last (after every other kind of problem), the first few with their logs.
    details = [text + ("\n      " + story(stack, eid) if i < 4 else "")
               for i, (eid, text) in enumerate(bad[:30])]
    if len(bad) > 30:
        details.append("... and %d more" % (len(bad) - 30))

    # No execution of any session (also the ones whose 202 never arrived) left unfinished.
    for sid in run_sids + probe_sids:
        r = client.call("GET", "/code-sessions/%s/executions" % sid)
        if r is None or r.status != 200:
            problems.add("listing executions of %s: %r" % (sid, r))
            continue
        for x in r.body:
            if x.get("status") not in TERMINAL:
                e = wait_terminal(client, x["execution_id"], 10)
                if e is None or e.get("status") not in TERMINAL:
                    problems.add("execution %s of session %s left %s: %s\n      %s"
                                 % (x["execution_id"], sid, x.get("status"), describe(e),
                                    story(stack, x["execution_id"])))

    for w in writers:
        for sid in w.state:
            w.read_back(sid, final=True)

    # The job whose runner died mid-run completed on the other runner with attempts >= 2.
    good_kills = 0
    for k in killed_mid_run:
        e = finals.get(k["eid"])
        done_on = [json.loads(l).get("runner_id") for l in log_lines(stack, "session", k["eid"])
                   if '"execution state"' in l and '"COMPLETED"' in l]
        ok = (e is not None and e.get("status") == "COMPLETED" and (e.get("attempts") or 0) >= 2
              and done_on and done_on[-1] != k["runner"])
        if ok:
            good_kills += 1
        else:
            problems.add("job %s, killed mid-run with %s: expected COMPLETED elsewhere with "
                         "attempts >= 2, got %s, completed on %s\n      %s"
                         % (k["eid"], k["runner"], describe(e), done_on, story(stack, k["eid"])))
    if not killed_mid_run:
        problems.add("no job was killed mid-run with its runner")

    dead = stack.dead_services()
    if dead:
        problems.add("services not running at the end: %s" % ", ".join(dead))

    # Warnings and errors the services logged, by service and event (for the diagnosis).
    noted = {}
    for svc in stack.services:
        try:
            with open(stack.log_path(svc), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if '"level":"warn"' in line or '"level":"error"' in line:
                        try:
                            ev = json.loads(line)
                        except ValueError:
                            continue
                        k = "%s: %s %s" % (svc, ev.get("level"), ev.get("event"))
                        noted[k] = noted.get(k, 0) + 1
        except OSError:
            pass
    dispatched = {}
    for line in log_lines(stack, "dispatcher", '"execution dispatched"'):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        k = (ev.get("execution_id"), ev.get("attempt"))
        dispatched[k] = dispatched.get(k, 0) + 1
    twice = sum(1 for n in dispatched.values() if n > 1)
    print("    executions dispatched again under the same attempt (so run twice, after a "
          "dispatcher restart): %d" % twice, flush=True)
    print("    logged: %s" % (", ".join("%s x%d" % kv for kv in sorted(noted.items()))
                               or "no warning"), flush=True)

    # -- figures
    completed_at = []
    for rec in accepted:
        e = finals.get(rec["eid"])
        if e and e.get("status") == "COMPLETED" and e.get("finished_at"):
            completed_at.append((parse_time(e["finished_at"]), parse_time(e["queued_at"])))
    for w_start in dispatcher_restarts:
        after = [f for f, q in completed_at if f > w_start]
        if after:
            figures["dispatcher_first_completed_s"].append(min(after) - w_start)

    def fmt(values):
        return ", ".join("%.2f" % v for v in values) or "none measured"

    print("    chaos: %d kills in %.0f s; %d acknowledged autosaves, %d accepted runs "
          "(%d probes); client: %s"
          % (len(events), t_chaos_end - t_test, shared.acked_autosaves, len(accepted),
             len(probe_runs), client.stats), flush=True)
    print("    recovery: runner kill -9 -> its job RUNNING again on the other runner: %s s"
          % fmt(figures["runner_redispatch_s"]), flush=True)
    print("    recovery: dispatcher started after kill -9 -> a new run (retried every 0.1 s on "
          "503) COMPLETED: %s s; -> first run of any COMPLETED (finished_at): %s s "
          "(round 1: 2 of 6 slots busy at the kill; round 2: all 6 busy with 6 s jobs, so a new "
          "run waits for a slot)"
          % (fmt(figures["dispatcher_probe_completed_s"]),
             fmt(figures["dispatcher_first_completed_s"])), flush=True)

    if problems:
        raise AssertionError("%d problem(s) after the chaos:\n  - %s"
                             % (len(problems.items), "\n  - ".join(problems.items + details)))
    if good_kills < 1:
        raise AssertionError("no job completed elsewhere after its runner died")
