#!/usr/bin/python3
"""
Runs the lcx integration tests: every `def test_*(stack)` in tests/integration/test_*.py.

    /usr/bin/python3 tests/integration/run.py [-k SUBSTRING]... [--list] [--timeout S]

Tests share one Stack (started once); a test marked @isolated(...) gets its own Stack,
started before and closed after it. Each test runs with a timeout. Prints `PASS name` or
`FAIL name: reason` (with log excerpts of the services), and as the last line
`integration: N passed, N failed, N skipped` (skipped: tests marked pending a later issue, and
tests that raise harness.Skip because this host lacks what they test). Exit status 1 when
anything failed.
"""

import argparse
import glob
import importlib.util
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import harness  # noqa: E402

DEFAULT_TIMEOUT = 90.0


def discover(filters):
    tests = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        modname = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            tests.append((modname + ".<import>", None, traceback.format_exc()))
            continue
        fns = [v for k, v in vars(mod).items()
               if k.startswith("test_") and callable(v) and getattr(v, "__module__", "") == modname]
        fns.sort(key=lambda f: f.__code__.co_firstlineno)
        for fn in fns:
            name = "%s.%s" % (modname, fn.__name__)
            if filters and not any(f in name for f in filters):
                continue
            tests.append((name, fn, None))
    return tests


def call_with_timeout(fn, arg, seconds):
    """Runs fn(arg) in a thread. Returns (error text or None, timed_out); a test that skips
    itself gives ("SKIP: why", False)."""
    result = {}

    def body():
        try:
            fn(arg)
            result["ok"] = True
        except harness.Skip as e:
            result["err"] = "SKIP: %s" % e
        except AssertionError as e:
            result["err"] = str(e) or "assertion failed\n" + traceback.format_exc()
        except harness.SetupError as e:
            result["err"] = "setup: %s" % e
        except Exception as e:
            result["err"] = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        return "timed out after %.0f s (the test thread is still running)" % seconds, True
    return (None if result.get("ok") else result.get("err", "unknown error")), False


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[], help="run tests whose name contains this")
    ap.add_argument("filters", nargs="*", help="same as -k")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--timeout", type=float, default=None, help="per-test timeout override")
    args = ap.parse_args()
    filters = args.k + args.filters

    tests = discover(filters)
    if args.list:
        for name, fn, _ in tests:
            mark = " [isolated]" if fn is not None and hasattr(fn, "isolated") else ""
            print(name + mark)
        return 0

    # Shared-stack tests first, then the ones with their own stack.
    skipped = 0
    for name, fn, _ in tests:
        if fn is not None and hasattr(fn, "pending"):
            skipped += 1
            print("SKIP %s: %s" % (name, fn.pending), flush=True)
    tests = [t for t in tests if t[1] is None or not hasattr(t[1], "pending")]
    shared = [t for t in tests if t[1] is None or not hasattr(t[1], "isolated")]
    own = [t for t in tests if t[1] is not None and hasattr(t[1], "isolated")]

    passed, failed = 0, 0
    started = time.monotonic()
    stack = None
    stack_error = None

    def fail(name, reason, logs=""):
        nonlocal failed
        failed += 1
        first, _, rest = reason.partition("\n")
        print("FAIL %s: %s" % (name, first), flush=True)
        if rest.strip():
            print(indent(rest), flush=True)
        if logs:
            print(indent(logs), flush=True)

    def ok(name, secs):
        nonlocal passed
        passed += 1
        print("PASS %s (%.1f s)" % (name, secs), flush=True)

    def skip(name, err):
        nonlocal skipped
        skipped += 1
        print("SKIP %s: %s" % (name, err[len("SKIP: "):]), flush=True)

    for name, fn, import_error in shared:
        if fn is None:
            fail(name, "the test module does not import:\n" + import_error)
            continue
        if stack is None and stack_error is None:
            try:
                stack = harness.Stack(name="shared")
                stack.start()
            except harness.SetupError as e:
                stack_error = str(e)
                print("shared stack failed to start:\n" + indent(stack_error), flush=True)
                if stack is not None:
                    stack.close()
                    stack = None
        if stack_error is not None:
            fail(name, "shared stack did not start: " + stack_error.splitlines()[0])
            continue
        marks = stack.log_marks()
        t0 = time.monotonic()
        err, timed_out = call_with_timeout(fn, stack, args.timeout or getattr(fn, "timeout",
                                                                             DEFAULT_TIMEOUT))
        dead = stack.dead_services()
        if dead and err is None:
            err = "a service died during the test: " + ", ".join(dead)
        elif dead:
            err += "\n(a service died during the test: %s)" % ", ".join(dead)
        if err is None:
            ok(name, time.monotonic() - t0)
        elif err.startswith("SKIP: "):
            skip(name, err)
        else:
            fail(name, err, stack.log_tails(lines=30, since=marks))
        if dead or timed_out:
            print("    (restarting the shared stack)", flush=True)
            stack.close()
            stack = None
    if stack is not None:
        stack.close()
        stack = None

    for name, fn, _ in own:
        t0 = time.monotonic()
        st = None
        try:
            st = harness.Stack(name=name, **fn.isolated)
            st.start()
        except harness.SetupError as e:
            fail(name, "its stack did not start: %s" % e)
            if st is not None:
                st.close()
            continue
        try:
            err, _ = call_with_timeout(fn, st, args.timeout or getattr(fn, "timeout",
                                                                      DEFAULT_TIMEOUT))
            if err is None:
                ok(name, time.monotonic() - t0)
            elif err.startswith("SKIP: "):
                skip(name, err)
            else:
                fail(name, err, st.log_tails(lines=30))
        finally:
            st.close()

    print("integration: total time %.1f s" % (time.monotonic() - started))
    print("integration: %d passed, %d failed, %d skipped" % (passed, failed, skipped), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    rc = 1
    try:
        rc = main()
    finally:
        harness._atexit()
    sys.stdout.flush()
    # Threads of timed-out tests may still be blocked: do not wait for them.
    os._exit(rc)
