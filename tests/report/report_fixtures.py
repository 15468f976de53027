"""The report fixture workspace: the numbers it holds (tests compare the rendered report to them)
and the code that writes it in the shapes the stages write.

Curves are written by DVCLive itself (the layout the trainer produces); params.yaml is composed
by DVC's Hydra function from a small params/ tree, with one group choice and one key changed.

Eval metrics are built with the eval stage's own `mean_ci` / `grouped`, so their keys and
confidence intervals have exactly the shape `python -m stages.eval` writes.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stages.eval.metrics import grouped, mean_ci
from stages.eval.paired import item_outcomes
from stages.eval.winrate import items as winrate_items
from stages.eval.winrate import pair_rows, win_rate

FUNNEL = {  # stage -> (rows_in, {rule: rejected})
    "ingest": (400, {"malformed_json": 2}),
    "clean": (398, {"empty_prompt": 3, "too_long": 5}),
    "dedup": (390, {"near_duplicate": 9, "contamination": 2}),
    "quality": (379, {"low_score": 11}),
    "format": (368, {}),
}
CURVES = {"train/loss": [2.5, 2.1, 1.8, 1.5, 1.3, 1.2], "train/learning_rate": [1e-4] * 6,
          "kl": [0.0, 0.01, 0.03, 0.04, 0.05, 0.05]}
TRAIN = {"train_loss": 1.73, "final_loss": 1.2, "steps": 6, "seconds": 95.25}
CORRECT = {  # (model, bench) -> (n, correct strict, correct flexible)
    ("base", "gsm8k"): (8, 1, 2), ("policy", "gsm8k"): (8, 4, 5),
    ("base", "math500"): (6, 1, None), ("policy", "math500"): (6, 3, None),
    ("base", "humaneval"): (4, 1, None), ("policy", "humaneval"): (4, 0, None),
}
SUBJECTS = ["Algebra", "Algebra", "Algebra", "Geometry", "Geometry", "Number Theory"]


def _run_keys(n: int, gen: float) -> dict:
    return {"n": n, "n_samples": 1, "generate_seconds": gen, "score_seconds": 0.5, "new_tokens": 32 * n,
            "tokens_per_second": 32 * n / gen, "truncated": 1}


def eval_metrics(model: str, bench: str) -> dict:
    n, k, flex = CORRECT[(model, bench)]
    head = {"model": model, "bench": bench, "engine": "hf"}
    items = [1.0] * k + [0.0] * (n - k)
    if bench == "gsm8k":
        strict = mean_ci(items, 1)
        flexible = mean_ci([1.0] * flex + [0.0] * (n - flex), 1)
        return {**head, **strict, "strict": strict, "flexible": flexible, "n_shot": 0,
                "no_answer_line": n - k, "recited_exemplar": 0, **_run_keys(n, 10.0)}
    if bench == "math500":
        rows = [{"subject": s, "level": i % 3 + 1, "correct": items[i]} for i, s in enumerate(SUBJECTS)]
        return {**head, **mean_ci(items, 1), "by_subject": grouped(rows, "subject"),
                "by_level": grouped(rows, "level"), "no_boxed": 2, "verify_timeouts": 0, **_run_keys(n, 8.0)}
    m = mean_ci(items, 1)
    m = {"pass@1": m.pop("accuracy"), **m}
    return {**head, **m, "status": {"passed": k, "failed": n - k},
            "sandbox": {"namespaces": True, "rlimits": True}, **_run_keys(n, 20.0)}


EVAL = {cell: eval_metrics(*cell) for cell in CORRECT}
# The winrate stage: per prompt (policy reward, base reward); 6 won, 1 tied, 1 lost
WINRATE_REWARDS = [(2.0, 1.0)] * 6 + [(1.0, 1.0), (0.0, 1.0)]
WINRATE = {"skipped": False, **win_rate(*zip(*WINRATE_REWARDS)), "rm": "/models/rm", "seconds": 42.5}
CLUSTERS = {"clusters": 4, "rows_in_clusters": 13, "exact_dropped": 3, "near_dropped": 6,
            "size_histogram": {"2": 2, "3": 1, "4": 1},
            "largest": [{"kept": "arithmetic:7", "size": 4}],
            "example_pairs": [{"kept": "arithmetic:7", "dropped": "arithmetic:19", "rule": "near",
                               "jaccard_estimate": 0.84, "kept_text": "tom has 3 apples",
                               "dropped_text": "tom has 3 apples and 1 pear"}]}
CONTAMINATION = {"enabled": True, "ngram": 13, "benchmark_items": 1819, "items_too_short": 3,
                 "by_benchmark": {"gsm8k": 2},
                 "hits": [{"id": "arithmetic:5", "benchmark": "gsm8k", "item": 12, "ngram": "a b c"},
                          {"id": "arithmetic:6", "benchmark": "gsm8k", "item": 40, "ngram": "d e f"}]}


CONFIG = """\
defaults:
  - train: sft
  - profile: default
  - _self_
seed: 0
track: {project: lmforge, mode: disabled, dir: wandb_runs}
paths: {models: models, dedup: data/dedup, eval: data/eval, metrics: reports/metrics,
        plots: reports/plots, report: reports}
report:
  samples_per_cell: 3
  title: lmforge experiment report
  alpha: 0.05
  gate: {metric: null, min_delta: 0.0}
"""


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def _params(root: Path) -> None:
    cfg = root / "params"
    (cfg / "train").mkdir(parents=True)
    (cfg / "profile").mkdir()
    (cfg / "config.yaml").write_text(CONFIG)
    (cfg / "train" / "sft.yaml").write_text("algo: sft\nlr: 2.0e-05\nmax_steps: 100\n")
    (cfg / "train" / "dpo.yaml").write_text("algo: dpo\nlr: 5.0e-07\nmax_steps: 100\nbeta: 0.1\n")
    (cfg / "profile" / "default.yaml").write_text("# @package _global_\n")
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(root / "params.yaml", str(cfg), None, "config", "", ["train=dpo", "train.max_steps=6"])


def _curves(root: Path, mp: pytest.MonkeyPatch) -> None:
    from dvclive import Live

    mp.chdir(root)   # DVCLive looks for a repo from the cwd; keep it inside the fixture
    with Live(dir="reports/plots/train", dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for step in range(6):
            live.step = step
            for name, values in CURVES.items():
                live.log_metric(name, values[step])


def _samples(root: Path, model: str, bench: str, n: int, n_correct: int, n_flexible: int | None) -> None:
    """Rows as the eval stage writes them (the prompt is the chat-templated text), and the per-item
    outcomes it writes beside its metrics. Item i is correct iff i < n_correct, so base and
    policy are nested: every discordant pair is a gain for the better model."""
    rows = [{"id": f"{bench}:{i}", "sample": 0, "prompt": f"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ{i}: what is {i} + {i}?"
                       "<|im_end|>\n<|im_start|>assistant\n",
             "output": f"Let me think.\n#### {2 * i if i < n_correct else -1}",
             "extracted": str(2 * i if i < n_correct else -1), "gold": str(2 * i), "correct": i < n_correct,
             **({"correct_flexible": i < n_flexible} if n_flexible is not None else {})}
            for i in range(n)]
    path = root / "data" / "eval" / f"{model}-{bench}" / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    write_json(root / "reports" / "metrics" / "items" / f"{model}-{bench}.json",
               {"model": model, "bench": bench, **item_outcomes(rows)})


def _winrate(root: Path) -> None:
    """What the winrate stage writes: metrics, per-prompt outcomes and the judged pairs."""
    n = len(WINRATE_REWARDS)
    prompts = [[{"role": "user", "content": f"How do I fix bike {i}?"}] for i in range(n)]
    rows = pair_rows([f"hh-rlhf:{i}" for i in range(n)], prompts, [f"Policy answer {i}" for i in range(n)],
                     [f"base {i}" for i in range(n)], *zip(*WINRATE_REWARDS), tie_eps=0.0)
    write_json(root / "reports" / "metrics" / "winrate.json", WINRATE)
    write_json(root / "reports" / "metrics" / "items" / "winrate.json", winrate_items(rows))
    path = root / "data" / "eval" / "winrate" / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _lock(root: Path) -> None:
    lock = {"schema": "2.0", "stages": {
        "model": {"cmd": "python -m stages.model", "outs": [
            {"path": "models/base", "hash": "md5", "md5": "0123456789abcdef0123456789abcdef.dir",
             "size": 5_400_000, "nfiles": 6}]},
        "format": {"cmd": "python -m stages.format", "outs": [
            {"path": "data/format", "hash": "md5", "md5": "fedcba9876543210fedcba9876543210.dir",
             "size": 81_920, "nfiles": 4},
            {"path": "reports/metrics/format.json", "hash": "md5", "md5": "aa" * 16, "size": 120}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))


def build_workspace(root: Path) -> Path:
    """Write every report input under `root`: what a full pipeline run would leave."""
    root.mkdir(parents=True)
    _params(root)
    for stage, (rows_in, rules) in FUNNEL.items():
        rejected = sum(rules.values())
        write_json(root / "reports" / "metrics" / f"{stage}.json",
                   {"rows_in": rows_in, "rows_kept": rows_in - rejected, "rows_rejected": rejected,
                    "rejected_by_rule": rules, "seconds": 1.5})
    write_json(root / "reports" / "metrics" / "train.json", TRAIN)
    for (model, bench), metrics in EVAL.items():
        write_json(root / "reports" / "metrics" / "eval" / f"{model}-{bench}.json", metrics)
        _samples(root, model, bench, *CORRECT[(model, bench)])
    _winrate(root)
    write_json(root / "data" / "dedup" / "clusters.json", CLUSTERS)
    write_json(root / "data" / "dedup" / "contamination.json", CONTAMINATION)
    with pytest.MonkeyPatch.context() as mp:
        _curves(root, mp)
    _lock(root)
    return root


def render_report(root: Path) -> None:
    """Run the report stage's main() with `root` as the working directory."""
    from stages.report.__main__ import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        main()
