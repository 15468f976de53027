"""Any lm-eval-harness task as an eval cell (https://github.com/EleutherAI/lm-evaluation-harness).

    eval:
      benchmarks:
        arc_easy: {harness: arc_easy, limit: 32}              # a task from lm-eval's zoo
        tiny_mc: {harness: tiny_mc, include_path: my_tasks}   # your own task YAML(s) in my_tasks/

lm-eval builds the requests (prompts, few-shot, choices) and computes the task's metrics; the
model side is this project's engine (stages.eval.engines.harness_lm.EngineLM): generation goes
through `engine.generate` (HF or vLLM), log-likelihoods through the HF model's logits. The cell
writes what a built-in benchmark writes: one row per item (prompt, output, extracted answer,
gold, correct, each metric), `accuracy` with a Wilson/bootstrap CI for the task's first metric
(or `metric`), every metric with its CI under `scores`, and lm-eval's own aggregate beside them.
`limit` draws a seeded subset per task (stages.eval.data.subset), the same for every model.
Needs the `harness` extra: pip install .[harness].
"""
from __future__ import annotations

import hashlib
import json
import time
from functools import lru_cache
from typing import Any

from stages.eval import data
from stages.eval.metrics import grouped, mean_ci

# Every key an `eval.benchmarks.<name>` block with `harness:` may hold; anything else fails.
KEYS = {"harness", "version", "include_path", "metric", "filter", "limit", "subset_seed", "num_fewshot",
        "apply_chat_template", "max_new_tokens", "temperature", "top_p", "n_samples", "stop"}


def check(name: str, cfg: Any) -> None:
    """Reject what this cell cannot honour before any model is loaded, naming the key."""
    unknown = sorted(set(cfg) - KEYS)
    if unknown:
        raise ValueError(f"eval.benchmarks.{name}: unknown key(s) {unknown}; valid: {sorted(KEYS)}")
    if int(cfg.get("n_samples") or 1) != 1:
        raise ValueError(f"eval.benchmarks.{name}.n_samples: harness tasks take one sample per "
                         "request; set `repeats` in the task YAML instead, or n_samples: 1")
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise RuntimeError(f"eval.benchmarks.{name}.harness needs lm-eval: pip install .[harness]") from None


@lru_cache(maxsize=4)
def _task_manager(include_path: str | None):
    """lm-eval's task index (it reads its whole zoo of YAMLs, ~10 s): built once per process."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_path, verbosity="ERROR")


def _subset(cfg: Any, manager: Any) -> dict[str, list[int]] | None:
    """Seeded doc indices per task (each subtask of a group) when `limit` is set; lm-eval's own
    `limit` would take the first N docs."""
    if cfg.get("limit") is None:
        return None
    leaves = manager.load([cfg.harness])["tasks"]
    return {name: [i for i, _ in data.subset(list(task.eval_docs), int(cfg.limit), int(cfg.get("subset_seed") or 0))]
            for name, task in leaves.items()}


def evaluate(name: str, cfg: Any, engine: Any, seed: int) -> tuple[list[dict], dict]:
    """(per-item rows, metrics) for one harness task on one engine: the runner's contract."""
    check(name, cfg)
    import lm_eval

    from stages.eval.engines.harness_lm import EngineLM

    lm = EngineLM(engine, max_new_tokens=int(cfg.get("max_new_tokens") or 256),
                  stop=tuple(cfg.get("stop") or ()), temperature=float(cfg.get("temperature") or 0.0),
                  top_p=float(cfg.get("top_p") or 1.0), seed=seed)
    include = cfg.get("include_path")
    manager = _task_manager(str(include) if include else None)
    chat = bool(cfg.get("apply_chat_template"))
    t0 = time.perf_counter()
    res = lm_eval.simple_evaluate(
        model=lm, tasks=[cfg.harness], task_manager=manager, samples=_subset(cfg, manager),
        num_fewshot=cfg.get("num_fewshot"), apply_chat_template=chat, fewshot_as_multiturn=chat,
        log_samples=True, bootstrap_iters=0, random_seed=seed, numpy_random_seed=seed,
        torch_random_seed=seed, fewshot_random_seed=seed, verbosity="ERROR")
    run_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    rows, metrics = score(res, lm.completions, cfg)
    comps = [lm.completions[r["prompt"]] for r in rows if r["prompt"] in lm.completions]
    new_tokens = sum(c.new_tokens[0] for c in comps)
    metrics.update({"n": len(rows), "n_samples": 1, "generate_seconds": round(run_seconds, 2),
                    "score_seconds": round(time.perf_counter() - t1, 2), "new_tokens": new_tokens,
                    "tokens_per_second": round(new_tokens / run_seconds, 2) if comps and run_seconds else None,
                    "truncated": sum(c.finish[0] == "length" for c in comps if c.finish)})
    return rows, metrics


def _primary(samples: list[dict], cfg: Any) -> tuple[str, str]:
    """(metric, filter) that `accuracy` reports: `metric`/`filter` from params, else the first."""
    first = samples[0]
    metric = cfg.get("metric") or first["metrics"][0]
    filt = cfg.get("filter") or first["filter"]
    if metric not in first["metrics"]:
        raise ValueError(f"eval.benchmarks.*.metric={metric!r}: the task reports {first['metrics']}")
    filters = sorted({s["filter"] for s in samples})
    if filt not in filters:
        raise ValueError(f"eval.benchmarks.*.filter={filt!r}: the task's filters are {filters}")
    return metric, filt


def _scalar(value: Any) -> float | None:
    """A per-item metric value as a float; None for corpus metrics' per-item tuples (bleu, ppl)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _answer(args: list, s: dict) -> tuple[str, Any, list | None]:
    """(output, extracted, per-choice log-likelihoods) of one sample, by request type."""
    if len(args[0]) < 2:  # loglikelihood_rolling: (text,)
        return "", _scalar(s["filtered_resps"][0]), None
    if isinstance(args[0][1], dict):  # generate_until: (context, gen_kwargs)
        return s["resps"][0][0], s["filtered_resps"][0], None
    pairs = [r if isinstance(r, (list, tuple)) else (r, False) for r in s["filtered_resps"]]
    lls = [float(r[0]) for r in pairs]
    if len(args) == 1:  # one (context, continuation): is it the greedy continuation?
        return args[0][1], bool(pairs[0][1]), lls
    pick = max(range(len(lls)), key=lls.__getitem__)  # multiple choice: the likeliest choice
    return args[pick][1], pick, lls


def _row(task: str, s: dict, metric: str, comps: dict) -> dict:
    """One item as the built-in benchmarks write it, from one lm-eval logged sample."""
    args = [tuple(a) for a in s["arguments"]]
    context = args[0][0]
    comp = comps.get(context)
    output, extracted, lls = _answer(args, s)
    value = _scalar(s[metric])
    if value is None:
        raise ValueError(f"harness task {task}: metric {metric!r} has no per-item score (a corpus "
                         f"metric); set eval.benchmarks.<name>.metric to one of {s['metrics']} that has")
    return {"id": f"{task}:{s['doc_id']}", "sample": 0, "prompt": context, "output": output,
            "new_tokens": comp.new_tokens[0] if comp else 0, "finish": comp.finish[0] if comp and comp.finish else None,
            "seconds": round(comp.seconds, 4) if comp else 0.0, "gold": s["target"], "extracted": extracted,
            "correct": value == 1.0, "score": value, "task": task, "doc_id": s["doc_id"],
            **({"loglikelihoods": lls} if lls is not None else {}),
            **{m: _scalar(s[m]) for m in s["metrics"]}}


def score(res: dict, comps: dict, cfg: Any) -> tuple[list[dict], dict]:
    """Rows (one per item, primary filter) and metrics from lm-eval's results; no file I/O."""
    rows, by_key = [], {}
    for task, samples in sorted(res["samples"].items()):
        if not samples:
            continue
        metric, filt = _primary(samples, cfg)
        for s in samples:
            for m in s["metrics"]:
                if _scalar(s[m]) is not None:
                    by_key.setdefault(f"{m},{s['filter']}", []).append(_scalar(s[m]))
        rows += [_row(task, s, metric, comps) for s in samples if s["filter"] == filt]
    if not rows:
        raise ValueError(f"harness task {cfg.harness!r}: lm-eval returned no samples")
    primary = f"{metric},{filt}"
    configs = json.dumps(res.get("configs", {}), sort_keys=True, default=str)
    metrics = {**mean_ci([r["score"] for r in rows], 1), "metric": primary,
               "scores": {k: mean_ci(v, 1) for k, v in sorted(by_key.items())},
               "lm_eval": {t: {k: v for k, v in r.items() if isinstance(v, (int, float))}
                           for t, r in res.get("results", {}).items()},
               "harness": {"task": cfg.harness, "versions": res.get("versions", {}),
                           "n_shot": res.get("n-shot", {}), "lm_eval_version": _version(),
                           "task_config_sha256": hashlib.sha256(configs.encode()).hexdigest()}}
    if len(res["samples"]) > 1:
        metrics["by_task"] = grouped(rows, "task", correct="score")
    return rows, metrics


def _version() -> str:
    from importlib.metadata import version

    return version("lm_eval")
