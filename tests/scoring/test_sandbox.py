"""The code sandbox: ordinary programs pass or fail on their merits; hostile ones are contained.

Each adversarial program *asserts that its attack worked*: if it is scored `passed`, the
sandbox leaked. Host-side checks then confirm nothing outside changed.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from stages.scoring.sandbox import Limits, isolation, run_many, run_program

FAST = Limits(timeout_s=3.0, output_bytes=4096)
REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-canary-8d2f0c41e5"


def _sandbox_uid_procs() -> list[tuple[int, int]]:
    """(pid, uid) of host processes still running as one of this process's sandbox uids
    (other test sessions on the machine run sandboxes of their own)."""
    from stages.scoring.sandbox import _uid

    ours = {_uid(i, judge) for i in range(32) for judge in (False, True)}
    out = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = next(int(line.split()[1]) for line in status.read_text().splitlines()
                       if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if uid in ours:
            out.append((int(status.parent.name), uid))
    return out


# Attacks on the host user's own files and processes: only a separate uid or namespaces stop
# them. On a host with neither (not root, user namespaces off) they are not run: they would
# succeed (the kill would take down pytest), and `isolation()` reports that weaker mode.
SAME_USER_ATTACKS = ("write_outside", "delete_files", "read_env_secret", "kill_parent")


def _separated() -> bool:
    iso = isolation()
    return iso.uid == "dropped" or iso.pid_namespace


def test_isolation_is_reported():
    iso = isolation().as_dict()
    assert iso["network"] in ("netns", "socket-guard")
    assert set(iso) == {"network", "pid_namespace", "private_tmp", "uid", "interpreter"}


@pytest.mark.parametrize("code,status", [
    ("assert sum(range(10)) == 45\nprint('ok')", "passed"),
    ("assert 1 + 1 == 3", "failed"),
    ("raise ValueError('boom')", "failed"),
    ("import math, hashlib, collections\nassert math.gcd(12, 18) == 6", "passed"),
])
def test_ordinary_programs(code, status):
    r = run_program(code, limits=FAST)
    assert r.status == status, r.stderr
    assert r.passed == (status == "passed")


def test_stderr_carries_the_traceback():
    r = run_program("def f():\n    raise KeyError('needle')\nf()", limits=FAST)
    assert "KeyError" in r.stderr and "needle" in r.stderr


def test_cwd_is_fresh_private_and_gone_after():
    r = run_program("import os\nopen('f.txt', 'w').write('x')\nprint(os.getcwd())\n"
                    "print(sorted(os.listdir('.')))", limits=FAST)
    cwd, listing = r.stdout.splitlines()
    assert r.passed and listing == "['f.txt']"
    assert not Path(cwd).exists()


@pytest.fixture
def open_dir():
    """A world-writable dir outside /tmp (inside the checkout; removed after the test)."""
    path = REPO / f".sandbox-probe-{secrets.token_hex(4)}"
    path.mkdir(mode=0o777)
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _adversaries(tmp_path: Path, port: int, open_dir: Path | None = None) -> dict[str, str]:
    victim = tmp_path / "victim.txt"
    return {
        "write_open_dir": f"open({str(open_dir / 'pwned.txt')!r}, 'w').write('pwned')",
        "fork_bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
        "infinite_loop": "while True:\n    pass",
        "memory_bomb": "x = bytearray(8 * 1024 ** 3)\nassert len(x) > 0",
        "memory_creep": "a = []\nwhile True:\n    a.append(' ' * 10 ** 7)",
        "huge_output": "while True:\n    print('x' * 10000)",
        "write_outside": (f"open({str(tmp_path / 'escaped.txt')!r}, 'w').write('pwned')\n"
                          "open('../escaped.txt', 'w').write('pwned')\n"
                          "open('/var/tmp/lmforge-escaped.txt', 'w').write('pwned')"),
        "read_env_secret": ("import os, glob\nfound = [p for p in glob.glob('/proc/*/environ')\n"
                            f"         if {SECRET!r} in open(p, errors='ignore').read()]\n"
                            f"assert os.environ.get('WANDB_API_KEY') == {SECRET!r} or found"),
        "socket_localhost": ("import socket\n"
                             f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                             "s.sendall(b'pwned')"),
        "subprocess_spawn": ("import subprocess\n"
                             "subprocess.Popen(['sleep', '317'], start_new_session=True)\n"
                             "assert subprocess.run(['cat', '/etc/shadow']).returncode == 0"),
        "kill_parent": ("import os, time\nppid = os.getppid()\n"
                        f"for pid in (ppid, {os.getpid()}, -1, 0):\n"
                        "    try:\n        os.kill(pid, 9)\n    except OSError:\n        pass\n"
                        "time.sleep(0.5)\nassert os.getppid() != ppid"),
        "signal_tampering": ("import signal\nfor s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT,"
                             " signal.SIGALRM, signal.SIGHUP):\n    signal.signal(s, signal.SIG_IGN)\n"
                             "while True:\n    pass"),
        "delete_files": (f"import os, shutil\nos.remove({str(victim)!r})\n"
                         f"shutil.rmtree({str(tmp_path)!r})"),
        "raise_rlimit": ("import resource\nresource.setrlimit(resource.RLIMIT_AS, "
                         "(resource.RLIM_INFINITY, resource.RLIM_INFINITY))"),
        "exit_zero_early": ("import sys\ndef add(a, b):\n    sys.exit(0)\n"
                            "assert add(1, 2) == 4"),
        "os_exit_zero": "import os\ndef f():\n    os._exit(0)\nf()\nassert False",
        "system_exit_none": "raise SystemExit",
        "atexit_exit_zero": ("import atexit, os\natexit.register(lambda: os._exit(0))\n"
                             "assert 1 == 2"),
        "close_result_pipes": ("import os\nfor fd in range(3, 64):\n    try:\n        os.close(fd)\n"
                               "    except OSError:\n        pass\nassert False"),
    }


def test_adversarial_programs_are_contained_and_fail(tmp_path, monkeypatch, open_dir):
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    programs = _adversaries(tmp_path, server.getsockname()[1], open_dir)
    if not _separated():
        for name in SAME_USER_ATTACKS:
            programs.pop(name)
    if not isolation().private_tmp:   # the read-only view of the host needs a mount namespace
        programs.pop("write_open_dir")
    assert len(programs) >= 12
    bystander = "import time\ntime.sleep(1.0)\nassert sum(range(5)) == 10"
    names = list(programs) + ["bystander"] * 4
    t0 = time.monotonic()
    results = dict(zip(names, run_many(list(programs.values()) + [bystander] * 4, limits=FAST,
                                       workers=2, progress=False)))
    elapsed = time.monotonic() - t0

    leaked = {n: r.status for n, r in results.items() if n != "bystander" and r.passed}
    assert not leaked, leaked
    assert results["bystander"].passed                     # other workers unaffected
    assert results["infinite_loop"].status == "timeout"
    assert results["signal_tampering"].status in ("timeout", "killed")
    assert results["huge_output"].status == "output_limit"
    assert len(results["huge_output"].stdout) <= FAST.output_bytes
    for name in ("exit_zero_early", "os_exit_zero", "system_exit_none"):
        assert results[name].status == "exited_early", name
    assert SECRET not in "".join(r.stdout + r.stderr for r in results.values())
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "escaped.txt").exists()
    assert not list(open_dir.iterdir())
    if isolation().private_tmp:
        assert not Path("/var/tmp/lmforge-escaped.txt").exists()
    with pytest.raises(socket.timeout):
        server.accept()                                   # nothing ever connected
    server.close()
    left = _sandbox_uid_procs()
    for _ in range(100):   # SIGKILLed at the run's end; a loaded kernel may take a moment to reap
        if not left:
            break
        time.sleep(0.1)
        left = _sandbox_uid_procs()
    assert not left, left                                 # fork bomb and sleepers all gone
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")
                if b"sleep\x00317" in _read(p)]
    assert elapsed < 60


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError:
        return b""


def test_without_namespaces_the_guard_and_uid_still_contain(tmp_path, monkeypatch):
    """The fallback a host without user namespaces gets (forced here): nothing leaks either."""
    from dataclasses import replace

    from stages.scoring.sandbox import _run

    iso = isolation()
    if not iso.pid_namespace:
        pytest.skip("this host already runs the fallback (see the test above)")
    fallback = replace(iso, network="socket-guard", pid_namespace=False, private_tmp=False)
    monkeypatch.setenv("WANDB_API_KEY", SECRET)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    programs = _adversaries(tmp_path, 9, tmp_path)
    names = ["socket_localhost", "subprocess_spawn", "exit_zero_early", "infinite_loop",
             "huge_output"] + (["read_env_secret", "delete_files", "write_outside"]
                               if iso.uid == "dropped" else [])
    for name in names:
        r = _run(fallback, programs[name], FAST)
        assert not r.passed, (name, r.status, r.stderr[-300:])
        assert SECRET not in r.stdout + r.stderr
    assert victim.read_text() == "keep me"
    assert not (tmp_path / "escaped.txt").exists()
    assert _run(fallback, "import socket\nsocket.socket()", FAST).stderr.strip().endswith(
        "PermissionError: sandbox: socket.__new__ is not allowed")
    assert _run(fallback, "assert 2 + 2 == 4", FAST).passed


USERNS_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from stages.scoring.sandbox import Limits, isolation, run_program
L = Limits(timeout_s=5)
attacks = {
    "umount_proc": "import ctypes\\nassert ctypes.CDLL(None).umount2(b'/proc', 2) == 0",
    "socket": "import socket\\nsocket.create_connection(('127.0.0.1', 22), 1)",
    "write_open_dir": "open(sys_dir + '/x', 'w').write('1')".replace("sys_dir", repr(sys.argv[2])),
    "see_host_pids": "import os\\nassert len([p for p in os.listdir('/proc') if p.isdigit()]) > 5",
    "setuid_back": "import os\\nos.setuid(0)\\nos.setgid(0)\\nopen('/etc/lmforge-pwned', 'w')",
}
out = {"isolation": isolation().as_dict(),
       "ok": run_program("assert sum(range(4)) == 6", limits=L).status}
out.update({k: run_program(v, limits=L).status for k, v in attacks.items()})
print(json.dumps(out))
"""


def _world_traversable(path: Path) -> bool:
    return all(p.stat().st_mode & 0o005 == 0o005 for p in [path, *path.parents])


def test_user_namespace_mode_as_an_unprivileged_user(open_dir):
    """What a non-root host (CI runner, laptop) gets: uid 0 of a user namespace, no capability."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (to become an unprivileged user), setpriv and /usr/bin/python3")
    if not _world_traversable(REPO / "stages" / "eval"):
        pytest.skip(f"{REPO} is not readable by other users")
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
                          "PATH=/usr/bin:/bin", "HOME=/", "/usr/bin/python3", "-c", USERNS_PROBE,
                          str(REPO), str(open_dir)], capture_output=True, text=True, timeout=120, cwd="/")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    if not out["isolation"]["pid_namespace"]:
        pytest.skip(f"user namespaces are off on this host: {out['isolation']}")
    assert out["isolation"]["uid"] == "same" and out["ok"] == "passed"
    assert {k: v for k, v in out.items() if v == "passed"} == {"ok": "passed"}, out
    assert not list(open_dir.iterdir()) and not Path("/etc/lmforge-pwned").exists()
