"""Eval metrics json -> a flat table (for `dvc plots`) and base-vs-policy rows with deltas.

A benchmark's metrics json names its scores; this module does not hard-code benchmark names.
A score is a number under a score key (`accuracy`, `pass@k`, ...) at the top level or in a
nested block such as `strict`/`flexible`; its confidence interval is the `ci_low`/`ci_high`
beside it. When nested blocks exist they are the scores and the top-level copy is skipped.
"""
from __future__ import annotations

import math
import re
from typing import Any

from stages.report.inputs import EvalCell

SCORE_KEY = re.compile(r"^(accuracy|pass@\d+|exact_match|score|mean_reward|win_rate)$")


def scores(metrics: dict[str, Any]) -> list[tuple[str, float, float | None, float | None]]:
    """[(metric, value, ci_low, ci_high)]; metric is `strict`, `flexible`, `pass@1`, ..."""
    nested = [(k, v) for k, v in metrics.items() if isinstance(v, dict) and _block_scores(v)]
    if nested:
        out = []
        for name, block in nested:
            for key, value, lo, hi in _block_scores(block):
                out.append((name if key == "accuracy" else f"{name}/{key}", value, lo, hi))
        return out
    return _block_scores(metrics)


def _block_scores(block: dict[str, Any]) -> list[tuple[str, float, float | None, float | None]]:
    keys = [k for k, v in block.items() if SCORE_KEY.match(str(k)) and _is_number(v)]
    lo, hi = block.get("ci_low"), block.get("ci_high")
    ci = (float(lo), float(hi)) if _is_number(lo) and _is_number(hi) else (None, None)
    # One CI pair belongs to one score: the first key (metrics writers put the headline first).
    return [(k, float(block[k]), *(ci if i == 0 else (None, None))) for i, k in enumerate(keys)]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flat_rows(cells: list[EvalCell]) -> list[dict[str, Any]]:
    """reports/eval_table.json: one row per (model, bench, metric), the shape `dvc plots` reads."""
    rows = []
    for cell in cells:
        for metric, value, lo, hi in scores(cell.metrics):
            rows.append({"cell": f"{cell.bench}/{metric} ({cell.model})", "model": cell.model,
                         "bench": cell.bench, "metric": metric, "value": value,
                         "ci_low": lo, "ci_high": hi, "n": cell.metrics.get("n")})
    return rows


def comparison(rows: list[dict[str, Any]], cells: list[EvalCell] | None = None) -> list[dict[str, Any]]:
    """One row per (bench, metric): base and policy side by side, delta = policy - base.

    `paired` is the paired test of policy − base on the items both answered (stages.eval.paired;
    None without per-item outcomes). `overlap` (do the two marginal CIs overlap) is kept for
    reference only: both models answer the same items, so it misses real gains.
    """
    by_key: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        by_key.setdefault((r["bench"], r["metric"]), {})[r["model"]] = r
    out = []
    for (bench, metric), models in by_key.items():
        base, policy = models.get("base"), models.get("policy")
        delta = None
        if base and policy and not (math.isnan(base["value"]) or math.isnan(policy["value"])):
            delta = policy["value"] - base["value"]
        out.append({"bench": bench, "metric": metric, "base": base, "policy": policy,
                    "delta": delta, "overlap": _overlap(base, policy)})
    if cells:
        items = {m: {c.bench: c.items for c in cells if c.model == m and c.items} for m in ("base", "policy")}
        tests = paired_tests(items["base"], items["policy"], [(r["bench"], r["metric"]) for r in out])
        for r in out:
            r["paired"] = tests.get((r["bench"], r["metric"]))
    return out


def paired_tests(a: dict[str, dict], b: dict[str, dict], keys: list[tuple[str, str]],
                 seed: int = 0) -> dict[tuple[str, str], dict]:
    """{(bench, metric): paired test of b − a} from per-item outcomes ({bench: outcomes})."""
    from stages.eval.paired import compare, item_scores

    out = {}
    for bench, metric in keys:
        if a.get(bench) and b.get(bench):
            try:
                out[(bench, metric)] = compare(item_scores(a[bench], metric), item_scores(b[bench], metric), seed)
            except KeyError:          # a score with no per-item column (shown as "—")
                continue
    return out


def _overlap(a: dict | None, b: dict | None) -> bool | None:
    if not a or not b or a["ci_low"] is None or b["ci_low"] is None:
        return None
    return a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]


def breakdowns(cells: list[EvalCell]) -> list[dict[str, Any]]:
    """Per-group scores a benchmark writes under `by_<group>` (MATH subject, level), base vs policy.

    [{bench, by, rows: [(group, base score | None, policy score | None, n)]}]
    """
    found: dict[tuple[str, str], dict[str, dict]] = {}
    for cell in cells:
        for key, groups in cell.metrics.items():
            if str(key).startswith("by_") and isinstance(groups, dict):
                found.setdefault((cell.bench, key), {})[cell.model] = groups
    out = []
    for (bench, key), by_model in found.items():          # the order the benchmark wrote
        names = sorted({g for groups in by_model.values() for g in groups}, key=_natural)
        rows = []
        for g in names:
            base, policy = (_group_score(by_model.get(m, {}).get(g)) for m in ("base", "policy"))
            n = next((by_model[m][g].get("n") for m in ("policy", "base") if g in by_model.get(m, {})), None)
            rows.append((g, base, policy, n))
        out.append({"bench": bench, "by": key.removeprefix("by_"), "rows": rows})
    return out


def _group_score(block: Any) -> float | None:
    if not isinstance(block, dict):
        return None
    found = _block_scores(block)
    return found[0][1] if found else None


def _natural(name: str) -> tuple:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def paired_text(t: dict | None) -> tuple[str, str]:
    """(paired 95% CI of the delta, p-value with its test) as table text; `—` without a test.

    McNemar shows its discordant pairs: `+3/−0` = 3 items gained, none lost.
    """
    if not t or not t.get("n"):
        return ("—", "—")
    ci = f"[{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]"
    how = f"McNemar +{t['gained']}/−{t['lost']}" if t["test"] == "mcnemar" else "bootstrap"
    return (ci, f"{t['p_value']:.3g} ({how}, n={t['n']})")
