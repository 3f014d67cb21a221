"""The README's walk-throughs with curl ("Walk-through with curl", and "Keys and tokens" against a
stack that requires keys), run as a reader would run them (the real curl, against a real
stack): every command succeeds and every answer it shows (`# => ...`) holds."""

import json
import os
import re
import shlex
import subprocess

from harness import ROOT, expect, isolated

PAIR_RE = re.compile(r'"(\w+)":("(?:[^"\\]|\\.)*"|-?\d+|true|false|null)')


# What a `NAME=<paste ...>` line takes from the answer before it.
SOURCES = {"ID": "session_id", "EXEC": "execution_id", "KEY": "key", "KEY_ID": "key_id",
           "TOKEN": "session_token"}


def _walkthrough(heading="## Walk-through with curl"):
    """The shell block under the heading: [(command, shown answer or None, [variables it
    sets])]."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split(heading + "\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    steps, command = [], None
    for line in block.split("\n"):
        if command is not None and command.endswith("\\"):
            command = command[:-1] + " " + line.strip()
            continue
        if command is not None:
            steps.append([command, None, []])
            command = None
        if line.startswith("curl "):
            command = line
        elif line.startswith("# =>") and steps:
            steps[-1][1] = line[len("# =>"):].strip()
        elif line.startswith("#  ") and steps and steps[-1][1] is not None:
            steps[-1][1] += " " + line[1:].strip()
        elif re.match(r"^[A-Z_]+=<", line) and steps:
            steps[-1][2].append(line.split("=", 1)[0])
    if command is not None:
        steps.append([command, None, []])
    return steps


def _shown_pairs(shown):
    """The key/value pairs an answer shows, leaving out placeholders."""
    pairs = {}
    for key, value in PAIR_RE.findall(shown):
        if "<" in value or "..." in value:
            continue
        pairs[key] = json.loads(value)
    return pairs


def _walk(stack, steps, env):
    base = "127.0.0.1:%d" % stack.http_port
    for command, shown, sets in steps:
        line = command.split(" #", 1)[0] if " # " in command else command
        line = line.replace("localhost:8080", base)
        for name in sorted(env, key=len, reverse=True):  # $KEY_ID before $KEY
            line = line.replace("$" + name, env[name])
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
            for name in sets:
                env[name] = answer[SOURCES[name]]
        if "/events" in line:
            expect("event: result" in body, "%s: the stream has no result" % line)


def test_readme_walkthrough_answers_as_shown(stack):
    steps = _walkthrough()
    expect(len(steps) >= 10, "the walk-through has %d curl commands" % len(steps))
    _walk(stack, steps, {})


@isolated(keys=True)
def test_readme_keys_walkthrough_answers_as_shown(stack):
    """The "Keys and tokens" block, against a gateway that requires keys, with the stack's
    bootstrap admin key as $ADMIN."""
    steps = _walkthrough("## Keys and tokens")
    expect(len(steps) >= 8, "the keys walk-through has %d curl commands" % len(steps))
    _walk(stack, steps, {"ADMIN": stack.admin_key})
