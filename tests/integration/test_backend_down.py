"""Services dying: 503 with Retry-After while the session store is down, recovery after a
restart, durability of acknowledged PATCHes, re-dispatch when a runner dies."""

import os
import random
import signal
import time

from harness import (check_keys, children_of, describe, error_shape_problem, expect,
                     expect_error, expect_status, isolated, processes_with, short, state_of,
                     timeout, until)


@isolated()
@timeout(120)
def test_session_store_down_503_then_recovers(stack):
    s = stack.create_session("python", "print('kept')\n")
    sid = s["session_id"]
    stack.kill9("session")
    # Every API call that needs the store answers 503 + Retry-After within a few seconds
    # (backend_timeout_ms is 3000 by default); the client timeout is 10 s, so no hang.
    calls = [("GET", "/code-sessions/%s" % sid, None),
             ("POST", "/code-sessions", {}),
             ("PATCH", "/code-sessions/%s" % sid, {"source_code": "print('lost?')\n"}),
             ("POST", "/code-sessions/%s/run" % sid, {})]
    problems = []
    for method, path, body in calls:
        t0 = time.monotonic()
        try:
            r = stack.request(method, path, json=body, timeout=10)
        except OSError as e:
            problems.append("%s %s: no answer within 10 s (%s)" % (method, path, e))
            continue
        dt = time.monotonic() - t0
        if r.status != 503:
            problems.append("%s %s with the store down: %r" % (method, path, r))
            continue
        if "retry-after" not in r.headers:
            problems.append("%s %s: 503 without Retry-After" % (method, path))
        p = error_shape_problem(r)
        if p:
            problems.append("%s %s: 503 body: %s" % (method, path, p))
        if dt > 5.0:
            problems.append("%s %s: the 503 took %.1f s" % (method, path, dt))
    # /health names the broken component with 503 and the same shape.
    r = stack.get("/health", timeout=10)
    if r.status != 503:
        problems.append("GET /health with the store down: %r" % r)
    elif not (isinstance(r.body, dict) and r.body.get("status") != "ok"
              and isinstance(r.body.get("components"), dict)):
        problems.append("GET /health 503 body: %s" % short(r.body))
    # Liveness is about the gateway itself (inferred: still 200).
    r = stack.get("/health/live", timeout=10)
    if r.status != 200:
        problems.append("GET /health/live with the store down: %r" % r)
    r = stack.get("/health/ready", timeout=10)
    if r.status != 503:
        problems.append("GET /health/ready with the store down (inferred 503): %r" % r)
    # /languages does not need the store (inferred: still 200).
    r = stack.get("/languages", timeout=10)
    if r.status != 200:
        problems.append("GET /languages with the store down (inferred 200): %r" % r)

    stack.start_service("session")
    r = until(lambda: (lambda r: r if r.status == 200 else None)(
        stack.get("/code-sessions/%s" % sid, timeout=10)), 20,
        "GET the session after the store restarted")
    # The session made before the crash is still there. The PATCH during the outage got a
    # 503, so it must not have been applied... unless it was: only acknowledged writes count.
    expect(r.body["session_id"] == sid and r.body["source_code"] in ("print('kept')\n",
                                                                     "print('lost?')\n"),
           "session after restart: %s" % short(r.body))
    stack.patch("/code-sessions/%s" % sid, json={"source_code": "print('kept')\n"})
    stack.wait_ready(20)
    e = stack.wait_execution(stack.start_run(sid))
    expect(e["status"] == "COMPLETED" and e["stdout"] == "kept\n", "run after restart: %s"
           % describe(e))
    r = stack.get("/health")
    expect_status(r, 200, "GET /health after restart")


@isolated()
@timeout(120)
def test_patch_durable_across_kill9(stack):
    """A 200 PATCH survives kill -9 of the session store right after it."""
    sids = [stack.create_session("python", "print(0)\n")["session_id"] for _ in range(5)]
    acked = {}
    for i in range(20):
        for sid in sids:
            r = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(%d)\n" % i})
            expect_status(r, 200, "PATCH")
            acked[sid] = (r.body["version"], "print(%d)\n" % i)
    stack.kill9("session")
    stack.start_service("session")
    for sid in sids:
        r = until(lambda: (lambda r: r if r.status == 200 else None)(
            stack.get("/code-sessions/%s" % sid, timeout=10)), 20, "GET after restart")
        v, text = acked[sid]
        expect(r.body["version"] == v and r.body["source_code"] == text,
               "acknowledged PATCH lost by kill -9: expected version %d %r, got %s"
               % (v, text, short(r.body)))


@isolated()
@timeout(120)
def test_gateway_restart(stack):
    s = stack.create_session("bash", "echo hi\n")
    stack.kill9("gateway")
    stack.start_service("gateway")
    stack.wait_ready(20)
    r = stack.get("/code-sessions/%s" % s["session_id"])
    expect_status(r, 200, "GET after gateway restart")
    e = stack.wait_execution(stack.start_run(s["session_id"]))
    expect(e["status"] == "COMPLETED" and e["stdout"] == "hi\n", describe(e))


@isolated()
@timeout(150)
def test_runner_killed_mid_run_is_redispatched(stack):
    """kill -9 of the runner while it runs a job: the job is re-dispatched to the restarted
    runner and finishes, attempts = 2."""
    s = stack.create_session("bash", "sleep 2; echo finished\n")
    eid = stack.start_run(s["session_id"])
    until(lambda: stack.get("/executions/%s" % eid).body.get("status") == "RUNNING", 10,
           "execution RUNNING")
    stack.kill9("runner")
    time.sleep(0.5)
    stack.start_service("runner")
    e = stack.wait_execution(eid, total=40)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "finished\n",
           "after its runner died: %s" % describe(e))
    expect(e["attempts"] == 2, "attempts %r, expected 2" % e["attempts"])


@isolated()
@timeout(150)
def test_runner_lost_after_retries(stack):
    """The runner dies under all 3 attempts: FAILED runner_lost, attempts 3. Then, with no
    runner at all, a new run is refused with 503 + Retry-After."""
    s = stack.create_session("bash", "sleep 30\n")
    eid = stack.start_run(s["session_id"], {"limits": {"time_ms": 30000}})

    def state():
        b = stack.get("/executions/%s" % eid).body
        return b.get("status"), b.get("attempts") or 0

    for attempt in range(1, 4):
        # Running its attempt-th attempt: kill the runner under it.
        deadline = time.monotonic() + 20
        while True:
            st = state()
            if st == ("RUNNING", attempt) or st[0] not in ("QUEUED", "RUNNING") \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        expect(st == ("RUNNING", attempt), "waited 20 s for attempt %d to be RUNNING; it is "
               "(status, attempts) = %s: %s"
               % (attempt, st, describe(stack.get("/executions/%s" % eid).body)))
        stack.kill9("runner")
        if attempt < 3:
            stack.start_service("runner")
    e = stack.wait_execution(eid, total=30)
    expect(e["status"] == "FAILED" and e["reason"] == "runner_lost" and e["attempts"] == 3,
           "after 3 runner deaths: %s" % describe(e))
    # No runner now: the contract says 503 "when no runner serves the language".
    time.sleep(4)  # the dispatcher notices the dead runner (heartbeat 1 s x liveness 3)
    s2 = stack.create_session("bash", "echo x\n")
    r = stack.post("/code-sessions/%s/run" % s2["session_id"], json={})
    expect_error(r, 503, "run with no runner")
    expect("retry-after" in r.headers, "503 without Retry-After")


@isolated()
@timeout(90)
def test_dispatcher_restart(stack):
    s = stack.create_session("bash", "echo one\n")
    e = stack.wait_execution(stack.start_run(s["session_id"]))
    expect(e["status"] == "COMPLETED", describe(e))
    stack.kill9("dispatcher")
    stack.start_service("dispatcher")
    stack.wait_ready(20)
    # Until the runner has re-registered with the new dispatcher a run may get 503 with
    # Retry-After (the contract's "no runner serves the language"): retry as a client would,
    # for at most 15 s.
    deadline = time.monotonic() + 15
    while True:
        r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
        if r.status != 503 or time.monotonic() > deadline:
            break
        expect_error(r, 503, "run right after the dispatcher restarted")
        expect(r.headers.get("retry-after", "").isdigit(), "503 without Retry-After: %r" % r)
        time.sleep(min(2, int(r.headers["retry-after"])))
    expect_status(r, 202, "run after the dispatcher restarted (retried 15 s on 503)")
    e = stack.wait_execution(r.body["execution_id"], total=40)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "one\n",
           "run after the dispatcher restarted: %s" % describe(e))
    # Refused runs left no execution behind.
    lst = stack.get("/code-sessions/%s/executions" % s["session_id"]).body
    expect(len(lst) == 2, "%d executions listed after 2 accepted runs: %s"
           % (len(lst), [(x.get("execution_id"), x.get("status")) for x in lst]))


@isolated()
@timeout(60)
def test_graceful_sigterm(stack):
    """SIGTERM stops every service promptly with exit status 0 (inferred)."""
    codes = {}
    for service in ("gateway", "runner", "dispatcher", "session"):
        t0 = time.monotonic()
        codes[service] = (stack.stop(service, timeout=8), round(time.monotonic() - t0, 1))
    bad = {k: v for k, v in codes.items() if v[0] != 0 or v[1] > 6}
    expect(not bad, "services that did not stop cleanly on SIGTERM (exit code, seconds): %s"
           % bad)
    left = os.listdir(stack.scratch_dir)  # the slots' prepared directories go with the runner
    expect(not left, "the stopped runner left in its scratch directory: %s" % left)


# Keep flake8 quiet about helpers imported for future tests.
_ = check_keys


@isolated()
@timeout(60)
def test_runner_death_kills_its_programs(stack):
    """kill -9 of a runner does not leave the user's program running (no orphan outlives its
    job)."""
    marker = "20.%06d" % random.randrange(10 ** 6)
    s = stack.create_session("bash", "sleep %s\n" % marker)
    eid = stack.start_run(s["session_id"], {"limits": {"time_ms": 30000}})
    until(lambda: stack.get("/executions/%s" % eid).body.get("status") == "RUNNING", 10,
           "execution RUNNING")
    until(lambda: processes_with("sleep\0" + marker), 5, "the program's process appears")
    keepers = children_of(stack.procs["runner"].pid)  # one sandbox keeper per slot
    expect(len(keepers) == stack.runner_slots, "keepers of the runner: %s" % keepers)
    images = [os.path.basename(os.readlink("/proc/%d/exe" % pid)) for pid in keepers]
    expect(images == ["lcx-keeper"] * len(keepers), "keepers run %s, not lcx-keeper" % images)
    stack.kill9("runner")
    deadline = time.monotonic() + 5
    while processes_with("sleep\0" + marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_with("sleep\0" + marker)
    for pid in left:  # our own test program (unique marker): do not leave it behind
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    expect(not left, "5 s after kill -9 of its runner the program (sleep %s) still runs: "
           "pids %s" % (marker, left))
    # A keeper ends when it reads EOF from its runner; an idle slot's keeper may read it after
    # the busy slot's program is gone, so the keepers get the same 5 s from the kill.
    alive = lambda: [pid for pid in keepers if state_of(pid) not in (None, "Z")]  # Z: gone
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    still = alive()
    expect(not still, "5 s after kill -9 of its runner, its sandbox keepers still run: %s" % still)


def test_two_gateways_share_one_store(stack):
    """Gateways are stateless: a second one on the same store serves the same sessions and
    executions, and either can be stopped without loss."""
    import subprocess
    from harness import BIN_DIR, free_ports, http_request
    port = free_ports(1)[0]
    second = subprocess.Popen([os.path.join(BIN_DIR, "lcx-gateway"), "--session-endpoint",
                               stack.session_endpoint, "--http-port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if http_request(port, "GET", "/health/live").status == 200:
                    break
            except OSError:
                pass
            expect(time.monotonic() < deadline, "the second gateway did not come up")
            time.sleep(0.1)
        s = stack.create_session("python", "print('one')")
        sid = s["session_id"]
        r = http_request(port, "PATCH", "/code-sessions/%s" % sid,
                         json={"source_code": "print('two')"})
        expect(r.status == 200 and r.body["version"] == 2, "PATCH through gateway 2: %r" % r)
        r = http_request(port, "POST", "/code-sessions/%s/run" % sid, json={})
        expect(r.status == 202, "run through gateway 2: %r" % r)
        done = stack.wait_execution(r.body["execution_id"])  # read back through gateway 1
        expect(done["stdout"] == "two\n", "gateway 1 sees gateway 2's autosave and run: %s" % done)
    finally:
        second.terminate()
        second.wait(10)
