"""Paired significance: is policy − base (or PR − main) a real difference or noise?

Both models answer the same items, so the right test is paired: per item, compare the two
outcomes. Overlapping marginal CIs miss real gains (the items' difficulty cancels in a pair).

    0/1 items (one greedy sample)   McNemar's exact test: binomial on the discordant pairs
                                    (McNemar 1947); delta CI: Newcombe's hybrid score interval
                                    for paired proportions (Newcombe 1998, Stat Med 17:2635, #10)
    fractional items (pass@k, n>1)  paired bootstrap over items: CI percentile, p from the
                                    centred bootstrap distribution (Efron & Tibshirani 1993, 16.4)

Also the per-item outcome file the eval stage writes beside its metrics
(`reports/metrics/items/<model>-<bench>.json`), which is what a PR pairs with main's.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

from stages.eval.metrics import pass_at_k, wilson

ALPHA = 0.05
HEADLINE = ("", "accuracy", "strict")   # blocks whose per-sample column is plain `correct`


def mcnemar(base: Sequence[float], policy: Sequence[float]) -> dict:
    """Exact McNemar on paired 0/1 outcomes. `gained` = base 0 -> policy 1, `lost` = 1 -> 0."""
    from scipy.stats import binomtest

    n = len(base)
    both = sum(1 for b, p in zip(base, policy) if b and p)
    gained = sum(1 for b, p in zip(base, policy) if not b and p)
    lost = sum(1 for b, p in zip(base, policy) if b and not p)
    neither = n - both - gained - lost
    pvalue = binomtest(gained, gained + lost, 0.5).pvalue if gained + lost else 1.0
    lo, hi = newcombe(both, gained, lost, neither)
    return {"test": "mcnemar", "n": n, "delta": (gained - lost) / n if n else float("nan"),
            "ci_low": lo, "ci_high": hi, "p_value": float(pvalue), "gained": gained, "lost": lost}


def newcombe(both: int, gained: int, lost: int, neither: int) -> tuple[float, float]:
    """95% CI of p_policy − p_base from a paired 2x2 table (Newcombe's method 10): Wilson limits
    of each margin, combined through the pairs' correlation phi (continuity-corrected as in
    the paper: ad − bc shrunk by n/2 towards 0 when positive)."""
    n = both + gained + lost + neither
    if n == 0:
        return (-1.0, 1.0)
    p1, p2 = (both + gained) / n, (both + lost) / n          # policy, base
    l1, u1 = wilson(both + gained, n)
    l2, u2 = wilson(both + lost, n)
    margins = (both + gained) * (lost + neither) * (both + lost) * (gained + neither)
    ad_bc = both * neither - gained * lost
    corrected = ad_bc - n / 2 if ad_bc > n / 2 else (ad_bc if ad_bc < 0 else 0.0)
    phi = corrected / math.sqrt(margins) if margins else 0.0
    d = p1 - p2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return (max(-1.0, d - dl), min(1.0, d + du))


def bootstrap(base: Sequence[float], policy: Sequence[float], seed: int = 0,
              resamples: int = 10_000, level: float = 0.95) -> dict:
    """Paired bootstrap of mean(policy − base) over items (same resampled items for both)."""
    import numpy as np

    d = np.asarray(policy, dtype=float) - np.asarray(base, dtype=float)     # (n,)
    n = d.size
    if n == 0:
        return {"test": "bootstrap", "n": 0, "delta": float("nan"), "ci_low": -1.0, "ci_high": 1.0,
                "p_value": 1.0}
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, n, size=(resamples, n))].mean(axis=1)         # (resamples,)
    delta = float(d.mean())
    alpha = (1 - level) / 2
    # H0: mean 0. Centre the bootstrap distribution on 0 and count means at least as extreme.
    extreme = int(np.sum(np.abs(means - delta) >= abs(delta) - 1e-12)) if delta else resamples
    return {"test": "bootstrap", "n": n, "delta": delta, "ci_low": float(np.quantile(means, alpha)),
            "ci_high": float(np.quantile(means, 1 - alpha)),
            "p_value": min(1.0, (extreme + 1) / (resamples + 1))}


def compare(base: Mapping[str, float], policy: Mapping[str, float], seed: int = 0) -> dict:
    """Pair two {item id: score} maps on their shared ids; McNemar if every score is 0/1."""
    ids = sorted(set(base) & set(policy))
    b, p = [float(base[i]) for i in ids], [float(policy[i]) for i in ids]
    binary = all(v in (0.0, 1.0) for v in b + p)
    out = mcnemar(b, p) if binary else bootstrap(b, p, seed=seed)
    out["unpaired"] = len(set(base) ^ set(policy))
    return out


def significant(result: Mapping, alpha: float = ALPHA) -> bool:
    return result["n"] > 0 and result["p_value"] < alpha


# ---- per-item outcomes: what the eval stage writes, and scores per metric read from them ----

def item_outcomes(rows: Sequence[Mapping], headline: str | None = None) -> dict:
    """Per-sample rows -> {"ids", "n_samples", "headline", "correct": {column: [correct samples
    per item]}}. `headline`: the metric block whose column is plain `correct` (gsm8k: strict).

    Every boolean `correct*` column is counted (gsm8k: `correct` strict, `correct_flexible`).
    Counts, not scores, so any metric (accuracy, pass@k) can be derived again later.
    """
    order: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    samples: dict[str, int] = {}
    for i, r in enumerate(rows):
        if "id" not in r:
            raise ValueError(f"sample row {i + 1}: no `id` (needed to pair items); have {sorted(r)}")
        rid = str(r["id"])
        if rid not in samples:
            order.append(rid)
            samples[rid] = 0
        samples[rid] += 1
        for col, v in r.items():
            if col.startswith("correct") and isinstance(v, (bool, int)) and not isinstance(v, float):
                counts.setdefault(col, {}).setdefault(rid, 0)
                counts[col][rid] += int(bool(v))
    per_item = set(samples.values())
    if len(per_item) > 1:
        raise ValueError(f"items have different sample counts {sorted(per_item)}; pass@k needs one n")
    return {"ids": order, "n_samples": per_item.pop() if per_item else 1, "headline": headline,
            "correct": {col: [c.get(i, 0) for i in order] for col, c in sorted(counts.items())}}


def item_scores(outcomes: Mapping, metric: str) -> dict[str, float]:
    """{item id: score} for a report metric name: `strict`, `flexible`, `accuracy`, `pass@k`,
    `<block>/pass@k`. A block reads column `correct_<block>`; the headline (`accuracy`,
    `pass@k`, the benchmark's first extractor, e.g. gsm8k's `strict`) reads `correct`. KeyError when the outcomes lack it."""
    block, _, key = metric.rpartition("/")
    if not block and not key.startswith("pass@"):
        block, key = key, "accuracy"
    cols = outcomes["correct"]
    headline = block in HEADLINE or block == outcomes.get("headline")
    col = "correct" if headline else f"correct_{block}"
    if col not in cols:
        raise KeyError(f"{metric}: no `{col}` column in the item outcomes (have {sorted(cols)})")
    n = int(outcomes["n_samples"])
    k = int(key.removeprefix("pass@")) if key.startswith("pass@") else 1
    if k > n:
        raise ValueError(f"{metric}: needs {k} samples per item, outcomes have {n}")
    return {i: pass_at_k(n, c, k) for i, c in zip(outcomes["ids"], cols[col])}
