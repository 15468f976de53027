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
    math_equal("so the answer is 1/2", "0.5", whole_text=True) -> True  (no box: math-verify
                                                   finds the answer in the text itself)

Before math-verify sees them, both sides are normalised (`normalize`) for formats it misreads:
- scientific notation: `3.2e5`, `1.5E-3` become `(3.2*10^(5))`, `(1.5*10^(-3))`
  (math-verify reads `e` as Euler's number, so `16e` "equalled" `3.2e5`). Policy: a number
  glued to `e`/`E` and an integer is always scientific; write `2e + 1` (spaces) for 2e+1.
- `\\text { days }`: the space after the macro hides the unit from math-verify's unit
  stripping; it is closed up to `\\text{ days }`.
- percentages (`percent_readings`): `5\\%` matches `5` (MATH's convention: the sign is a unit)
  and `0.05` (the same quantity); a side without `%` is read only as written, so `0.05` vs
  `5` stays wrong. `5\\text{ percent}` is a unit (= 5), not a percentage: a known limit.
Sums and lists in another order (`a+b` / `b+a`, `x, y` / `y, x`) are math-verify's own: sympy
canonical order and set comparison. Known limit: a list compares as a set, so `1, 2` equals
`2, 1, 1`; bracketed `[1, 2]` is an interval, unequal to `[2, 1]` and to `1, 2`.
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
_SCI = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?)(\d+)(?![\w.])")
_TEXT_MACRO = re.compile(r"\\(text|textrm|textit|textbf|textnormal|mbox|mathrm)\s+\{")
_PERCENT = re.compile(r"\\?%")
_NUMBER_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*\\?%")
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


def normalize(text: str) -> str:
    """Rewrite what math-verify misreads: `3.2e5` -> `(3.2*10^(5))` (a form both its LaTeX and
    its plain-expression parsers read, in a box or in prose), `\\text {` -> `\\text{`."""
    text = _SCI.sub(lambda m: f"({m[1]}*10^({'-' if m[2] == '-' else ''}{m[3]}))", text)
    return _TEXT_MACRO.sub(lambda m: f"\\{m[1]}{{", text)


def percent_readings(text: str) -> list[str]:
    """The readings of an answer with `%`: the sign dropped (`5`) and as a fraction (`5/100`)."""
    if not _PERCENT.search(text):
        return [text]
    fraction = _NUMBER_PERCENT.sub(lambda m: f"\\frac{{{m[1]}}}{{100}}", text)
    return [_PERCENT.sub("", text), _PERCENT.sub("", fraction)]


def verify_in_process(pred: str, gold: str, whole_text: bool = False) -> bool:
    """math-verify with its SIGALRM timeouts off; no time limit, so call it via `math_equal`.

    `whole_text`: `pred` is a whole response, not an answer; math-verify extracts the answer
    (a `$...$`, "the answer is", or the last expression) instead of reading it all as one.
    """
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled" warnings

    def parsed(text: str, anchor: bool) -> list:
        text = normalize(text)
        return [p for r in percent_readings(text) if (p := parse(as_latex(r) if anchor else r,
                                                                  parsing_timeout=None))]

    golds, preds = parsed(gold, True), parsed(pred, not whole_text)
    return any(verify(g, p, timeout_seconds=None) for g in golds for p in preds)


def serve_stdio() -> None:
    """Worker loop: `[pred, gold, whole_text]` JSON lines in, `true`/`false` lines out."""
    for line in sys.stdin:
        try:
            pred, gold, whole_text = json.loads(line)
            result = verify_in_process(pred, gold, whole_text)
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

    def _ask(self, pred: str, gold: str, timeout_s: float, whole_text: bool = False) -> bool | None:
        """Send one pair; None when no answer came within `timeout_s` or the worker died."""
        assert self._proc is not None and self._proc.stdin and self._proc.stdout
        try:
            self._proc.stdin.write(json.dumps([pred, gold, whole_text]) + "\n")
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

    def equal(self, pred: str | None, gold: str | None, timeout_s: float = 5.0,
              whole_text: bool = False) -> bool:
        """`whole_text`: `pred` is a response without a box (see `verify_in_process`)."""
        if pred is None or gold is None or not pred.strip():
            return False
        if pred.strip() == gold.strip():
            return True  # identical text needs no algebra
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            result = self._ask(pred, gold, timeout_s, whole_text)
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


def math_equal(pred: str, gold: str, timeout_s: float = 5.0, whole_text: bool = False) -> bool:
    """True iff `pred` (a bare answer, or a text with `\\boxed{}`/`$..$`; with `whole_text`, any
    response) equals `gold`."""
    return default_verifier().equal(pred, gold, timeout_s, whole_text)
