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
