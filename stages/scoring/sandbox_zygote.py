"""The evaluator's side of the sandbox zygotes (stages/scoring/sandbox_runner.py is the other).

A `Zygote` is a warm trusted process that forks one sandboxed tree per request; the `Pool`
hands zygotes out one caller at a time (each index owns one sandbox uid); `pump` collects a
program's output, with caps and a deadline, until the zygote reports its exit status.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RUNNER_SRC = (HERE / "sandbox_runner.py").read_text(encoding="utf-8")
MODULES = json.dumps({name: (HERE / file).read_text(encoding="utf-8")      # loaded by the runner
                      for name, file in (("fs", "sandbox_fs.py"), ("judge", "sandbox_judge.py"))})


class Zygote:
    """A warm trusted server that forks one sandboxed process tree per request."""

    def __init__(self, index: int, interpreter: str, mode: str) -> None:
        self.index, self.interpreter, self.mode, self.buf = index, interpreter, mode, b""
        self.pid: int | None = None
        self.status: int | None = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.proc = subprocess.Popen(
            [interpreter, "-I", "-S", "-c", RUNNER_SRC, str(theirs.fileno()), mode, MODULES],
            pass_fds=(theirs.fileno(),), env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.sock = ours
        self.hello = self.message(timeout_s=60)  # {"namespaces": bool, "error": str | None}

    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, cfg: dict, fds: list[int]) -> None:
        """Send one program; `pid` and `status` fill in as the zygote reports them."""
        self.pid = self.status = None
        body = json.dumps(cfg).encode()
        socket.send_fds(self.sock, [len(body).to_bytes(8, "big")], fds)
        self.sock.sendall(body)

    def absorb(self) -> None:
        """Take every complete report in the buffer: `{"pid": ...}`, then `{"status": ...}`."""
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            self.pid = msg.get("pid", self.pid)
            self.status = msg.get("status", self.status)

    def wait_for(self, key: str, timeout_s: float) -> Any:
        """Block until the report `key` ("pid" or "status") has arrived."""
        deadline = time.monotonic() + timeout_s
        self.absorb()
        while getattr(self, key) is None:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()))
            self.receive()
            self.absorb()
        return getattr(self, key)

    def message(self, timeout_s: float | None = None) -> dict:
        """The next reply line; blocks up to `timeout_s`."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while b"\n" not in self.buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.sock.settimeout(wait)
            self.receive()
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError(f"sandbox zygote {self.index} died (exit code {self.proc.poll()})")
        self.buf += data

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Pool:
    """Zygotes handed out one caller at a time, per (interpreter, mode); each index (a
    sandbox uid) is held by one zygote at a time."""

    def __init__(self) -> None:
        self.free: dict[tuple[str, str], list[Zygote]] = {}
        self.lock, self.count, self.spare = threading.Lock(), 0, []

    def acquire(self, interpreter: str, mode: str) -> Zygote:
        with self.lock:
            idle = self.free.setdefault((interpreter, mode), [])
            z = idle.pop() if idle else None
            if z is None or not z.alive():
                if z is not None:
                    z.close()
                    self.spare.append(z.index)
                index = self.spare.pop() if self.spare else self.count
                self.count = max(self.count, index + 1)
        if z is not None and z.alive():
            return z
        try:
            z = Zygote(index, interpreter, mode)
        except BaseException:
            with self.lock:
                self.spare.append(index)
            raise
        if z.hello["namespaces"] != (mode != "none"):
            self.discard(z)
            raise RuntimeError(f"sandbox zygote could not enter namespaces: {z.hello['error']}")
        return z

    def release(self, z: Zygote) -> None:
        with self.lock:
            self.free.setdefault((z.interpreter, z.mode), []).append(z)

    def discard(self, z: Zygote) -> None:
        """Close a zygote in an unknown state; its index (uid) becomes free again."""
        z.close()
        with self.lock:
            self.spare.append(z.index)


def pump(z: Zygote, fds: dict[int, bytearray], result_fd: int,
         limits: Any) -> tuple[str | None, int | None]:
    """Read the pipes until the program's status arrives and its pipes close, or a limit hits.

    Returns (status if a limit hit else None, exit code if it arrived).
    """
    deadline = time.monotonic() + limits.timeout_s
    z.absorb()
    sel = selectors.DefaultSelector()
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    if z.status is None:
        sel.register(z.sock, selectors.EVENT_READ)
    try:
        while len(sel.get_map()) > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ("timeout" if z.status is None else None), z.status
            for key, _ in sel.select(remaining):
                if key.fileobj is z.sock:
                    z.receive()
                    z.absorb()
                    if z.status is not None:
                        sel.unregister(z.sock)
                        deadline = min(deadline, time.monotonic() + 0.5)  # pipes: a short grace
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                fds[key.fd] += chunk
                if key.fd != result_fd and len(fds[key.fd]) > limits.output_bytes:
                    return "output_limit", z.status
        return None, z.status
    finally:
        sel.close()
