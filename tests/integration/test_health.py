"""Operations: /health, /health/live, /health/ready, /metrics, /openapi.json, /docs, CORS,
and the Server-Sent Events stream of an execution."""

import http.client
import json
import socket
import time

from harness import (Checker, check_execution_shape, expect, expect_status, runner_count, short,
                     until)


def _component(comps, word):
    for k, v in comps.items():
        if word in k.lower().replace("-", "_"):
            return k, v
    return None, None


def test_health(stack):
    r = stack.get("/health")
    expect_status(r, 200, "GET /health")
    b = r.body
    expect(isinstance(b, dict) and b.get("status") == "ok" and isinstance(b.get("components"),
                                                                          dict),
           "GET /health body: %s" % short(b))
    comps = b["components"]
    ck = Checker()
    for word in ("session", "dispatcher", "runner"):
        k, _ = _component(comps, word)
        ck.check(k is not None, "/health components do not name the %s: %s" % (word, short(comps)))
    k, runners = _component(comps, "runner")
    ck.check(runner_count(b) == 1, "/health runner count %r, expected 1 (one lcx-runner): %s"
             % (runner_count(b), short(runners)))
    # Free slots: the runner has 2 slots and is idle (inferred: a key containing "free").
    text = json.dumps(runners)
    ck.check("free" in text, "/health runners do not report free slots: %s" % short(runners))
    if isinstance(runners, dict):
        # Runners report their slots with heartbeats: allow a few intervals for the slots of
        # the previous tests' runs to be reported free again.
        deadline = time.monotonic() + 4
        while True:
            free = [v for kk, v in runners.items() if "free" in kk and isinstance(v, int)]
            if free == [2] or time.monotonic() > deadline:
                break
            time.sleep(0.25)
            _, runners = _component(stack.get("/health").body["components"], "runner")
        ck.check(free == [2], "/health free slots %s 4 s after the last run, expected 2 "
                 "(idle runner, 2 slots): %s" % (free, short(runners)))
    for path in ("/health/live", "/health/ready"):
        r = stack.get(path)
        ck.check(r.status == 200, "GET %s: %r" % (path, r))
    ck.done()


def test_health_counts_busy_slots(stack):
    s1 = stack.create_session("bash", "sleep 2\n")
    e1 = stack.start_run(s1["session_id"])
    until(lambda: stack.get("/executions/%s" % e1).body.get("status") == "RUNNING", 10,
          "the run becomes RUNNING")
    time.sleep(1.2)  # a heartbeat interval for the news to reach /health
    seen = stack.get("/health").body
    stack.wait_execution(e1)
    _, runners = _component(seen["components"], "runner")
    if isinstance(runners, dict):
        free = [v for kk, v in runners.items() if "free" in kk and isinstance(v, int)]
        expect(free == [1], "/health free slots while one job runs: %s (expected 1)"
               % short(runners))


def test_metrics(stack):
    stack.get("/languages")
    r = stack.get("/metrics")
    expect_status(r, 200, "GET /metrics")
    ctype = r.headers.get("content-type", "")
    expect(ctype.startswith("text/plain"), "/metrics Content-Type %r" % ctype)
    text = r.raw.decode("utf-8", "replace")
    expect("# TYPE" in text and "# HELP" in text, "/metrics is not Prometheus text: %r"
           % text[:300])
    expect("_bucket{" in text, "/metrics has no histogram")
    for word in ("queue", "runner", "execution"):
        expect(word in text, "/metrics mentions no %s metric" % word)
    _check_metric_names(text)


# Each metric /metrics must have, with its type (names follow Prometheus: base units, _total).
EXPECTED_METRICS = {
    "lcx_http_requests_total": "counter",
    "lcx_http_request_duration_seconds": "histogram",
    "lcx_execution_duration_seconds": "histogram",
    "lcx_sessions": "gauge",
    "lcx_executions": "gauge",
    "lcx_queue_depth": "gauge",
    "lcx_runners": "gauge",
    "lcx_runner_slots": "gauge",
    "lcx_runner_free_slots": "gauge",
    "lcx_dispatcher_up": "gauge",
    "lcx_session_store_up": "gauge",
}


def _check_metric_names(text):
    import re
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    for name, kind in EXPECTED_METRICS.items():
        expect(types.get(name) == kind, "/metrics: %s is %r, expected a %s"
               % (name, types.get(name), kind))
    for name, kind in types.items():
        expect(re.match(r"^lcx_[a-z0-9_]+$", name), "/metrics: odd metric name %r" % name)
        expect(not re.search(r"_(ms|milliseconds|kb|mb|kib|mib)(_|$)", name),
               "/metrics: %s is not in a base unit (seconds, bytes)" % name)
        expect((kind == "counter") == name.endswith("_total"),
               "/metrics: %s is a %s; only counters end in _total" % (name, kind))
    suffixes = ("_bucket", "_sum", "_count")
    for sample in re.findall(r"^([a-z_][a-z0-9_]*)[{ ]", text, re.M):
        family = sample
        if family not in types:
            family = next((sample[:-len(x)] for x in suffixes if sample.endswith(x)), sample)
        expect(family in types, "/metrics: sample %s has no # TYPE line" % sample)
    # The run-time histogram's buckets are seconds: 30 s is its last finite bound.
    expect('lcx_execution_duration_seconds_bucket{le="30"}' in text,
           "/metrics: lcx_execution_duration_seconds has no le=\"30\" bucket (seconds)")
    m = re.search(r"^lcx_execution_duration_seconds_sum (\S+)$", text, re.M)
    expect(m and float(m.group(1)) >= 0, "/metrics: no lcx_execution_duration_seconds_sum")


def test_openapi_and_docs(stack):
    """/openapi.json is an OpenAPI 3 document naming every route of the contract, with every
    $ref resolvable; /docs is an HTML page that works offline (no other host referenced)."""
    import re

    r = stack.get("/openapi.json")
    expect_status(r, 200, "GET /openapi.json")
    ctype = r.headers.get("content-type", "")
    expect(ctype.split(";")[0].strip() == "application/json", "/openapi.json Content-Type %r"
           % ctype)
    expect(r.json_ok and isinstance(r.body, dict), "/openapi.json does not parse as a JSON "
           "object: %r" % r.raw[:200])
    doc = r.body
    expect(str(doc.get("openapi", "")).startswith("3."), "/openapi.json is not OpenAPI 3: "
           "openapi is %r" % doc.get("openapi"))
    ck = Checker()
    paths = doc.get("paths", {})
    routes = [("POST", "/code-sessions"), ("GET", "/code-sessions/{id}"),
              ("PATCH", "/code-sessions/{id}"), ("DELETE", "/code-sessions/{id}"),
              ("GET", "/code-sessions/{id}/executions"), ("GET", "/executions/session/{id}"),
              ("POST", "/code-sessions/{id}/run"), ("GET", "/executions/{id}"),
              ("GET", "/executions/{id}/events"), ("POST", "/executions/{id}/cancel"),
              ("GET", "/languages"), ("GET", "/health"), ("GET", "/health/live"),
              ("GET", "/health/ready"), ("GET", "/metrics"), ("GET", "/openapi.json"),
              ("GET", "/docs")]
    for method, path in routes:
        # Path parameter names may differ ({id}, {session_id}): compare the shape.
        shape = re.sub(r"\{[^}]*\}", "{}", path)
        found = [k for k in paths if re.sub(r"\{[^}]*\}", "{}", k) == shape]
        ck.check(found and isinstance(paths[found[0]], dict)
                 and method.lower() in paths[found[0]],
                 "/openapi.json lacks %s %s (has %s)" % (method, path, sorted(paths)))

    def resolves(ref):
        node = doc
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return False
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    bad, todo = [], [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if "$ref" in node and not resolves(node["$ref"]):
                bad.append(node["$ref"])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    ck.check(not bad, "/openapi.json has $refs that do not resolve: %s" % sorted(set(bad)))

    r = stack.get("/docs")
    ck.check(r.status == 200, "GET /docs: %r" % r)
    ck.check("text/html" in r.headers.get("content-type", ""), "/docs is not HTML: %r"
             % r.headers.get("content-type"))
    page = r.raw.decode("utf-8", "replace")
    ck.check("<html" in page.lower() and "openapi.json" in page,
             "/docs is not a page that loads /openapi.json: %r" % page[:200])
    # Offline: nothing fetched from another host (absolute or protocol-relative URLs).
    own = ("127.0.0.1:%d" % stack.http_port, "localhost:%d" % stack.http_port)
    hosts = re.findall(r"(?i)https?://([^/\s\"'<>)]+)", page)
    hosts += re.findall(r"(?i)(?:src|href|action)\s*=\s*[\"']?//([^/\s\"'<>]+)", page)
    hosts += re.findall(r"(?i)url\(\s*[\"']?//([^/\s\"'<>)]+)", page)
    foreign = sorted(set(h for h in hosts if h.lower() not in own))
    ck.check(not foreign, "/docs refers to other hosts (it must work offline): %s" % foreign)
    ck.done()


def test_cors(stack):
    r = stack.request("OPTIONS", "/code-sessions", headers={
        "Origin": "http://example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    expect(r.status in (200, 204), "OPTIONS preflight: %r" % r)
    expect(r.headers.get("access-control-allow-origin") in ("*", "http://example.com"),
           "preflight Access-Control-Allow-Origin %r" % r.headers.get("access-control-allow-origin"))
    methods = r.headers.get("access-control-allow-methods", "")
    expect("POST" in methods, "preflight Access-Control-Allow-Methods %r" % methods)
    expect("content-type" in r.headers.get("access-control-allow-headers", "").lower(),
           "preflight Access-Control-Allow-Headers %r"
           % r.headers.get("access-control-allow-headers"))
    r = stack.get("/languages", headers={"Origin": "http://example.com"})
    expect(r.headers.get("access-control-allow-origin") in ("*", "http://example.com"),
           "GET with Origin: Access-Control-Allow-Origin %r"
           % r.headers.get("access-control-allow-origin"))


def _read_sse(port, path, timeout=30.0, headers=None):
    """Reads an SSE stream until the server ends it. Returns (status, content-type, events);
    events are dicts with id, event, data."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict({"Accept": "text/event-stream"}, **(headers or {})))
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, resp.getheader("content-type"), resp.read()
        events, cur = [], {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = resp.readline()  # decoded: no chunked-encoding lines
            except socket.timeout:
                break
            if not line:
                break
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if cur:
                    events.append(cur)
                cur = {}
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "data":
                cur["data"] = cur["data"] + "\n" + v if "data" in cur else v
            else:
                cur[k] = v
        if cur:
            events.append(cur)
        return resp.status, resp.getheader("content-type"), events
    finally:
        conn.close()


def test_sse_events(stack):
    """The stream: status events, stdout chunks as written, a final result with the whole
    execution, then the end of the stream. (The encoding of chunk data is not in the
    contract: inferred to be either the raw text or a JSON object/string holding it.)"""
    src = "import time, sys\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.3)\n"
    s = stack.create_session("python", src)
    eid = stack.start_run(s["session_id"])
    status, ctype, events = _read_sse(stack.http_port, "/executions/%s/events" % eid)
    expect(status == 200, "GET events: HTTP %s %r" % (status, events))
    expect("text/event-stream" in (ctype or ""), "events Content-Type %r" % ctype)
    names = [e.get("event", "message") for e in events]
    expect("status" in names, "no status event: %s" % names)
    expect("stdout" in names, "no stdout event: %s" % names)
    expect(names and names[-1] == "result", "the last event is not result: %s" % names)
    result = json.loads(events[-1]["data"])
    check_execution_shape(result, "result event")
    expect(result["status"] == "COMPLETED" and result["stdout"] == "line 0\nline 1\nline 2\n",
           "result event: %s" % short(result))
    # The stdout chunks add up to stdout.
    text, raw = "", False
    for e in events:
        if e.get("event") == "stdout":
            d = e.get("data", "")
            try:
                j = json.loads(d)
                if isinstance(j, str):
                    d = j
                elif isinstance(j, dict):
                    d = j.get("data", j.get("chunk", j.get("text", "")))
                else:
                    raise ValueError("not a chunk")
            except ValueError:
                raw = True  # raw text: line breaks are ambiguous, compare without them
                d += "\n"
            text += d
    same = (text.split() == result["stdout"].split()) if raw else (text == result["stdout"])
    expect(same, "stdout chunks %r do not add up to stdout %r" % (text, result["stdout"]))
    # Every event has an id (for Last-Event-ID); ids are distinct.
    ids = [e.get("id") for e in events]
    expect(all(ids) and len(set(ids)) == len(ids), "event ids %s" % ids)
    # Resuming after the second event replays only what came after it.
    if len(events) > 2:
        status, _, again = _read_sse(stack.http_port, "/executions/%s/events" % eid,
                                     headers={"Last-Event-ID": events[1]["id"]})
        expect(status == 200, "resume: HTTP %s" % status)
        expect([e.get("id") for e in again] == ids[2:],
               "resume after %s gave ids %s, expected %s"
               % (events[1]["id"], [e.get("id") for e in again], ids[2:]))
    # A finished execution's stream: the result at once, then the end.
    status, _, late = _read_sse(stack.http_port, "/executions/%s/events" % eid, timeout=10)
    expect(status == 200 and late and late[-1].get("event") == "result",
           "stream of a finished execution: %s" % short(late))
