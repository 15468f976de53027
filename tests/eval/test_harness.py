"""lm-eval-harness tasks as eval cells: a multiple-choice (log-likelihood) task and a generation
task from local files (tests/eval/harness_tasks), on the tiny random model through the HF engine.

The checks are independent of lm-eval's own bookkeeping: log-likelihoods are recomputed with a
plain forward pass, generations with the engine directly, and the scores with lm-eval's aggregate.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

pytest.importorskip("lm_eval")

from stages.eval.benchmarks import harness  # noqa: E402
from stages.eval.engines import SamplingParams, make_engine  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TASKS = "tests/eval/harness_tasks"   # relative to the repo root, as the task YAMLs' data_files are
BUILTIN_METRICS = {"accuracy", "ci_low", "ci_high", "ci_method", "n", "n_samples", "generate_seconds",
                   "score_seconds", "new_tokens", "tokens_per_second", "truncated"}
BUILTIN_ROW = {"id", "sample", "prompt", "output", "new_tokens", "finish", "seconds", "gold", "extracted", "correct"}


def cfg(**over):
    c = OmegaConf.create({"harness": "tiny_mc", "include_path": TASKS, "limit": None, "subset_seed": 0,
                          "max_new_tokens": 16, "temperature": 0.0, "n_samples": 1, "stop": [], **over})
    OmegaConf.set_struct(c, True)
    return c


@pytest.fixture(scope="module")
def engine(varied_model_dir):
    cwd = os.getcwd()
    os.chdir(REPO)
    yield make_engine("hf", str(varied_model_dir), batch_size=4, progress=False)
    os.chdir(cwd)


def _forward_loglik(engine, context: str, continuation: str) -> float:
    """log p(continuation | context) from one unpadded forward pass, tokenised as lm-eval's HF model."""
    import torch

    tok, model = engine.tok, engine.model
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([whole])).logits[0].float(), -1)  # (T, V)
    return sum(float(logp[t - 1, whole[t]]) for t in range(len(ctx), len(whole)))


def test_multiple_choice_task_scores_by_loglikelihood(engine):
    rows, m = harness.evaluate("tiny_mc", cfg(), engine, seed=0)
    assert len(rows) == 10 and m["n"] == 10 and BUILTIN_METRICS <= set(m) and BUILTIN_ROW <= set(rows[0])
    docs = [json.loads(line) for line in (REPO / TASKS / "tiny_mc.jsonl").read_text().splitlines()]
    for r in rows:
        doc = docs[r["doc_id"]]
        assert r["gold"] == doc["answer"] and len(r["loglikelihoods"]) == len(doc["choices"])
        expected = [_forward_loglik(engine, r["prompt"], " " + c) for c in doc["choices"]]
        assert r["loglikelihoods"] == pytest.approx(expected, abs=1e-3)
        assert r["extracted"] == max(range(4), key=expected.__getitem__)      # the argmax choice
        assert r["correct"] == (r["extracted"] == doc["answer"]) == (r["acc"] == 1.0)
    assert m["metric"] == "acc,none" and m["ci_method"] == "wilson"
    assert m["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / 10)
    assert m["accuracy"] == pytest.approx(m["lm_eval"]["tiny_mc"]["acc,none"])          # lm-eval agrees
    assert m["scores"]["acc_norm,none"]["accuracy"] == pytest.approx(m["lm_eval"]["tiny_mc"]["acc_norm,none"])
    assert m["ci_low"] <= m["accuracy"] <= m["ci_high"] and m["harness"]["versions"]["tiny_mc"] == 1.0
    json.dumps(rows), json.dumps(m)                                          # writable as jsonl / json


def test_generation_task_runs_through_the_engine(engine):
    rows, m = harness.evaluate("tiny_gen", cfg(harness="tiny_gen"), engine, seed=0)
    assert len(rows) == 8 and BUILTIN_METRICS <= set(m) and BUILTIN_ROW <= set(rows[0])
    # the task's own gen_kwargs (max_gen_toks 8, until newline / "Question:") reach the engine
    direct = engine.generate([r["prompt"] for r in rows],
                             SamplingParams(max_new_tokens=8, stop=("\n", "Question:")))
    assert [r["output"] for r in rows] == [c.texts[0] for c in direct]
    assert all(r["new_tokens"] > 0 and r["finish"] in ("stop", "length") for r in rows)
    assert m["new_tokens"] == sum(r["new_tokens"] for r in rows) and m["tokens_per_second"] > 0
    for r in rows:
        same = r["extracted"].strip().lower() == r["gold"].strip().lower()
        assert r["correct"] == same == (r["exact_match"] == 1.0)
    assert m["metric"] == "exact_match,none"
    assert m["accuracy"] == pytest.approx(m["lm_eval"]["tiny_gen"]["exact_match,none"])


def test_limit_draws_the_same_seeded_subset_for_every_model(engine):
    a, _ = harness.evaluate("tiny_mc", cfg(limit=4, subset_seed=0), engine, seed=0)
    b, _ = harness.evaluate("tiny_mc", cfg(limit=4, subset_seed=0), engine, seed=0)
    c, _ = harness.evaluate("tiny_mc", cfg(limit=4, subset_seed=3), engine, seed=0)
    assert [r["id"] for r in a] == [r["id"] for r in b] != [r["id"] for r in c]
    assert len(a) == 4 and a == b


def test_batched_loglikelihood_equals_one_at_a_time(engine):
    from stages.eval.engines.harness_lm import EngineLM

    lm = EngineLM(engine)
    pairs = [lm._encode_pair("Question: What is 2+3?\nAnswer:", " 5"), lm._encode_pair("Hi", " there friend"),
             lm._encode_pair("A much longer context with many more tokens in it, padded in a batch.", " x"),
             lm._encode_pair("", "empty context")]
    batched = lm._score(pairs)
    lm.batch_size = 1
    single = lm._score(pairs)
    assert [b[0] for b in batched] == pytest.approx([s[0] for s in single], abs=1e-4)
    assert [b[1] for b in batched] == [s[1] for s in single]


def test_bad_config_is_refused_before_the_model_runs(engine):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['shots'\]"):
        harness.check("arc", OmegaConf.create({"harness": "arc_easy", "shots": 5}))
    with pytest.raises(ValueError, match="n_samples: harness tasks take one sample"):
        harness.check("arc", OmegaConf.create({"harness": "arc_easy", "n_samples": 4}))
    with pytest.raises(ValueError, match=r"metric='f1'.*\['acc', 'acc_norm'\]"):
        harness.evaluate("tiny_mc", cfg(metric="f1", limit=1), engine, seed=0)


def test_the_params_example_block_is_valid():
    import yaml

    block = yaml.safe_load((REPO / "params/eval/benchmarks/arc_easy.yaml").read_text())
    assert set(block) == harness.KEYS                    # every key documented, none unknown
    harness.check("arc_easy", OmegaConf.create(block))


def test_the_eval_runner_runs_a_harness_block(engine):
    from stages.eval.runner import evaluate

    rows, m = evaluate("tiny_mc", cfg(limit=2), engine, seed=0)
    assert len(rows) == 2 and m["metric"] == "acc,none"


def test_rolling_loglikelihood_is_the_whole_text_after_end_of_text(engine):
    """Perplexity tasks: log p(text | <eos>), summed over every token of the text."""
    import torch
    from lm_eval.api.instance import Instance

    from stages.eval.engines.harness_lm import EngineLM

    texts = ["The quick brown fox jumps over the lazy dog.", "2 + 2 = 4"]
    reqs = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)]
    got = EngineLM(engine).loglikelihood_rolling(reqs)
    for text, ll in zip(texts, got):
        ids = [engine.tok.eos_token_id] + engine.tok(text, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(engine.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        assert ll == pytest.approx(sum(float(logp[t - 1, ids[t]]) for t in range(1, len(ids))), abs=1e-3)
