"""The OpenAPI document in the repository (web/openapi.json) describes the API that is served:
every route of shared/API.md and of the gateway's route table, every status each route can
answer (docs/API.md), strict request schemas, resolvable $refs and valid examples; and the
answers of a running gateway match the schemas it documents."""

import http.client
import json
import os
import re

from harness import Checker, EXECUTION_FIELDS, SESSION_FIELDS, short

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DOC_PATH = os.path.join(ROOT, "web", "openapi.json")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Every route of the API, with every status docs/API.md and the gateway give for it (400 on
# every route: an unknown query parameter; /openapi.json and /docs are 404 when not installed
# in build/etc). 500 (out of memory, a storage error) may appear on any route as well.
ROUTES = {
    ("post", "/code-sessions"): {201, 400, 413, 415, 503},
    ("get", "/code-sessions/{id}"): {200, 400, 404, 503},
    ("patch", "/code-sessions/{id}"): {200, 400, 404, 409, 413, 415, 503},
    ("delete", "/code-sessions/{id}"): {200, 400, 404, 503},
    ("get", "/code-sessions/{id}/executions"): {200, 400, 404, 503},
    ("get", "/executions/session/{id}"): {200, 400, 404, 503},
    ("post", "/code-sessions/{id}/run"): {202, 400, 404, 409, 413, 415, 429, 503},
    ("get", "/executions/{id}"): {200, 400, 404, 503},
    ("get", "/executions/{id}/events"): {200, 204, 400, 404, 503},
    ("post", "/executions/{id}/cancel"): {200, 400, 404, 409, 503},
    ("get", "/languages"): {200, 400},
    ("get", "/health"): {200, 400, 503},
    ("get", "/health/live"): {200, 400},
    ("get", "/health/ready"): {200, 400, 503},
    ("get", "/metrics"): {200, 400},
    ("get", "/openapi.json"): {200, 400, 404},
    ("get", "/docs"): {200, 400, 404},
}

# Media types of the 200 answers that are not JSON.
NON_JSON = {("get", "/executions/{id}/events"): "text/event-stream",
            ("get", "/metrics"): "text/plain", ("get", "/docs"): "text/html"}

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")


def load_doc():
    with open(DOC_PATH, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------------------------
# $ref and a small JSON Schema (OpenAPI 3.0 dialect) validator


def pointer(doc, ref):
    """The node a local $ref names, or None."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def unresolved_refs(doc):
    bad = []

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node and pointer(doc, node["$ref"]) is None:
                bad.append("%s -> %s" % (where, node["$ref"]))
            for k, v in node.items():
                walk(v, where + "/" + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))

    walk(doc, "#")
    return bad


def deref(doc, node):
    for _ in range(32):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        node = pointer(doc, node["$ref"])
    raise AssertionError("a $ref cycle")


def validate(doc, schema, value, where="value"):
    """Problems of value against schema (a list of strings; empty when it is valid)."""
    s = deref(doc, schema)
    if s is None:
        return ["%s: unresolved schema" % where]
    problems = []
    for part in s.get("allOf", []):
        problems += validate(doc, part, value, where)
    if "anyOf" in s and not any(not validate(doc, a, value, where) for a in s["anyOf"]):
        problems.append("%s matches none of anyOf: %s" % (where, short(value, 120)))
    if "oneOf" in s and sum(not validate(doc, a, value, where) for a in s["oneOf"]) != 1:
        problems.append("%s does not match exactly one of oneOf" % where)
    if value is None:
        if s.get("type") and not s.get("nullable"):
            problems.append("%s is null but not nullable" % where)
        elif "enum" in s and None not in s["enum"]:
            problems.append("%s is null, not one of %s" % (where, s["enum"]))
        return problems
    if "enum" in s and value not in s["enum"]:
        problems.append("%s is %r, not one of %s" % (where, value, s["enum"]))
    t = s.get("type")
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if t and not checks[t](value):
        return problems + ["%s is %s, not %s" % (where, short(value, 80), t)]
    if isinstance(value, str):
        if s.get("format") == "date-time" and not TIME_RE.match(value):
            problems.append("%s is not a UTC time with milliseconds: %r" % (where, value))
        if s.get("format") == "uuid" and not UUID_RE.match(value):
            problems.append("%s is not a UUID: %r" % (where, value))
        if len(value) < s.get("minLength", 0) or len(value) > s.get("maxLength", len(value)):
            problems.append("%s has a length outside the schema's bounds" % where)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < s.get("minimum", value) or value > s.get("maximum", value):
            problems.append("%s = %r is outside %s..%s" % (where, value, s.get("minimum"),
                                                          s.get("maximum")))
    if isinstance(value, list):
        if len(value) < s.get("minItems", 0) or len(value) > s.get("maxItems", len(value)):
            problems.append("%s has a number of items outside the schema's bounds" % where)
        for i, item in enumerate(value):
            problems += validate(doc, s.get("items", {}), item, "%s[%d]" % (where, i))
    if isinstance(value, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in value:
                problems.append("%s lacks required '%s'" % (where, k))
        if len(value) < s.get("minProperties", 0):
            problems.append("%s has fewer than %d fields" % (where, s["minProperties"]))
        for k, v in value.items():
            if k in props:
                problems += validate(doc, props[k], v, "%s.%s" % (where, k))
            elif s.get("additionalProperties") is False:
                problems.append("%s has the unknown field '%s'" % (where, k))
    return problems


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item, item[method]


def examples(doc):
    """(where, schema, example) for every example the document gives."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if "example" in node and ("schema" in node or "type" in node or "allOf" in node):
                found.append((where, node.get("schema", node), node["example"]))
            for k, v in node.items():
                if k != "example":
                    walk(v, where + "/" + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, "%s/%d" % (where, i))

    walk(doc, "#")
    return found


# --------------------------------------------------------------------------------------------


def gateway_routes():
    """(method, path) of every route in the gateway's routing table (services/gateway/api.c)."""
    with open(os.path.join(ROOT, "services", "gateway", "api.c"), encoding="utf-8") as f:
        text = f.read()
    table = text[text.index("routes[] = {"):]
    table = table[:table.index("};")]
    return [(m.lower(), "/" + p) for m, p in re.findall(r'\{"([A-Z]+)", "([^"]+)",', table)]


def test_openapi_document(stack):
    doc = load_doc()
    ck = Checker()
    ck.check(str(doc.get("openapi", "")).startswith("3.0."), "openapi is %r, expected 3.0.x"
             % doc.get("openapi"))
    ck.check(doc.get("info", {}).get("title") and doc["info"].get("version"),
             "info lacks title or version")
    paths = doc.get("paths", {})

    # Routes: shared/API.md's, and every one the gateway serves.
    for method, path in list(ROUTES) + gateway_routes():
        ck.check(method in paths.get(path, {}), "the document lacks %s %s" % (method.upper(), path))
    ck.check(len(gateway_routes()) >= 13, "the gateway's route table was not parsed")

    # $refs, operationIds, responses, path parameters.
    bad = unresolved_refs(doc)
    ck.check(not bad, "unresolved $refs: %s" % bad)
    ids = [op.get("operationId") for _, _, _, op in operations(doc)]
    ck.check(all(ids) and len(ids) == len(set(ids)), "operationIds missing or repeated: %s" % ids)
    for path, method, item, op in operations(doc):
        what = "%s %s" % (method.upper(), path)
        ck.check(op.get("responses"), "%s has no responses" % what)
        ck.check(op.get("tags") and op.get("summary"), "%s has no tag or summary" % what)
        params = [deref(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
        declared = {p["name"] for p in params if p.get("in") == "path"}
        in_path = set(re.findall(r"\{([^}]+)\}", path))
        ck.check(declared == in_path, "%s declares path parameters %s, its path has %s"
                 % (what, sorted(declared), sorted(in_path)))
        for p in params:
            if p.get("in") != "path":
                continue
            ck.check(p.get("required") is True, "%s: path parameter %s is not required"
                     % (what, p["name"]))
            if p["name"] == "id":  # ids are UUIDs; {name} (a runner's name) has a pattern
                ck.check(p.get("schema", {}).get("format") == "uuid",
                         "%s: path parameter id is not a uuid" % what)
            else:
                ck.check(p.get("schema", {}).get("pattern"),
                         "%s: path parameter %s has no pattern" % (what, p["name"]))
        for code, r in op.get("responses", {}).items():
            r = deref(doc, r)
            ck.check(r and r.get("description"), "%s %s has no description" % (what, code))

    # Every status each route can answer, with its headers and schema.
    for (method, path), codes in ROUTES.items():
        op = paths.get(path, {}).get(method)
        if op is None:
            continue
        what = "%s %s" % (method.upper(), path)
        have = {int(c) for c in op.get("responses", {})}
        ck.check(codes <= have, "%s lacks statuses %s (has %s)"
                 % (what, sorted(codes - have), sorted(have)))
        for code in have:
            r = deref(doc, op["responses"][str(code)])
            content = r.get("content", {})
            if code in (201, 202):
                ck.check("Location" in r.get("headers", {}), "%s %d lacks Location" % (what, code))
            if code in (429, 503) and path != "/health" and path != "/health/ready":
                ck.check("Retry-After" in r.get("headers", {}),
                         "%s %d lacks Retry-After" % (what, code))
            if code == 503 and path in ("/health", "/health/ready"):
                ck.check("Retry-After" in r.get("headers", {}), "%s 503 lacks Retry-After" % what)
            wanted = "application/json"
            if code == 200:
                wanted = NON_JSON.get((method, path), wanted)
            if code == 204:  # no body
                ck.check(not content, "%s 204 has content: %s" % (what, sorted(content)))
            else:
                ck.check(wanted in content, "%s %d is not %s: %s" % (what, code, wanted,
                                                                      sorted(content)))
            if code >= 400 and "application/json" in content and path not in ("/health",
                                                                               "/health/ready"):
                schema = content["application/json"]["schema"]
                plain = {"error": "x", "details": []}
                named = dict(plain, execution_id="95b96abe-38c7-49b2-a4d7-1f708ccbc1bd")
                ck.check(not validate(doc, schema, plain) or not validate(doc, schema, named),
                         "%s %d is not the error shape" % (what, code))
                ck.check(validate(doc, schema, {"details": []})
                         and validate(doc, schema, {"error": "x"}),
                         "%s %d does not require error and details" % (what, code))
    allow = deref(doc, doc["components"]["responses"].get("MethodNotAllowed", {}))
    ck.check("Allow" in (allow or {}).get("headers", {}), "no 405 response with an Allow header")

    # Parameters and request bodies.
    s = doc["components"]["schemas"]
    get_exec = paths["/executions/{id}"]["get"]
    wait = [deref(doc, p) for p in get_exec.get("parameters", [])]
    wait = [p for p in wait if p.get("name") == "wait" and p.get("in") == "query"]
    ck.check(wait and wait[0]["schema"].get("minimum") == 0
             and wait[0]["schema"].get("maximum") == 30000, "?wait is not 0..30000: %s" % wait)
    for path, method, name in (("/code-sessions/{id}/run", "post", "Idempotency-Key"),
                               ("/executions/{id}/events", "get", "Last-Event-ID")):
        hdrs = [deref(doc, p) for p in paths[path][method].get("parameters", [])]
        ck.check(any(p.get("in") == "header" and p.get("name") == name for p in hdrs),
                 "%s %s lacks the %s header" % (method.upper(), path, name))
    for name in ("SessionCreateRequest", "SessionUpdateRequest", "RunRequest", "RunLimits"):
        ck.check(s.get(name, {}).get("additionalProperties") is False, "%s is not strict" % name)
    limits = s["RunLimits"]["properties"]
    ck.check((limits["time_ms"].get("minimum"), limits["time_ms"].get("maximum")) == (1, 30000)
             and (limits["memory_mb"].get("minimum"), limits["memory_mb"].get("maximum"))
             == (1, 1024), "limits bounds: %s" % limits)
    ck.check(not validate(doc, s["RunRequest"], {})
             and validate(doc, s["RunRequest"], {"limits": {"time_ms": 30001}})
             and validate(doc, s["SessionUpdateRequest"], {})
             and validate(doc, s["SessionCreateRequest"], {"souce_code": ""}),
             "the request schemas do not accept and refuse what the gateway does")

    # Enums and the shapes the contract names.
    ck.check(s["ExecutionStatus"].get("enum") == ["QUEUED", "RUNNING", "COMPLETED", "FAILED",
                                                  "TIMEOUT", "CANCELLED"], "status enum")
    ck.check(set(s["ExecutionReason"].get("enum", [])) - {None}
             == {"exit_code", "signal", "compile_error", "memory_limit", "output_limit",
                 "runner_lost", "internal_error", "wall_time", "cpu_time"}, "reason enum")
    ck.check(s["SessionStatus"].get("enum") == ["ACTIVE", "INACTIVE"], "session status enum")
    fields = lambda name: set(validate_fields(doc, s[name]))
    ck.check(fields("Execution") == set(EXECUTION_FIELDS), "Execution fields %s, expected %s"
             % (sorted(fields("Execution")), sorted(EXECUTION_FIELDS)))
    ck.check(fields("ExecutionSummary") == set(EXECUTION_FIELDS) - {"stdout", "stderr",
                                                                    "compile_output"},
             "ExecutionSummary fields %s" % sorted(fields("ExecutionSummary")))
    ck.check(fields("Session") == set(SESSION_FIELDS), "Session fields")
    ck.check(set(s["Error"].get("required", [])) == {"error", "details"}, "Error required")
    ck.check(fields("ConflictError") == {"error", "details", "execution_id"}, "ConflictError")

    # Every example is valid against its schema.
    for where, schema, example in examples(doc):
        problems = validate(doc, schema, example, where)
        ck.check(not problems, "example %s: %s" % (where, problems))
    ck.done()


def validate_fields(doc, schema):
    """Property names of a schema, allOf parts included."""
    s = deref(doc, schema)
    names = list(s.get("properties", {}))
    for part in s.get("allOf", []):
        names += validate_fields(doc, part)
    return names


# --------------------------------------------------------------------------------------------


def test_openapi_matches_answers(stack):
    """Answers of the running gateway have a status the document lists for the route, and a
    body valid against the schema it gives for that status."""
    doc = load_doc()
    ck = Checker()

    def conforms(method, template, r, label=None):
        what = label or "%s %s" % (method.upper(), template)
        op = doc["paths"].get(template, {}).get(method)
        if op is None:
            ck.check(False, "%s is not documented" % what)
            return
        resp = op["responses"].get(str(r.status))
        if resp is None:
            ck.check(False, "%s answered %d, not documented (%s)" % (what, r.status,
                                                                   sorted(op["responses"])))
            return
        resp = deref(doc, resp)
        for name, header in resp.get("headers", {}).items():
            if deref(doc, header).get("required") is False:
                continue  # documented as sometimes absent (Link: only on a full page)
            ck.check(name.lower() in r.headers, "%s %d lacks the %s header" % (what, r.status,
                                                                               name))
        media = resp.get("content", {}).get("application/json")
        if media:
            problems = validate(doc, media["schema"], r.body, "body")
            ck.check(not problems, "%s %d: %s in %s" % (what, r.status, problems, short(r.body)))

    r = stack.post("/code-sessions", json={"language": "python"})
    conforms("post", "/code-sessions", r)
    sid = r.body["session_id"]
    conforms("post", "/code-sessions", stack.post("/code-sessions", json={"souce_code": ""}))
    conforms("get", "/code-sessions/{id}", stack.get("/code-sessions/%s" % sid))
    conforms("get", "/code-sessions/{id}", stack.get("/code-sessions/not-a-uuid"))
    conforms("patch", "/code-sessions/{id}",
             stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(6 * 7)\n"}))
    r = stack.post("/code-sessions/%s/run" % sid, json={"limits": {"time_ms": 5000}},
                   headers={"Idempotency-Key": "openapi-test"})
    conforms("post", "/code-sessions/{id}/run", r)
    eid = r.body["execution_id"]
    conforms("post", "/code-sessions/{id}/run",
             stack.post("/code-sessions/%s/run" % sid, json={"limits": {"memory_mb": 0}}))
    r = stack.get("/executions/%s?wait=20000" % eid, timeout=30)
    conforms("get", "/executions/{id}", r)
    conforms("get", "/executions/{id}", stack.get("/executions/%s?wait=-1" % eid))
    check_events(doc, ck, stack, eid)
    conforms("post", "/executions/{id}/cancel", stack.post("/executions/%s/cancel" % eid))
    conforms("get", "/code-sessions/{id}/executions", stack.get("/code-sessions/%s/executions"
                                                                % sid))
    conforms("get", "/executions/session/{id}", stack.get("/executions/session/%s" % sid))
    conforms("get", "/languages", stack.get("/languages"))
    for path in ("/health", "/health/live", "/health/ready"):
        conforms("get", path, stack.get(path))
    conforms("delete", "/code-sessions/{id}", stack.delete("/code-sessions/%s" % sid))
    conforms("patch", "/code-sessions/{id}",
             stack.patch("/code-sessions/%s" % sid, json={"source_code": "x"}))
    conforms("post", "/code-sessions",
             stack.request("POST", "/code-sessions", data="x", headers={"Content-Type":
                                                                        "text/plain"}))
    r = stack.request("PUT", "/code-sessions/%s" % sid)
    ck.check(r.status == 405 and "allow" in r.headers, "PUT on a session: %r" % r)
    problems = validate(doc, deref(doc, doc["components"]["responses"]["MethodNotAllowed"])
                        ["content"]["application/json"]["schema"], r.body)
    ck.check(not problems, "405 body: %s" % problems)
    ck.done()


def check_events(doc, ck, stack, execution_id):
    """The event stream of a finished execution: its media type, event names and data as
    documented (the schemas in x-lcx-events), ids 1, 2, 3, ..., `result` last."""
    media = doc["paths"]["/executions/{id}/events"]["get"]["responses"]["200"]["content"]
    kinds = media.get("text/event-stream", {}).get("schema", {}).get("x-lcx-events", {})
    ck.check(set(kinds) == {"status", "stdout", "stderr", "result"}, "event kinds %s"
             % sorted(kinds))
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=20)
    try:
        conn.request("GET", "/executions/%s/events" % execution_id,
                     headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        ctype = resp.getheader("content-type", "")
        if resp.status == 404 and b"no such route" in resp.read():
            return  # not served by this gateway yet
        ck.check(resp.status == 200 and ctype.startswith("text/event-stream"),
                 "GET events: %s %s" % (resp.status, ctype))
        text = resp.read().decode("utf-8") if resp.status == 200 else ""
    finally:
        conn.close()
    events = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                k, _, v = line.partition(":")
                fields[k] = v[1:] if v.startswith(" ") else v
        if "event" in fields:
            events.append(fields)
    ck.check(events and events[-1]["event"] == "result", "the stream does not end with a "
             "result: %s" % [e.get("event") for e in events])
    ck.check([e.get("id") for e in events] == [str(i + 1) for i in range(len(events))],
             "event ids %s" % [e.get("id") for e in events])
    for e in events:
        schema = kinds.get(e["event"])
        ck.check(schema is not None, "undocumented event %r" % e["event"])
        if schema is not None:
            problems = validate(doc, schema, json.loads(e.get("data", "null")), e["event"])
            ck.check(not problems, "event %s: %s" % (e["event"], problems))
