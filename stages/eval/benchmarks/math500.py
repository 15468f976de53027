"""MATH-500 (https://arxiv.org/abs/2305.20050): competition problems, LaTeX answers.

The answer is the last `\\boxed{...}` of the response (nested braces balanced), compared with
the reference by math-verify (fractions, radicals, intervals, degrees, `\\text{}` units, and
after stages.scoring.math_equiv's normalisation scientific notation and percentages) in a
time-limited worker process, so one pathological answer cannot hang the run. Accuracy is
reported overall and per subject and per level (1-5).
"""
from __future__ import annotations

from typing import Any

from stages.eval import data
from stages.scoring import extract
from stages.eval.benchmarks import BENCHMARKS, Benchmark, Task, sample_row
from stages.scoring.math_equiv import MathVerifier
from stages.eval.metrics import grouped, mean_ci

FIELDS = ("problem", "answer", "subject", "level")


def load(cfg: Any) -> list[Task]:
    rows = data.load_rows(cfg.source, cfg.get("hf_config"), cfg.get("split"))
    for i, r in enumerate(rows):
        data.require(r, FIELDS, f"{cfg.source} row {i + 1}")
    return [Task(id=r.get("unique_id") or f"math500:{i}",
                 prompt=[{"role": "user", "content": cfg.instruction.replace("{problem}", r["problem"])}],
                 gold=str(r["answer"]), meta={"subject": r["subject"], "level": int(r["level"])})
            for i, r in data.subset(rows, cfg.limit, cfg.subset_seed)]


def score(tasks: list[Task], comps: list[Any], cfg: Any) -> tuple[list[dict], dict]:
    from tqdm import tqdm

    verifier = MathVerifier()
    rows, per_item = [], []
    try:
        for task, comp in tqdm(list(zip(tasks, comps)), desc="math-verify", unit="item"):
            oks = []
            for j, text in enumerate(comp.texts):
                pred = extract.last_boxed(text)
                ok = pred is not None and verifier.equal(pred, task.gold, float(cfg.verify_timeout_s))
                rows.append({**sample_row(task, comp, j), "gold": task.gold, "extracted": pred,
                             "correct": ok, **task.meta})
                oks.append(ok)
            per_item.append(sum(oks) / len(oks))
    finally:
        verifier.close()
    n_samples = len(comps[0].texts) if comps else 1
    return rows, {**mean_ci(per_item, n_samples), "by_subject": grouped(rows, "subject"),
                  "by_level": grouped(rows, "level"),
                  "no_boxed": sum(r["extracted"] is None for r in rows),
                  "verify_timeouts": verifier.timeouts}


@BENCHMARKS.register("math500")
def _math500() -> Benchmark:
    return Benchmark(load=load, score=score, stop=("<|im_start|>",))
