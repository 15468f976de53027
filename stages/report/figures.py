"""matplotlib figures as PNG bytes: training curves, eval bars with CIs, the data funnel.

Agg backend (no display), fixed DPI and no timestamp metadata, so the same numbers give the
same bytes.
"""
from __future__ import annotations

import io
import math
from typing import Any

from stages.report.inputs import Curve

BASE_COLOR, POLICY_COLOR = "#8c959f", "#0969da"
KEPT_COLOR, REJECTED_COLOR = "#2da44e", "#cf222e"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def training_curves(curves: list[Curve], max_panels: int = 6) -> bytes:
    """One panel per curve (loss, reward, KL, ...), step on x; raw points plus a smoothed line."""
    plt = _plt()
    shown = curves[:max_panels]
    cols = min(3, len(shown))
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, curve in zip(axes.flat, shown):
        ax.plot(curve.steps, curve.values, color=POLICY_COLOR, alpha=0.35 if len(curve.values) > 20 else 1,
                marker="o" if len(curve.values) <= 20 else None, ms=3, lw=1.2)
        if len(curve.values) > 20:
            ax.plot(curve.steps, ema(curve.values), color=POLICY_COLOR, lw=2)
        ax.set_title(curve.name)
        ax.set_xlabel("step")
        ax.ticklabel_format(axis="y", useOffset=False)       # 10.79, not "+1.078e1" and 0.0001
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _png(fig)


def ema(values: list[float], alpha: float = 0.1) -> list[float]:
    """Exponential moving average: the trend under noisy per-step values."""
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def eval_bars(comparison: list[dict[str, Any]]) -> bytes:
    """Base vs policy per (bench, metric), horizontal bars with their confidence intervals."""
    plt = _plt()
    labels = [f"{c['bench']}/{c['metric']}" for c in comparison]
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * len(labels) + 1.2))
    height = 0.38
    for offset, model, color in ((-height / 2, "base", BASE_COLOR), (height / 2, "policy", POLICY_COLOR)):
        ys, xs, errs = [], [], [[], []]
        for i, c in enumerate(comparison):
            r = c[model]
            if r is None:
                continue
            ys.append(i + offset)
            xs.append(r["value"])
            lo = r["ci_low"] if r["ci_low"] is not None else r["value"]
            hi = r["ci_high"] if r["ci_high"] is not None else r["value"]
            errs[0].append(max(0.0, r["value"] - lo))
            errs[1].append(max(0.0, hi - r["value"]))
        ax.barh(ys, xs, height=height, color=color, label=model, xerr=errs, capsize=3,
                error_kw={"elinewidth": 1, "ecolor": "#24292f"})
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.0, *(c[m]["ci_high"] or 0 for c in comparison for m in ("base", "policy") if c[m])))
    ax.set_xlabel("score (bars: 95% CI)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    fig.tight_layout()
    return _png(fig)


def funnel(stages: dict[str, dict | None]) -> bytes:
    """Rows kept and rejected per data stage: where the data went."""
    plt = _plt()
    ran = [(name, m) for name, m in stages.items() if m]
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(ran) + 1.3))
    names = [n for n, _ in ran]
    kept = [m.get("rows_kept", 0) for _, m in ran]
    rejected = [m.get("rows_rejected", 0) for _, m in ran]
    ax.barh(names, kept, color=KEPT_COLOR, label="kept")
    ax.barh(names, rejected, left=kept, color=REJECTED_COLOR, label="rejected")
    for i, (k, r) in enumerate(zip(kept, rejected)):
        ax.text(k + r, i, f"  {k:,} kept / {r:,} rejected", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max([k + r for k, r in zip(kept, rejected)] or [1]) * 1.45)
    ax.set_xlabel("rows")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    fig.tight_layout()
    return _png(fig)
