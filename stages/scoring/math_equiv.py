"""Mathematical answer equivalence via math-verify, with a timeout that works anywhere.

math-verify's own timeout uses SIGALRM: it raises outside the main thread (reward workers,
Ray actors, thread pools) and cannot stop a sympy call stuck in C. So we call `parse` and
`verify` with their timeouts off, inside a long-lived worker *process* (a plain
`python -c` child speaking JSON lines, so no `__main__` re-import as with multiprocessing
spawn); the caller waits `timeout_s` on the pipe and, if the answer does not come, kills
the worker (the next call starts a fresh one) and scores the pair as not equal. One
pathological answer costs at most `timeout_s`; it can never hang the stage.

    math_equal("\\frac{1}{2}", "0.5")   -> True
    math_equal("\\boxed{(3, \\pi/2)}", "\\left( 3, \\frac{\\pi}{2} \\right)") -> True
"""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])  # the dir holding the `stages` package
_WORKER = (f"import sys; sys.path.insert(0, {_ROOT!r}); "
           "from stages.scoring.math_equiv import serve_stdio; serve_stdio()")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_START_TIMEOUT_S = 120.0  # the worker's first call imports sympy (seconds on a slow CPU)


def as_latex(answer: str) -> str:
    """Give math-verify an anchor: bare answers are wrapped in `\\boxed{}`, texts kept as is.

    A text counts as already delimited when it has `\\boxed`/`\\fbox` or an unescaped `$`
    (`\\$36` is a dollar amount, not math mode).
    """
    answer = answer.strip()
    if "\\boxed" in answer or "\\fbox" in answer or _UNESCAPED_DOLLAR.search(answer):
        return answer
    return "\\boxed{" + answer + "}"


def verify_in_process(pred: str, gold: str) -> bool:
    """math-verify with its SIGALRM timeouts off; no time limit, so call it via `math_equal`."""
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled" warnings
    gold_parsed = parse(as_latex(gold), parsing_timeout=None)
    pred_parsed = parse(as_latex(pred), parsing_timeout=None)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def serve_stdio() -> None:
    """Worker loop: `[pred, gold]` JSON lines in, `true`/`false` lines out."""
    for line in sys.stdin:
        try:
            pred, gold = json.loads(line)
            result = verify_in_process(pred, gold)
        except Exception:  # noqa: BLE001 - a malformed answer is a wrong answer
            result = False
        sys.stdout.write("true\n" if result else "false\n")
        sys.stdout.flush()


class MathVerifier:
    """One worker process; calls are serialised by a lock, so it is safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self.timeouts = 0  # pairs cut off by the timeout (eval reports it)

    def _ask(self, pred: str, gold: str, timeout_s: float) -> bool | None:
        """Send one pair; None when no answer came within `timeout_s` or the worker died."""
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        try:
            self._proc.stdin.write(json.dumps([pred, gold]) + "\n")
            self._proc.stdin.flush()
            ready, _, _ = select.select([self._proc.stdout], [], [], timeout_s)
            line = self._proc.stdout.readline() if ready else ""
        except (OSError, ValueError):
            return None
        return {"true\n": True, "false\n": False}.get(line)

    def _start(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-u", "-c", _WORKER], text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL)
        if self._ask("1", "1", _START_TIMEOUT_S) is not True:
            self._kill()
            raise RuntimeError("math-verify worker did not start (is math-verify installed?)")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for f in (self._proc.stdin, self._proc.stdout):
                f.close()
        self._proc = None

    def equal(self, pred: str | None, gold: str | None, timeout_s: float = 5.0) -> bool:
        if pred is None or gold is None or not pred.strip():
            return False
        if pred.strip() == gold.strip():
            return True  # identical text needs no algebra
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            result = self._ask(pred, gold, timeout_s)
            if result is None:
                self.timeouts += 1
                self._kill()
                return False
            return result

    def close(self) -> None:
        with self._lock:
            self._kill()


_DEFAULTS: dict[int, MathVerifier] = {}
_DEFAULT_LOCK = threading.Lock()


def default_verifier() -> MathVerifier:
    """The verifier `math_equal` uses: one worker per calling process (a forked child, e.g. a
    reward worker, gets its own rather than sharing its parent's pipes)."""
    with _DEFAULT_LOCK:
        return _DEFAULTS.setdefault(os.getpid(), MathVerifier())


def math_equal(pred: str, gold: str, timeout_s: float = 5.0) -> bool:
    """True iff `pred` (a bare answer, or a text with `\\boxed{}`/`$..$`) equals `gold`."""
    return default_verifier().equal(pred, gold, timeout_s)
