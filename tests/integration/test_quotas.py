"""Quotas (API.md "Access: API keys, roles, session tokens, quotas"): per key runs_per_minute,
concurrent_runs (queued + running), max_time_ms and max_memory_mb caps; without keys the same
per client address; 429 naming the quota with a true Retry-After; the metrics of refusals; and
the flood: one caller cannot fill the queue."""

import threading
import time

from access_helpers import (bearer, error_text, make_key, metric_samples, new_session,
                            request_from, start_run, wait_done)
from harness import (Checker, describe, expect, expect_error, expect_status, isolated, short,
                     timeout)

SLEEPER = "sleep 6\n"


def _retry_after(r):
    try:
        return int(r.headers.get("retry-after", ""))
    except ValueError:
        return None


def _quota_429(r, quota, what):
    """A 429 whose details name the quota and whose Retry-After is a wait of 1 to 60 s."""
    expect_error(r, 429, what)
    expect(any(d.startswith(quota) or quota in d for d in r.body["details"]),
           "%s: the 429 does not name %s: %r" % (what, quota, r.body))
    wait = _retry_after(r)
    expect(wait is not None and 1 <= wait <= 60, "%s: Retry-After %r" % (what,
                                                                       r.headers.get("retry-after")))
    return wait


def _quota_rejections(stack, quota):
    r = stack.get("/metrics")
    expect_status(r, 200, "GET /metrics")
    samples = metric_samples(r.body, "lcx_quota_rejections_total")
    return sum(v for k, v in samples.items() if 'quota="%s"' % quota in k), samples


def _run(stack, session_id, credential=None, body=None):
    headers = bearer(credential) if credential else None
    return stack.post("/code-sessions/%s/run" % session_id, json=body or {}, headers=headers)


# --------------------------------------------------------------------------------------------
# Per key


@isolated(keys=True)
@timeout(60)
def test_key_runs_per_minute(stack):
    """A key with runs_per_minute 3: the 4th run in a minute gets 429 naming runs_per_minute,
    with Retry-After the true wait; on any of its sessions; another key is not held back."""
    k = make_key(stack, "three a minute", quotas={"runs_per_minute": 3})["key"]
    s = new_session(stack, k, "true\n")
    first = time.time()
    for i in range(3):
        # The runs made with the session's token count against its key too.
        cred = k if i == 0 else s["session_token"]
        wait_done(stack, start_run(stack, s["session_id"], cred), cred)
        if i == 0:
            time.sleep(3)  # the true wait is then about 57 s, not the window's 60
    r = _run(stack, s["session_id"], k)
    wait = _quota_429(r, "runs_per_minute", "the 4th run of the key in a minute")
    left = 60 - (time.time() - first)
    expect(left - 2 <= wait <= left + 2, "Retry-After %d, but the key's first run leaves the "
           "minute in %.1f s" % (wait, left))
    other_session = new_session(stack, k, "true\n")
    _quota_429(_run(stack, other_session["session_id"], k), "runs_per_minute",
               "the key's 4th run, on another of its sessions")
    other = make_key(stack, "another")["key"]
    s2 = new_session(stack, other, "true\n")
    expect_status(_run(stack, s2["session_id"], other), 202, "another key's run")
    _quota_429(_run(stack, s["session_id"], s["session_token"]), "runs_per_minute",
               "the key's 4th run, made with the session's token")
    count, samples = _quota_rejections(stack, "runs_per_minute")
    expect(count >= 3, "3 refusals, lcx_quota_rejections_total: %r" % samples)


@isolated(keys=True)
def test_key_quota_changes_apply_at_once(stack):
    """PATCH /admin/keys quotas applies to the next run; null goes back to the default."""
    k = make_key(stack, "changing")
    s = new_session(stack, k["key"], "true\n")
    wait_done(stack, start_run(stack, s["session_id"], k["key"]), k["key"])
    r = stack.patch("/admin/keys/%s" % k["key_id"], json={"quotas": {"runs_per_minute": 1}})
    expect_status(r, 200, "PATCH runs_per_minute 1")
    _quota_429(_run(stack, s["session_id"], k["key"]), "runs_per_minute",
               "a run after lowering runs_per_minute to 1")
    r = stack.patch("/admin/keys/%s" % k["key_id"], json={"quotas": {"runs_per_minute": None}})
    expect_status(r, 200, "PATCH runs_per_minute null")
    expect_status(_run(stack, s["session_id"], k["key"]), 202,
                  "a run with runs_per_minute back to the default (600)")


@isolated(keys=True, runner_slots=1,
          session_limits={"key_runs_per_minute": 3, "key_concurrent_runs": 2})
@timeout(60)
def test_key_quota_defaults_come_from_the_settings(stack):
    """A key without quotas of its own has LCX_KEY_RUNS_PER_MINUTE and
    LCX_KEY_CONCURRENT_RUNS."""
    k = make_key(stack, "defaults")
    expect(k["quotas"]["runs_per_minute"] == 3 and k["quotas"]["concurrent_runs"] == 2,
           "the key's quotas with key_runs_per_minute 3, key_concurrent_runs 2: %r"
           % k["quotas"])
    sessions = [new_session(stack, k["key"], SLEEPER)["session_id"] for _ in range(3)]
    eids = [start_run(stack, sid, k["key"]) for sid in sessions[:2]]
    _quota_429(_run(stack, sessions[2], k["key"]), "concurrent_runs",
               "a 3rd run at once with key_concurrent_runs 2")
    for e in eids:
        expect_status(stack.post("/executions/%s/cancel" % e, headers=bearer(k["key"])), 200,
                      "cancel")
    expect_status(_run(stack, sessions[2], k["key"]), 202, "the 3rd run in the minute")
    stack.post("/executions/%s/cancel" % stack.get("/code-sessions/%s/executions" % sessions[2])
               .body[0]["execution_id"])
    _quota_429(_run(stack, sessions[0], k["key"]), "runs_per_minute",
               "a 4th run in a minute with key_runs_per_minute 3")


@isolated(keys=True, runner_slots=1)
@timeout(60)
def test_key_concurrent_runs_counts_queued_and_running(stack):
    """concurrent_runs 3 with one runner slot: one run RUNNING and two QUEUED fill it; the 4th
    gets 429 naming concurrent_runs; when one ends, the key may run again."""
    k = make_key(stack, "three at once", quotas={"concurrent_runs": 3})["key"]
    sessions = [new_session(stack, k, SLEEPER)["session_id"] for _ in range(4)]
    eids = [start_run(stack, sid, k) for sid in sessions[:3]]
    statuses = [stack.get("/executions/%s" % e, headers=bearer(k)).body["status"] for e in eids]
    expect(statuses.count("QUEUED") >= 1, "with one slot some of the runs queue: %s" % statuses)
    _quota_429(_run(stack, sessions[3], k), "concurrent_runs", "the key's 4th run at once")
    other = make_key(stack, "another")["key"]
    s2 = new_session(stack, other, "true\n")
    r = _run(stack, s2["session_id"], other)
    expect_status(r, 202, "another key's run while the first key is full")
    expect_status(stack.post("/executions/%s/cancel" % r.body["execution_id"],
                             headers=bearer(other)), 200, "cancel it")
    r = stack.post("/executions/%s/cancel" % eids[1], headers=bearer(k))
    expect_status(r, 200, "cancel one of the three")
    r = _run(stack, sessions[3], k)
    expect_status(r, 202, "a run after one of the three ended")
    for e in eids + [r.body["execution_id"]]:
        stack.post("/executions/%s/cancel" % e, headers=bearer(k))
    count, samples = _quota_rejections(stack, "concurrent_runs")
    expect(count >= 1, "a refusal, lcx_quota_rejections_total: %r" % samples)
    # 0: no limit.
    free = make_key(stack, "no limit", quotas={"concurrent_runs": 0})["key"]
    more = [new_session(stack, free, SLEEPER)["session_id"] for _ in range(5)]
    runs = [_run(stack, sid, free) for sid in more]
    expect(all(r.status == 202 for r in runs), "concurrent_runs 0 (no limit): %s" % runs)
    for r in runs:
        stack.post("/executions/%s/cancel" % r.body["execution_id"], headers=bearer(free))


@isolated(keys=True)
@timeout(60)
def test_key_caps_on_time_and_memory(stack):
    """max_time_ms and max_memory_mb cap what the key's runs may ask (400 naming the cap); the
    default limits are lowered to them."""
    c = Checker()
    k = make_key(stack, "capped", quotas={"max_time_ms": 1000, "max_memory_mb": 64})["key"]
    s = new_session(stack, k, "sleep 3\n")
    sid = s["session_id"]
    for limits, cap in (({"time_ms": 1500}, "max_time_ms"), ({"memory_mb": 100}, "max_memory_mb"),
                        ({"time_ms": 2000, "memory_mb": 200}, "max_")):
        r = c.error("run with limits %s" % short(limits), _run(stack, sid, k, {"limits": limits}),
                    400)
        if r is not None:
            c.check(cap in error_text(r), "limits %s: the 400 does not name %s: %r"
                    % (short(limits), cap, r.body))
    eid = c.run("at the caps", start_run, stack, sid, k,
                {"limits": {"time_ms": 1000, "memory_mb": 64}})
    if eid:
        e = wait_done(stack, eid, k)
        c.check(e["status"] == "TIMEOUT", "sleep 3 with time_ms 1000: %s" % describe(e))
    # No limits asked: the defaults (5 s, 256 MiB) are lowered to the caps.
    eid = c.run("no limits", start_run, stack, sid, k)
    if eid:
        e = wait_done(stack, eid, k)
        c.check(e["status"] == "TIMEOUT" and e.get("execution_time_ms", 0) < 2500,
                "sleep 3 with the default time lowered to the 1000 ms cap: %s" % describe(e))
    # Another key is not capped.
    other = make_key(stack, "uncapped")["key"]
    s2 = new_session(stack, other, "true\n")
    c.run("uncapped", start_run, stack, s2["session_id"], other, {"limits": {"time_ms": 5000}})
    c.done()


# --------------------------------------------------------------------------------------------
# Per client address, without keys


@isolated(session_limits={"anon_runs_per_minute": 3})
@timeout(60)
def test_address_runs_per_minute_without_keys(stack):
    """Without keys, each client address has runs_per_minute (anon_runs_per_minute)."""
    first = time.time()
    sessions = [stack.create_session("bash", "true\n")["session_id"] for _ in range(2)]
    for i in range(3):
        stack.wait_execution(stack.start_run(sessions[i % 2]))
    r = stack.post("/code-sessions/%s/run" % sessions[1], json={})
    wait = _quota_429(r, "runs_per_minute", "the address's 4th run in a minute")
    left = 60 - (time.time() - first)
    expect(wait <= left + 2, "Retry-After %d, the first run leaves the minute in %.1f s"
           % (wait, left))
    # Another address (127.0.0.2 is another client address on loopback) is not held back.
    r = request_from("127.0.0.2", stack.http_port, "POST", "/code-sessions",
                     json={"language": "bash", "source_code": "true\n"})
    expect_status(r, 201, "a session from 127.0.0.2")
    r = request_from("127.0.0.2", stack.http_port, "POST",
                     "/code-sessions/%s/run" % r.body["session_id"], json={})
    expect_status(r, 202, "a run from 127.0.0.2 while 127.0.0.1 is over its quota")
    count, samples = _quota_rejections(stack, "runs_per_minute")
    expect(count >= 1, "a refusal, lcx_quota_rejections_total: %r" % samples)


@isolated(session_limits={"anon_concurrent_runs": 2}, runner_slots=1)
@timeout(60)
def test_address_concurrent_runs_without_keys(stack):
    sessions = [stack.create_session("bash", SLEEPER)["session_id"] for _ in range(3)]
    eids = [stack.start_run(sid) for sid in sessions[:2]]
    _quota_429(stack.post("/code-sessions/%s/run" % sessions[2], json={}), "concurrent_runs",
               "the address's 3rd run at once")
    expect_status(stack.post("/executions/%s/cancel" % eids[0]), 200, "cancel one")
    eids.append(stack.start_run(sessions[2]))
    for e in eids:
        stack.post("/executions/%s/cancel" % e)
    count, samples = _quota_rejections(stack, "concurrent_runs")
    expect(count >= 1, "a refusal, lcx_quota_rejections_total: %r" % samples)


# --------------------------------------------------------------------------------------------
# The flood


def _flood(open_session, run, threads=16, retry_s=2.0):
    """threads callers each open a session and, all at once, run it; those refused try again
    for retry_s. Returns (accepted [(thread, execution_id)], refusals [Response])."""
    sessions = [None] * threads
    accepted, refusals, errors = [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def caller(i):
        try:
            sessions[i] = open_session()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append("open %d: %s" % (i, e))
        try:
            barrier.wait(30)
        except threading.BrokenBarrierError:
            return
        if sessions[i] is None:
            return
        deadline = time.monotonic() + retry_s
        while True:
            try:
                r = run(sessions[i])
            except Exception as e:  # noqa: BLE001
                errors.append("run %d: %s" % (i, e))
                return
            with lock:
                if r.status == 202:
                    accepted.append((i, r.body["execution_id"]))
                    return
                refusals.append(r)
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)

    ts = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    expect(not errors, "flood callers failed: %s" % errors[:5])
    return accepted, refusals


def _check_flood(accepted, refusals, quota, what):
    expect(1 <= len(accepted) <= quota, "%s: %d runs accepted at once, the quota is %d"
           % (what, len(accepted), quota))
    bad = [r for r in refusals if r.status != 429 or not any(
        "concurrent_runs" in d for d in (r.body or {}).get("details", []))]
    expect(not bad, "%s: refusals other than 429 concurrent_runs: %s" % (what, bad[:3]))
    expect(refusals, "%s: nothing was refused" % what)


@isolated(keys=True, runner_slots=6)
@timeout(90)
def test_flood_of_one_key_is_bounded_and_others_still_run(stack):
    """16 callers with one key (concurrent_runs 4) opening sessions and running programs that
    sleep: at most 4 accepted at once; meanwhile another key's run completes promptly."""
    flood = make_key(stack, "flood", quotas={"concurrent_runs": 4})["key"]
    calm = make_key(stack, "calm")["key"]
    accepted, refusals = _flood(lambda: new_session(stack, flood, SLEEPER)["session_id"],
                                lambda sid: _run(stack, sid, flood))
    _check_flood(accepted, refusals, 4, "one key")
    t0 = time.monotonic()
    s = new_session(stack, calm, "echo calm\n")
    e = wait_done(stack, start_run(stack, s["session_id"], calm), calm, total=15)
    took = time.monotonic() - t0
    expect(e["status"] == "COMPLETED" and e["stdout"] == "calm\n", describe(e))
    expect(took < 10, "another key's run took %.1f s during the flood" % took)
    active = [stack.get("/executions/%s" % eid, headers=bearer(flood)).body["status"]
              for _, eid in accepted]
    expect(any(st in ("QUEUED", "RUNNING") for st in active),
           "the flood's runs had all ended before the other key's run (%s): the test shows "
           "nothing" % active)
    for _, eid in accepted:
        stack.post("/executions/%s/cancel" % eid, headers=bearer(flood))


@isolated(session_limits={"anon_concurrent_runs": 4}, runner_slots=6)
@timeout(90)
def test_flood_of_one_address_is_bounded_without_keys(stack):
    """Without keys: 16 callers on one address (every thread connects from 127.0.0.1) get at
    most anon_concurrent_runs (4) accepted at once; a run from another address completes."""
    accepted, refusals = _flood(
        lambda: stack.create_session("bash", SLEEPER)["session_id"],
        lambda sid: stack.post("/code-sessions/%s/run" % sid, json={}))
    _check_flood(accepted, refusals, 4, "one address")
    t0 = time.monotonic()
    r = request_from("127.0.0.2", stack.http_port, "POST", "/code-sessions",
                     json={"language": "bash", "source_code": "echo calm\n"})
    expect_status(r, 201, "a session from 127.0.0.2")
    r = request_from("127.0.0.2", stack.http_port, "POST",
                     "/code-sessions/%s/run" % r.body["session_id"], json={})
    expect_status(r, 202, "a run from 127.0.0.2 during the flood")
    e = stack.wait_execution(r.body["execution_id"], total=15)
    took = time.monotonic() - t0
    expect(e["status"] == "COMPLETED" and e["stdout"] == "calm\n", describe(e))
    expect(took < 10, "another address's run took %.1f s during the flood" % took)
    for _, eid in accepted:
        stack.post("/executions/%s/cancel" % eid)
