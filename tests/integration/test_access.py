"""Access (API.md "Access: API keys, roles, session tokens, quotas"): who may call what with
LCX_AUTH=keys (the matrix of routes and callers), the operator's keys, session tokens, the
operator's routes and browsers of other origins, revocation seen by every gateway, and the
access log. Quotas: test_quotas.py."""

import os
import subprocess
import time

import harness
from access_helpers import (NO_AUTH, ExtraGateway, bearer, error_text, key_secret,
                            local_non_loopback_ipv4, log_records, make_key, metric_samples,
                            new_session, parse_rfc3339, rfc3339, start_run, wait_done)
from harness import (Checker, sse_events, check_time, error_shape_problem, expect, expect_error,
                     expect_status, isolated, short, timeout)

# --------------------------------------------------------------------------------------------
# The matrix: every route against every kind of caller

# Callers that must be refused 401 on every route that needs a key.
BAD = ("no key", "malformed scheme", "malformed key", "unknown key", "wrong secret",
       "revoked key", "expired key", "expired token", "tampered token")
TOKENS = ("token", "other session's token", "other tenant's token")
KEYS = ("owner key", "other tenant's key", "admin key")
CALLERS = BAD + KEYS + TOKENS

FAKE_ID = "00000000-0000-4000-8000-000000000000"


def _context(stack, owner, execution=None):
    """A session of the owner key: {sid, token, eid}. execution: None (no run), "finished" or
    "running" (a run that sleeps, still QUEUED or RUNNING)."""
    s = new_session(stack, owner, "sleep 4\n" if execution == "running" else "echo hi\n")
    ctx = {"sid": s["session_id"], "token": s.get("session_token") or "lcxt_missing",
           "eid": FAKE_ID}
    if execution:
        ctx["eid"] = start_run(stack, ctx["sid"], owner)
    if execution == "finished":
        wait_done(stack, ctx["eid"], owner)
    return ctx


def _tamper(token, other_sid):
    """The token with its session id swapped for another session's (the MAC left as it was);
    a token whose shape is not known has a character flipped in the middle."""
    parts = token.split("_")
    if len(parts) == 5 and len(parts[2]) == 36:
        parts[2] = other_sid
        return "_".join(parts)
    mid = len(token) // 2
    return token[:mid] + ("A" if token[mid] != "A" else "B") + token[mid + 1:]


def _headers(world, ctx, caller):
    creds = {
        "no key": None,
        "unknown key": world["unknown"],
        # The owner's key id with another secret: the store compares the secret's hash.
        "wrong secret": world["owner"].rsplit("_", 1)[0] + "_" + key_secret(world["unknown"]),
        "revoked key": world["revoked"],
        "expired key": world["expired"],
        "owner key": world["owner"],
        "other tenant's key": world["other"],
        "admin key": world["admin"],
        "token": ctx["token"],
        "other session's token": world["other_session_token"],
        "other tenant's token": world["other_tenant_token"],
        "expired token": world["expired_token"],
        "tampered token": _tamper(ctx["token"], world["other_sid"]),
        "malformed key": "lcx_not_a_key",
    }
    if caller == "malformed scheme":
        return {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}
    cred = creds[caller]
    return NO_AUTH if cred is None else bearer(cred)


# Kinds of route and the statuses each caller may get (BAD callers: 401 everywhere but the
# public routes).
def _expected(kind, ok, caller):
    if kind == "public":
        return (ok,)
    if caller in BAD:
        return (401,)
    if kind == "create":  # a key's call: every key may create; tokens may not
        return (ok,) if caller in KEYS else (403,)
    if kind == "admin":
        return (ok,) if caller == "admin key" else (403,)
    if caller in ("owner key", "admin key"):
        return (ok,)
    if caller == "other tenant's key":
        return (404,)  # another tenant's session: its existence is not revealed
    if kind == "session":  # what a session token opens
        return (ok,) if caller == "token" else (403, 404)
    if kind == "key-session":  # the session's calls a token does not open (DELETE, tokens)
        return (403,) if caller == "token" else (403, 404)
    raise ValueError(kind)


# (method, path (ctx and world fill it), body, kind, success status, fresh context for a
# caller that succeeds: None, "idle" (no run), "running")
ROUTES = [
    ("POST", "/code-sessions", {"language": "bash", "source_code": "true\n"}, "create", 201,
     None),
    ("GET", "/code-sessions/{sid}", None, "session", 200, None),
    ("PATCH", "/code-sessions/{sid}", {"source_code": "echo patched\n"}, "session", 200, None),
    ("POST", "/code-sessions/{sid}/run", {}, "session", 202, "idle"),
    ("GET", "/code-sessions/{sid}/executions", None, "session", 200, None),
    ("GET", "/executions/session/{sid}", None, "session", 200, None),
    ("GET", "/executions/{eid}", None, "session", 200, None),
    ("GET", "/executions/{eid}/events", None, "session", 200, None),
    ("POST", "/executions/{eid}/cancel", None, "session", 200, "running"),
    ("POST", "/code-sessions/{sid}/tokens", {}, "key-session", 201, None),
    ("GET", "/admin/runners", None, "admin", 200, None),
    ("GET", "/admin/queue", None, "admin", 200, None),
    ("POST", "/admin/runners/no-such-runner/drain", None, "admin", 404, None),
    ("GET", "/admin/keys", None, "admin", 200, None),
    ("POST", "/admin/keys", {"name": "made in the matrix", "role": "client"}, "admin", 201, None),
    ("PATCH", "/admin/keys/{victim}", {"name": "renamed in the matrix"}, "admin", 200, None),
    ("DELETE", "/admin/keys/{victim}", None, "admin", 200, None),
    ("GET", "/metrics", None, "admin", 200, None),
    ("GET", "/health/live", None, "public", 200, None),
    ("GET", "/health/ready", None, "public", 200, None),
    ("GET", "/languages", None, "public", 200, None),
    ("GET", "/openapi.json", None, "public", 200, None),
    ("GET", "/docs", None, "public", 200, None),
    # Last: a bug that let a caller close the shared session would spoil the cells after it.
    ("DELETE", "/code-sessions/{sid}", None, "key-session", 200, "idle"),
]


def _world(stack):
    """The keys, sessions and tokens the matrix uses."""
    w = {"admin": stack.admin_key, "unknown": harness.new_api_key()}
    w["owner"] = make_key(stack, "owner")["key"]
    w["other"] = make_key(stack, "other tenant")["key"]
    expires_at = time.time() + 2.5
    w["expired"] = make_key(stack, "expires soon", expires_at=rfc3339(expires_at))["key"]
    revoked = make_key(stack, "to be revoked")
    w["revoked"] = revoked["key"]
    w["victim"] = make_key(stack, "the matrix's victim")["key_id"]
    # Each of these keys works before it is revoked or expires.
    for name in ("expired", "revoked"):
        r = stack.get("/code-sessions/%s" % FAKE_ID, headers=bearer(w[name]))
        expect_status(r, 404, "the %s key before it is refused" % name)
    expect_status(stack.delete("/admin/keys/%s" % revoked["key_id"]), 200, "revoke")
    w["shared"] = _context(stack, w["owner"], "finished")
    r = stack.post("/code-sessions/%s/tokens" % w["shared"]["sid"], json={"ttl_s": 1},
                   headers=bearer(w["owner"]))
    expect_status(r, 201, "a token of 1 s")
    w["expired_token"] = r.body["session_token"]
    token_expires = parse_rfc3339(r.body["session_token_expires_at"])
    other = new_session(stack, w["owner"])
    w["other_sid"] = other["session_id"]
    w["other_session_token"] = other.get("session_token") or "lcxt_missing"
    w["other_tenant_token"] = new_session(stack, w["other"]).get("session_token") or "lcxt_missing"
    wait = max(expires_at, token_expires) + 0.3 - time.time()
    if wait > 0:
        time.sleep(wait)
    return w


def _check_cell(c, label, r, expected, kind):
    if not c.check(r.status in expected, "%s: expected %s, got %r" % (label, expected, r)):
        return
    if r.status >= 400:
        p = error_shape_problem(r)
        c.check(p is None, "%s: error body: %s" % (label, p))
    if r.status == 401:
        c.check(r.headers.get("www-authenticate", "").lower().startswith("bearer"),
                "%s: 401 without WWW-Authenticate: Bearer (headers %s)" % (label, r.headers))


def _health_cell(c, stack, world, ctx, caller):
    """GET /health: an admin sees the components; others only the status; a bad credential
    gets 401 or the status alone."""
    label = "GET /health as %s" % caller
    r = stack.get("/health", headers=_headers(world, ctx, caller))
    if caller == "admin key":
        c.check(r.status == 200 and isinstance(r.body, dict) and "components" in r.body,
                "%s: expected 200 with components, got %r" % (label, r))
        return
    allowed = (200, 401) if caller in BAD and caller != "no key" else (200,)
    if not c.check(r.status in allowed, "%s: expected %s (status only), got %r"
                   % (label, allowed, r)):
        return
    if r.status == 200:
        c.check(isinstance(r.body, dict) and r.body.get("status") and "components" not in r.body,
                "%s: only the status, not the components: %r" % (label, r))
    else:
        _check_cell(c, label, r, (401,), "health")


@isolated(keys=True, runner_slots=4)
@timeout(120)
def test_access_matrix_of_routes_and_callers(stack):
    """Every route with every kind of caller: 401 (WWW-Authenticate: Bearer) for no, malformed,
    unknown, revoked or expired keys and bad or expired tokens; 403 for a key without the role
    and a token outside its session's calls; 404 for another tenant's session; tokens open GET
    and PATCH of their session, run, its executions, events and cancel. Every error has the
    JSON error shape."""
    world = _world(stack)
    c = Checker()
    for method, pattern, body, kind, ok, fresh in ROUTES:
        for caller in CALLERS:
            expected = _expected(kind, ok, caller)
            ctx = world["shared"]
            if fresh and ok in expected and len(expected) == 1:
                ctx = c.run("fresh context for %s %s" % (method, pattern), _context, stack,
                            world["owner"], "running" if fresh == "running" else None)
                if ctx is None:
                    continue
            path = pattern.format(sid=ctx["sid"], eid=ctx["eid"], victim=world["victim"])
            label = "%s %s as %s" % (method, pattern, caller)
            r = c.run(label, stack.request, method, path, json=body,
                      headers=_headers(world, ctx, caller))
            if r is not None:
                _check_cell(c, label, r, expected, kind)
            if r is not None and caller == "other tenant's key" and "{" in pattern and \
                    kind != "admin":
                # Existence is not revealed: the answer is the one for an id no one has.
                none = pattern.format(sid=FAKE_ID, eid=FAKE_ID, victim="")
                r2 = c.run(label + " (unknown id)", stack.request, method, none, json=body,
                           headers=_headers(world, ctx, caller))
                c.check(r2 is None or (r2.status, r2.body) == (r.status, r.body),
                        "%s: another tenant's id is told from an unknown one: %r vs %r"
                        % (label, r, r2))
    for caller in CALLERS:
        c.run("GET /health as %s" % caller, _health_cell, c, stack, world, world["shared"],
              caller)
    c.done()


@isolated(keys=True)
def test_auth_failures_are_counted_in_metrics(stack):
    """lcx_auth_failures_total{reason=...} counts refusals (401 and 403)."""
    before = metric_samples(stack.get("/metrics").body, "lcx_auth_failures_total")
    client = make_key(stack, "client")["key"]
    stack.get("/code-sessions/%s" % FAKE_ID, headers=NO_AUTH)
    stack.get("/code-sessions/%s" % FAKE_ID, headers=bearer(harness.new_api_key()))
    stack.get("/admin/keys", headers=bearer(client))
    r = stack.get("/metrics")
    expect_status(r, 200, "GET /metrics as admin")
    after = metric_samples(r.body, "lcx_auth_failures_total")
    expect(after and all('reason="' in k for k in after),
           "lcx_auth_failures_total has no samples with a reason label: %r" % after)
    expect(sum(after.values()) >= sum(before.values()) + 3,
           "3 refusals, but lcx_auth_failures_total went from %r to %r" % (before, after))


@isolated(keys=True)
def test_authorization_header_variants(stack):
    """The scheme is case-insensitive (RFC 7235); anything else that is not exactly
    "Bearer <key or token>" is 401 with WWW-Authenticate: Bearer."""
    c = Checker()
    k = make_key(stack, "tenant")["key"]
    s = new_session(stack, k)
    path = "/code-sessions/%s" % s["session_id"]
    for value in ("bearer " + k, "BEARER " + k, "Bearer " + s["session_token"]):
        r = stack.get(path, headers={"Authorization": value})
        c.check(r.status == 200, "Authorization %r...: %r" % (value[:12], r))
    kid = k.split("_")[1]
    for what, value in (("empty", ""), ("the scheme alone", "Bearer"),
                        ("the scheme and a space", "Bearer "), ("Basic", "Basic " + k),
                        ("Token", "Token " + k), ("no scheme", k),
                        ("two credentials", "Bearer %s %s" % (k, k)),
                        ("an empty secret", "Bearer lcx_%s_" % kid),
                        ("no secret", "Bearer lcx_%s" % kid),
                        ("the secret and more", "Bearer " + k + "a"),
                        ("the secret cut short", "Bearer " + k[:-1]),
                        ("the secret in capitals", "Bearer lcx_%s_%s" % (kid, key_secret(k).upper())),
                        ("another prefix", "Bearer lcy" + k[3:]),
                        ("a token prefix alone", "Bearer lcxt_")):
        r = c.error("Authorization: %s" % what, lambda: stack.get(path, headers={
            "Authorization": value}), 401)
        if r is not None:
            c.check(r.headers.get("www-authenticate", "").lower().startswith("bearer"),
                    "%s: WWW-Authenticate %r" % (what, r.headers.get("www-authenticate")))
    c.done()


# --------------------------------------------------------------------------------------------
# The operator's keys


@isolated(keys=True)
def test_admin_keys_create_list_update_revoke(stack):
    """POST /admin/keys shows the key once; GET /admin/keys never shows a secret; PATCH
    changes name, quotas, expires_at and webhook_url (null resets); DELETE revokes, once."""
    c = Checker()
    r = stack.post("/admin/keys", json={"name": "tenant one", "role": "client"})
    expect_status(r, 201, "POST /admin/keys")
    k = r.body
    harness.check_keys(k, ("key_id", "key", "name", "role", "quotas", "created_at",
                           "expires_at"), "the new key", exact=False)
    key, kid = k["key"], k["key_id"]
    expect(key.startswith("lcx_%s_" % kid), "key %r is not lcx_<key_id>_<secret> (key_id %r)"
           % (key, kid))
    secret = key_secret(key)
    c.check(len(secret) * 5 >= 190, "the secret has %d characters: fewer than 190 bits"
            % len(secret))
    c.check(k["name"] == "tenant one" and k["role"] == "client", "name/role: %s" % short(k))
    c.check(isinstance(k["quotas"], dict) and all(
        q in k["quotas"] for q in ("runs_per_minute", "concurrent_runs", "max_time_ms",
                                   "max_memory_mb")), "quotas: %r" % k["quotas"])
    c.check(k["quotas"].get("runs_per_minute") == 600 and k["quotas"].get("concurrent_runs") == 32,
            "default quotas (600 runs a minute, 32 at once): %r" % k["quotas"])
    c.run("created_at", check_time, k["created_at"], "created_at")
    c.check(k["expires_at"] is None, "expires_at without one: %r" % k["expires_at"])

    def listed():
        r = stack.get("/admin/keys")
        expect_status(r, 200, "GET /admin/keys")
        expect(isinstance(r.body, list), "GET /admin/keys is not a list: %r" % r)
        c.check(not any("key" in e for e in r.body), "a listed key has a 'key' field: %s"
                % short(r.body, 600))
        for s in (secret, key_secret(stack.admin_key)):
            c.check(s not in r.raw.decode("utf-8", "replace"), "GET /admin/keys shows a secret")
        mine = [e for e in r.body if e.get("key_id") == kid]
        expect(len(mine) == 1, "the key %s is listed %d times" % (kid, len(mine)))
        return mine[0], r.body

    entry, everything = listed()
    c.check("last_used_at" in entry and "revoked_at" in entry,
            "the list lacks last_used_at/revoked_at: %s" % short(entry))
    c.check(entry.get("revoked_at") is None, "revoked_at of a live key: %r" % entry)
    boot = [e for e in everything if e.get("name") == "bootstrap"]
    c.check(len(boot) == 1 and boot[0].get("role") == "admin" and
            stack.admin_key.startswith("lcx_%s_" % boot[0].get("key_id")),
            "the bootstrap admin key is not listed as 'bootstrap' (admin): %s"
            % short(everything, 600))
    # Using the key records last_used_at.
    s = new_session(stack, key)
    entry, _ = listed()
    c.check(entry.get("last_used_at") is not None, "last_used_at after a use: %r" % entry)

    def patch(body, what):
        r = stack.patch("/admin/keys/%s" % kid, json=body)
        expect_status(r, 200, "PATCH %s" % short(body))
        return r.body

    b = c.run("name", patch, {"name": "tenant uno"}, "name")
    c.check(b is None or b.get("name") == "tenant uno", "PATCH name: %r" % b)
    b = c.run("quotas", patch, {"quotas": {"runs_per_minute": 5, "concurrent_runs": 2}}, "")
    c.check(b is None or (b["quotas"]["runs_per_minute"] == 5 and
                          b["quotas"]["concurrent_runs"] == 2), "PATCH quotas: %r" % b)
    b = c.run("quota null", patch, {"quotas": {"runs_per_minute": None}}, "")
    c.check(b is None or (b["quotas"]["runs_per_minute"] == 600 and
                          b["quotas"]["concurrent_runs"] == 2),
            "PATCH quotas.runs_per_minute null: back to the default 600, the rest kept: %r" % b)
    later = time.time() + 3600
    b = c.run("expires_at", patch, {"expires_at": rfc3339(later)}, "")
    c.check(b is None or (b.get("expires_at") and
                          abs(parse_rfc3339(b["expires_at"]) - later) < 1.5),
            "PATCH expires_at %s: %r" % (rfc3339(later), b))
    b = c.run("expires_at null", patch, {"expires_at": None}, "")
    c.check(b is None or b.get("expires_at") is None, "PATCH expires_at null: %r" % b)
    b = c.run("webhook_url", patch, {"webhook_url": "https://example.test/hook"}, "")
    c.check(b is None or b.get("webhook_url") == "https://example.test/hook",
            "PATCH webhook_url: %r" % b)
    entry, _ = listed()
    c.check(entry.get("name") == "tenant uno" and
            entry.get("webhook_url") == "https://example.test/hook",
            "the list after PATCH: %s" % short(entry))
    b = c.run("webhook_url null", patch, {"webhook_url": None}, "")
    c.check(b is None or b.get("webhook_url") is None, "PATCH webhook_url null: %r" % b)
    r = stack.get("/code-sessions/%s" % s["session_id"], headers=bearer(key))
    c.check(r.status == 200, "the key after PATCHes: %r" % r)
    # A new admin key is an admin: the operator's routes and every tenant's sessions.
    admin = make_key(stack, "second operator", role="admin")["key"]
    for path in ("/admin/keys", "/metrics", "/code-sessions/%s" % s["session_id"]):
        r = stack.get(path, headers=bearer(admin))
        c.check(r.status == 200, "GET %s with a new admin key: %r" % (path, r))
    # Unknown and malformed ids.
    unknown = harness.new_api_key().split("_")[1]
    for method in ("PATCH", "DELETE"):
        for bad in (unknown, "not-a-key-id"):
            c.error("%s /admin/keys/%s" % (method, bad),
                    lambda: stack.request(method, "/admin/keys/%s" % bad,
                                          json={"name": "x"} if method == "PATCH" else None), 404)
    # Revoke: revoked_at set, the key refused, a second DELETE keeps the first time.
    r = stack.delete("/admin/keys/%s" % kid)
    expect_status(r, 200, "DELETE /admin/keys/%s" % kid)
    revoked_at = r.body.get("revoked_at")
    c.run("revoked_at", check_time, revoked_at, "revoked_at")
    r = stack.get("/code-sessions/%s" % s["session_id"], headers=bearer(key))
    c.error("the revoked key", r, 401)
    r = stack.delete("/admin/keys/%s" % kid)
    c.check(r.status == 200 and r.body.get("revoked_at") == revoked_at,
            "a second DELETE: 200 with the first revoked_at %r, got %r" % (revoked_at, r))
    entry, _ = listed()
    c.check(entry.get("revoked_at") == revoked_at, "the list after revoking: %s" % short(entry))
    c.done()


@isolated(keys=True)
def test_admin_keys_bad_bodies_are_400_naming_the_field(stack):
    c = Checker()
    count = len(stack.get("/admin/keys").body)
    good = {"name": "n", "role": "client"}
    creates = [
        ({"name": "n", "role": "root"}, "role"),
        ({"name": "n", "role": 7}, "role"),
        ({"role": "client"}, "name"),
        ({"name": "n"}, "role"),
        ({"name": "", "role": "client"}, "name"),
        (dict(good, colour="red"), "colour"),
        (dict(good, quotas="lots"), "quotas"),
        (dict(good, quotas={"runs_per_hour": 5}), "runs_per_hour"),
        (dict(good, quotas={"runs_per_minute": -1}), "runs_per_minute"),
        (dict(good, quotas={"runs_per_minute": 2.5}), "runs_per_minute"),
        (dict(good, quotas={"runs_per_minute": "10"}), "runs_per_minute"),
        (dict(good, quotas={"runs_per_minute": 10 ** 12}), "runs_per_minute"),
        (dict(good, quotas={"concurrent_runs": -3}), "concurrent_runs"),
        (dict(good, quotas={"max_time_ms": 60000}), "max_time_ms"),  # above the 30 s maximum
        (dict(good, quotas={"max_memory_mb": 4096}), "max_memory_mb"),  # above 1 GiB
        (dict(good, expires_at="2020-01-01T00:00:00.000Z"), "expires_at"),
        (dict(good, expires_at=rfc3339(time.time() - 5)), "expires_at"),
        (dict(good, expires_at="tomorrow"), "expires_at"),
        (dict(good, expires_at=1893456000000), "expires_at"),
        (dict(good, webhook_url="ftp://example.test/"), "webhook_url"),
    ]
    for body, field in creates:
        r = c.error("POST /admin/keys %s" % short(body),
                    lambda: stack.post("/admin/keys", json=body), 400)
        if r is not None:
            c.check(field in error_text(r), "POST /admin/keys %s: the 400 does not name %r: %r"
                    % (short(body), field, r.body))
    c.error("POST /admin/keys not JSON",
            stack.post("/admin/keys", data="{name", headers={"Content-Type": "application/json"}),
            400)
    c.error("POST /admin/keys an array", stack.post("/admin/keys", json=[good]), 400)
    c.check(len(stack.get("/admin/keys").body) == count, "a refused POST made a key")
    kid = make_key(stack, "patched")["key_id"]
    updates = [
        ({}, "name"),  # nothing to change: the message lists what can
        ({"role": "admin"}, "role"),  # a key's role does not change
        ({"colour": 1}, "colour"),
        ({"name": ""}, "name"),
        ({"quotas": {"runs_per_minute": -5}}, "runs_per_minute"),
        ({"quotas": {"max_time_ms": 60000}}, "max_time_ms"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"webhook_url": "not a url"}, "webhook_url"),
    ]
    for body, field in updates:
        r = c.error("PATCH /admin/keys %s" % short(body),
                    lambda: stack.patch("/admin/keys/%s" % kid, json=body), 400)
        if r is not None:
            c.check(field in error_text(r), "PATCH /admin/keys %s: the 400 does not name %r: %r"
                    % (short(body), field, r.body))
    entry = [e for e in stack.get("/admin/keys").body if e["key_id"] == kid][0]
    c.check(entry["name"] == "patched" and entry["role"] == "client",
            "refused PATCHes changed the key: %s" % short(entry))
    c.done()


@isolated(keys=True)
def test_key_expiry_and_patching_it(stack):
    """A key works until its expires_at, then gets 401; PATCH expires_at to a later time (or
    null) makes it work again."""
    until_t = time.time() + 2
    k = make_key(stack, "short", expires_at=rfc3339(until_t))
    c = Checker()
    c.check(abs(parse_rfc3339(k["expires_at"]) - until_t) < 1, "expires_at %r, asked %s"
            % (k["expires_at"], rfc3339(until_t)))
    path = "/code-sessions/%s" % FAKE_ID
    c.error("before expires_at", stack.get(path, headers=bearer(k["key"])), 404)
    time.sleep(max(0, until_t - time.time() + 0.3))
    r = c.error("after expires_at", stack.get(path, headers=bearer(k["key"])), 401)
    if r is not None:
        c.check("bearer" in r.headers.get("www-authenticate", "").lower(),
                "WWW-Authenticate %r" % r.headers.get("www-authenticate"))
    for value in (rfc3339(time.time() + 3600), None):
        r = stack.patch("/admin/keys/%s" % k["key_id"], json={"expires_at": value})
        c.check(r.status == 200, "PATCH expires_at %s on an expired key: %r" % (value, r))
        c.error("after PATCH expires_at %s" % value, stack.get(path, headers=bearer(k["key"])),
                404)
    c.done()


@isolated(keys=True)
def test_bootstrap_key_is_registered_at_start(stack):
    """The store registers the key in LCX_ADMIN_KEY_FILE as the admin key 'bootstrap' at start;
    a new key there replaces the earlier one, which stops working."""
    old = stack.admin_key
    expect_status(stack.get("/admin/keys"), 200, "the bootstrap key")
    new = harness.new_api_key()
    with open(stack.extra_env["session"]["LCX_ADMIN_KEY_FILE"], "w") as f:
        f.write(new + "\n")
    stack.restart("session")
    stack.admin_key = new
    stack.wait_ready()
    r = stack.get("/admin/keys")
    expect_status(r, 200, "the new bootstrap key")
    boot = [e for e in r.body if e.get("name") == "bootstrap"]
    live = [e for e in boot if e.get("revoked_at") is None]
    expect(len(live) == 1 and new.startswith("lcx_%s_" % live[0]["key_id"]),
           "one live bootstrap key, the new one: %s" % short(boot, 600))
    expect_error(stack.get("/admin/keys", headers=bearer(old)), 401, "the replaced bootstrap key")


# --------------------------------------------------------------------------------------------
# Session tokens


def _near(value, seconds, what, slack=30):
    t = parse_rfc3339(value)
    expect(abs(t - (time.time() + seconds)) < slack, "%s %s is not %d s ahead" % (what, value,
                                                                                seconds))


@isolated(keys=True)
def test_session_tokens_come_with_sessions_and_are_minted(stack):
    c = Checker()
    key = make_key(stack, "tenant")["key"]
    s = new_session(stack, key)
    sid = s["session_id"]
    c.check(isinstance(s.get("session_token"), str) and s["session_token"],
            "POST /code-sessions with a key gives no session_token: %s" % short(s))
    c.run("session_token_expires_at", _near, s.get("session_token_expires_at"), 3600,
          "session_token_expires_at")
    a = stack.create_session("bash", "true\n")  # the admin key's
    c.check(isinstance(a.get("session_token"), str), "an admin key's session has no token: %s"
            % short(a))
    tokens = {s.get("session_token")}
    for body, ttl in ((None, 3600), ({}, 3600), ({"ttl_s": 120}, 120), ({"ttl_s": 86400}, 86400),
                      ({"ttl_s": 1}, 1)):
        r = stack.post("/code-sessions/%s/tokens" % sid, json=body, headers=bearer(key))
        if not c.check(r.status == 201, "POST tokens %s: %r" % (short(body), r)):
            continue
        c.check(set(r.body) >= {"session_token", "session_token_expires_at"},
                "POST tokens %s: %r" % (short(body), r.body))
        c.run("ttl %s" % ttl, _near, r.body["session_token_expires_at"], ttl,
              "tokens %s: session_token_expires_at" % short(body), 5 if ttl < 600 else 30)
        tok = r.body["session_token"]
        c.check(tok not in tokens, "POST tokens gave a token already given")
        tokens.add(tok)
        if ttl > 1:
            g = stack.get("/code-sessions/%s" % sid, headers=bearer(tok))
            c.check(g.status == 200, "the token of ttl %s: GET the session -> %r" % (ttl, g))
    for body, field in (({"ttl_s": 86401}, "ttl_s"), ({"ttl_s": 0}, "ttl_s"),
                        ({"ttl_s": -5}, "ttl_s"), ({"ttl_s": "60"}, "ttl_s"),
                        ({"ttl": 60}, "ttl")):
        r = c.error("POST tokens %s" % short(body),
                    lambda: stack.post("/code-sessions/%s/tokens" % sid, json=body,
                                       headers=bearer(key)), 400)
        if r is not None:
            c.check(field in error_text(r), "POST tokens %s: the 400 does not name %s: %r"
                    % (short(body), field, r.body))
    c.done()


@isolated(keys=True, extra_env={"gateway": {"LCX_TOKEN_TTL_S": "120",
                                            "LCX_MAX_TOKEN_TTL_S": "600"}})
def test_token_lifetimes_follow_the_settings(stack):
    """LCX_TOKEN_TTL_S is the default lifetime (the token of POST /code-sessions too) and
    LCX_MAX_TOKEN_TTL_S the longest."""
    c = Checker()
    k = make_key(stack, "tenant")["key"]
    s = new_session(stack, k)
    c.run("the session's token", _near, s.get("session_token_expires_at"), 120,
          "session_token_expires_at with LCX_TOKEN_TTL_S=120", 5)
    tokens = "/code-sessions/%s/tokens" % s["session_id"]
    r = stack.post(tokens, json={}, headers=bearer(k))
    if c.check(r.status == 201, "POST tokens {}: %r" % r):
        c.run("default", _near, r.body["session_token_expires_at"], 120, "POST tokens {}", 5)
    r = stack.post(tokens, json={"ttl_s": 600}, headers=bearer(k))
    if c.check(r.status == 201, "POST tokens ttl_s 600: %r" % r):
        c.run("max", _near, r.body["session_token_expires_at"], 600, "ttl_s 600", 5)
    r = c.error("ttl_s above LCX_MAX_TOKEN_TTL_S",
                lambda: stack.post(tokens, json={"ttl_s": 601}, headers=bearer(k)), 400)
    if r is not None:
        c.check("600" in error_text(r), "the 400 does not give the maximum 600: %r" % r.body)
    c.done()


@isolated(keys=True)
@timeout(60)
def test_session_token_opens_its_sessions_calls(stack):
    """GET and PATCH of the session, run, the list, the execution, its events and cancel."""
    key = make_key(stack, "tenant")["key"]
    s = new_session(stack, key, "echo from the token\n")
    sid, tok = s["session_id"], s["session_token"]
    t = bearer(tok)
    expect_status(stack.get("/code-sessions/%s" % sid, headers=t), 200, "GET")
    r = stack.patch("/code-sessions/%s" % sid, json={"source_code": "echo patched\n"}, headers=t)
    expect_status(r, 200, "PATCH")
    eid = start_run(stack, sid, tok)
    e = wait_done(stack, eid, tok)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "patched\n", harness.describe(e))
    r = stack.get("/code-sessions/%s/executions" % sid, headers=t)
    expect(r.status == 200 and [x["execution_id"] for x in r.body] == [eid], "list: %r" % r)
    r = stack.get("/executions/%s/events" % eid, headers=t)
    expect(r.status == 200 and "event: result" in r.body, "events: %r" % r)
    r = stack.patch("/code-sessions/%s" % sid, json={"source_code": "sleep 10\n"}, headers=t)
    eid = start_run(stack, sid, tok)
    r = stack.post("/executions/%s/cancel" % eid, headers=t)
    expect(r.status == 200 and r.body.get("status") == "CANCELLED", "cancel: %r" % r)


@isolated(keys=True)
@timeout(60)
def test_session_token_stops_working(stack):
    """401 when the session is closed, when the token's key is revoked, when it expires, and
    for a token whose text was changed."""
    c = Checker()
    key = make_key(stack, "tenant")
    mortal_until = time.time() + 3
    mortal = make_key(stack, "expires soon", expires_at=rfc3339(mortal_until))["key"]
    mortal_session = new_session(stack, mortal)
    # The session is closed.
    s = new_session(stack, key["key"])
    tok = bearer(s["session_token"])
    expect_status(stack.get("/code-sessions/%s" % s["session_id"], headers=tok), 200, "before")
    done = start_run(stack, s["session_id"], s["session_token"])
    wait_done(stack, done, s["session_token"])
    expect_status(stack.delete("/code-sessions/%s" % s["session_id"], headers=bearer(key["key"])),
                  200, "DELETE the session")
    for method, path, body in (("GET", "/code-sessions/{}", None),
                               ("PATCH", "/code-sessions/{}", {"source_code": "true\n"}),
                               ("POST", "/code-sessions/{}/run", {}),
                               ("GET", "/code-sessions/{}/executions", None),
                               ("GET", "/executions/%s" % done, None),
                               ("GET", "/executions/%s/events" % done, None)):
        r = stack.request(method, path.format(s["session_id"]), json=body, headers=tok)
        c.error("%s %s with the token of a closed session" % (method, path), r, 401)
        c.check("bearer" in r.headers.get("www-authenticate", "").lower(),
                "%s %s: WWW-Authenticate %r" % (method, path, r.headers.get("www-authenticate")))
    # Its key is revoked (the token was minted by POST .../tokens, the session is open).
    doomed = make_key(stack, "doomed")
    s2 = new_session(stack, doomed["key"])
    r = stack.post("/code-sessions/%s/tokens" % s2["session_id"], json={},
                   headers=bearer(doomed["key"]))
    expect_status(r, 201, "mint")
    minted = r.body["session_token"]
    eid = start_run(stack, s2["session_id"], minted)
    wait_done(stack, eid, minted)
    expect_status(stack.delete("/admin/keys/%s" % doomed["key_id"]), 200, "revoke")
    for tk in (s2["session_token"], minted):
        c.error("GET the session with a token of a revoked key",
                stack.get("/code-sessions/%s" % s2["session_id"], headers=bearer(tk)), 401)
        c.error("events ?access_token= of a revoked key",
                stack.get("/executions/%s/events?access_token=%s" % (eid, tk), headers=NO_AUTH),
                401)
    # It expires.
    s3 = new_session(stack, key["key"])
    r = stack.post("/code-sessions/%s/tokens" % s3["session_id"], json={"ttl_s": 2},
                   headers=bearer(key["key"]))
    expect_status(r, 201, "a token of 2 s")
    short_lived = r.body["session_token"]
    c.check(stack.get("/code-sessions/%s" % s3["session_id"],
                      headers=bearer(short_lived)).status == 200, "the 2 s token at once")
    c.check(stack.get("/code-sessions/%s" % mortal_session["session_id"],
                      headers=bearer(mortal_session["session_token"])).status == 200,
            "the token of a key that has not expired yet")
    time.sleep(max(0, parse_rfc3339(r.body["session_token_expires_at"]) - time.time() + 0.3,
                   mortal_until - time.time() + 0.3))
    c.error("the 2 s token after 2 s",
            stack.get("/code-sessions/%s" % s3["session_id"], headers=bearer(short_lived)), 401)
    c.error("a token (1 h) of a key that has expired",
            stack.get("/code-sessions/%s" % mortal_session["session_id"],
                      headers=bearer(mortal_session["session_token"])), 401)
    # Changed texts (the MAC no longer matches).
    good = s3["session_token"]
    parts = good.split("_")
    variants = {"a flipped last character": good[:-1] + ("a" if good[-1] != "a" else "b"),
                "cut short": good[:-4],
                "an extra character": good + "a",
                "another session id": good.replace(s3["session_id"], s2["session_id"])}
    if len(parts) == 5:
        variants["a later expiry"] = "_".join(parts[:3] + [str(int(parts[3]) + 10 ** 9)] +
                                              parts[4:])
        variants["an expired token pushed later"] = short_lived.replace(
            short_lived.split("_")[3], str(int(short_lived.split("_")[3]) + 3600000))
    for what, text in variants.items():
        c.check(text != good, "tamper %s did nothing" % what)
        c.error("a token with %s" % what,
                stack.get("/code-sessions/%s" % s3["session_id"], headers=bearer(text)), 401)
    c.check(stack.get("/code-sessions/%s" % s3["session_id"], headers=bearer(good)).status == 200,
            "the untouched token")
    c.done()


@isolated(keys=True)
@timeout(60)
def test_event_stream_takes_the_token_as_access_token(stack):
    """EventSource sends no headers: ?access_token=<session token> opens the stream; an API
    key there is not accepted."""
    c = Checker()
    key = make_key(stack, "tenant")["key"]
    s = new_session(stack, key, "echo one\nsleep 1\necho two\n")
    tok = s["session_token"]
    eid = start_run(stack, s["session_id"], tok)
    # Live: the stream follows the run to its result.
    r = stack.get("/executions/%s/events?access_token=%s" % (eid, tok), headers=NO_AUTH,
                  timeout=30)
    events = sse_events(r.body) if isinstance(r.body, str) else []
    c.check(r.status == 200 and r.headers.get("content-type", "").startswith("text/event-stream"),
            "live stream with ?access_token=: %r %s" % (r, r.headers))
    c.check(events and events[-1].get("event") == "result" and
            "one" in r.body and "two" in r.body,
            "the live stream lacks the output or the result: %s" % short(r.body, 800))
    # Finished: the whole stream again.
    r = stack.get("/executions/%s/events?access_token=%s" % (eid, tok), headers=NO_AUTH)
    c.check(r.status == 200 and "event: result" in str(r.body), "replayed stream: %r" % r)
    other = make_key(stack, "another")["key"]
    for what, value, status in (("the owner's API key", key, 401),
                                ("the admin key", stack.admin_key, 401),
                                ("another key", other, 401),
                                ("garbage", "nonsense", 401),
                                ("the token cut short", tok[:-3], 401),
                                ("another session's token",
                                 new_session(stack, key)["session_token"], (403, 404))):
        r = c.error("events ?access_token=%s" % what,
                    lambda: stack.get("/executions/%s/events?access_token=%s" % (eid, value),
                                      headers=NO_AUTH), status)
        if r is not None and r.status == 401:
            c.check("bearer" in r.headers.get("www-authenticate", "").lower(),
                    "%s: WWW-Authenticate %r" % (what, r.headers.get("www-authenticate")))
    r = c.error("GET the session ?access_token=<API key>",
                lambda: stack.get("/code-sessions/%s?access_token=%s" % (s["session_id"], key),
                                  headers=NO_AUTH), 401)
    c.done()


# --------------------------------------------------------------------------------------------
# The operator's routes and browsers


def _no_cors(c, what, r):
    allow = sorted(h for h in r.headers if h.startswith("access-control-allow"))
    c.check(not allow, "%s: the operator's route sent CORS headers %s" % (what, allow))


def _foreign_origin_checks(c, request, admin_paths):
    for path in admin_paths:
        r = c.error("GET %s from a foreign Origin" % path,
                    lambda: request("GET", path, headers={"Origin": "http://evil.example"}), 403)
        if r is not None:
            _no_cors(c, "GET %s from a foreign Origin" % path, r)
        r = request("OPTIONS", path, headers={"Origin": "http://evil.example",
                                              "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "authorization"})
        _no_cors(c, "OPTIONS %s" % path, r)
        r = request("GET", path)
        c.check(r.status == 200, "GET %s without Origin: %r" % (path, r))
        _no_cors(c, "GET %s without Origin" % path, r)


@isolated(keys=True)
def test_admin_routes_refuse_foreign_origins_with_keys(stack):
    """With keys too, /admin/* refuses a browser of another origin (403, no CORS headers),
    and its preflight gets no CORS allow headers; its own origin works."""
    c = Checker()
    _foreign_origin_checks(c, stack.request, ("/admin/keys", "/admin/runners", "/admin/queue"))
    count = len(stack.get("/admin/keys").body)
    c.error("POST /admin/keys from a foreign Origin",
            stack.post("/admin/keys", json={"name": "csrf", "role": "admin"},
                       headers={"Origin": "http://evil.example"}), 403)
    c.check(len(stack.get("/admin/keys").body) == count, "a foreign Origin made a key")
    own = "http://127.0.0.1:%d" % stack.http_port
    r = stack.get("/admin/keys", headers={"Origin": own})
    c.check(r.status == 200, "GET /admin/keys from the gateway's own origin: %r" % r)
    _no_cors(c, "GET /admin/keys from its own origin", r)
    r = stack.get("/languages", headers={"Origin": "http://evil.example"})
    c.check(r.status == 200 and r.headers.get("access-control-allow-origin"),
            "the public API answers other origins with CORS: %r %s" % (r, r.headers))
    # A learner's page on another origin sends its token: the preflight allows Authorization,
    # and browser code may read WWW-Authenticate.
    r = stack.request("OPTIONS", "/code-sessions/%s" % FAKE_ID,
                      headers={"Origin": "http://learn.example", "Authorization": None,
                               "Access-Control-Request-Method": "PATCH",
                               "Access-Control-Request-Headers": "authorization, content-type"})
    allowed = r.headers.get("access-control-allow-headers", "").lower()
    c.check(r.status in (200, 204) and "authorization" in allowed,
            "preflight of a PATCH with Authorization: %r %s" % (r, r.headers))
    r = stack.get("/code-sessions/%s" % FAKE_ID, headers={"Origin": "http://learn.example",
                                                         "Authorization": None})
    c.check("www-authenticate" in r.headers.get("access-control-expose-headers", "").lower(),
            "WWW-Authenticate is not exposed to browsers: %s" % r.headers)
    c.done()


def test_admin_routes_without_keys_answer_loopback_but_not_foreign_origins(stack):
    """LCX_AUTH=none (the default on loopback): /admin/* works from loopback, never for a
    browser of another origin."""
    c = Checker()
    _foreign_origin_checks(c, stack.request, ("/admin/runners", "/admin/queue", "/admin/keys"))
    c.done()


@isolated(extra_flags={"gateway": ["--http-host", "0.0.0.0", "--auth", "none"]})
def test_without_keys_admin_routes_refuse_clients_off_loopback(stack):
    """LCX_AUTH=none asked for on a non-loopback address: a warning at start; /admin/* refuses
    a client that is not on loopback, the rest of the API serves it. Without --auth, a gateway
    on a non-loopback address requires keys."""
    addr = local_non_loopback_ipv4()
    if addr is None:
        print("    (skipped: this host has no IPv4 address other than loopback)")
        return
    c = Checker()
    warned = [rec for rec in log_records(stack.log_path("gateway"))
              if str(rec.get("level", "")).lower().startswith("warn") and "none" in str(rec)]
    c.check(warned, "no warning at start about LCX_AUTH=none on a non-loopback address")

    def far(method, path, **kw):
        return harness.http_request(stack.http_port, method, path, host=addr, **kw)

    for path in ("/admin/runners", "/admin/queue", "/admin/keys"):
        c.error("GET %s from %s" % (path, addr), lambda: far("GET", path), 403)
        r = stack.get(path)
        c.check(r.status == 200, "GET %s from loopback: %r" % (path, r))
    c.error("POST /admin/keys from %s" % addr,
            lambda: far("POST", "/admin/keys", json={"name": "x", "role": "admin"}), 403)
    r = far("POST", "/code-sessions", json={"language": "bash", "source_code": "true\n"})
    c.check(r.status == 201, "POST /code-sessions from %s without keys: %r" % (addr, r))
    gw = ExtraGateway(stack, host="0.0.0.0")  # no --auth: keys, since not only loopback
    try:
        r = gw.request("POST", "/code-sessions", json={})
        c.error("POST /code-sessions on a 0.0.0.0 gateway without --auth", r, 401)
        c.check(r.status != 401 or "bearer" in r.headers.get("www-authenticate", "").lower(),
                "WWW-Authenticate: %r" % r.headers)
        c.check(gw.request("GET", "/health/live").status == 200, "/health/live needs no key")
    finally:
        gw.close()
    c.done()


def test_auth_setting_takes_keys_or_none(stack):
    """LCX_AUTH is keys or none: another value stops the gateway at start, saying so."""
    port = harness.free_ports(1)[0]
    p = subprocess.run([stack.binary("gateway"), "--session-endpoint",
                        stack.endpoint(stack.session_port), "--http-port", str(port),
                        "--data-dir", os.path.join(stack.tmp, "auth-setting"),
                        "--auth", "sometimes"],
                       capture_output=True, text=True, timeout=10, cwd=stack.tmp,
                       env={k: v for k, v in os.environ.items() if not k.startswith("LCX_")})
    expect(p.returncode != 0, "the gateway started with --auth sometimes")
    expect("auth" in (p.stdout + p.stderr), "the gateway does not say what is wrong: %r"
           % (p.stdout + p.stderr)[-400:])


@isolated(keys=True)
def test_token_secret_is_made_once_in_the_data_dir(stack):
    """Without LCX_TOKEN_SECRET_FILE the gateway makes its secret at first start in the data
    directory (mode 0600) and keeps it: a token outlives a restart of the gateway."""
    path = os.path.join(stack.data_dir, "token_secret")
    expect(os.path.exists(path), "no token secret in the data directory %s: %s"
           % (stack.data_dir, os.listdir(stack.data_dir)))
    mode = os.stat(path).st_mode & 0o777
    expect(mode & 0o077 == 0, "the token secret's mode is %o: others may read it" % mode)
    with open(path) as f:
        before = f.read()
    k = make_key(stack, "tenant")["key"]
    s = new_session(stack, k)
    stack.restart("gateway")
    stack.wait_ready()
    with open(path) as f:
        expect(f.read() == before, "the gateway made another token secret at restart")
    expect_status(stack.get("/code-sessions/%s" % s["session_id"],
                            headers=bearer(s["session_token"])), 200,
                  "a token made before the gateway restarted")


def test_without_keys_metrics_answer_clients_off_loopback(stack):
    """Only /admin/* is kept to loopback without keys (API.md: "/admin/* with LCX_AUTH=none:
    only from a loopback peer"): /metrics and /health answer a scraper on another host of a
    gateway asked to run without keys on a non-loopback address."""
    addr = local_non_loopback_ipv4()
    if addr is None:
        print("    (skipped: this host has no IPv4 address other than loopback)")
        return
    gw = ExtraGateway(stack, host="0.0.0.0", flags=["--auth", "none"], name="gateway-any")
    try:
        c = Checker()
        for path in ("/metrics", "/health"):
            r = gw.request("GET", path, host=addr)
            c.check(r.status == 200, "GET %s from %s without keys: %r" % (path, addr, r))
        c.error("GET /admin/queue from %s" % addr, gw.request("GET", "/admin/queue", host=addr),
                403)
        c.done()
    finally:
        gw.close()


# --------------------------------------------------------------------------------------------
# Revocation through every gateway


@isolated(keys=True)
@timeout(60)
def test_revocation_is_seen_by_another_gateway_within_a_second(stack):
    """Two gateways on one store, with one token secret: a key used on both, revoked on A, is
    refused by B within 1 s, and so are its tokens; the other way round too."""
    gw = ExtraGateway(stack, flags=["--auth", "keys"])
    try:
        a, b = stack.request, gw.request
        for revoke_on, check_on, label in ((a, b, "A then B"), (b, a, "B then A")):
            k = make_key(stack, "two gateways %s" % label)
            s = new_session(stack, k["key"])
            path = "/code-sessions/%s" % s["session_id"]
            for name, req in (("A", a), ("B", b)):
                expect_status(req("GET", path, headers=bearer(k["key"])), 200,
                              "%s: the key on gateway %s" % (label, name))
                expect_status(req("GET", path, headers=bearer(s["session_token"])), 200,
                              "%s: the token (made by A) on gateway %s" % (label, name))
            r = b("POST", path + "/tokens", json={}, headers=bearer(k["key"]))
            expect_status(r, 201, "%s: a token minted by gateway B" % label)
            expect_status(a("GET", path, headers=bearer(r.body["session_token"])), 200,
                          "%s: B's token on gateway A" % label)
            r = revoke_on("DELETE", "/admin/keys/%s" % k["key_id"],
                          headers=bearer(stack.admin_key))
            expect_status(r, 200, "%s: revoke" % label)
            t0 = time.monotonic()
            while True:
                r1 = check_on("GET", path, headers=bearer(k["key"]))
                r2 = check_on("GET", path, headers=bearer(s["session_token"]))
                if r1.status == 401 and r2.status == 401:
                    break
                expect(time.monotonic() - t0 < 1.0,
                       "%s: 1 s after the revoke the other gateway still answers the key %r "
                       "and its token %r" % (label, r1, r2))
                time.sleep(0.05)
    finally:
        gw.close()


@isolated(keys=True)
def test_a_gateway_with_another_token_secret_refuses_the_tokens(stack):
    """Tokens are signed with the gateways' shared secret: a gateway with another secret
    refuses them (401), while the API key itself works there."""
    secret = os.path.join(stack.tmp, "other_token_secret")
    with open(secret, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(secret, 0o600)
    gw = ExtraGateway(stack, flags=["--auth", "keys", "--token-secret-file", secret])
    try:
        k = make_key(stack, "tenant")["key"]
        s = new_session(stack, k)
        path = "/code-sessions/%s" % s["session_id"]
        expect_status(stack.get(path, headers=bearer(s["session_token"])), 200, "on gateway A")
        expect_status(gw.request("GET", path, headers=bearer(k)), 200, "the key on gateway C")
        expect_error(gw.request("GET", path, headers=bearer(s["session_token"])), 401,
                     "A's token on a gateway with another secret")
    finally:
        gw.close()


# --------------------------------------------------------------------------------------------
# The access log


@isolated(keys=True)
@timeout(60)
def test_access_log_carries_key_id_and_no_secrets(stack):
    key = make_key(stack, "logged")
    kid = key["key_id"]
    s = new_session(stack, key["key"])
    tok = s["session_token"]
    eid = start_run(stack, s["session_id"], tok)
    wait_done(stack, eid, tok)
    stack.get("/executions/%s/events?access_token=%s" % (eid, tok), headers=NO_AUTH)
    r = stack.post("/code-sessions/%s/tokens" % s["session_id"], json={},
                   headers=bearer(key["key"]))
    minted = r.body["session_token"]
    made = make_key(stack, "made later")["key"]  # its secret is in a response, not in a log
    stranger = harness.new_api_key()
    stack.get("/code-sessions/%s" % s["session_id"], headers=bearer(stranger))
    stack.get("/code-sessions/%s" % s["session_id"], headers={"Authorization": "Bearer " +
                                                               tok + "x"})
    stack.get("/health/live", headers=NO_AUTH)
    time.sleep(0.5)
    c = Checker()
    lines = [rec for rec in log_records(stack.log_path("gateway")) if rec.get("event") == "request"]
    c.check(lines, "no access log lines (\"request\") in the gateway log")
    for rec in lines:
        missing = [f for f in ("method", "route", "status", "key_id") if f not in rec]
        if not any(f.startswith("duration") for f in rec):
            missing.append("duration")
        if not c.check(not missing, "an access line without %s: %r" % (missing, rec)):
            break

    def line_for(method, route, key_id):
        return any(rec.get("method") == method and rec.get("route") == route and
                   rec.get("key_id") == key_id for rec in lines)

    c.check(line_for("POST", "/code-sessions", kid),
            "no access line for POST /code-sessions with key_id %s" % kid)
    c.check(line_for("POST", "/code-sessions/{id}/run", kid),
            "no access line for the run made with the token with key_id %s (the token's key)"
            % kid)
    c.check(line_for("GET", "/executions/{id}/events", kid),
            "no access line for the event stream (?access_token=) with key_id %s" % kid)
    boot = stack.admin_key.split("_")[1]
    c.check(line_for("POST", "/admin/keys", boot),
            "no access line for POST /admin/keys with the bootstrap key's id %s" % boot)
    secrets = {"the client key": key["key"], "its secret": key_secret(key["key"]),
               "the admin key's secret": key_secret(stack.admin_key),
               "a key made later": key_secret(made), "an unknown key": key_secret(stranger),
               "the session token": tok, "its MAC": tok.rsplit("_", 1)[-1],
               "a minted token": minted.rsplit("_", 1)[-1]}
    for service in stack.services:
        with open(stack.log_path(service), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for what, secret in secrets.items():
            c.check(secret not in text, "the %s log holds %s" % (service, what))
    c.done()


def test_no_session_token_without_keys(stack):
    """Without keys there are no tokens: POST /code-sessions has no session_token and the
    tokens route says why."""
    s = stack.create_session("bash", "true\n")
    expect("session_token" not in s, "a session token without keys: %s" % short(s))
    r = stack.post("/code-sessions/%s/tokens" % s["session_id"], json={})
    expect_error(r, (400, 404, 409), "POST tokens without keys")
