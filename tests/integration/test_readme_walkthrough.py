"""The README's walk-through with curl, run as a reader would run it (the real curl, against a
real stack): every command succeeds and every answer it shows (`# => ...`) holds."""

import json
import os
import re
import shlex
import subprocess

from harness import ROOT, expect

PAIR_RE = re.compile(r'"(\w+)":("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)')


def _walkthrough():
    """The shell block under "## Walk-through with curl": [(command, shown answer or None,
    variable it sets or None)]."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Walk-through with curl", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    steps, command = [], None
    for line in block.split("\n"):
        if command is not None and command.endswith("\\"):
            command = command[:-1] + " " + line.strip()
            continue
        if command is not None:
            steps.append([command, None, None])
            command = None
        if line.startswith("curl "):
            command = line
        elif line.startswith("# =>") and steps:
            steps[-1][1] = line[len("# =>"):].strip()
        elif line.startswith("#  ") and steps and steps[-1][1] is not None:
            steps[-1][1] += " " + line[1:].strip()
        elif re.match(r"^[A-Z]+=<", line) and steps:
            steps[-1][2] = line.split("=", 1)[0]
    if command is not None:
        steps.append([command, None, None])
    return steps


def _shown_pairs(shown):
    """The key/value pairs an answer shows, leaving out placeholders."""
    pairs = {}
    for key, value in PAIR_RE.findall(shown):
        if "<" in value or "..." in value:
            continue
        pairs[key] = json.loads(value)
    return pairs


def test_readme_walkthrough_answers_as_shown(stack):
    steps = _walkthrough()
    expect(len(steps) >= 10, "the walk-through has %d curl commands" % len(steps))
    env = {}
    base = "127.0.0.1:%d" % stack.http_port
    for command, shown, sets in steps:
        line = command.split(" #", 1)[0] if " # " in command else command
        line = line.replace("localhost:8080", base)
        for name, value in env.items():
            line = line.replace("$" + name, value)
        argv = shlex.split(line) + ["-w", "\n%{http_code}", "--max-time", "30"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        expect(out.returncode == 0, "%s: curl exit %d %s" % (line, out.returncode, out.stderr))
        body, _, code = out.stdout.rpartition("\n")
        expect(code.startswith("2"), "%s: HTTP %s %s" % (line, code, body[:300]))
        if shown or sets:
            answer = json.loads(body)
            for key, value in _shown_pairs(shown or "").items():
                expect(answer.get(key) == value, "%s: %s is %r, the README shows %r"
                       % (line, key, answer.get(key), value))
            if sets == "ID":
                env["ID"] = answer["session_id"]
            elif sets == "EXEC":
                env["EXEC"] = answer["execution_id"]
        if "/events" in line:
            expect("event: result" in body, "%s: the stream has no result" % line)
