"""The session store while its database refuses transactions (another process holds the write
lock past store_busy_ms): its timers still run, so a held ?wait= is answered on time; it does
not spin or log a line per pass; once the lock is free, it handles what waited."""

import os
import sqlite3
import threading
import time

from harness import describe, expect, expect_status, isolated, timeout

LOCK_S = 5.0

def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

@isolated()
@timeout(90)
def test_timers_run_while_begin_fails(stack):
    s = stack.create_session("python", "import time\nprint('up', flush=True)\ntime.sleep(30)\n")
    sid = s["session_id"]
    eid = stack.start_run(sid, {"limits": {"time_ms": 20000}})
    held = {}

    def wait_request():
        t0 = time.monotonic()
        held["r"] = stack.get("/executions/%s?wait=2500" % eid, timeout=30)
        held["took"] = time.monotonic() - t0

    waiter = threading.Thread(target=wait_request)
    waiter.start()
    time.sleep(0.5)  # the store has parked the ?wait= before the lock is taken
    db = sqlite3.connect(os.path.join(stack.data_dir, "lcx.db"), isolation_level=None,
                         timeout=10)
    store_pid = stack.procs["session"].pid
    cpu0, wall0 = _cpu_seconds(store_pid), time.monotonic()
    db.execute("BEGIN IMMEDIATE")
    patch = {}

    def patch_request():
        patch["r"] = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(2)\n"},
                                 timeout=30)

    patcher = threading.Thread(target=patch_request)
    patcher.start()
    time.sleep(LOCK_S)
    cpu = _cpu_seconds(store_pid) - cpu0
    wall = time.monotonic() - wall0
    db.execute("ROLLBACK")
    db.close()
    waiter.join(30)
    patcher.join(30)
    r = held.get("r")
    expect(r is not None and r.status == 200 and r.body["status"] == "RUNNING",
           "the held ?wait= during the lock: %r" % r)
    expect(held["took"] < 2.5 + 2.0, "the held ?wait=2500 took %.1f s: the store's timers "
           "did not run while BEGIN failed" % held["took"])
    expect(cpu < 0.5 * wall, "the store used %.2f s of CPU in %.1f s of a held lock (spinning)"
           % (cpu, wall))
    # The PATCH that arrived during the lock is handled once it is free (or, had it waited
    # longer than the gateway's deadline, refused with 503: never lost silently).
    p = patch.get("r")
    expect(p is not None and p.status in (200, 503), "PATCH during the lock: %r" % p)
    if p.status == 200:
        expect(p.body["version"] == 2, "PATCH during the lock: %r" % p.body)
    expect_status(stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(3)\n"}),
                  200, "PATCH after the lock")
    with open(stack.log_path("session")) as f:
        log = f.read()
    refusals = log.count("the database refused a transaction")
    expect(refusals == 1, "%d log lines for one streak of refused transactions" % refusals)
    expect("the database takes transactions again" in log, "no line when BEGIN works again")
    stack.post("/executions/%s/cancel" % eid)
    e = stack.wait_execution(eid)
    expect(e["status"] == "CANCELLED", describe(e))
