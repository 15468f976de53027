"""Benchmark registry: a benchmark is data (where its rows come from, how a row becomes a
prompt, its stop strings) plus a scorer. One file per benchmark, registering itself:

    @BENCHMARKS.register("gsm8k")
    def _gsm8k() -> Benchmark: return Benchmark(load=..., score=..., stop=(...))

`load(cfg) -> list[Task]` reads `eval.benchmarks.<name>`; `score(tasks, completions, cfg)`
returns (per-sample rows, metrics) and does no file I/O. Adding a benchmark is adding a file
here and a `benchmarks.<name>` block in params/eval/*.yaml.
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
    id: str                        # "<bench>:<row index in the source>"
    prompt: Prompt                 # chat messages or raw text
    gold: Any                      # what the scorer compares against (None for code)
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    load: Callable[[Any], list[Task]]
    score: Callable[[list[Task], list[Completion], Any], tuple[list[dict], dict]]
    stop: tuple[str, ...] = ()     # always applied, besides the model's eos


BENCHMARKS: Registry[Callable[[], Benchmark]] = Registry("benchmark", "eval.benchmarks / --bench")


def get(name: str) -> Benchmark:
    """Import every module of this package (each registers one benchmark), then look up."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return BENCHMARKS.get(name)()


def sample_row(task: Task, comp: Completion, j: int) -> dict:
    """The per-sample fields every benchmark writes (it adds extracted / gold / correct)."""
    return {"id": task.id, "sample": j, "prompt": comp.prompt_text, "output": comp.texts[j],
            "new_tokens": comp.new_tokens[j], "finish": comp.finish[j] if comp.finish else None,
            "seconds": round(comp.seconds, 4)}
