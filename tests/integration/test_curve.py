"""CURVE between services (issue #5): with keys every link is encrypted and authenticated;
without them, nothing binds outside loopback."""
import os
import subprocess
import time

from harness import BIN_DIR, Stack, expect, free_ports, timeout

ALL = ("session", "dispatcher", "runner", "gateway")


def _keygen(directory, *names):
    out = subprocess.run([os.path.join(BIN_DIR, "lcx-keygen"), directory] + list(names),
                         capture_output=True, text=True, timeout=30)
    expect(out.returncode == 0, "lcx-keygen failed: %s %s" % (out.stdout, out.stderr))


def _curve_stack(keys):
    return Stack(extra_flags={s: ["--curve-dir", keys] for s in ALL}, name="curve")


@timeout(90)
def test_curve_stack_runs_code(stack):
    keys = os.path.join(stack.tmp, "keys")
    _keygen(keys)
    secret = os.path.join(keys, "secret", "runner.cert_secret")
    expect(os.stat(secret).st_mode & 0o077 == 0, "a secret key is readable by others")
    with _curve_stack(keys) as curved:
        curved.start()
        done = curved.run("python", "print('sealed')")
        expect(done["status"] == "COMPLETED" and done["stdout"] == "sealed\n",
               "a run over CURVE: %s" % done)


@timeout(90)
def test_unknown_runner_key_is_refused(stack):
    """A runner whose key is not among the known public keys never joins."""
    keys = os.path.join(stack.tmp, "keys")
    rogue = os.path.join(stack.tmp, "rogue")
    _keygen(keys)
    _keygen(rogue, "runner")
    os.makedirs(os.path.join(rogue, "public"), exist_ok=True)
    for name in ("dispatcher", "session"):  # it knows the servers' public keys, not vice versa
        with open(os.path.join(keys, "public", name + ".cert")) as src, \
                open(os.path.join(rogue, "public", name + ".cert"), "w") as dst:
            dst.write(src.read())
    with _curve_stack(keys) as curved:
        curved.extra_flags["runner"] = ["--curve-dir", rogue]
        for service in ("session", "dispatcher", "gateway", "runner"):
            curved.start_service(service)
        time.sleep(3)
        h = curved.get("/health").body
        expect(h["components"]["runners"]["count"] == 0,
               "a runner with an unknown key joined: %s" % h["components"]["runners"])


def test_public_bind_without_keys_is_refused(stack):
    """Binding a non-loopback address without CURVE keys: the service refuses to start."""
    store_port, runner_port = free_ports(2)
    out = subprocess.run([os.path.join(BIN_DIR, "lcx-dispatcher"), "--dispatcher-endpoint",
                          "tcp://0.0.0.0:%d" % store_port, "--runner-endpoint",
                          "tcp://127.0.0.1:%d" % runner_port],
                         capture_output=True, text=True, timeout=30)
    expect(out.returncode != 0, "the dispatcher bound 0.0.0.0 without CURVE")
    expect("CURVE" in out.stderr, "the refusal does not say why: %s" % out.stderr[-300:])
