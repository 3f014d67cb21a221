"""The session store's disk fills up: autosaves and creates get the store's own 503 with
Retry-After (not a timeout), nothing half-saved shows, and once there is space again the same
calls succeed and survive a restart of the store. The data directory is a small tmpfs that the
test mounts and fills (as root)."""

import os
import subprocess

from harness import expect, expect_error, expect_status, isolated, timeout, until

UNSAVED = "could not save"  # the store's answer; the gateway's timeout says "not available"


def _fill(directory):
    """Writes a file into `directory` until its filesystem is full; returns the file's path."""
    path = os.path.join(directory, "filler")
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 4096, 1):
            chunk = b"\0" * size
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass
    return path


def _until_store_answers(stack, body):
    """Creates a session as soon as the (re)started store answers; returns its JSON."""
    r = until(lambda: (lambda r: r if r.status == 201 else None)(
        stack.request("POST", "/code-sessions", json=body)), 20,
        "POST /code-sessions after the store's start")
    return r.body


def _expect_unsaved(r, what):
    expect_error(r, 503, what + " on a full disk")
    expect("retry-after" in r.headers, what + ": 503 without Retry-After")
    expect(UNSAVED in r.body["error"],
           "%s: not the store's answer (%r); a timeout instead?" % (what, r.body["error"]))


@isolated()
@timeout(120)
def test_full_disk_autosave_503_nothing_lost(stack):
    stack.stop("session")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "lcx-test-full", stack.data_dir],
                   check=True)
    try:
        stack.start_service("session")
        saved = "print('saved before the disk filled')\n"
        session = _until_store_answers(stack, {"language": "python", "source_code": saved})
        path = "/code-sessions/%s" % session["session_id"]
        big = "# %s\nprint('too big for a full disk')\n" % ("x" * 200000)

        filler = _fill(stack.data_dir)
        _expect_unsaved(stack.request("PATCH", path, json={"source_code": big}), "PATCH")
        _expect_unsaved(stack.request("POST", "/code-sessions",
                                      json={"language": "python", "source_code": big}), "POST")
        r = stack.request("GET", path)
        expect_status(r, 200, "GET on a full disk")
        expect(r.body["source_code"] == saved and r.body["version"] == session["version"],
               "the failed autosave shows: version %r" % r.body.get("version"))

        os.unlink(filler)
        r = stack.request("PATCH", path, json={"source_code": big})
        expect_status(r, 200, "PATCH with space again")
        expect(r.body["version"] == session["version"] + 1, "version after: %r" % r.body)

        stack.restart("session")
        _until_store_answers(stack, {"language": "python"})
        r = stack.request("GET", path)
        expect_status(r, 200, "GET after the store's restart")
        expect(r.body["source_code"] == big, "the autosave made with space again was lost")
    finally:
        stack.stop("session")
        subprocess.run(["umount", "-l", stack.data_dir], check=False)
