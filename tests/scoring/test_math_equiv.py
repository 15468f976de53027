"""math-verify equivalence through the time-limited worker; MATH-500 gold scores itself; answer
formats from other datasets (TheoremQA, Minerva, SciBench, MathQA, AQuA, ASDiv, SVAMP,
OlympiadBench styles), many per class, and the known limits pinned."""
from __future__ import annotations

import json
import threading
import time

import pytest

from stages.scoring.extract import last_boxed
from stages.scoring.math_equiv import (MathVerifier, as_latex, math_equal, normalize, percent_readings,
                                      verify_in_process)


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


# Scientific notation: TheoremQA / SciBench floats, Minerva's `\times 10^{}` golds.
SCI_EQUAL = [
    ("3.2e5", r"3.2 \times 10^{5}"), ("3.2e5", "320000"), ("3e5", "300000"), ("1.2e-05", "0.000012"),
    ("6.626e-34", r"6.626 \times 10^{-34}"), ("1.38E-23", r"1.38\times10^{-23}"), ("2.5E+3", "2500"),
    ("4.0e2", "400"), ("3.2e5", "32e4"), (r"\boxed{7.5e-2}", "0.075"), ("1.5e11", r"$1.5 \times 10^{11}$"),
    ("9.11e-31", r"9.11 \times 10^{-31}"), ("6.02e23", r"6.02\times10^{23}"), ("1e-7", "0.0000001"),
    ("3.2e5, 1e3", "1000, 320000"), ("2e+1", "20"),   # policy: glued `e` + integer is scientific
]
SCI_DIFFERENT = [("16e", "3.2e5"), ("3.2e5", "3.2e6"), ("1e3", "100"), ("2.998e8", "3e8"), ("1.5e-3", "1.5e3"),
                 ("3.2e5", "3.2"), ("2e + 1", "20"), ("5e", "5e5")]

# Percentages: one policy (math_equiv docstring): `p%` is p (a unit) or p/100 (a quantity).
PERCENT_EQUAL = [(r"5\%", "0.05"), (r"5\%", "5"), ("0.05", r"5\%"), ("12.5%", r"\frac18"), (r"50\%", r"\frac{1}{2}"),
                 ("150%", "1.5"), ("40 %", "0.4"), ("0.4", r"40\%"), (r"20\%", "20"), (r"7.5\%", "0.075"),
                 (r"5\%", r"5\%"), (r"\boxed{25\%}", "0.25")]
PERCENT_DIFFERENT = [("0.05", "5"), ("5", "0.05"), (r"5\%", "0.5"), (r"5\%", "6"), (r"50\%", "5"), (r"40\%", "0.04")]

# Units in `\text { ... }` with inner spaces (Minerva, ASDiv), and other unit macros.
UNIT_EQUAL = [(r"4\text { days }", "4"), (r"12 \text { cm }", "12"), (r"3.5 \text { hours }", "3.5"),
              (r"\frac{1}{2} \text { mile }", "0.5"), (r"45 \text { km/h }", "45"), (r"60 \text {cm}", "60"),
              (r"4 \textrm { cm }", "4"), (r"100 \mbox { dollars }", "100"), (r"4\text{ days}", "4"),
              (r"5.4 \text{ cents}", "5.4"), (r"\frac{270}7\text{ degrees}", r"\frac{270}{7}")]
UNIT_DIFFERENT = [(r"4\text { days }", "5"), (r"12 \text { cm }", "120"), (r"3.5 \text { hours }", "35")]

# Reordered sums and lists (OlympiadBench, MATH): sympy order and set comparison.
ORDER_EQUAL = [("a+b", "b+a"), ("x, y", "y, x"), ("1, 2", "2, 1"), (r"1+\sqrt{2}, 1-\sqrt{2}", r"1-\sqrt{2}, 1+\sqrt{2}"),
               (r"\frac{1}{2}, 3", r"3, \frac12"), ("2 and 3", "3, 2"), (r"-2, \frac{1}{3}", r"\frac13, -2"),
               (r"3\sqrt{2} + 2\sqrt{3}", r"2\sqrt{3}+3\sqrt{2}"), (r"2\pi + 1", r"1 + 2\pi"), ("y+x^2", "x^2+y"),
               (r"\alpha+\beta", r"\beta+\alpha"), ("x^2+y^2=1", "y^2+x^2=1"), ("(x+1)(x-1)", "(x-1)(x+1)"),
               ("x=1, y=2", "y=2, x=1"), ("-1+2i", "2i-1"), (r"\text{(B)}, \text{(A)}", r"\text{(A)}, \text{(B)}")]
ORDER_DIFFERENT = [("(2,3)", "(3,2)"), ("1, 2", "1, 3"), ("x+1", "x-1"), ("a-b", "b-a")]

# Plain numbers with trailing zeros, thousands commas (SVAMP, ASDiv, MathQA), choice letters (AQuA).
NUMBER_EQUAL = [("5.0", "5"), ("1.840", "1.84"), ("0.50", r"\frac12"), ("-3.00", "-3"), ("1,000", "1000"),
                ("1,234,567", "1234567"), ("145.0", "145"), (r"\$ 5.40", "5.4"), ("(C)", "C"), ("C", r"\text{(C)}")]
NUMBER_DIFFERENT = [("5.01", "5"), ("1.84", "18.4"), ("B", "C"), (r"\text{(B)}", r"\text{(C)}")]


@pytest.mark.parametrize("pred,gold", SCI_EQUAL + PERCENT_EQUAL + UNIT_EQUAL + ORDER_EQUAL + NUMBER_EQUAL)
def test_other_datasets_formats_equal(verifier, pred, gold):
    assert verifier.equal(pred, gold) and verifier.equal(gold, pred)


@pytest.mark.parametrize("pred,gold", SCI_DIFFERENT + PERCENT_DIFFERENT + UNIT_DIFFERENT + ORDER_DIFFERENT
                         + NUMBER_DIFFERENT)
def test_other_datasets_formats_different(verifier, pred, gold):
    assert not verifier.equal(pred, gold) and not verifier.equal(gold, pred)


@pytest.mark.parametrize("pred,gold,equal", [
    ("1, 2", "2, 1, 1", True),                       # a list compares as a set: multiplicity is lost
    ("[1, 2]", "[2, 1]", False),                     # brackets read as an interval, so order matters
    ("[1, 2]", "1, 2", False),                       # ... and an interval is not a list
    (r"5\text{ percent}", "0.05", False),            # the word is a unit, not a percentage
    (r"33\frac{1}{3}\%", r"\frac13", False),         # only a plain number right before % is divided
    ("e", "2.718281828", True),                      # symbols are compared numerically, rounded
])
def test_known_limits_are_pinned(verifier, pred, gold, equal):
    assert verifier.equal(pred, gold) is equal


@pytest.mark.parametrize("text,gold,equal", [
    ("the answer is 1/2", "0.5", True),
    ("He has 18.0 apples left.", "18", True),                          # SVAMP
    ("There are 45 students in the class.", "45", True),               # ASDiv
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12", True),   # Minerva prompt
    (r"Therefore the total is $\frac{3}{4}$ of the cake.", "0.75", True),
    ("So the answer is 3.2e5 m.", "320000", True),                     # TheoremQA
    ("So it is 25%.", "0.25", True),
    ("answer: -2.50", "-2.5", True),
    ("The answer is 7", "8", False),
    ("No idea.", "5", False),
    ("I think x = 3 and then 4", "3", False),       # limit: the last expression is the answer
    ("The answer is (C).", "C", False),             # limit: a choice letter in prose is not found
    ("x = 2 or x = -2", "2, -2", False),            # limit: only the last of two solutions is read
])
def test_whole_text_lets_math_verify_find_the_answer(verifier, text, gold, equal):
    assert verifier.equal(text, gold, whole_text=True) is equal


def test_normalize_rewrites_only_what_math_verify_misreads():
    assert normalize("3.2e5") == "(3.2*10^(5))" and normalize("1.5E-3") == "(1.5*10^(-3))"
    assert normalize(r"4\text { days }") == r"4\text{ days }"
    for kept in (r"2e^{3}", "16e", r"\hspace{2em}", "x_1e2", "v1.2e3b", r"\frac{1}{2}"):
        assert normalize(kept) == kept
    assert percent_readings(r"5\%") == ["5", r"\frac{5}{100}"] and percent_readings("5") == ["5"]
