"""Reward registry: every reward scores real answers right, the weighted sum adds up, and
compute_score (verl's entry) routes by data_source or by an explicit spec."""
from __future__ import annotations

import json

import pytest

from stages import rewards


def test_registry_lists_every_reward():
    rewards.load_all()
    assert {"gsm8k", "gsm8k_flexible", "math", "code", "format", "length", "exact",
            "reward_model"} <= set(rewards.REWARDS.names())
    with pytest.raises(KeyError, match="valid: .*gsm8k"):
        rewards.get("gsm9k")


def test_gsm8k_on_real_answers(datasets_dir):
    from stages.scoring.extract import gsm8k_gold

    lines = (datasets_dir / "gsm8k" / "test.jsonl").read_text().splitlines()[:50]
    rows = [json.loads(line) for line in lines]
    gsm8k = rewards.get("gsm8k")
    for row in rows:
        gold = gsm8k_gold(row["answer"])
        assert gsm8k(row["answer"], gold, {}) == 1.0                  # reference answer: correct
        assert gsm8k(row["answer"], row["answer"], {}) == 1.0         # `#### N` ground truth accepted
        assert gsm8k(row["answer"], str(int(float(gold)) + 1), {}) == 0.0
    assert gsm8k("so she makes 18 dollars", "18", {}) == 0.0          # strict wants `#### N`
    for gold in ("145", "145.0", "145.00", "#### 145.0"):                # numbers, not strings
        assert gsm8k("so\n#### 145", gold, {}) == 1.0 and gsm8k("#### 145.0", gold, {}) == 1.0
    assert rewards.get("gsm8k_flexible")("she made 1.840 km", "1.84", {}) == 1.0
    assert rewards.get("gsm8k_flexible")("so she makes $1,018.", "1018", {}) == 1.0


def test_math_equivalence():
    math = rewards.get("math")
    assert math("so \\boxed{\\frac{1}{2}}", "0.5", {}) == 1.0
    assert math("\\boxed{(3, \\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", {}) == 1.0
    assert math("\\boxed{3}", "4", {}) == 0.0
    assert math("\\boxed{3.2e5}", "320000", {}) == 1.0                 # scientific notation
    assert math("\\boxed{5\\%}", "0.05", {}) == 1.0


@pytest.mark.parametrize("completion,gold,score", [
    ("the answer is 1/2", "0.5", 1.0),                                  # no box: the whole text
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12", 1.0),
    ("He has 18.0 apples left.", "18", 1.0),
    ("so we get 3.2e5 joules", r"3.2 \times 10^{5}", 1.0),
    ("the answer is 7", "8", 0.0),
    ("no idea", "5", 0.0),
    ("first 1/2 but \\boxed{3}", "0.5", 0.0),                           # a box wins over the text
])
def test_math_falls_back_to_the_whole_completion(completion, gold, score):
    assert rewards.get("math")(completion, gold, {}) == score


def test_code_runs_tests_in_the_sandbox():
    code = rewards.get("code")
    tests = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
    assert code("```python\ndef add(a, b):\n    return a + b\n```", tests, {}) == 1.0
    assert code("def add(a, b):\n    return a - b", tests, {}) == 0.0
    assert code("def add(a, b):\n    while True: pass", tests, {"timeout_s": 2}) == 0.0
    humaneval = {"entry_point": "add", "code_prefix": "def add(a, b):\n"}
    assert code("    return a + b\n", "def check(f):\n    assert f(1, 2) == 3\n", humaneval) == 1.0


def test_format_length_exact():
    assert rewards.get("format")("x\n#### 12", None, {}) == 1.0
    assert rewards.get("format")("<answer>12</answer>", None, {}) == 1.0
    assert rewards.get("format")("the answer is 12", None, {}) == 0.0
    length = rewards.get("length")
    assert length("a" * 100, None, {"target_chars": 100, "max_chars": 200}) == 0.0
    assert length("a" * 150, None, {"target_chars": 100, "max_chars": 200}) == pytest.approx(0.5)
    assert length("a" * 999, None, {"target_chars": 100, "max_chars": 200}) == 1.0
    assert rewards.get("exact")(" 7\n", "7", {}) == 1.0 and rewards.get("exact")("77", "7", {}) == 0.0
    assert rewards.get("exact")("5", "5.0", {}) == 1.0 and rewards.get("exact")("A", "a", {}) == 0.0


def test_weighted_sum_and_compute_score():
    fn = rewards.weighted([{"name": "gsm8k", "weight": 1.0}, {"name": "format", "weight": 0.1},
                           {"name": "length", "weight": -0.5, "target_chars": 0, "max_chars": 100}])
    text = "#### 5" + " " * 44                                            # 50 chars: penalty 0.5
    assert fn(text, "5", {}) == pytest.approx(1.0 + 0.1 - 0.25)
    assert fn(text, "6", {}) == pytest.approx(0.1 - 0.25)
    assert rewards.compute_score("openai/gsm8k", "#### 5", "5") == 1.0
    assert rewards.compute_score("math500", "\\boxed{5}", "5", {}) == 1.0
    assert rewards.compute_score("anything", "#### 5", "5", {}, reward=[{"name": "format", "weight": 2}]) == 2.0
    with pytest.raises(KeyError, match="no default reward for data_source 'nope'"):
        rewards.compute_score("nope", "x", "y")
    with pytest.raises(ValueError, match="needs a `name`"):
        rewards.weighted([{"weight": 1.0}])


def test_learned_reward_model_scores_deterministically(tmp_path, tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from stages.rewards.learned import load, score

    rm = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=1)
    rm.save_pretrained(tmp_path / "rm")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path / "rm")
    prompt = [{"role": "user", "content": "2+2?"}]
    extra = {"path": str(tmp_path / "rm"), "prompt": prompt}
    fn = rewards.get("reward_model")
    a, b = fn("#### 4", None, extra), fn("#### 5", None, extra)
    assert a == fn("#### 4", None, extra) and a != b
    model, tok = load(str(tmp_path / "rm"))
    assert a == pytest.approx(score(model, tok, prompt, [{"role": "assistant", "content": "#### 4"}]))
    with pytest.raises(FileNotFoundError, match="train=rm"):
        fn("x", None, {"path": str(tmp_path / "missing"), "prompt": prompt})
