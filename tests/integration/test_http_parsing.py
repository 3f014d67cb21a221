"""The gateway's HTTP parsing over raw sockets: request-smuggling shapes are refused with 400 and
the connection closes (a request hidden behind them is never answered); a request that trickles
in past LCX_HTTP_REQUEST_S gets 408; HEAD works on every GET route; browser code may read the
headers the API documents (Access-Control-Expose-Headers)."""

import re
import socket
import time

from harness import expect, isolated, timeout


def _exchange(port, data, seconds=10.0):
    """Sends `data` on one connection and reads until the server closes it (or `seconds`
    pass). Returns (bytes read, whether the server closed the connection)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    deadline = time.monotonic() + seconds
    out, closed = b"", False
    try:
        s.sendall(data)
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    finally:
        s.close()
    return out, closed


def _statuses(raw):
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


SMUGGLED = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"

CASES = [
    ("Content-Length and Transfer-Encoding",
     b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("two different Content-Length",
     b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\nContent-Length: 41\r\n\r\n{}" + SMUGGLED),
    ("whitespace before the colon",
     b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length : 2\r\n\r\n{}" + SMUGGLED),
    ("a tab before the colon",
     b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Thing\t: 1\r\n\r\n" + SMUGGLED),
    ("NUL in the path",
     b"GET /executions/00000000-0000-4000-8000-000000000000%00/events HTTP/1.1\r\nHost: x\r\n\r\n"
     + SMUGGLED),
]


def test_smuggling_shapes_refused_and_connection_closed(stack):
    for what, data in CASES:
        raw, closed = _exchange(stack.http_port, data)
        statuses = _statuses(raw)
        expect(statuses[:1] == [400], "%s: answered %s: %r" % (what, statuses, raw[:300]))
        expect(statuses == [400], "%s: the hidden request was answered too: %s" % (what, statuses))
        expect(closed, "%s: the connection stayed open" % what)
        expect(b'"error"' in raw and b'"details"' in raw, "%s: no error body: %r" % (what, raw))
    # The same requests well formed still work, and a repeated equal Content-Length is fine.
    raw, _ = _exchange(stack.http_port,
                       b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                       b"\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    expect(_statuses(raw) == [201], "equal Content-Length twice: %r" % raw[:300])
    raw, _ = _exchange(stack.http_port, b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED
                       .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    expect(_statuses(raw) == [200, 200], "pipelined requests: %r" % raw[:300])


@isolated(extra_flags={"gateway": ["--http-request-s", "2"]})
@timeout(60)
def test_trickled_request_gets_408(stack):
    port = stack.http_port
    # Headers one byte every 0.25 s: never idle for long, never complete in 2 s.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 60 + b"\r\n\r\n"
    started = time.monotonic()
    got = b""
    try:
        for byte in head:
            try:
                s.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.25)
            if time.monotonic() - started > 8:
                break
        s.settimeout(3)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()
    took = time.monotonic() - started
    expect(_statuses(got)[:1] == [408], "trickled headers: %r after %.1f s" % (got[:200], took))
    expect(took < 8, "cut off only after %.1f s" % took)
    # A body that trickles is cut off the same way.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    got = b""
    try:
        s.sendall(b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 40\r\n\r\n")
        for _ in range(16):
            try:
                s.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.25)
        s.settimeout(3)
        try:
            got = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        s.close()
    expect(_statuses(got)[:1] == [408], "trickled body: %r" % got[:200])
    # A long-poll that is fully received is not cut off by the request deadline.
    r = stack.request("POST", "/code-sessions", json={"language": "bash",
                                                       "source_code": "sleep 3; echo done\n"})
    r = stack.request("POST", "/code-sessions/%s/run" % r.body["session_id"], json={})
    t0 = time.monotonic()
    r = stack.request("GET", "/executions/%s?wait=10000" % r.body["execution_id"], timeout=20)
    expect(r.status == 200 and r.body["status"] == "COMPLETED", "long poll: %r" % r)
    expect(time.monotonic() - t0 > 2.0, "the long poll did not wait")


def test_head_on_every_get_route(stack):
    r = stack.request("POST", "/code-sessions", json={"language": "bash"})
    sid = r.body["session_id"]
    r = stack.request("POST", "/code-sessions/%s/run" % sid, json={})
    eid = r.body["execution_id"]
    stack.request("GET", "/executions/%s?wait=10000" % eid, timeout=20)
    paths = ["/health", "/health/live", "/health/ready", "/languages", "/metrics", "/openapi.json",
             "/docs", "/code-sessions/" + sid, "/code-sessions/%s/executions" % sid,
             "/executions/session/" + sid, "/executions/" + eid, "/admin/runners", "/admin/queue"]
    for path in paths:
        get = stack.request("GET", path)
        raw, _ = _exchange(stack.http_port, ("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                                             "\r\n\r\n" % path).encode(), seconds=5)
        head, _, body = raw.partition(b"\r\n\r\n")
        expect(_statuses(raw) == [get.status], "HEAD %s: %r (GET: %d)" % (path, raw[:200], get.status))
        expect(body == b"", "HEAD %s sent a body: %r" % (path, body[:100]))
    r = stack.request("DELETE", "/health")
    expect(r.status == 405 and "HEAD" in r.headers.get("allow", ""), "Allow: %r" % r.headers)


def test_browser_reads_documented_headers(stack):
    r = stack.request("POST", "/code-sessions", json={}, headers={"Origin": "http://example.test"})
    exposed = [h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")]
    for name in ("location", "retry-after", "allow"):
        expect(name in exposed, "%s not exposed: %r" % (name, r.headers))
    r = stack.request("OPTIONS", "/code-sessions", headers={
        "Origin": "http://example.test", "Access-Control-Request-Method": "HEAD"})
    expect("HEAD" in r.headers.get("access-control-allow-methods", ""), "preflight: %r" % r.headers)
