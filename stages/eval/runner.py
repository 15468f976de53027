"""One eval cell: a benchmark's tasks -> an engine's completions -> scored rows and metrics.

No file I/O: the stage module writes what this returns.
"""
from __future__ import annotations

import time
from typing import Any

from stages.common import params
from stages.eval.benchmarks import get
from stages.eval.engines import Engine, SamplingParams

# The keys a benchmark block may hold, per scorer (defaults live in params/eval/benchmarks/).
COMMON = ("scorer", "version", "files", "source", "hf_config", "split", "revision", "limit",
          "subset_seed", "max_new_tokens", "temperature", "top_p", "n_samples", "stop",
          "decontam", "reward", "data_sources")
KEYS = {
    "answer": (*COMMON, "id_field", "chat", "instruction", "gold", "gold_extract", "extractors", "headline",
               "compare", "group_by", "fewshot_source", "fewshot_split", "n_shot", "verify_timeout_s"),
    "code": (*COMMON, "k", "timeout_s", "memory_mb", "workers"),
}


def schema(name: str, block: Any) -> dict:
    """The keys `eval.benchmarks.<name>` may hold: its scorer's (or lm-eval's, for `harness:`)."""
    if block.get("harness"):
        from stages.eval.benchmarks.harness import KEYS as HARNESS_KEYS

        return dict.fromkeys(HARNESS_KEYS)
    scorer = block.get("scorer")
    if scorer not in KEYS:
        raise KeyError(f"eval.benchmarks.{name}.scorer: {scorer!r}; valid: {', '.join(KEYS)} "
                       "(or `harness: <lm-eval task>`)")
    return {**dict.fromkeys(KEYS[scorer]), "files": {"*": None}}


def check(name: str, cfg: Any) -> None:
    """An unknown key in `eval.benchmarks.<name>` fails before any model loads, naming the
    nearest valid key (a typo in a block would otherwise silently change nothing)."""
    block = params.to_dict(cfg)
    params.check_keys(block, schema(name, block), f"eval.benchmarks.{name}")


def sampling(cfg: Any, seed: int) -> SamplingParams:
    n = int(cfg.n_samples)
    temperature = float(cfg.temperature)
    if n > 1 and temperature <= 0:
        raise ValueError(f"n_samples={n} with temperature={temperature} gives {n} identical greedy "
                         "samples: set eval.benchmarks.<bench>.temperature > 0 (e.g. 0.8)")
    return SamplingParams(max_new_tokens=int(cfg.max_new_tokens), temperature=temperature,
                          top_p=float(cfg.get("top_p", 1.0)), n=n,
                          stop=tuple(cfg.get("stop") or ()), seed=seed)


def evaluate(bench_name: str, cfg: Any, engine: Engine, seed: int) -> tuple[list[dict], dict]:
    """(per-sample rows, metrics) for one benchmark on one engine."""
    if cfg.get("harness"):               # an lm-eval task: lm-eval drives the engine
        from stages.eval.benchmarks import harness

        return harness.evaluate(bench_name, cfg, engine, seed)
    check(bench_name, cfg)
    scorer = get(cfg.scorer)
    sampled = sampling(cfg, seed)
    tasks = scorer.load(bench_name, cfg)
    t0 = time.perf_counter()
    comps = engine.generate([t.prompt for t in tasks], sampled)
    gen_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows, metrics = scorer.score(tasks, comps, cfg)
    new_tokens = sum(sum(c.new_tokens) for c in comps)
    metrics.update({"n": len(tasks), "n_samples": sampled.n, "version": cfg.get("version"),
                    "dtype": getattr(engine, "dtype", None),
                    "generate_seconds": round(gen_seconds, 2),
                    "score_seconds": round(time.perf_counter() - t1, 2), "new_tokens": new_tokens,
                    "tokens_per_second": round(new_tokens / gen_seconds, 2) if gen_seconds else None,
                    "truncated": sum(f == "length" for c in comps for f in c.finish)})
    return rows, metrics
