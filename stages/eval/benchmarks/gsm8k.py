"""GSM8K (https://arxiv.org/abs/2110.14168): grade-school word problems, exact numeric answer.

Scored with lm-eval-harness's two extractors (stages.scoring.extract): `strict` reads the first
`#### N` line, `flexible` the last number; each is compared with the gold as a number
(`#### 18.00` is right for 18, where lm-eval's string compare says wrong). Strict taking the *first* `####` means a model that
recites a few-shot exemplar (its `#### N` included) before answering scores wrong. So:
- the default is zero-shot, with a chat instruction that asks for the `#### N` line;
- n-shot exemplars come from the TRAIN split (never test; checked) as earlier chat turns, not
  one long text a base model would continue;
- a sample that repeats an exemplar's question or first reasoning line is flagged
  `recited_exemplar`, and the metrics count them.
"""
from __future__ import annotations

import random
import re
from typing import Any

from stages.eval import data
from stages.scoring import extract
from stages.eval.benchmarks import BENCHMARKS, Benchmark, Task, sample_row
from stages.eval.metrics import mean_ci

CALC = re.compile(r"<<[^>]*>>")  # GSM8K's calculator annotations: noise in an exemplar


def _user(cfg: Any, question: str) -> dict:
    return {"role": "user", "content": cfg.instruction.replace("{question}", question.strip())}


def _exemplars(cfg: Any, test_questions: set[str]) -> list[dict]:
    if not cfg.n_shot:
        return []
    rows = data.load_rows(cfg.fewshot_source, cfg.get("hf_config"), cfg.fewshot_split)
    shots = random.Random(cfg.subset_seed).sample(rows, int(cfg.n_shot))
    leaked = [s["question"][:60] for s in shots if s["question"].strip() in test_questions]
    if leaked:
        raise ValueError(f"eval.benchmarks.gsm8k.fewshot_source={cfg.fewshot_source!r} shares "
                         f"questions with the test source (e.g. {leaked[0]!r}); use the train split")
    return shots


def _signatures(shots: list[dict]) -> list[str]:
    """Text that only a recitation of an exemplar would contain."""
    sigs = []
    for s in shots:
        sigs.append(s["question"].strip()[:60])
        sigs.append(CALC.sub("", s["answer"]).strip().splitlines()[0][:60])
    return [s for s in sigs if len(s) >= 20]


def load(cfg: Any) -> list[Task]:
    rows = data.load_rows(cfg.source, cfg.get("hf_config"), cfg.get("split"))
    for i, r in enumerate(rows):
        data.require(r, ("question", "answer"), f"{cfg.source} row {i + 1}")
    shots = _exemplars(cfg, {r["question"].strip() for r in rows})
    turns = []
    for s in shots:
        turns += [_user(cfg, s["question"]), {"role": "assistant", "content": CALC.sub("", s["answer"])}]
    sigs = _signatures(shots)
    return [Task(id=f"gsm8k:{i}", prompt=[*turns, _user(cfg, r["question"])],
                 gold=extract.gsm8k_gold(r["answer"]), meta={"signatures": sigs})
            for i, r in data.subset(rows, cfg.limit, cfg.subset_seed)]


def score(tasks: list[Task], comps: list[Any], cfg: Any) -> tuple[list[dict], dict]:
    rows, strict, flexible = [], [], []
    for task, comp in zip(tasks, comps):
        s_item, f_item = [], []
        for j, text in enumerate(comp.texts):
            s_pred, s_ok = extract.gsm8k_match(text, task.gold, "strict")
            f_pred, f_ok = extract.gsm8k_match(text, task.gold, "flexible")
            recited = any(sig in text for sig in task.meta["signatures"])
            rows.append({**sample_row(task, comp, j), "gold": task.gold, "extracted": s_pred,
                         "correct": s_ok, "extracted_flexible": f_pred, "correct_flexible": f_ok,
                         "recited_exemplar": recited})
            s_item.append(s_ok)
            f_item.append(f_ok)
        strict.append(sum(s_item) / len(s_item))
        flexible.append(sum(f_item) / len(f_item))
    n_samples = len(comps[0].texts) if comps else 1
    s_ci, f_ci = mean_ci(strict, n_samples), mean_ci(flexible, n_samples)
    return rows, {**s_ci, "strict": s_ci, "flexible": f_ci, "n_shot": int(cfg.n_shot),
                  "no_answer_line": sum(r["extracted"] is None for r in rows),
                  "recited_exemplar": sum(r["recited_exemplar"] for r in rows)}


@BENCHMARKS.register("gsm8k")
def _gsm8k() -> Benchmark:
    # A run-on answer starts a new turn or a new question: cut it there.
    return Benchmark(load=load, score=score, stop=("<|im_start|>", "\nQuestion:"))
