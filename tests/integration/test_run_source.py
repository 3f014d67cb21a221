"""Run the text the learner sees: a run may carry source_code (saved, then run, in one
transaction) and version (the saved version it expects); every execution names the
source_version it ran."""

import http.client
import json
import os
import threading

from harness import (describe, expect, expect_error, expect_status, isolated, short, timeout,
                     until)


def _run_path(sid):
    return "/code-sessions/%s/run" % sid


def _result_event(port, eid):
    """The `result` event of a finished execution's event stream, parsed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/executions/%s/events" % eid,
                     headers={"Accept": "text/event-stream"})
        text = conn.getresponse().read().decode("utf-8")
    finally:
        conn.close()
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if lines.get("event") == "result":
            return json.loads(lines["data"])
    raise AssertionError("no result event in %s" % short(text))


def test_run_with_source_runs_that_text(stack):
    s = stack.create_session("python", "print('old')\n")
    sid = s["session_id"]
    eid = stack.start_run(sid, {"source_code": "print('new')\n"})
    e = stack.wait_execution(eid)
    expect(e["status"] == "COMPLETED" and e["stdout"] == "new\n",
           "the run did not run the text it carried: %s" % describe(e))
    expect(e["source_version"] == s["version"] + 1,
           "source_version %r, expected %d" % (e["source_version"], s["version"] + 1))
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["source_code"] == "print('new')\n" and g["version"] == s["version"] + 1,
           "the run's text was not saved as a new version: %s" % short(g))
    listed = stack.get("/code-sessions/%s/executions" % sid).body
    expect(listed[0]["source_version"] == e["source_version"],
           "the summary's source_version %r" % listed[0].get("source_version"))
    result = _result_event(stack.http_port, eid)
    expect(result["source_version"] == e["source_version"],
           "the result event's source_version %r" % result.get("source_version"))


def test_plain_run_records_saved_version(stack):
    s = stack.create_session("python", "print(1)\n")
    sid = s["session_id"]
    expect_status(stack.patch("/code-sessions/%s" % sid, json={"source_code": "print(2)\n"}),
                  200, "PATCH")
    e = stack.wait_execution(stack.start_run(sid))
    expect(e["stdout"] == "2\n" and e["source_version"] == s["version"] + 1,
           "a plain run: %s, source_version %r" % (describe(e), e["source_version"]))


def test_run_version_must_match(stack):
    s = stack.create_session("python", "print('saved')\n")
    sid, v = s["session_id"], s["version"]
    r = stack.post(_run_path(sid), json={"version": v + 5})
    expect_error(r, 409, "run with a stale version")
    expect(r.body.get("version") == v, "the 409 does not name the saved version: %s"
           % short(r.body))
    # With source_code too: nothing is saved when the version does not match.
    r = stack.post(_run_path(sid), json={"version": v + 5, "source_code": "print('lost')\n"})
    expect_error(r, 409, "run with source_code and a stale version")
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["version"] == v and g["source_code"] == "print('saved')\n",
           "a refused run changed the session: %s" % short(g))
    # The matching version runs; with source_code, the text the client edited is saved and run.
    eid = stack.start_run(sid, {"version": v, "source_code": "print('edited')\n"})
    e = stack.wait_execution(eid)
    expect(e["stdout"] == "edited\n" and e["source_version"] == v + 1,
           "a matching run: %s, source_version %r" % (describe(e), e["source_version"]))
    expect_error(stack.post(_run_path(sid), json={"version": 0}), 400, "version 0")
    expect_error(stack.post(_run_path(sid), json={"version": "1"}), 400, "version as a string")


def test_refused_run_saves_nothing(stack):
    """A run refused because another is active (409) keeps the saved text as it was."""
    s = stack.create_session("python", "import time\ntime.sleep(20)\n")
    sid, v = s["session_id"], s["version"]
    first = stack.start_run(sid)
    r = stack.post(_run_path(sid), json={"source_code": "print('second')\n"})
    expect_error(r, 409, "a run while another is active")
    g = stack.get("/code-sessions/%s" % sid).body
    expect(g["version"] == v, "a refused run saved its text: %s" % short(g))
    stack.post("/executions/%s/cancel" % first)


def test_patch_and_run_together_run_what_is_seen(stack):
    """The reported case: an autosave and a run sent at once. A run that carries its text
    always prints that text, whatever order the two arrive in (5 rounds)."""
    for round_no in range(5):
        s = stack.create_session("python", "print('start')\n")
        sid = s["session_id"]
        seen = "print('seen %d')\n" % round_no
        out = {}

        def patch():
            out["patch"] = stack.patch("/code-sessions/%s" % sid, json={"source_code": seen})

        def run():
            out["run"] = stack.post(_run_path(sid), json={"source_code": seen})

        threads = [threading.Thread(target=patch), threading.Thread(target=run)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        expect_status(out["patch"], 200, "PATCH")
        expect_status(out["run"], 202, "run")
        e = stack.wait_execution(out["run"].body["execution_id"])
        expect(e["stdout"] == "seen %d\n" % round_no,
               "round %d ran older text: %s" % (round_no, describe(e)))
        expect(e["source_version"] in (2, 3), "round %d: source_version %r"
               % (round_no, e["source_version"]))


@isolated()
@timeout(60)
def test_503_names_the_language_and_saves_nothing(stack):
    """A language no runner serves: the 503 names it (message and a detail), and a run that
    carried source_code saved none of it."""
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
    r = stack.post(_run_path(s["session_id"]), json={"source_code": "echo changed"})
    expect_error(r, 503, "a run of a language no runner serves")
    expect("bash" in r.body["error"], "the 503 message does not name the language: %s"
           % short(r.body))
    expect("language: bash" in r.body["details"], "no detail names the language: %s"
           % short(r.body))
    g = stack.get("/code-sessions/%s" % s["session_id"]).body
    expect(g["version"] == s["version"] and g["source_code"] == "echo hi",
           "a refused run saved its text: %s" % short(g))


@isolated(runner_slots=1, extra_flags={"dispatcher": ["--queue-max", "1"]})
@timeout(60)
def test_full_queue_503_names_the_saved_version(stack):
    """The queue turns a run away after its text was committed: the text stays saved and
    the 503 body names that version."""
    sleeper = "import time\ntime.sleep(2)\n"
    first = stack.start_run(stack.create_session("python", sleeper)["session_id"])
    second = stack.start_run(stack.create_session("python", sleeper)["session_id"])
    s = stack.create_session("python", "print(0)")
    r = stack.post(_run_path(s["session_id"]), json={"source_code": "print(3)"})
    expect_error(r, 503, "a run when the queue is full")
    g = stack.get("/code-sessions/%s" % s["session_id"]).body
    expect(r.body.get("version") == g["version"] == s["version"] + 1
           and g["source_code"] == "print(3)",
           "503 body %s, session %s" % (short(r.body), short(g)))
    for eid in (first, second):
        stack.wait_execution(eid)


def test_args_total_size_limit(stack):
    """args are refused up front (400) when their total is more than the runner can take
    (max_args_bytes, 49152 by default: each argument's bytes + 1); a run at the limit runs.
    Found: 64 args of 2000 bytes passed validation and ended FAILED internal_error."""
    s = stack.create_session("python", "import sys\n"
                             "print(len(sys.argv) - 1, sum(len(a) + 1 for a in sys.argv[1:]))\n")
    sid = s["session_id"]
    r = stack.post(_run_path(sid), json={"args": ["x" * 2000] * 64})
    expect_error(r, 400, "64 args of 2000 bytes")
    expect(any("49152" in d for d in r.body["details"]), "the 400 does not name the limit: %s"
           % short(r.body))
    over = ["a" * 767] * 63 + ["a" * 768]
    expect_error(stack.post(_run_path(sid), json={"args": over}), 400, "args one byte over")
    e = stack.wait_execution(stack.start_run(sid, {"args": ["a" * 767] * 64}))
    expect(e["status"] == "COMPLETED" and e["stdout"] == "64 49152\n",
           "a run at the args limit: %s" % describe(e))
