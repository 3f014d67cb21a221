"""Issue #4's guarantees: one winner among concurrent runs, strict JSON, hardened HTTP, live
output before the program ends, resumable event streams, and the lifecycle log."""
import http.client
import json
import socket
import threading
import time

from harness import expect, expect_error, isolated, timeout, until


def _events(port, path, headers=None, timeout_s=30.0):
    """Yields SSE events (dicts with id, event, data) as they arrive."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=dict({"Accept": "text/event-stream"}, **(headers or {})))
        resp = conn.getresponse()
        expect(resp.status == 200, "GET %s: HTTP %d" % (path, resp.status))
        cur = {}
        while True:
            line = resp.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if "data" in cur:
                    yield cur
                cur = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(":")
                cur[key] = value[1:] if value.startswith(" ") else value
    finally:
        conn.close()


def test_concurrent_runs_one_wins(stack):
    """Two runs at the same moment on one session: exactly one 202 and one 409."""
    s = stack.create_session("python", "import time\ntime.sleep(0.5)\n")
    path = "/code-sessions/%s/run" % s["session_id"]
    results, barrier = [], threading.Barrier(2)

    def run():
        barrier.wait()
        results.append(stack.post(path, json={}))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in results)
    expect(statuses == [202, 409], "two concurrent runs gave %s" % statuses)
    winner = next(r for r in results if r.status == 202).body["execution_id"]
    loser = next(r for r in results if r.status == 409)
    expect_error(loser, 409, "the losing run")
    expect(loser.body.get("execution_id") == winner,
           "the 409 names %r, not the running %s" % (loser.body.get("execution_id"), winner))
    stack.wait_execution(winner)


def test_strict_json(stack):
    """Invalid UTF-8, deep nesting, duplicate keys and huge numbers are all 400."""
    headers = {"Content-Type": "application/json"}
    bodies = {
        "invalid UTF-8": b'{"source_code": "\xff\xfe"}',
        "deep nesting": b'{"source_code": ' + b"[" * 100000 + b"]" * 100000 + b"}",
        "duplicate keys": b'{"language": "python", "language": "bash"}',
        "huge number": b'{"limits": {"time_ms": 1' + b"0" * 400 + b"}}",
        "NUL in a string": b'{"source_code": "a\\u0000b"}',
    }
    s = stack.create_session("python")
    for what, body in bodies.items():
        for path in ("/code-sessions", "/code-sessions/%s/run" % s["session_id"]):
            r = stack.request("POST", path, data=body, headers=headers)
            expect_error(r, 400, "%s to %s" % (what, path))
    expect(stack.get("/health").status == 200, "the gateway is not healthy after bad JSON")


def test_oversized_headers_and_url(stack):
    """A header block or URL beyond the limit is refused; the gateway stays up."""
    big = "x" * 100000
    r = stack.raw("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % big)
    expect(r.status in (400, 431), "100 kB header: HTTP %s" % r.status)
    r = stack.raw("GET /executions/%s HTTP/1.1\r\nHost: x\r\n\r\n" % big)
    expect(r.status in (400, 414, 431), "100 kB URL: HTTP %s" % r.status)
    expect(stack.get("/health").status == 200, "the gateway is not healthy after big headers")


@isolated(extra_flags={"gateway": ["--http-timeout-s", "2"]})
@timeout(60)
def test_slow_client_is_cut_off(stack):
    """A client that sends half a request and stalls delays nobody, and is disconnected after
    the idle timeout (2 s here)."""
    slow = socket.create_connection(("127.0.0.1", stack.http_port), timeout=10)
    try:
        slow.sendall(b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Le")
        expect(stack.get("/health").status == 200, "a stalled client blocks other requests")
        stack.create_session("python")
        try:
            while slow.recv(4096):  # perhaps an answer first, then the close
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        expect(closed, "the stalled connection was still open after 10 s")
    finally:
        slow.close()


@timeout(60)
def test_sse_lines_arrive_while_running(stack):
    """The first line is on the stream while the program still runs."""
    src = "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second', flush=True)\n"
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    seen_live = None
    for event in _events(stack.http_port, "/executions/%s/events" % eid):
        if event.get("event") == "stdout" and "first" in json.loads(event["data"])["text"]:
            seen_live = stack.get("/executions/%s" % eid).body["status"]
            break
    expect(seen_live == "RUNNING",
           "when 'first' arrived the execution was %r, not RUNNING" % seen_live)
    done = stack.wait_execution(eid)
    expect(done["stdout"] == "first\nsecond\n", "stdout %r" % done["stdout"])


def test_sse_resume_without_duplicates(stack):
    """Last-Event-ID resumes after that event: the two reads together are the whole stream,
    each event once."""
    src = "for i in range(5):\n    print(i, flush=True)\n"
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    path = "/executions/%s/events" % eid
    whole = list(_events(stack.http_port, path))
    ids = [int(e["id"]) for e in whole]
    expect(ids == list(range(1, len(ids) + 1)), "event ids are not 1..n: %s" % ids)
    expect(whole[-1]["event"] == "result", "the stream does not end with result")
    rest = list(_events(stack.http_port, path, headers={"Last-Event-ID": "3"}))
    expect([int(e["id"]) for e in rest] == ids[3:],
           "resumed after 3: %s, expected %s" % ([e["id"] for e in rest], ids[3:]))


def test_sse_short_run_shows_its_output(stack):
    """A run that ends before the runner relays its output live (it sends none then: the final
    UPDATE carries it) still shows stdout and stderr on the stream, before the result."""
    s = stack.create_session("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    events = list(_events(stack.http_port, "/executions/%s/events" % eid))
    text = {k: "".join(json.loads(e["data"])["text"] for e in events if e["event"] == k)
            for k in ("stdout", "stderr")}
    expect(text == {"stdout": "out\n", "stderr": "err\n"}, "streamed output %r" % text)
    names = [e["event"] for e in events]
    expect(names[-2:] == ["status", "result"], "the output comes before the final status: %s"
           % names)
    # It ends before the runner reports RUNNING (running_report_ms): the stream still has it.
    states = [json.loads(e["data"])["status"] for e in events if e["event"] == "status"]
    expect(states == ["QUEUED", "RUNNING", "COMPLETED"], "status events %s" % states)
    done = stack.get("/executions/%s" % eid).body
    expect(done["started_at"] is not None and done["started_at"] <= done["finished_at"],
           "started_at %r, finished_at %r" % (done["started_at"], done["finished_at"]))


@timeout(60)
def test_sse_never_splits_a_character(stack):
    """A character whose bytes the program writes apart (the live output is relayed between
    them) still arrives whole on the stream, with no U+FFFD."""
    src = ("import sys, time\n"
           "for part in (b'price: \\xe2', b'\\x82', b'\\xac\\n'):\n"
           "    sys.stdout.buffer.write(part)\n"
           "    sys.stdout.buffer.flush()\n"
           "    time.sleep(0.15)\n")
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    events = list(_events(stack.http_port, "/executions/%s/events" % eid))
    chunks = [json.loads(e["data"])["text"] for e in events if e["event"] == "stdout"]
    expect("".join(chunks) == "price: \u20ac\n", "streamed %r" % chunks)
    expect(stack.wait_execution(eid)["stdout"] == "price: \u20ac\n", "stdout differs")


def test_sse_unknown_execution(stack):
    r = stack.get("/executions/00000000-0000-4000-8000-000000000000/events")
    expect_error(r, 404, "events of an unknown execution")


def test_lifecycle_log_tells_the_story(stack):
    """One grep of the execution id across the services' JSON logs shows every step."""
    s = stack.create_session("python", "print('story')")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    time.sleep(0.2)  # let the last lines reach the files
    story = []
    for service in ("session", "dispatcher", "runner"):
        with open(stack.log_path(service), encoding="utf-8") as f:
            for line in f:
                if eid not in line:
                    continue
                entry = json.loads(line)
                expect(entry.get("execution_id") == eid, "a log line names %s oddly" % eid)
                for key in ("ts", "level", "service", "event"):
                    expect(key in entry, "log line without %r: %s" % (key, line))
                story.append((entry["service"], entry["event"], entry.get("status")))
    steps = ["execution queued", "execution dispatched", "execution started",
             "execution finished"]
    events = [event for _, event, _ in story]
    for step in steps:
        expect(step in events, "the story of %s lacks %r: %s" % (eid, step, story))
    expect(("session", "execution state", "COMPLETED") in story,
           "the store did not log the final state: %s" % story)


@isolated(runner_slots=1, extra_flags={"dispatcher": ["--queue-max", "1"]})
@timeout(60)
def test_full_queue_is_503(stack):
    """One slot busy and one job queued: the next run gets 503 with Retry-After, and nothing
    of it is left behind (a later run of that session works)."""
    sleeper = "import time\ntime.sleep(2)\n"
    first = stack.start_run(stack.create_session("python", sleeper)["session_id"])
    second = stack.start_run(stack.create_session("python", sleeper)["session_id"])
    third = stack.create_session("python", "print(3)")["session_id"]
    r = stack.post("/code-sessions/%s/run" % third, json={})
    expect_error(r, 503, "a run when the queue is full")
    expect(r.headers.get("retry-after", "").isdigit(), "503 without Retry-After: %r" % r.headers)
    for eid in (first, second):
        expect(stack.wait_execution(eid)["status"] == "COMPLETED", "a queued run did not finish")
    done = stack.wait_execution(stack.start_run(third))
    expect(done["stdout"] == "3\n", "the refused session runs later: %r" % done["stdout"])


@isolated()
def test_language_without_runner_is_503(stack):
    """A language no connected runner serves gets 503 with Retry-After, not a job stuck in a
    queue."""
    import os
    conf = os.path.join(stack.tmp, "python-only.conf")
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "services", "common",
                           "languages.conf"), encoding="utf-8") as f:
        text = f.read()
    with open(conf, "w", encoding="utf-8") as f:
        f.write(text[:text.index("[javascript]")])  # python comes first in languages.conf
    stack.stop("runner")
    stack.extra_flags["runner"] = ["--languages", conf]
    stack.start_service("runner")
    stack.wait_ready()
    until(lambda: stack.get("/health").body["components"]["runners"].get("languages") ==
          ["python"], 10, "the store learns the new runner's languages")
    s = stack.create_session("bash", "echo hi")
    r = stack.post("/code-sessions/%s/run" % s["session_id"], json={})
    expect_error(r, 503, "a run of a language no runner serves")
    expect(r.headers.get("retry-after", "").isdigit(), "503 without Retry-After")
    langs = {l["id"]: l["available"] for l in stack.get("/languages").body}
    expect(langs.get("python") is True and langs.get("bash") is False,
           "/languages available flags: %s" % langs)


@isolated()
@timeout(60)
def test_sse_resume_after_store_restart(stack):
    """The store keeps live logs in memory only: after its restart a client resuming with
    Last-Event-ID still gets the final status and result, numbered after what it saw."""
    s = stack.create_session("python", "print('kept')")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    seen = list(_events(stack.http_port, "/executions/%s/events" % eid))
    last = int(seen[-1]["id"])
    stack.restart("session", kill=True)
    stack.wait_ready()
    rest = list(_events(stack.http_port, "/executions/%s/events" % eid,
                        headers={"Last-Event-ID": str(last)}))
    expect([e["event"] for e in rest] == ["status", "result"],
           "after the restart: %s" % [(e["id"], e["event"]) for e in rest])
    expect(all(int(e["id"]) > last for e in rest), "ids do not continue after %d: %s"
           % (last, [e["id"] for e in rest]))
    expect(json.loads(rest[-1]["data"])["stdout"] == "kept\n", "the result lost its output")


@isolated()
@timeout(90)
def test_wait_in_flight_when_store_dies_fails_fast(stack):
    """A ?wait= held by the store when it is killed gets 503 with Retry-After as soon as the
    gateway sees the connection drop, not after its own 30 s deadline."""
    s = stack.create_session("python", "import time\ntime.sleep(20)\n")
    eid = stack.start_run(s["session_id"])
    answer = {}

    def wait():
        t = time.monotonic()
        answer["r"] = stack.get("/executions/%s?wait=30000" % eid, timeout=60)
        answer["seconds"] = time.monotonic() - t

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1)  # the wait is parked in the store
    stack.kill9("session")
    waiter.join(60)
    r = answer.get("r")
    expect(r is not None, "the waiting request never came back")
    expect_error(r, 503, "a wait whose store died")
    expect(r.headers.get("retry-after", "").isdigit(), "503 without Retry-After")
    expect(answer["seconds"] < 20, "the wait was answered only after %.1f s: it waited out its "
           "deadline instead of failing when the store went away" % answer["seconds"])
    stack.start_service("session")
