"""SIGTERM on a runner drains it (issue #5): no new jobs, the running ones finish and their
results are delivered, then it exits by itself."""
import signal
import time

from harness import expect, expect_error, isolated, timeout


@isolated(runner_slots=1)
@timeout(60)
def test_sigterm_drains_runner(stack):
    s = stack.create_session("python", "import time\ntime.sleep(2)\nprint('drained')\n")
    eid = stack.start_run(s["session_id"])
    deadline = time.monotonic() + 10
    while stack.get("/executions/%s" % eid).body["status"] != "RUNNING":
        expect(time.monotonic() < deadline, "the job never started")
        time.sleep(0.05)
    runner = stack.procs["runner"]
    runner.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    expect(runner.poll() is None, "the runner left before its job finished")
    # A draining runner takes no new job: with no other runner, a run is refused.
    other = stack.create_session("python", "print(1)")
    deadline = time.monotonic() + 5
    while True:
        r = stack.post("/code-sessions/%s/run" % other["session_id"], json={})
        if r.status != 202 or time.monotonic() > deadline:
            break
        stack.wait_execution(r.body["execution_id"])  # raced the drain: let it finish
    expect_error(r, 503, "a run while the only runner drains")
    done = stack.wait_execution(eid)
    expect(done["status"] == "COMPLETED" and done["stdout"] == "drained\n",
           "the running job did not finish: %s" % done)
    expect(done["attempts"] == 1, "the job ran %s times" % done["attempts"])
    try:
        code = runner.wait(15)
    except Exception:
        code = None
    expect(code == 0, "the drained runner did not exit by itself with 0 (exit %r)" % code)
    # The dispatcher notes an orderly leave at info, not as a lost runner.
    import json
    left = []
    deadline = time.monotonic() + 5
    while not left and time.monotonic() < deadline:
        time.sleep(0.1)
        with open(stack.log_path("dispatcher"), encoding="utf-8") as f:
            left = [json.loads(l) for l in f if '"runner left"' in l or '"runner lost"' in l]
    expect(left and left[-1].get("event") == "runner left" and left[-1].get("level") == "info",
           "the dispatcher did not log the drained runner as left at info: %s" % left)


@isolated()
@timeout(60)
def test_operator_lists_and_drains_runners(stack):
    """The operator view: runners with their load and languages, the queue, and a drain by
    name that makes the runner finish and leave."""
    deadline = time.monotonic() + 10
    while True:
        r = stack.get("/admin/runners")
        expect(r.status == 200, "GET /admin/runners: %r" % r)
        if r.body or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(len(r.body) == 1, "one runner expected: %s" % r.body)
    runner = r.body[0]
    for key in ("runner_id", "slots", "free_slots", "draining", "languages", "sandbox"):
        expect(key in runner, "runner record lacks %r: %s" % (key, runner))
    expect("python" in runner["languages"] and runner["draining"] is False,
           "runner record: %s" % runner)
    q = stack.get("/admin/queue")
    expect(q.status == 200 and q.body["queue_depth"] == 0 and q.body["runners"] == 1,
           "GET /admin/queue: %r" % q)
    expect_error(stack.post("/admin/runners/no-such-runner/drain", json={}), 404,
                 "drain of an unknown runner")
    expect_error(stack.post("/admin/runners/bad%20name/drain", json={}), 404,
                 "drain of a malformed name")
    d = stack.post("/admin/runners/%s/drain" % runner["runner_id"], json={})
    expect(d.status == 202 and d.body["draining"] is True, "drain: %r" % d)
    try:
        code = stack.procs["runner"].wait(15)
    except Exception:
        code = None
    expect(code == 0, "the drained runner did not leave by itself (exit %r)" % code)


LONG_NAME = "runner-" + "n" * 57  # 64 characters: the longest name the operator's routes take


@isolated(runners=[LONG_NAME], extra_flags={LONG_NAME: ["--runner-id", LONG_NAME]})
@timeout(60)
def test_drain_runner_with_64_character_name(stack):
    """A runner name of 64 characters (found: 43 were listed but could not be drained, 404)
    is listed and drained by that name; a 65th character names no runner, and a name cut
    short to 64 does not drain the runner whose name it is a prefix of."""
    assert len(LONG_NAME) == 64
    deadline = time.monotonic() + 10
    while True:
        r = stack.get("/admin/runners")
        if r.body or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect([x["runner_id"] for x in r.body] == [LONG_NAME], "runners: %s" % r.body)
    expect_error(stack.post("/admin/runners/%sx/drain" % LONG_NAME, json={}), 404,
                 "drain of a 65-character name")
    expect(stack.get("/admin/runners").body[0]["draining"] is False,
           "a 65-character name drained the 64-character runner")
    d = stack.post("/admin/runners/%s/drain" % LONG_NAME, json={})
    expect(d.status == 202 and d.body["runner_id"] == LONG_NAME and d.body["draining"] is True,
           "drain by a 64-character name: %r" % d)
    try:
        code = stack.procs[LONG_NAME].wait(15)
    except Exception:
        code = None
    expect(code == 0, "the drained runner did not leave by itself (exit %r)" % code)
