"""Scorers: a benchmark is data, one file in params/eval/benchmarks/ (its source, prompt,
generation settings, stop strings, extractors), naming the scorer that turns its rows into
tasks and its responses into scores. A scorer is written only when scoring is new:

    answer    extract an answer, compare with the gold (GSM8K, MATH-500, any such dataset)
    code      run the program against its tests in the sandbox (HumanEval)
    (harness: any lm-eval-harness task, when the block says `harness: <task>`)

One module per scorer registers itself: `SCORERS.register("answer")(lambda: Scorer(load, score))`.
`load(name, cfg) -> list[Task]` reads `eval.benchmarks.<name>`; `score(tasks, completions, cfg)`
returns (per-sample rows, metrics) and does no file I/O.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from stages.common.registry import Registry
from stages.eval.engines import Completion, Prompt


@dataclass
class Task:
    id: str                        # the row's id field, else "<bench>:<row index in the source>"
    prompt: Prompt                 # chat messages or raw text
    gold: Any                      # what the scorer compares against (None for code)
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Scorer:
    load: Callable[[str, Any], list[Task]]
    score: Callable[[list[Task], list[Completion], Any], tuple[list[dict], dict]]


SCORERS: Registry[Callable[[], Scorer]] = Registry("scorer", "eval.benchmarks.<name>.scorer")


def get(scorer: str) -> Scorer:
    """Import every module of this package (each registers its scorer), then look up."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return SCORERS.get(scorer)()


def sample_row(task: Task, comp: Completion, j: int) -> dict:
    """The per-sample fields every benchmark writes (it adds extracted / gold / correct)."""
    return {"id": task.id, "sample": j, "prompt": comp.prompt_text, "output": comp.texts[j],
            "new_tokens": comp.new_tokens[j], "finish": comp.finish[j] if comp.finish else None,
            "seconds": round(comp.seconds, 4)}
