"""A runner killed with kill -9 leaves its scratch directory behind (runner-<pid>-<random>, its
slots' job directories in it); the next runner that starts on the same scratch directory sweeps
it, with whatever is mounted in it, never following a link planted there, and keeps the
directory of a runner that lives (services/runner/scratch.h)."""
import os
import subprocess

from harness import Stack, TERMINAL, describe, expect, timeout, until


def _shared_scratch_stack():
    """Two runners, "runner" and "runner2", on one scratch directory."""
    st = Stack(runners=2, name="sweep")
    st.scratch_dirs["runner2"] = st.scratch_dir
    return st


def _ready_dirs(path):
    try:
        return [e for e in os.listdir(path) if e.startswith("ready-")]
    except OSError:
        return []


def _mounts_under(mountinfo, path):
    """Mount points at or below path in a mountinfo file."""
    points = []
    with open(mountinfo) as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path + "/"):
                points.append(point)
    return points


def _log(st, service):
    with open(st.log_path(service), errors="replace") as f:
        return f.read()


@timeout(120)
def test_killed_runner_directory_is_swept(stack):
    with _shared_scratch_stack() as st:
        st.start()
        live = until(lambda: st.runner_scratch("runner"), 10, "runner's scratch directory")
        dead = until(lambda: st.runner_scratch("runner2"), 10, "runner2's scratch directory")
        expect(os.path.dirname(live) == os.path.dirname(dead) and live != dead,
               "the two runners do not share one scratch parent: %s %s" % (live, dead))
        for d in (live, dead):  # each slot readies its job directory while idle
            until(lambda: len(_ready_dirs(d)) == st.runner_slots, 10, "ready-* in %s" % d)
        # A run in progress on every slot of both runners, so runner2 is killed mid-run.
        src = "import time\nprint('started', flush=True)\ntime.sleep(3)\nprint('done')\n"
        eids = []
        for _ in range(2 * st.runner_slots):
            s = st.create_session("python", src)
            eids.append(st.start_run(s["session_id"], {"limits": {"time_ms": 20000}}))

        def all_running():
            states = [st.get("/executions/%s" % e).body["status"] for e in eids]
            return all(s == "RUNNING" for s in states)
        until(all_running, 20, "every slot running")
        st.kill9("runner2")
        # The premise: kill -9 leaves the directory behind. Plant what the sweep must handle:
        # a link out of it (never followed) and a mount in the namespace runners start in
        # (a dead runner's own work directory mounts end with its mount namespace).
        canary = os.path.join(st.tmp, "canary")
        with open(canary, "w") as f:
            f.write("keep\n")
        os.symlink(canary, os.path.join(dead, "link-out"))
        planted = os.path.join(dead, "planted-mount")
        os.mkdir(planted)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "lcx-test", planted], check=True)
        try:
            with open(os.path.join(planted, "file"), "w") as f:
                f.write("on the planted tmpfs\n")
            expect(os.path.isdir(dead), "kill -9 removed the directory itself?")
            st.start_service("runner2")
            st.wait_ready(20, need_runners=2)
            swept = until(lambda: not os.path.exists(dead) and st.runner_scratch("runner2"), 20,
                          "the dead runner's directory swept")
        finally:
            if _mounts_under("/proc/self/mountinfo", planted):
                subprocess.run(["umount", "-l", planted])
        real_dead = os.path.realpath(os.path.dirname(dead)) + "/" + os.path.basename(dead)
        expect(not _mounts_under("/proc/self/mountinfo", real_dead),
               "mounts of the dead runner's directory are left on the host")
        new_pid = st.procs["runner2"].pid
        expect(not _mounts_under("/proc/%d/mountinfo" % new_pid, real_dead),
               "the new runner sees mounts of the dead runner's directory")
        expect(os.path.exists(canary), "the sweep followed a link out of the directory")
        expect(os.path.isdir(live) and len(_ready_dirs(live)) >= 1,
               "the live runner's directory was touched: %s" % os.listdir(os.path.dirname(live)))
        expect(swept != live and os.path.isdir(swept), "runner2 has no directory of its own")
        expect(sorted(os.listdir(st.scratch_dir)) == sorted(map(os.path.basename, (live, swept))),
               "the scratch directory holds more than the two live runners' directories: %s"
               % os.listdir(st.scratch_dir))
        log = _log(st, "runner2")
        expect("swept the scratch directory of a runner that is gone" in log and real_dead in log,
               "runner2 did not log the sweep of %s" % real_dead)
        expect("swept" not in _log(st, "runner"), "the live runner swept something")
        # The runs: the live runner's complete; runner2's were queued again and finish too.
        for e in eids:
            done = st.wait_execution(e, 60)
            expect(done["status"] in TERMINAL, describe(done))
        expect(st.alive("runner"), "the live runner died")
        done = st.run("python", "print('after')\n")
        expect(done["status"] == "COMPLETED" and done["stdout"] == "after\n", describe(done))

