"""The binaries' command lines: --version and --help of every binary."""
import os
import re
import subprocess

from harness import BIN_DIR, ROOT, expect

BINARIES = ("gateway", "session", "dispatcher", "runner", "keygen", "keeper")
SERVICE_LETTERS = {"gateway": "G", "session": "S", "dispatcher": "D", "runner": "R"}


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _version():
    m = re.search(r'#define LCX_VERSION "([^"]+)"', _read("services/common/version.h"))
    expect(m, "services/common/version.h defines no LCX_VERSION")
    return m.group(1)


def _run(name, *args):
    return subprocess.run([os.path.join(BIN_DIR, "lcx-" + name)] + list(args),
                          capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)


def test_every_binary_prints_its_version(stack):
    version = _version()
    for name in BINARIES:
        r = _run(name, "--version")
        expect(r.returncode == 0, "lcx-%s --version exits %d: %r" % (name, r.returncode,
                                                                      r.stderr[:300]))
        expect(r.stdout == "lcx-%s %s\n" % (name, version),
               "lcx-%s --version prints %r (expected 'lcx-%s %s')"
               % (name, r.stdout, name, version))


def test_help_shows_each_default_once(stack):
    """Each setting's line of --help says its default exactly once, and every setting the
    service reads (settings.def) has its line."""
    table = re.findall(r'^X\((\w+),\s*\w,\s*"[^"]*",\s*"(\w+)"', _read("services/common/settings.def"),
                       re.M)
    expect(table, "no settings found in settings.def")
    for name, letter in SERVICE_LETTERS.items():
        r = _run(name, "--help")
        expect(r.returncode == 0, "lcx-%s --help exits %d" % (name, r.returncode))
        lines = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s+(--[\w-]+)\s", line)
            if m:
                lines[m.group(1)] = line
        for setting, services in table:
            flag = "--" + setting.replace("_", "-")
            if letter not in services:
                expect(flag not in lines, "lcx-%s --help lists %s, which it does not read"
                       % (name, flag))
                continue
            expect(flag in lines, "lcx-%s --help lacks %s" % (name, flag))
            count = lines[flag].count("(default:")
            expect(count == 1, "lcx-%s --help: %s states its default %d times: %r"
                   % (name, flag, count, lines[flag].strip()))


def test_keygen_and_keeper_help_exit_0(stack):
    for name in ("keygen", "keeper"):
        r = _run(name, "--help")
        expect(r.returncode == 0, "lcx-%s --help exits %d" % (name, r.returncode))
        expect("lcx-" + name in r.stdout or "usage" in r.stdout,
               "lcx-%s --help prints %r" % (name, r.stdout[:200]))
    r = _run("keygen")
    expect(r.returncode == 2 and "usage" in r.stderr,
           "lcx-keygen without a directory: exit %d, %r" % (r.returncode, r.stderr[:200]))


def test_bad_log_level_is_refused(stack):
    for name in SERVICE_LETTERS:
        r = _run(name, "--log-level", "loud")
        expect(r.returncode == 2 and "log_level" in r.stderr,
               "lcx-%s --log-level loud: exit %d, %r" % (name, r.returncode, r.stderr[:200]))
