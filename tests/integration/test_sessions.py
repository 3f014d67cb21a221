"""Sessions: create, get, patch (autosave), delete, and their errors (API.md "Sessions")."""

import re
import uuid

from harness import (SESSION_FIELDS, Checker, check_keys, check_time, check_uuid, expect,
                     expect_status, parse_time, short)


def languages(stack):
    r = stack.get("/languages")
    expect_status(r, 200, "GET /languages")
    return {l["id"]: l for l in r.body}


def check_session(s, what="session"):
    check_keys(s, SESSION_FIELDS, what)
    check_uuid(s["session_id"], what + ".session_id")
    expect(s["status"] in ("ACTIVE", "INACTIVE"), "%s.status %r" % (what, s["status"]))
    expect(isinstance(s["language"], str), "%s.language %r" % (what, s["language"]))
    expect(isinstance(s["source_code"], str), "%s.source_code %r" % (what, s["source_code"]))
    expect(isinstance(s["version"], int) and not isinstance(s["version"], bool)
           and s["version"] >= 0, "%s.version %r" % (what, s["version"]))
    c = check_time(s["created_at"], what + ".created_at")
    u = check_time(s["updated_at"], what + ".updated_at")
    expect(u >= c, "%s.updated_at %s before created_at %s" % (what, s["updated_at"],
                                                              s["created_at"]))


def test_create_default(stack):
    """POST /code-sessions with {} -> 201, python with its template."""
    langs = languages(stack)
    r = stack.post("/code-sessions", json={})
    expect_status(r, 201, "POST /code-sessions {}")
    expect("json" in r.headers.get("content-type", ""),
           "Content-Type is %r, not JSON" % r.headers.get("content-type"))
    s = r.body
    check_session(s)
    expect(s["status"] == "ACTIVE", "new session status %r" % s["status"])
    expect(s["language"] == "python", "default language %r, expected python" % s["language"])
    expect(s["source_code"] == langs["python"]["template"],
           "default source %r is not the python template %r"
           % (s["source_code"], langs["python"]["template"]))
    expect(s["created_at"] == s["updated_at"] or parse_time(s["updated_at"]) >= parse_time(
        s["created_at"]), "times %s / %s" % (s["created_at"], s["updated_at"]))
    # Two sessions never share an id.
    s2 = stack.create_session()
    expect(s2["session_id"] != s["session_id"], "two sessions got the same id")


def test_create_without_body(stack):
    """POST /code-sessions with no body at all: the body is optional ({language?,
    source_code?}), so this is treated like {} (inferred: 201)."""
    r = stack.request("POST", "/code-sessions")
    expect_status(r, 201, "POST /code-sessions (no body)")
    check_session(r.body)
    expect(r.body["language"] == "python", "language %r" % r.body["language"])


def test_create_with_language_and_source(stack):
    langs = languages(stack)
    src = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"
    r = stack.post("/code-sessions", json={"language": "c", "source_code": src})
    expect_status(r, 201, "POST /code-sessions c + source")
    check_session(r.body)
    expect(r.body["language"] == "c" and r.body["source_code"] == src,
           "session does not hold what was sent: %s" % short(r.body))
    # Language only: the source is that language's template.
    r = stack.post("/code-sessions", json={"language": "bash"})
    expect_status(r, 201, "POST /code-sessions bash")
    expect(r.body["source_code"] == langs["bash"]["template"],
           "bash session source %r is not the bash template" % r.body["source_code"])
    # Source only: the language is python.
    r = stack.post("/code-sessions", json={"source_code": "print(1)\n"})
    expect_status(r, 201, "POST /code-sessions source only")
    expect(r.body["language"] == "python" and r.body["source_code"] == "print(1)\n",
           "source-only session %s" % short(r.body))
    # Unicode survives the round trip.
    src = "print('h\u00e9llo \u4e16\u754c \U0001F600')\n"
    r = stack.post("/code-sessions", json={"source_code": src})
    expect_status(r, 201, "POST /code-sessions unicode source")
    g = stack.get("/code-sessions/%s" % r.body["session_id"])
    expect(g.body.get("source_code") == src, "unicode source came back as %r"
           % g.body.get("source_code"))
    # An empty source is a valid (if useless) program text (inferred: 201, stored as "").
    r = stack.post("/code-sessions", json={"language": "python", "source_code": ""})
    expect_status(r, 201, "POST /code-sessions empty source")
    expect(r.body["source_code"] == "", "empty source stored as %r" % r.body["source_code"])


def test_create_cpp_alias(stack):
    """"c++" is accepted for cpp; the session reports the canonical id (inferred)."""
    r = stack.post("/code-sessions", json={"language": "c++"})
    expect_status(r, 201, "POST /code-sessions c++")
    expect(r.body["language"] == "cpp", "language c++ stored as %r (expected the id 'cpp')"
           % r.body["language"])


def test_get(stack):
    s = stack.create_session("javascript", "console.log(1)\n")
    r = stack.get("/code-sessions/%s" % s["session_id"])
    expect_status(r, 200, "GET /code-sessions/{id}")
    check_session(r.body)
    expect(r.body == s, "GET returned %s, POST returned %s" % (short(r.body), short(s)))


def test_patch_versions(stack):
    s = stack.create_session("python", "print(0)\n")
    sid, v0 = s["session_id"], s["version"]
    prev_updated = parse_time(s["updated_at"])
    for i in range(1, 4):
        r = stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(%d)\n" % i})
        expect_status(r, 200, "PATCH #%d" % i)
        check_keys(r.body, ("session_id", "status", "language", "version", "updated_at"),
                   "PATCH response")
        expect(r.body["session_id"] == sid, "PATCH session_id %r" % r.body["session_id"])
        expect(r.body["status"] == "ACTIVE", "PATCH status %r" % r.body["status"])
        expect(r.body["language"] == "python", "PATCH language %r" % r.body["language"])
        expect(r.body["version"] == v0 + i, "PATCH #%d: version %r, expected %d"
               % (i, r.body["version"], v0 + i))
        u = check_time(r.body["updated_at"], "PATCH updated_at")
        expect(u >= prev_updated, "updated_at went backwards: %s" % r.body["updated_at"])
        prev_updated = u
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["source_code"] == "print(3)\n" and g["version"] == v0 + 3,
           "after 3 PATCHes GET shows %s" % short(g))
    expect(g["created_at"] == s["created_at"], "created_at changed: %s -> %s"
           % (s["created_at"], g["created_at"]))
    # Language only.
    r = stack.patch("/code-sessions/%s" % sid, json={"language": "bash"})
    expect_status(r, 200, "PATCH language")
    expect(r.body["version"] == v0 + 4, "PATCH language: version %r" % r.body["version"])
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["language"] == "bash" and g["source_code"] == "print(3)\n",
           "PATCH language only changed more than the language: %s" % short(g))
    # Both at once.
    r = stack.patch("/code-sessions/%s" % sid,
                    json={"language": "javascript", "source_code": "console.log(2)\n"})
    expect_status(r, 200, "PATCH both")
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["language"] == "javascript" and g["source_code"] == "console.log(2)\n"
           and g["version"] == v0 + 5, "PATCH both: %s" % short(g))


def test_patch_errors(stack):
    s = stack.create_session()
    sid = s["session_id"]
    ck = Checker()
    ck.error("PATCH {} (neither field)", stack.patch("/code-sessions/%s" % sid, json={}), 400)
    r = ck.error("PATCH unknown language",
                 stack.patch("/code-sessions/%s" % sid, json={"language": "cobol"}), 400)
    if r is not None:
        words = set(re.findall(r"[A-Za-z0-9_+#]+", " ".join(r.body["details"])))
        ck.check(all(l in words for l in ("python", "javascript", "java", "c", "cpp", "bash")),
                 "PATCH unknown language: details do not list the supported ids: %s"
                 % short(r.body))
    ck.error("PATCH language null", stack.patch("/code-sessions/%s" % sid,
                                                json={"language": None}), 400)
    ck.error("PATCH source_code 5", stack.patch("/code-sessions/%s" % sid,
                                                json={"source_code": 5}), 400)
    # None of the refused PATCHes changed anything.
    g = stack.get("/code-sessions/%s" % sid).body
    ck.check(g["version"] == s["version"] and g["source_code"] == s["source_code"],
             "refused PATCHes changed the session: %s" % short(g))
    ck.done()


def test_delete(stack):
    s = stack.create_session()
    sid = s["session_id"]
    r = stack.delete("/code-sessions/%s" % sid)
    expect_status(r, 200, "DELETE")
    check_keys(r.body, ("session_id", "status"), "DELETE response")
    expect(r.body == {"session_id": sid, "status": "INACTIVE"}, "DELETE body %s" % short(r.body))
    # Idempotent.
    r = stack.delete("/code-sessions/%s" % sid)
    expect_status(r, 200, "second DELETE")
    expect(r.body == {"session_id": sid, "status": "INACTIVE"},
           "second DELETE body %s" % short(r.body))
    # The session still exists, closed (inferred: GET of an INACTIVE session is 200).
    g = stack.get("/code-sessions/%s" % sid)
    expect_status(g, 200, "GET after DELETE")
    expect(g.body["status"] == "INACTIVE", "GET after DELETE: status %r" % g.body["status"])
    ck = Checker()
    ck.error("PATCH INACTIVE", stack.patch("/code-sessions/%s" % sid,
                                           json={"source_code": "x"}), 409)
    ck.error("run INACTIVE (no body)", stack.request("POST", "/code-sessions/%s/run" % sid), 409)
    ck.error("run INACTIVE ({})", stack.post("/code-sessions/%s/run" % sid, json={}), 409)
    # The 409 PATCH did not change the text.
    g = stack.get("/code-sessions/%s" % sid).body
    ck.check(g["source_code"] == s["source_code"] and g["version"] == s["version"],
             "PATCH on INACTIVE changed the session: %s" % short(g))
    ck.done()


def test_unknown_and_malformed_ids(stack):
    ck = Checker()
    unknown = str(uuid.uuid4())
    malformed = ["abc", "123", "00000000-0000-0000-0000-00000000000g",
                 str(uuid.uuid4()) + "0", str(uuid.uuid4()).replace("-", ""),
                 "%2e%2e", "' OR 1=1 --"]
    for sid in [unknown] + malformed:
        from urllib.parse import quote
        q = quote(sid, safe="%-")
        ck.error("GET /code-sessions/%s" % q, lambda: stack.get("/code-sessions/" + q), 404)
        ck.error("PATCH /code-sessions/%s" % q,
                 lambda: stack.patch("/code-sessions/" + q, json={"source_code": "x"}), 404)
        ck.error("DELETE /code-sessions/%s" % q,
                 lambda: stack.delete("/code-sessions/" + q), 404)
        ck.error("POST /code-sessions/%s/run" % q,
                 lambda: stack.post("/code-sessions/%s/run" % q, json={}), 404)
        ck.error("GET /code-sessions/%s/executions" % q,
                 lambda: stack.get("/code-sessions/%s/executions" % q), 404)
        ck.error("GET /executions/session/%s" % q,
                 lambda: stack.get("/executions/session/" + q), 404)
        ck.error("GET /executions/%s" % q, lambda: stack.get("/executions/" + q), 404)
        ck.error("GET /executions/%s?wait=100" % q,
                 lambda: stack.get("/executions/%s?wait=100" % q), 404)
        ck.error("POST /executions/%s/cancel" % q,
                 lambda: stack.request("POST", "/executions/%s/cancel" % q), 404)
    # A session id is not an execution id and vice versa.
    s = stack.create_session()
    ck.error("GET /executions/{session id}",
             lambda: stack.get("/executions/" + s["session_id"]), 404)
    # Upper-case form of an existing id (inferred: ids are compared as the lower-case strings
    # the API hands out, so it is unknown -> 404; a 200 is also defensible, so accept both).
    r = stack.get("/code-sessions/" + s["session_id"].upper())
    ck.check(r.status in (200, 404), "GET upper-case id: %r" % r)
    ck.done()
