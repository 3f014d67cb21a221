"""Autosave: PATCH is the editor's save; a run uses the latest acknowledged text."""

import threading

from harness import describe, expect, expect_status, short


def test_patch_twice_then_run(stack):
    s = stack.create_session("python", "print('zero')\n")
    sid = s["session_id"]
    r1 = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print('first')\n"})
    r2 = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print('second')\n"})
    expect_status(r1, 200, "PATCH 1")
    expect_status(r2, 200, "PATCH 2")
    eid = stack.start_run(sid)
    e = stack.wait_execution(eid)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "second\n",
           "run after two quick PATCHes did not run the second text: %s" % describe(e))


def test_patch_storm_sequential(stack):
    """30 PATCHes back to back: every one acknowledged, version +1 each, last text wins."""
    s = stack.create_session("python", "print(-1)\n")
    sid, v0 = s["session_id"], s["version"]
    for i in range(30):
        r = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(%d)\n" % i})
        expect_status(r, 200, "PATCH %d" % i)
        expect(r.body["version"] == v0 + i + 1, "PATCH %d: version %r, expected %d"
               % (i, r.body["version"], v0 + i + 1))
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["source_code"] == "print(29)\n" and g["version"] == v0 + 30,
           "after the storm GET shows %s" % short(g))
    e = stack.wait_execution(stack.start_run(sid))
    expect(e["status"] == "COMPLETED" and e["stdout"] == "29\n",
           "run after the storm: %s" % describe(e))


def test_patch_storm_concurrent(stack):
    """4 writers x 10 PATCHes at once on one session: 40 acknowledged writes get 40 distinct
    versions v0+1 .. v0+40, and the stored text is the one acknowledged with the highest."""
    s = stack.create_session("python", "print('start')\n")
    sid, v0 = s["session_id"], s["version"]
    acks, errors = [], []
    lock = threading.Lock()

    def writer(w):
        for i in range(10):
            text = "print('w%d-%d')\n" % (w, i)
            try:
                r = stack.patch("/code-sessions/%s" % sid, json={"source_code": text},
                                timeout=15)
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))
                continue
            with lock:
                if r.status == 200:
                    acks.append((r.body.get("version"), text))
                else:
                    errors.append(repr(r))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    expect(not errors, "PATCHes failed: %s" % errors[:5])
    versions = sorted(v for v, _ in acks)
    expect(versions == list(range(v0 + 1, v0 + 41)),
           "versions of 40 concurrent PATCHes are not v0+1..v0+40 (v0=%d): %s" % (v0, versions))
    top = max(acks)[1]
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["version"] == v0 + 40 and g["source_code"] == top,
           "stored %s, expected version %d with %r" % (short(g), v0 + 40, top))
