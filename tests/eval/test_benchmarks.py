"""Benchmarks as data + scorer: real test sets, gold answers as predictions score 100%."""
from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from omegaconf import OmegaConf

from stages.eval.benchmarks import get
from stages.eval.engines import Completion

BENCHMARKS = Path(__file__).resolve().parents[2] / "params" / "eval" / "benchmarks"


def bench_cfg(name: str, **over):
    block = yaml.safe_load((BENCHMARKS / f"{name}.yaml").read_text())
    cfg = OmegaConf.create({**block, **over})
    OmegaConf.set_struct(cfg, True)
    return cfg


def bench(name: str) -> SimpleNamespace:
    """The benchmark file's scorer, bound to the benchmark's name."""
    scorer = get(bench_cfg(name).scorer)
    return SimpleNamespace(load=lambda cfg: scorer.load(name, cfg), score=scorer.score)


def outputs(texts_per_task: list[list[str]]) -> list[Completion]:
    return [Completion(prompt_text="p", texts=t, prompt_tokens=1, new_tokens=[1] * len(t), seconds=0.0,
                       finish=["stop"] * len(t)) for t in texts_per_task]


def test_gsm8k_every_test_gold_scores_100_strict_and_flexible(datasets_dir):
    cfg = bench_cfg("gsm8k", limit=None)
    b = bench("gsm8k")
    tasks = b.load(cfg)
    assert len(tasks) == 1319
    answers = [json.loads(line)["answer"] for line in open(datasets_dir / "gsm8k/test.jsonl")]
    rows, m = b.score(tasks, outputs([[a] for a in answers]), cfg)
    assert m["strict"]["accuracy"] == 1.0 and m["flexible"]["accuracy"] == 1.0
    assert m["accuracy"] == 1.0 and m["no_answer"] == 0
    assert len(rows) == 1319 and {"prompt", "output", "extracted", "gold", "correct", "seconds"} <= set(rows[0])
    wrong, m = b.score(tasks, outputs([["#### 123456789"]] * len(tasks)), cfg)
    assert m["strict"]["accuracy"] == 0.0 and m["ci_high"] < 0.01


def test_gsm8k_zero_shot_prompt_asks_for_the_answer_line():
    tasks = bench("gsm8k").load(bench_cfg("gsm8k", limit=3))
    for t in tasks:
        assert len(t.prompt) == 1 and t.prompt[0]["role"] == "user"
        assert "#### <number>" in t.prompt[0]["content"]


def test_gsm8k_n_shot_uses_train_exemplars_and_flags_recitation(datasets_dir):
    cfg = bench_cfg("gsm8k", limit=4, n_shot=3)
    tasks = bench("gsm8k").load(cfg)
    test_qs = {json.loads(line)["question"].strip() for line in open(datasets_dir / "gsm8k/test.jsonl")}
    train_qs = {json.loads(line)["question"].strip() for line in open(datasets_dir / "gsm8k/train.jsonl")}
    prompt = tasks[0].prompt
    assert [m["role"] for m in prompt] == ["user", "assistant"] * 3 + ["user"]
    shots = [m["content"].split("Question: ", 1)[1] for m in prompt[:-1:2]]
    assert all(q in train_qs and q not in test_qs for q in shots)
    assert all("<<" not in m["content"] for m in prompt[1::2])        # calculator marks removed
    # A model reciting the first exemplar (its own `####` line first) before answering:
    recital = prompt[1]["content"] + "\n\nNow the real one.\n#### " + tasks[0].gold
    rows, m = bench("gsm8k").score(tasks[:1], outputs([[recital]]), cfg)
    assert rows[0]["recited_exemplar"] and m["recited_exemplar"] == 1
    assert not rows[0]["correct"] and rows[0]["correct_flexible"]     # strict takes the first ####


def test_gsm8k_refuses_test_split_exemplars():
    cfg = bench_cfg("gsm8k", limit=2, n_shot=2, fewshot_source="local:gsm8k/test.jsonl")
    with pytest.raises(ValueError, match="shares items with the test source"):
        bench("gsm8k").load(cfg)


def test_subset_is_seeded_and_the_same_for_every_model():
    a = [t.id for t in bench("gsm8k").load(bench_cfg("gsm8k", limit=8, subset_seed=0))]
    b = [t.id for t in bench("gsm8k").load(bench_cfg("gsm8k", limit=8, subset_seed=0))]
    c = [t.id for t in bench("gsm8k").load(bench_cfg("gsm8k", limit=8, subset_seed=1))]
    assert a == b and a != c and len(set(a)) == 8


def test_math500_every_reference_solution_scores_100(datasets_dir):
    cfg = bench_cfg("math500", limit=None)
    b = bench("math500")
    tasks = b.load(cfg)
    solutions = [json.loads(line)["solution"] for line in open(datasets_dir / "math500/test.jsonl")]
    rows, m = b.score(tasks, outputs([[s] for s in solutions]), cfg)
    assert m["accuracy"] == 1.0 and m["no_answer"] == 0 and m["verify_timeouts"] == 0
    assert sum(g["n"] for g in m["by_subject"].values()) == 500
    assert set(m["by_level"]) == {"1", "2", "3", "4", "5"}
    assert all(g["accuracy"] == 1.0 for g in m["by_subject"].values())
    assert "\\boxed{}" in tasks[0].prompt[0]["content"]


def test_math500_scores_wrong_and_unboxed_answers_as_wrong():
    cfg = bench_cfg("math500", limit=3)
    tasks = bench("math500").load(cfg)
    rows, m = bench("math500").score(tasks, outputs([["\\boxed{123456}"], ["no box"], [f"\\boxed{{{tasks[2].gold}}}"]]), cfg)
    assert [r["correct"] for r in rows] == [False, False, True]
    assert m["no_answer"] == 1 and m["accuracy"] == pytest.approx(1 / 3)


def _humaneval(limit):
    cfg = bench_cfg("humaneval", limit=limit, timeout_s=10.0)
    return cfg, bench("humaneval").load(cfg)


def test_humaneval_canonical_and_wrong_on_a_subset():
    cfg, tasks = _humaneval(8)
    right = outputs([[t.meta["canonical_solution"]] for t in tasks])
    rows, m = bench("humaneval").score(tasks, right, cfg)
    assert m["pass@1"] == 1.0 and m["status"] == {"passed": 8}
    assert m["sandbox"]["network"] in ("netns", "socket-guard")
    wrong = outputs([["    return None\n"] for _ in tasks])
    rows, m = bench("humaneval").score(tasks, wrong, cfg)
    assert m["pass@1"] == 0.0


def test_humaneval_pass_at_k_with_several_samples():
    cfg = bench_cfg("humaneval", limit=2, n_samples=4, temperature=0.8, k=[1, 2, 4])
    tasks = bench("humaneval").load(cfg)
    good, bad = tasks[0].meta["canonical_solution"], "    raise RuntimeError\n"
    comps = outputs([[good, bad, bad, bad], [bad] * 4])     # task 1: c=1 of n=4; task 2: c=0
    rows, m = bench("humaneval").score(tasks, comps, cfg)
    assert m["pass@1"] == pytest.approx((1 / 4 + 0) / 2)
    assert m["pass@2"] == pytest.approx((1 / 2 + 0) / 2)     # 1 - C(3,2)/C(4,2) = 1/2
    assert m["pass@4"] == pytest.approx((1 + 0) / 2)
    assert m["ci_method"] == "bootstrap"


@pytest.mark.slow
def test_humaneval_all_164_canonical_pass_and_164_wrong_fail():
    cfg, tasks = _humaneval(None)
    assert len(tasks) == 164
    t0 = time.monotonic()
    rows, m = bench("humaneval").score(tasks, outputs([[t.meta["canonical_solution"]] for t in tasks]), cfg)
    seconds = time.monotonic() - t0
    assert m["pass@1"] == 1.0, [r["id"] for r in rows if not r["correct"]]
    assert seconds < 60
    # wrong: each task gets its neighbour's (correct, but for another function) body
    shifted = outputs([[tasks[(i + 1) % 164].meta["canonical_solution"]] for i in range(164)])
    rows, m = bench("humaneval").score(tasks, shifted, cfg)
    assert m["pass@1"] == 0.0, [r["id"] for r in rows if r["correct"]]


def test_bad_source_rows_name_the_file_and_line(tmp_path):
    bad = tmp_path / "gsm.jsonl"
    bad.write_text('{"question": "q", "answer": "#### 1"}\n{not json\n')
    with pytest.raises(ValueError, match=rf"{bad}:2: bad_json"):
        bench("gsm8k").load(bench_cfg("gsm8k", source=str(bad)))
    bad.write_text('{"question": "q"}\n')
    with pytest.raises(ValueError, match=r"row 1: missing field\(s\) \['answer'\]"):
        bench("gsm8k").load(bench_cfg("gsm8k", source=str(bad)))
    with pytest.raises(ValueError, match="nope.jsonl: source file not found"):
        bench("gsm8k").load(bench_cfg("gsm8k", source="local:nope.jsonl"))


def test_unknown_scorer_lists_the_valid_ones():
    with pytest.raises(KeyError, match="unknown scorer 'mmlu'.*valid: answer, code"):
        get("mmlu")


def test_limit_must_be_positive_or_null():
    with pytest.raises(ValueError, match="limit=0: must be >= 1, or null"):
        bench("gsm8k").load(bench_cfg("gsm8k", limit=0))
