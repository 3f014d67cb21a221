"""Helpers of the access tests (test_access.py, test_quotas.py): keys, callers, a second
gateway, requests from another client address, metrics."""

import calendar
import http.client
import json as jsonlib
import os
import re
import subprocess
import time

import harness
from harness import expect, expect_status, free_ports, short, until

NO_AUTH = {"Authorization": None}


def bearer(credential):
    return {"Authorization": "Bearer " + credential}


def rfc3339(t):
    """Unix time t as RFC 3339 UTC with milliseconds."""
    ms = int(round((t - int(t)) * 1000))
    if ms == 1000:
        t, ms = int(t) + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t))) + ".%03dZ" % ms


def parse_rfc3339(value):
    """An RFC 3339 UTC time (with or without milliseconds) as Unix time."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$", value or "")
    expect(m, "not an RFC 3339 UTC time: %r" % (value,))
    frac = float(m.group(2)) if m.group(2) else 0.0
    return calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + frac


def make_key(stack, name, role="client", **fields):
    """POST /admin/keys (as the bootstrap admin); the 201 body, with `key`."""
    body = dict(name=name, role=role, **fields)
    r = stack.post("/admin/keys", json=body)
    expect_status(r, 201, "POST /admin/keys %s" % short(body))
    expect(isinstance(r.body.get("key"), str), "POST /admin/keys shows no key: %r" % r)
    return r.body


def key_secret(key):
    """The secret of lcx_<key_id>_<secret>."""
    return key.split("_", 2)[2]


def new_session(stack, credential, source="echo hi\n", language="bash"):
    """POST /code-sessions with a key; the 201 body (session_token included when the gateway
    gives one)."""
    r = stack.post("/code-sessions", json={"language": language, "source_code": source},
                   headers=bearer(credential))
    expect_status(r, 201, "POST /code-sessions with a key")
    return r.body


def start_run(stack, session_id, credential, body=None):
    r = stack.post("/code-sessions/%s/run" % session_id, json=body or {},
                   headers=bearer(credential))
    expect_status(r, 202, "POST /code-sessions/%s/run" % session_id)
    return r.body["execution_id"]


def wait_done(stack, execution_id, credential, total=30.0):
    """The execution once terminal (GET ?wait with the credential)."""
    deadline = time.monotonic() + total
    while True:
        r = stack.get("/executions/%s?wait=10000" % execution_id, headers=bearer(credential),
                      timeout=20)
        expect_status(r, 200, "GET /executions/%s?wait" % execution_id)
        if r.body.get("status") in harness.TERMINAL:
            return r.body
        expect(time.monotonic() < deadline, "execution %s not finished after %.0f s: %s"
               % (execution_id, total, short(r.body)))


def error_text(r):
    """The error and its details as one string (for 'names the field' checks)."""
    if not isinstance(r.body, dict):
        return str(r.body)
    return " ".join([str(r.body.get("error", ""))] + [str(d) for d in r.body.get("details") or []])


def request_from(source, port, method, path, json=None, headers=None, timeout=10.0,
                 host="127.0.0.1"):
    """One request from the local address `source` (e.g. 127.0.0.2: another client address)."""
    hdrs = {"Connection": "close"}
    body = None
    if json is not None:
        body = jsonlib.dumps(json).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update({k: v for k, v in (headers or {}).items() if v is not None})
    conn = http.client.HTTPConnection(host, port, timeout=timeout, source_address=(source, 0))
    try:
        start = time.monotonic()
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return harness.Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw,
                                time.monotonic() - start)
    finally:
        conn.close()


def metric_samples(text, name):
    """{labels text: value} of the samples of metric `name` in Prometheus text."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})?\s+(\S+)" % re.escape(name), line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def metric_sum(text, name, label_has=""):
    return sum(v for k, v in metric_samples(text, name).items() if label_has in k)


class ExtraGateway:
    """Another lcx-gateway process against a stack's session store, on its own port, with the
    stack's data directory (so the same token secret). Stop it with close()."""

    def __init__(self, stack, host="127.0.0.1", flags=(), env=None, name="gateway-b"):
        self.stack = stack
        self.port = free_ports(1)[0]
        self.log_path = os.path.join(stack.tmp, name + ".log")
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("LCX_") or k.startswith("LCX_TEST_")}
        e["LCX_LOG_LEVEL"] = "debug"
        e.update(env or {})
        cmd = [stack.binary("gateway"), "--session-endpoint", stack.session_endpoint,
               "--http-host", host, "--http-port", str(self.port),
               "--data-dir", stack.data_dir] + list(flags)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=e, cwd=stack.tmp,
                                     start_new_session=True)
        log.close()
        try:
            until(lambda: self.proc.poll() is None and
                  harness.http_request(self.port, "GET", "/health/live", timeout=2).status == 200,
                  15, "%s answers /health/live" % name)
        except AssertionError:
            self.close()
            raise

    def request(self, method, path, json=None, headers=None, timeout=10.0, host="127.0.0.1"):
        headers = {k: v for k, v in (headers or {}).items() if v is not None}
        return harness.http_request(self.port, method, path, json=json, headers=headers,
                                    timeout=timeout, host=host)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def local_non_loopback_ipv4():
    """An IPv4 address of this host other than 127.x, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                             text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for m in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", out):
        if not m.group(1).startswith("127."):
            return m.group(1)
    return None


def log_records(path):
    """The JSON lines of a log file."""
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("{"):
                    try:
                        out.append(jsonlib.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out
