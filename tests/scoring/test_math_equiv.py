"""math-verify equivalence through the time-limited worker; MATH-500 gold scores itself."""
from __future__ import annotations

import json
import threading
import time

import pytest

from stages.scoring.extract import last_boxed
from stages.scoring.math_equiv import MathVerifier, as_latex, math_equal, verify_in_process


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier()
    yield v
    v.close()


@pytest.mark.parametrize("pred,gold", [
    (r"\frac{1}{2}", "0.5"),
    (r"\dfrac{3}{4}", r"\frac34"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    (r"[1, 3)", r"[1,3)"),
    (r"(-\infty, 2] \cup (5, \infty)", r"(-\infty,2]\cup(5,\infty)"),
    (r"30^\circ", "30"),
    (r"10\text{ cm}", "10"),
    (r"\$36", "36"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)"),
    (r"x^2+2x+1", r"(x+1)^2"),
])
def test_equivalent_forms(verifier, pred, gold):
    assert verifier.equal(pred, gold)


@pytest.mark.parametrize("pred,gold", [("3", "4"), (r"\frac{1}{3}", "0.33"), (r"[1, 3]", r"[1,3)"),
                                       (r"\sqrt{2}", "2"), ("", "1")])
def test_different_answers(verifier, pred, gold):
    assert not verifier.equal(pred, gold)


def test_as_latex_anchors_bare_answers_only():
    assert as_latex(r"\frac12") == r"\boxed{\frac12}"
    assert as_latex(r"\$36") == r"\boxed{\$36}"        # an escaped dollar is not math mode
    assert as_latex(r"so $x=2$") == r"so $x=2$"
    assert as_latex(r"\boxed{2}") == r"\boxed{2}"


def test_every_math500_gold_scores_itself(datasets_dir, verifier):
    """In-process math-verify (no identical-text shortcut) on the gold answer, and the worker on
    the reference solution's last box (often written differently from `answer`)."""
    rows = [json.loads(line) for line in open(datasets_dir / "math500" / "test.jsonl", encoding="utf-8")]
    assert len(rows) == 500
    assert all(verify_in_process(r["answer"], r["answer"]) for r in rows)
    assert all(verifier.equal(last_boxed(r["solution"]), r["answer"]) for r in rows)


def test_timeout_kills_a_pathological_answer_and_recovers(verifier):
    """sympy on a tower of powers does not return; the worker is killed at the timeout."""
    before = verifier.timeouts
    t0 = time.monotonic()
    assert not verifier.equal("9^{9^{9^{9^{9^{9}}}}}", "1", timeout_s=1.5)
    assert time.monotonic() - t0 < 5
    assert verifier.timeouts == before + 1
    assert verifier.equal(r"\frac{2}{4}", "0.5")   # a fresh worker answers the next call


def test_math_equal_works_outside_the_main_thread():
    """math-verify's own SIGALRM timeout raises in threads; ours does not care."""
    results = []
    threads = [threading.Thread(target=lambda: results.append(math_equal(r"\frac{6}{8}", "0.75")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, True, True]
