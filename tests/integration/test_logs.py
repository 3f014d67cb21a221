"""The services' logs: JSON lines whose numbers are JSON numbers, routine events at debug."""
import json
import time

from harness import expect, isolated

INFO_ONLY = {s: {"LCX_LOG_LEVEL": "info"} for s in ("session", "dispatcher", "runner", "gateway")}


def _records(stack, service):
    out = []
    with open(stack.log_path(service), encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("{"):
                out.append(json.loads(line))  # every line a service writes is JSON
    return out


def _one(records, event, what):
    found = [r for r in records if r.get("event") == event]
    expect(found, "no %r line in the %s log" % (event, what))
    return found[-1]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def test_numbers_in_logs_are_json_numbers(stack):
    s = stack.create_session("python", "print('n')")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    stack.get("/code-sessions/" + s["session_id"])
    time.sleep(0.2)  # let the last lines reach the files
    joined = _one(_records(stack, "dispatcher"), "runner joined", "dispatcher")
    expect(_is_int(joined.get("slots")) and joined["slots"] == stack.runner_slots,
           "runner joined: slots is not the number %d: %r" % (stack.runner_slots, joined))
    ready = _one(_records(stack, "gateway"), "gateway ready", "gateway")
    expect(ready.get("port") == stack.http_port, "gateway ready: port %r" % ready.get("port"))
    state = [r for r in _records(stack, "session")
             if r.get("event") == "execution state" and r.get("execution_id") == eid]
    expect(state and all(_is_int(r.get("attempt")) for r in state),
           "execution state lines of %s without a numeric attempt: %r" % (eid, state))
    finished = [r for r in _records(stack, "runner")
                if r.get("event") == "execution finished" and r.get("execution_id") == eid]
    expect(finished and _is_int(finished[0].get("cpu_time_ms")),
           "execution finished without a numeric cpu_time_ms: %r" % finished)


def test_access_log_has_numeric_status_and_duration(stack):
    stack.get("/executions/00000000-0000-4000-8000-000000000000")
    time.sleep(0.2)
    lines = [r for r in _records(stack, "gateway")
             if r.get("event") == "request" and r.get("route") == "/executions/{id}"]
    expect(lines, "no access line for GET /executions/{id}")
    line = lines[-1]
    expect(line.get("level") == "info", "the access line is at %r, not info" % line.get("level"))
    expect(line.get("method") == "GET", "access line method %r" % line.get("method"))
    expect(_is_int(line.get("status")) and line["status"] == 404,
           "access line status is not the number 404: %r" % line)
    ms = line.get("duration_ms")
    expect(isinstance(ms, (int, float)) and not isinstance(ms, bool) and 0 <= ms < 60000,
           "access line duration_ms is not a number of ms: %r" % line)


@isolated(extra_env=INFO_ONLY)
def test_routine_events_are_debug(stack):
    """At the default level (info) a run leaves no per-job line, while start-up, runners
    joining and the access lines stay."""
    s = stack.create_session("python", "print('quiet')")
    eid = stack.start_run(s["session_id"])
    stack.wait_execution(eid)
    time.sleep(0.2)
    for service in ("session", "dispatcher", "runner"):
        about = [r for r in _records(stack, service) if r.get("execution_id") == eid]
        expect(not about, "%s logs a routine run at info: %r" % (service, about))
    _one(_records(stack, "dispatcher"), "runner joined", "dispatcher")
    _one(_records(stack, "session"), "session store ready", "session")
    _one(_records(stack, "gateway"), "request", "gateway")
    for service in stack.services:
        levels = {r.get("level") for r in _records(stack, service)}
        expect("debug" not in levels, "%s wrote debug lines at level info" % service)
