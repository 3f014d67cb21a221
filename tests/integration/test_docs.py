"""The documentation keeps up with the code: every setting is in the README's table."""
import os
import re

from harness import expect

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_readme_lists_every_setting(stack):
    names = re.findall(r"^X\((\w+),", _read("services/common/settings.def"), re.M)
    readme = _read("README.md")
    missing = [n for n in names if "`LCX_%s`" % n.upper() not in readme]
    expect(names, "no settings found in settings.def")
    expect(not missing, "README.md's configuration table lacks: %s" % ", ".join(missing))


def test_compose_uses_real_flags(stack):
    """compose.yaml is not run here (no Docker engine), so check what can be checked: every
    service command names an lcx binary, and every flag it passes is one that binary accepts."""
    import subprocess
    from harness import BIN_DIR
    text = _read("compose.yaml")
    commands = re.findall(r'command: \[([^\]]*)\]', text, re.S)
    expect(len(commands) == 4, "compose.yaml should start the four services: %d" % len(commands))
    for command in commands:
        words = re.findall(r'"([^"]*)"', command)
        binary = os.path.join(BIN_DIR, words[0])
        expect(os.path.exists(binary), "compose.yaml starts %r, which is not built" % words[0])
        usage = subprocess.run([binary, "--help"], capture_output=True, text=True,
                               timeout=10).stdout
        for flag in (w for w in words[1:] if w.startswith("--")):
            expect(flag in usage, "compose.yaml passes %s to %s, which does not take it"
                   % (flag, words[0]))


def test_docs_stand_on_their_own(stack):
    """The project's documents point at nothing outside the repository, and say what things do
    instead of citing issue numbers."""
    for path in ("README.md", "docs/API.md", "proto/PROTOCOL.md", "web/openapi.json"):
        text = _read(path)
        for m in re.finditer(r"(\.\./shared|/work/|\bshared/)", text):
            line = text.count("\n", 0, m.start()) + 1
            expect(False, "%s:%d points outside the repository (%r)" % (path, line, m.group(1)))
    for path in ("README.md", "services/common/settings.def", "docs/API.md", "proto/PROTOCOL.md"):
        m = re.search(r"issue #\d+", _read(path))
        expect(not m, "%s cites an issue number (%r) instead of saying what it is"
               % (path, m and m.group(0)))


def test_api_doc_names_the_metrics_served(stack):
    """Every metric family /metrics serves is named in docs/API.md."""
    r = stack.get("/metrics")
    families = set(re.findall(r"^# TYPE (\S+) ", r.raw.decode("utf-8", "replace"), re.M))
    expect(families, "/metrics has no # TYPE lines")
    api = _read("docs/API.md")
    missing = sorted(f for f in families if "`%s" % f not in api)
    expect(not missing, "docs/API.md does not name the metrics %s" % ", ".join(missing))
