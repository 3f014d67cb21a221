"""The README's operations: an online backup of the database, its restore, and a store that
refuses a schema newer than its own."""
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time

from harness import BIN_DIR, ROOT, expect, free_ports, isolated, timeout, until


def _schema_version():
    with open(os.path.join(ROOT, "services/session/store.c"), encoding="utf-8") as f:
        m = re.search(r"^#define SCHEMA_VERSION (\d+)", f.read(), re.M)
    expect(m, "store.c defines no SCHEMA_VERSION")
    return int(m.group(1))


def _backup(db, target):
    """What the README says to run (there with the sqlite3 shell): VACUUM INTO, while the
    store runs."""
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        con.execute("VACUUM INTO ?", (target,))
    finally:
        con.close()


def _user_version(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


@isolated()
@timeout(120)
def test_online_backup_and_restore(stack):
    s = stack.create_session("python", "print('before')\n")
    sid = s["session_id"]
    r = stack.request("PATCH", "/code-sessions/" + sid, json={"source_code": "print('saved')\n"})
    expect(r.status == 200, "PATCH: %r" % r)
    # Autosaves keep coming while the backup runs: it must neither block them nor tear.
    stop = threading.Event()
    failures = []

    def autosave():
        n = 0
        while not stop.is_set():
            n += 1
            t = stack.request("PATCH", "/code-sessions/" + sid,
                              json={"source_code": "print(%d)\n" % n})
            if t.status != 200:
                failures.append(t)

    writer = threading.Thread(target=autosave, daemon=True)
    writer.start()
    backup = os.path.join(stack.tmp, "backup.db")
    try:
        time.sleep(0.3)
        _backup(os.path.join(stack.data_dir, "lcx.db"), backup)
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join(15)
    expect(not failures, "autosaves failed during the backup: %r" % failures[:3])
    con = sqlite3.connect(backup)
    try:
        expect(con.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
               "the backup fails its integrity check")
        row = con.execute("SELECT version FROM sessions WHERE id = ?", (sid,)).fetchone()
    finally:
        con.close()
    expect(row and row[0] >= 2, "the backup lacks the session's acknowledged save: %r" % (row,))
    expect(_user_version(backup) == _schema_version(), "the backup's schema version %d"
           % _user_version(backup))
    kept = row[0]

    # Restore: stop the store, put the copy in place of lcx.db (without the old WAL), start.
    stack.stop("session")
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(stack.data_dir, "lcx.db" + suffix)
        if os.path.exists(path):
            os.remove(path)
    shutil.copy(backup, os.path.join(stack.data_dir, "lcx.db"))
    stack.start_service("session")
    got = until(lambda: (lambda t: t if t.status == 200 else None)(
        stack.get("/code-sessions/" + sid)), 20, "the restored store serves the session")
    expect(got.body["version"] == kept, "after the restore the session is at version %r, the "
           "backup had %d" % (got.body["version"], kept))


@timeout(60)
def test_store_refuses_a_newer_schema(stack):
    """A binary older than its database stops with the reason and leaves the file as it was."""
    data = os.path.join(stack.tmp, "newer-schema")
    os.makedirs(data, exist_ok=True)
    db = os.path.join(data, "lcx.db")
    _backup(os.path.join(stack.data_dir, "lcx.db"), db)
    newer = _schema_version() + 1
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = %d" % newer)
    con.commit()
    con.close()
    ports = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LCX_")}
    p = subprocess.run([os.path.join(BIN_DIR, "lcx-session"), "--data-dir", data,
                        "--session-endpoint", "tcp://127.0.0.1:%d" % ports[0],
                        "--dispatcher-endpoint", "tcp://127.0.0.1:%d" % ports[1]],
                       capture_output=True, text=True, timeout=30, env=env,
                       stdin=subprocess.DEVNULL)
    expect(p.returncode == 1, "lcx-session on a newer schema exits %d" % p.returncode)
    expect("newer than this binary" in p.stderr, "no reason given: %r" % p.stderr[-400:])
    expect(_user_version(db) == newer, "the store changed the newer file's schema version")
