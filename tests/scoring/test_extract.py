"""GSM8K extractors (lm-eval-harness's regexes) and the boxed-answer extractor, on real data."""
from __future__ import annotations

import json
import re

import pytest

from stages.scoring.extract import (gsm8k_flexible, gsm8k_gold, gsm8k_match, gsm8k_strict, last_boxed,
                                 normalize_number)

CALC = re.compile(r"<<([^>]*)=([^>=]*)>>")


def _rows(datasets_dir, split):
    with open(datasets_dir / "gsm8k" / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("text,strict,flexible", [
    ("so 3 + 4 = 7\n#### 7", "7", "7"),
    ("#### 1,234\n", "1,234", "1,234"),
    ("#### -5", "-5", "-5"),
    ("#### 3.5.", "3.5.", "3.5."),
    ("The answer is $1,000.", None, "$1,000."),
    ("first #### 12 then #### 13", "12", "13"),        # strict: first match; flexible: last
    ("no digits here", None, None),
    ("it costs 5 dollars", None, "5"),                  # single digit: the second alternative
    ("#### $40", None, "$40"),                          # strict's class has no `$`
])
def test_lm_eval_regex_semantics(text, strict, flexible):
    assert gsm8k_strict(text) == strict
    assert gsm8k_flexible(text) == flexible


@pytest.mark.parametrize("raw,norm", [("1,234", "1234"), ("$1,000.", "1000"), ("-3.5", "-3.5"),
                                      ("3.", "3"), ("$40", "40"), (" 7 ", "7"), ("0.50", "0.50")])
def test_normalize_number(raw, norm):
    assert normalize_number(raw) == norm


def test_every_real_gsm8k_answer_scores_itself_strict_and_flexible(datasets_dir):
    rows = _rows(datasets_dir, "test") + _rows(datasets_dir, "train")
    assert len(rows) == 1319 + 7473
    golds = [gsm8k_gold(r["answer"]) for r in rows]
    assert any("," in r["answer"].rpartition("####")[2] for r in rows)     # commas are covered
    assert any(g.startswith("-") for g in golds)                            # negatives are covered
    strict = [gsm8k_match(r["answer"], g, "strict")[1] for r, g in zip(rows, golds)]
    flexible = [gsm8k_match(r["answer"], g, "flexible")[1] for r, g in zip(rows, golds)]
    assert sum(strict) == len(rows) and sum(flexible) == len(rows)


def test_model_style_endings_of_real_answers(datasets_dir):
    """`The answer is $1,234.` (a dollar sign, thousands commas, a full stop) instead of `####`."""
    rows = _rows(datasets_dir, "test")
    n = 0
    for r in rows:
        gold = gsm8k_gold(r["answer"])
        body = r["answer"].rpartition("####")[0]
        value = float(gold)
        shown = f"${value:,.0f}." if value.is_integer() and value >= 0 else f"{gold}."
        text = body + f"So the answer is {shown}"
        assert gsm8k_strict(text) is None
        assert gsm8k_match(text, gold, "flexible") == (gold, True), text[-80:]
        n += 1
    assert n == 1319


def test_decimals_and_negatives_from_real_calculator_marks(datasets_dir):
    """Every `<<expr=value>>` result in GSM8K train, printed as `= $value.`, extracts as value."""
    values = [m.group(2) for r in _rows(datasets_dir, "train") for m in CALC.finditer(r["answer"])]
    decimals = [v for v in values if "." in v]
    negatives = [v for v in values if v.startswith("-")]
    assert len(decimals) > 100 and len(negatives) >= 5
    for v in decimals + negatives:
        pred, ok = gsm8k_match(f"so the total is = ${v}.", v, "flexible")
        assert ok, (v, pred)


@pytest.mark.parametrize("text,boxed", [
    (r"so \boxed{5}", "5"),
    (r"\boxed{\frac{1}{2}} and later \boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"$\boxed 7$ end", "7"),
    (r"\fbox{x^{2}}", "x^{2}"),
    (r"\boxed{\frac{1}{2}", None),      # cut off mid-box
    ("no box", None),
])
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


def test_last_boxed_recovers_every_math500_answer(datasets_dir):
    rows = [json.loads(line) for line in open(datasets_dir / "math500" / "test.jsonl", encoding="utf-8")]
    boxed = [last_boxed(r["solution"]) for r in rows]
    assert all(b is not None for b in boxed)
    same = sum(b.replace(" ", "") == r["answer"].replace(" ", "") for b, r in zip(boxed, rows))
    assert same >= 450  # the rest differ in form only; math-verify equates them (test_math_equiv)
