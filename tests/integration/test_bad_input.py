"""Bad input (API.md "Conventions"): every refusal has the right status and the body
{"error": str, "details": [str, ...]}, and the services stay up."""

from harness import Checker, expect, expect_status, short

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


def _targets(stack):
    """(label, method, path) of every endpoint that takes a JSON body."""
    s = stack.create_session("python", "print(1)\n")
    sid = s["session_id"]
    return [("POST /code-sessions", "POST", "/code-sessions"),
            ("PATCH /code-sessions/{id}", "PATCH", "/code-sessions/%s" % sid),
            ("POST /code-sessions/{id}/run", "POST", "/code-sessions/%s/run" % sid)]


def test_malformed_json(stack):
    ck = Checker()
    for label, method, path in _targets(stack):
        for data in (b'{"language": ', b"{", b"{'language': 'python'}", b'{"a":1,}',
                     b"nul", b'{"source_code": "\xff\xfe"}', b"\x00\x01",
                     b'{"language": "python"} trailing'):
            ck.error("%s body %r" % (label, data[:30]),
                     lambda: stack.request(method, path, data=data, headers=JSON), 400)
    ck.done()


def test_json_not_an_object(stack):
    ck = Checker()
    for label, method, path in _targets(stack):
        for data in (b"[]", b'"x"', b"5", b"null", b"true", b'[{"language": "python"}]'):
            ck.error("%s body %s" % (label, data.decode()),
                     lambda: stack.request(method, path, data=data, headers=JSON), 400)
    ck.done()


def test_wrong_types(stack):
    ck = Checker()
    targets = _targets(stack)
    # Explicit nulls are left out: whether null means "absent" is not settled by the contract.
    session_bodies = [{"language": 5}, {"language": ["python"]},
                      {"language": {"id": "python"}}, {"source_code": []},
                      {"source_code": 5}, {"source_code": {"a": 1}},
                      {"language": "python", "source_code": True}]
    run_bodies = [{"stdin": 7}, {"stdin": {}}, {"limits": "x"},
                  {"limits": 5}, {"limits": {"time_ms": "x"}}, {"limits": {"memory_mb": []}},
                  {"args": "x"}, {"args": [1]}, {"args": [None]}]
    for label, method, path in targets:
        bodies = run_bodies if path.endswith("/run") else session_bodies
        for body in bodies:
            ck.error("%s %s" % (label, short(body, 60)),
                     lambda: stack.request(method, path, json=body), 400)
    ck.done()


def test_unknown_language(stack):
    ck = Checker()
    s = stack.create_session()
    for label, method, path in (("POST /code-sessions", "POST", "/code-sessions"),
                                ("PATCH", "PATCH", "/code-sessions/%s" % s["session_id"])):
        for lang in ("cobol", "", "python ", "c#", "pyth0n"):
            r = ck.error("%s language %r" % (label, lang),
                         lambda: stack.request(method, path, json={"language": lang}), 400)
            if r is None:
                continue
            # The supported ids come in ONE detail: "supported: python, javascript, ...".
            lists = [d for d in r.body["details"] if d.startswith("supported: ")]
            ck.check(len(lists) == 1, "%s language %r: not one 'supported: ...' detail: %s"
                     % (label, lang, short(r.body)))
            ids = lists[0][len("supported: "):].split(", ") if lists else []
            missing = [l for l in ("python", "javascript", "java", "c", "cpp", "bash")
                       if l not in ids]
            ck.check(not missing, "%s language %r: details do not list the supported ids "
                     "(missing %s): %s" % (label, lang, missing, short(r.body)))
    ck.done()


def test_body_too_large(stack):
    """3 MiB (above the 2 MiB default max_body_bytes) -> 413, even when the server answers
    before reading the whole body."""
    ck = Checker()
    big = b'{"source_code": "' + b"a" * (3 * MIB) + b'"}'
    for label, method, path in _targets(stack):
        head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, len(big)))
        ck.error("%s with a 3 MiB body" % label, lambda: stack.raw(head, big, timeout=20), 413)
        # The same with Expect: 100-continue (what curl sends for large bodies).
        head2 = head.replace("Connection: close\r\n", "Connection: close\r\nExpect: 100-continue\r\n")
        ck.error("%s with a 3 MiB body and Expect: 100-continue" % label,
                 lambda: stack.raw(head2, big, timeout=20), 413)
    # Chunked, no Content-Length: the limit still holds (inferred: 413 too).
    label, method, path = _targets(stack)[0]
    chunk = b"a" * 65536
    body = b'{"source_code": "'
    body = b"%x\r\n%s\r\n" % (len(body), body)
    body += (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 48 + b"0\r\n\r\n"
    head = ("POST /code-sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    ck.error("POST /code-sessions with a 3 MiB chunked body",
             lambda: stack.raw(head, body, timeout=20), 413)
    ck.done()


def test_non_json_content_type(stack):
    ck = Checker()
    for label, method, path in _targets(stack):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                      "application/xml"):
            ck.error("%s as %s" % (label, ctype),
                     lambda: stack.request(method, path, data=b'{"language": "python"}',
                                           headers={"Content-Type": ctype}), 415)
    # Positive controls: JSON media types with parameters are JSON.
    r = stack.request("POST", "/code-sessions", data=b'{"language": "bash"}',
                      headers={"Content-Type": "application/json; charset=utf-8"})
    ck.check(r.status == 201, "application/json; charset=utf-8 refused: %r" % r)
    r = stack.request("POST", "/code-sessions", data=b'{"language": "bash"}',
                      headers={"Content-Type": "Application/JSON"})
    ck.check(r.status == 201, "Content-Type is case-insensitive; Application/JSON refused: %r"
             % r)
    ck.done()


def test_unknown_route(stack):
    ck = Checker()
    for method, path in (("GET", "/nope"), ("GET", "/code-sessions/x/y/z"),
                         ("POST", "/code-session"), ("GET", "/languages/python/x"),
                         ("GET", "/executions"), ("GET", "/health/nope"),
                         ("DELETE", "/nope")):
        ck.error("%s %s" % (method, path), lambda: stack.request(method, path), 404)
    ck.done()


def test_wrong_method(stack):
    ck = Checker()
    s = stack.create_session()
    sid = s["session_id"]
    e = stack.start_run(sid)
    stack.wait_execution(e)
    for method, path in (("GET", "/code-sessions"), ("DELETE", "/code-sessions"),
                         ("PUT", "/code-sessions/%s" % sid), ("POST", "/code-sessions/%s" % sid),
                         ("GET", "/code-sessions/%s/run" % sid),
                         ("DELETE", "/code-sessions/%s/executions" % sid),
                         ("POST", "/languages"), ("DELETE", "/executions/%s" % e),
                         ("GET", "/executions/%s/cancel" % e), ("POST", "/health")):
        r = ck.error("%s %s" % (method, path), lambda: stack.request(method, path), 405)
        # RFC 9110: a 405 carries Allow (inferred as required here).
        if r is not None:
            ck.check("allow" in r.headers, "%s %s: 405 without an Allow header" % (method, path))
    ck.done()


def test_source_too_large(stack):
    big = "#" * (256 * 1024 + 1)
    ck = Checker()
    ck.error("POST /code-sessions with 256 KiB + 1 source",
             lambda: stack.post("/code-sessions", json={"source_code": big}, timeout=20),
             (400, 413))
    s = stack.create_session()
    ck.error("PATCH with 256 KiB + 1 source",
             lambda: stack.patch("/code-sessions/%s" % s["session_id"],
                                 json={"source_code": big}, timeout=20), (400, 413))
    g = stack.get("/code-sessions/%s" % s["session_id"]).body
    ck.check(g["source_code"] == s["source_code"], "the refused PATCH changed the source")
    # Exactly 256 KiB is accepted (bytes of UTF-8).
    ok = "#" * (256 * 1024)
    r = stack.post("/code-sessions", json={"source_code": ok}, timeout=20)
    ck.check(r.status == 201, "a 256 KiB source was refused: %r" % r)
    # The limit counts bytes: 100 000 three-byte characters are 300 000 bytes (inferred).
    r = stack.post("/code-sessions", json={"source_code": "\u20ac" * 100000}, timeout=20)
    ck.check(r.status in (400, 413), "300 000 bytes of UTF-8 source accepted: %r" % r)
    ck.done()


def test_services_survive_bad_input(stack):
    """Runs after the other bad-input tests (file order): everything is still up, and a few
    protocol-level oddities do not kill the gateway."""
    for head in (b"GARBAGE\r\n\r\n", b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                 b"POST /code-sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                 b"Content-Type: application/json\r\n\r\n{\"a\""):
        try:
            stack.raw(head, timeout=3)
        except OSError:
            pass  # a closed connection or timeout is an acceptable answer to garbage
    r = stack.get("/health")
    expect_status(r, 200, "GET /health after bad input")
    expect(not stack.dead_services(), "services died: %s" % stack.dead_services())
    e = stack.run("python", "print('still here')\n")
    expect(e["status"] == "COMPLETED", "a run after bad input: %s" % e)
