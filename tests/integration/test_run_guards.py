"""POST /code-sessions/{id}/run: the 202 answer, what it refuses, executions lists, cancel,
Idempotency-Key and rate limits."""

import json
import time
import uuid

from harness import (Checker, check_execution_shape, check_keys, check_time, check_uuid,
                     describe, expect, expect_error, expect_status, isolated, short, until)

MIB = 1024 * 1024


def test_run_accepted_shape(stack):
    s = stack.create_session("python", "print('x')\n")
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_status(r, 202, "POST run")
    check_keys(r.body, ("execution_id", "status", "queued_at"), "202 body")
    check_uuid(r.body["execution_id"], "execution_id")
    expect(r.body["status"] == "QUEUED", "202 status %r" % r.body["status"])
    check_time(r.body["queued_at"], "queued_at")
    expect(r.headers.get("location") == "/executions/%s" % r.body["execution_id"],
           "Location header %r, expected /executions/%s"
           % (r.headers.get("location"), r.body["execution_id"]))
    # Right after: every field present, null when not known yet.
    g = stack.get("/executions/%s" % r.body["execution_id"])
    expect_status(g, 200, "GET /executions/{id}")
    check_execution_shape(g.body)
    expect(g.body["execution_id"] == r.body["execution_id"]
           and g.body["session_id"] == s["session_id"] and g.body["language"] == "python"
           and g.body["queued_at"] == r.body["queued_at"],
           "execution does not match its run: %s" % short(g.body))
    if g.body["status"] == "QUEUED":
        for k in ("stdout", "stderr", "exit_code", "signal", "execution_time_ms", "started_at",
                  "finished_at", "reason"):
            expect(g.body[k] is None, "QUEUED execution has %s=%r (expected null)"
                   % (k, g.body[k]))
    e = stack.wait_execution(r.body["execution_id"])
    expect(e["status"] == "COMPLETED", describe(e))
    # Run without a body at all (the body is optional).
    r = stack.request("POST", "/code-sessions/%s/run" % s["session_id"])
    expect_status(r, 202, "POST run without a body")
    expect(stack.wait_execution(r.body["execution_id"])["stdout"] == "x\n", "second run output")


def test_wait_returns_early_when_done_and_holds_otherwise(stack):
    s = stack.create_session("bash", "sleep 1.5; echo late\n")
    eid = stack.start_run(s["session_id"])
    # wait=300: answers after about 300 ms, still not finished.
    t0 = time.monotonic()
    r = stack.get("/executions/%s?wait=300" % eid)
    dt = time.monotonic() - t0
    expect_status(r, 200, "GET ?wait=300")
    expect(r.body["status"] in ("QUEUED", "RUNNING"), "after 300 ms: %s" % describe(r.body))
    expect(0.2 <= dt < 1.4, "?wait=300 answered after %.2f s" % dt)
    # wait=30000: answers as soon as it finishes (about 1.5 s after the start), not after 30 s.
    t0 = time.monotonic()
    r = stack.get("/executions/%s?wait=30000" % eid, timeout=40)
    dt = time.monotonic() - t0
    expect(r.body["status"] == "COMPLETED" and r.body["stdout"] == "late\n",
           "after ?wait=30000: %s" % describe(r.body))
    expect(dt < 5, "?wait=30000 answered %.1f s after the start of a 1.5 s run" % dt)
    # On a finished execution ?wait answers at once.
    t0 = time.monotonic()
    r = stack.get("/executions/%s?wait=30000" % eid, timeout=40)
    expect(time.monotonic() - t0 < 1.0, "?wait on a finished execution held the request")
    # Inferred: a malformed wait value is a 400 (API.md convention for bad input).
    r = stack.get("/executions/%s?wait=abc" % eid)
    expect_error(r, 400, "?wait=abc")


def test_run_while_busy_conflicts(stack):
    s = stack.create_session("bash", "sleep 3\n")
    sid = s["session_id"]
    eid = stack.start_run(sid)
    r = stack.post("/code-sessions/%s/run" % sid, json={})
    expect_error(r, 409, "second run while the first is QUEUED/RUNNING")
    expect(eid in json.dumps(r.body), "409 body does not name the running execution %s: %s"
           % (eid, short(r.body)))
    # A PATCH while running is fine (autosave goes on during a run).
    p = stack.patch("/code-sessions/%s" % sid, json={"source_code": "echo again\n"})
    expect_status(p, 200, "PATCH during a run")
    first = stack.wait_execution(eid)
    expect(first["status"] == "COMPLETED", "first run: %s" % describe(first))
    # Finished: a new run is accepted and runs the new text.
    e = stack.wait_execution(stack.start_run(sid))
    expect(e["status"] == "COMPLETED" and e["stdout"] == "again\n", describe(e))


def test_limits_validation(stack):
    s = stack.create_session("python", "print(1)\n")
    url = "/code-sessions/%s/run" % s["session_id"]
    ck = Checker()
    for body in ({"limits": {"time_ms": 999999}}, {"limits": {"time_ms": 30001}},
                 {"limits": {"memory_mb": 999999}}, {"limits": {"memory_mb": 1025}},
                 {"limits": {"time_ms": 0}}, {"limits": {"time_ms": -5}},
                 {"limits": {"memory_mb": -1}}, {"limits": {"time_ms": "1000"}},
                 {"limits": {"time_ms": 1.5}}, {"limits": {"time_ms": True}},
                 {"limits": []}, {"limits": "x"}, {"args": "a b"}, {"args": [1, 2]},
                 {"args": ["x"] * 65}, {"stdin": 7}, {"stdin": ["a"]}):
        # time_ms 0 / negative / fractional as 400: inferred (a limit must be a positive
        # integer).
        ck.error("run %s" % short(body, 80), lambda: stack.post(url, json=body), 400)
    # Stdin above 1 MiB: 400 by the contract; 413 accepted as the brief allows.
    ck.error("run with 1 MiB + 1 stdin",
             lambda: stack.post(url, json={"stdin": "a" * (MIB + 1)}, timeout=20), (400, 413))
    # The maxima themselves are accepted.
    r = stack.post(url, json={"limits": {"time_ms": 30000, "memory_mb": 1024}})
    ck.check(r.status == 202, "limits at their maxima refused: %r" % r)
    if r.status == 202:
        e = stack.wait_execution(r.body["execution_id"])
        ck.check(e["status"] == "COMPLETED", "run at max limits: %s" % describe(e))
    # Exactly 1 MiB of stdin is accepted.
    r = stack.post(url, json={"stdin": "a" * MIB}, timeout=20)
    ck.check(r.status == 202, "1 MiB stdin refused: %r" % r)
    if r.status == 202:
        stack.wait_execution(r.body["execution_id"])
    ck.done()


def test_list_executions_newest_first(stack):
    s = stack.create_session("python", "print('a')\n")
    sid = s["session_id"]
    for path in ("/code-sessions/%s/executions" % sid, "/executions/session/%s" % sid):
        r = stack.get(path)
        expect_status(r, 200, "GET " + path)
        expect(r.body == [], "executions of a new session: %s" % short(r.body))
    ids = []
    for i in range(3):
        stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(%d)\n" % i})
        eid = stack.start_run(sid)
        stack.wait_execution(eid)
        ids.append(eid)
    lists = []
    for path in ("/code-sessions/%s/executions" % sid, "/executions/session/%s" % sid):
        r = stack.get(path)
        expect_status(r, 200, "GET " + path)
        expect(isinstance(r.body, list), "%s is not a list: %s" % (path, short(r.body)))
        got = [x.get("execution_id") for x in r.body]
        expect(got == ids[::-1], "%s: ids %s, expected newest first %s" % (path, got, ids[::-1]))
        for x in r.body:
            # An execution summary: at least id, status and the times (the contract does not
            # list its fields; inferred).
            for k in ("execution_id", "status", "queued_at"):
                expect(k in x, "%s: summary lacks %s: %s" % (path, k, short(x)))
            expect(x["status"] == "COMPLETED", "%s: summary status %r" % (path, x["status"]))
        lists.append(r.body)
    expect(lists[0] == lists[1], "the alias returns a different list:\n%s\n%s"
           % (short(lists[0]), short(lists[1])))
    # Other sessions' executions are not listed.
    other = stack.create_session()
    r = stack.get("/code-sessions/%s/executions" % other["session_id"])
    expect(r.body == [], "a new session lists executions: %s" % short(r.body))


def test_cancel(stack):
    s = stack.create_session("bash", "echo started; sleep 20; echo never\n")
    eid = stack.start_run(s["session_id"])
    until(lambda: stack.get("/executions/%s" % eid).body["status"] == "RUNNING", 10,
          "the run to cancel starts")
    t0 = time.monotonic()
    r = stack.request("POST", "/executions/%s/cancel" % eid)
    # Inferred: cancel answers 200 (or 202 when it completes asynchronously).
    expect(r.status in (200, 202), "cancel of a running execution: %r" % r)
    e = stack.wait_execution(eid, total=15)
    expect(e["status"] == "CANCELLED", "after cancel: %s" % describe(e))
    expect(time.monotonic() - t0 < 5, "cancel took %.1f s" % (time.monotonic() - t0))
    expect("never" not in (e["stdout"] or ""), "the program went on after cancel")
    r = stack.request("POST", "/executions/%s/cancel" % eid)
    expect_error(r, 409, "cancel of a finished execution")
    # The session can run again.
    e = stack.wait_execution(stack.start_run(s["session_id"], {"limits": {"time_ms": 1000}}))
    expect(e["status"] == "TIMEOUT", "run after cancel: %s" % describe(e))


def test_delete_cancels_running(stack):
    s = stack.create_session("bash", "sleep 20\n")
    eid = stack.start_run(s["session_id"])
    time.sleep(0.5)
    r = stack.delete("/code-sessions/%s" % s["session_id"])
    expect_status(r, 200, "DELETE with a running execution")
    e = stack.wait_execution(eid, total=15)
    expect(e["status"] == "CANCELLED", "DELETE did not cancel the execution: %s" % describe(e))


def test_idempotency_key(stack):
    s = stack.create_session("bash", "sleep 1; echo once\n")
    sid = s["session_id"]
    key = str(uuid.uuid4())
    r1 = stack.post("/code-sessions/%s/run" % sid, json={}, headers={"Idempotency-Key": key})
    expect_status(r1, 202, "first run with Idempotency-Key")
    # Same key again while it runs: the same execution, not a 409 and not a new run. The
    # status of the repeat is inferred: 202 like the first (200 accepted).
    r2 = stack.post("/code-sessions/%s/run" % sid, json={}, headers={"Idempotency-Key": key})
    expect(r2.status in (200, 202), "repeat with the same key: %r" % r2)
    expect(r2.body.get("execution_id") == r1.body["execution_id"],
           "repeat returned another execution: %s vs %s" % (short(r2.body), short(r1.body)))
    stack.wait_execution(r1.body["execution_id"])
    # And after it finished.
    r3 = stack.post("/code-sessions/%s/run" % sid, json={}, headers={"Idempotency-Key": key})
    expect(r3.status in (200, 202) and r3.body.get("execution_id") == r1.body["execution_id"],
           "repeat after the end: %r" % r3)
    lst = stack.get("/code-sessions/%s/executions" % sid).body
    expect(len(lst) == 1, "%d executions after 3 runs with one key" % len(lst))
    # Another key starts another execution.
    r4 = stack.post("/code-sessions/%s/run" % sid, json={},
                    headers={"Idempotency-Key": str(uuid.uuid4())})
    expect(r4.status == 202 and r4.body["execution_id"] != r1.body["execution_id"],
           "a new key did not start a new execution: %r" % r4)
    stack.wait_execution(r4.body["execution_id"])


@isolated(session_limits={"run_cooldown_ms": 5000})
def test_rate_limit_cooldown(stack):
    s = stack.create_session("bash", "echo hi\n")
    e = stack.wait_execution(stack.start_run(s["session_id"]))
    expect(e["status"] == "COMPLETED", describe(e))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 429, "second run within the 5 s cooldown")
    ra = r.headers.get("retry-after")
    expect(ra is not None and ra.isdigit() and 1 <= int(ra) <= 6,
           "429 Retry-After %r (expected whole seconds, 1..6)" % ra)
    # Another session is not affected.
    s2 = stack.create_session("bash", "echo hi\n")
    stack.wait_execution(stack.start_run(s2["session_id"]))


@isolated(session_limits={"runs_per_minute": 3, "runs_per_session": 5})
def test_rate_limit_per_minute_and_per_session(stack):
    s = stack.create_session("bash", "echo hi\n")
    for i in range(3):
        stack.wait_execution(stack.start_run(s["session_id"]))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 429, "4th run in a minute with runs_per_minute 3")
    expect("retry-after" in r.headers, "429 without Retry-After: %r" % r)


@isolated(session_limits={"runs_per_minute": 1000, "runs_per_session": 2})
def test_rate_limit_per_session_total(stack):
    s = stack.create_session("bash", "echo hi\n")
    for i in range(2):
        stack.wait_execution(stack.start_run(s["session_id"]))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    # Inferred: the lifetime cap is also a 429 (with Retry-After, as the contract says for
    # "runs too often").
    expect_error(r, 429, "3rd run with runs_per_session 2")
