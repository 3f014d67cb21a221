"""Contract details browsers and operators rely on: event streams that end for good, cancel that
keeps the output, 429s that name their guard with the true wait, unknown query parameters
refused, and lists of executions that page."""

import http.client
import time
import uuid

from harness import describe, expect, expect_error, expect_status, isolated, timeout, until


def _stream(port, path, headers=None, timeout_s=30.0):
    """The whole event stream: (HTTP status, [event dicts with id, event, data])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=dict({"Accept": "text/event-stream"}, **(headers or {})))
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
    finally:
        conn.close()
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                key, _, value = line.partition(":")
                fields[key] = value[1:] if value.startswith(" ") else value
        if "data" in fields:
            events.append(fields)
    return resp.status, events


def test_sse_after_the_result_is_204(stack):
    """The stream ends after `result`; a reconnect at or past the result's id gets 204 (an
    EventSource stops), one just before it gets the result again with the same id."""
    s = stack.create_session("python", "print('a')\nprint('b')\n")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    path = "/executions/%s/events" % eid
    status, events = _stream(stack.http_port, path)
    expect(status == 200 and events and events[-1]["event"] == "result",
           "first read: %s %s" % (status, events))
    result_id = int(events[-1]["id"])
    expect(result_id == int(events[-2]["id"]) + 1, "result id %d does not follow %s"
           % (result_id, events[-2]["id"]))
    for seen in (result_id, result_id + 5, 2 ** 62):
        r = stack.get(path, headers={"Last-Event-ID": str(seen)})
        expect(r.status == 204 and not r.raw, "Last-Event-ID %d: %r" % (seen, r))
    status, again = _stream(stack.http_port, path, {"Last-Event-ID": str(result_id - 1)})
    expect(status == 200 and [(e["id"], e["event"]) for e in again] == [(str(result_id), "result")],
           "resumed just before the result: %s" % [(e["id"], e["event"]) for e in again])


def test_sse_last_event_id_out_of_range_is_400(stack):
    """Event ids never overflow: a Last-Event-ID that is not one (too large, negative, not a
    number) is refused, never answered with a wrapped id."""
    s = stack.create_session("python", "print(1)\n")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    for bad in ("9223372036854775807", "99999999999999999999", "-1", "abc"):
        r = stack.get("/executions/%s/events" % eid, headers={"Last-Event-ID": bad})
        expect_error(r, 400, "Last-Event-ID %s" % bad)
        expect("Last-Event-ID" in r.body["details"][0], "detail: %r" % r.body)


@timeout(60)
def test_cancel_keeps_the_output_the_stream_showed(stack):
    src = "import time\nfor i in range(4):\n    print(i, flush=True)\ntime.sleep(30)\n"
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=30)
    shown = ""
    try:
        conn.request("GET", "/executions/%s/events" % eid)
        resp = conn.getresponse()
        while shown.count("\n") < 4:
            line = resp.readline().decode("utf-8")
            expect(line, "the stream ended before four lines")
            if line.startswith("data: {\"text\""):
                shown += line[len("data: {\"text\":\""):].rsplit("\"}", 1)[0].replace("\\n", "\n")
    finally:
        conn.close()
    r = stack.post("/executions/%s/cancel" % eid)
    expect_status(r, 200, "cancel")
    expect(r.body["status"] == "CANCELLED", describe(r.body))
    expect(r.body["stdout"] == "0\n1\n2\n3\n", "cancel reply stdout %r (the stream showed %r)"
           % (r.body["stdout"], shown))
    e = stack.get("/executions/%s" % eid).body
    expect(e["stdout"] == "0\n1\n2\n3\n", "stored stdout after cancel: %r" % e["stdout"])


@timeout(60)
def test_session_close_keeps_the_output_too(stack):
    src = "import time\nprint('before', flush=True)\ntime.sleep(30)\n"
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    until(lambda: "before" in _shown(stack, eid), 20, "the first line in the live log")
    expect_status(stack.delete("/code-sessions/%s" % s["session_id"]), 200, "close")
    e = stack.get("/executions/%s" % eid).body
    expect(e["status"] == "CANCELLED" and e["stdout"] == "before\n", describe(e))


def _shown(stack, eid):
    """What the live log holds of stdout so far (one poll of the stream, then hang up)."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=5)
    try:
        conn.request("GET", "/executions/%s/events" % eid)
        resp = conn.getresponse()
        text = ""
        deadline = time.time() + 1.0
        while time.time() < deadline:
            line = resp.readline().decode("utf-8")
            if not line or line.startswith(": keep-alive"):
                break
            text += line
            if "before" in text:
                break
        return text
    except OSError:
        return ""
    finally:
        conn.close()


@isolated(session_limits={"runs_per_minute": 3, "run_cooldown_ms": 0})
def test_429_names_the_guard_and_the_true_wait(stack):
    s = stack.create_session("bash", "true\n")
    first = time.time()
    for i in range(3):
        stack.wait_execution(stack.start_run(s["session_id"]))
        if i == 0:
            time.sleep(5)  # the true wait is then about 55 s, not the window's 60
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 429, "4th run in a minute")
    expect(any(d.startswith("runs_per_minute") for d in r.body["details"]),
           "the 429 does not name its guard: %r" % r.body)
    wait = int(r.headers.get("retry-after", "-1"))
    left = 60 - (time.time() - first)
    expect(left - 2 <= wait <= left + 2 and wait <= 60,
           "Retry-After %d, but the first run leaves the minute in %.1f s" % (wait, left))


@isolated(session_limits={"run_cooldown_ms": 4000})
def test_429_cooldown_is_named(stack):
    s = stack.create_session("bash", "true\n")
    stack.wait_execution(stack.start_run(s["session_id"]))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 429, "a run inside the cooldown")
    expect(any(d.startswith("cooldown") for d in r.body["details"]), "detail: %r" % r.body)
    expect(1 <= int(r.headers.get("retry-after", "0")) <= 4, "Retry-After %r" % r.headers)


@isolated(session_limits={"runs_per_session": 1})
def test_429_runs_per_session_has_no_false_wait(stack):
    """No wait lifts the per-session total: the 429 says so and sends no Retry-After."""
    s = stack.create_session("bash", "true\n")
    stack.wait_execution(stack.start_run(s["session_id"]))
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 429, "the 2nd run with runs_per_session 1")
    expect(any(d.startswith("runs_per_session") for d in r.body["details"]), "%r" % r.body)
    expect("retry-after" not in r.headers, "a Retry-After for a limit no wait lifts: %r"
           % r.headers)


def test_unknown_query_parameters_are_400(stack):
    s = stack.create_session("bash", "true\n")
    sid = s["session_id"]
    eid = stack.start_run(sid)
    stack.wait_execution(eid)
    for path, name in (("/executions/%s?wiat=1000" % eid, "wiat"),
                       ("/code-sessions/%s?limit=1" % sid, "limit"),
                       ("/code-sessions/%s/executions?limt=1" % sid, "limt"),
                       ("/health?verbose=1", "verbose")):
        r = stack.get(path)
        expect_error(r, 400, path)
        expect(name in r.body["error"], "%s: the error does not name %s: %r" % (path, name, r.body))
    expect_status(stack.get("/executions/%s?wait=10" % eid), 200, "a known parameter")


@isolated(session_limits={"runs_per_minute": 1000})
def test_executions_page_with_limit_and_before(stack):
    s = stack.create_session("bash", "true\n")
    sid = s["session_id"]
    ids = [stack.wait_execution(stack.start_run(sid))["execution_id"] for _ in range(5)]
    newest_first = ids[::-1]
    for base in ("/code-sessions/%s/executions" % sid, "/executions/session/%s" % sid):
        seen, path = [], base + "?limit=2"
        while path:
            r = stack.get(path)
            expect_status(r, 200, path)
            seen += [e["execution_id"] for e in r.body]
            link = r.headers.get("link")
            expect(len(r.body) <= 2, "%s: %d items" % (path, len(r.body)))
            path = link[1:link.index(">")] if link else None
            expect(len(seen) <= 5, "paging does not end: %s" % seen)
        expect(seen == newest_first, "%s pages: %s, expected %s" % (base, seen, newest_first))
    r = stack.get("/code-sessions/%s/executions" % sid)
    expect(len(r.body) == 5 and "link" not in r.headers, "the default page: %r" % r)
    r = stack.get("/code-sessions/%s/executions?before=%s" % (sid, ids[2]))
    expect([e["execution_id"] for e in r.body] == ids[:2][::-1], "before: %r" % r.body)
    for bad in ("limit=0", "limit=501", "limit=x", "before=nope",
                "before=%s" % uuid.uuid4()):
        expect_error(stack.get("/code-sessions/%s/executions?%s" % (sid, bad)), 400, bad)
    other = stack.create_session("bash", "true\n")
    r = stack.get("/code-sessions/%s/executions?before=%s" % (other["session_id"], ids[0]))
    expect_error(r, 400, "before names another session's execution")
    r = stack.request("HEAD", "/code-sessions/%s/executions?limit=1" % sid)
    expect(r.status == 200 and "link" in r.headers, "HEAD of a page: %r %s" % (r, r.headers))


def test_link_header_is_exposed_to_browsers(stack):
    r = stack.get("/health/live", headers={"Origin": "http://example.test"})
    exposed = [h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")]
    for name in ("location", "retry-after", "link"):
        expect(name in exposed, "%s not exposed: %r" % (name, exposed))
