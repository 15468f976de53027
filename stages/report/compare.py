"""Compare DVC experiments: a markdown table and a figure from `dvc exp show --json`.

    python scripts/compare.py exp-a exp-b main      # -> reports/compare.md, reports/compare.png

Rows are what differs across the selection (params first, then metrics; eval scores lead the
metrics), columns are the experiments: it stays readable with many metrics and few experiments,
which is the usual sweep. Pure except `figure`, which returns PNG bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from stages.report import evaltable, identity, prcomment

VOLATILE = prcomment.VOLATILE


@dataclass
class Experiment:
    name: str
    rev: str
    params: dict[str, Any]       # flat: "train.lr" -> 2e-5
    metrics: dict[str, Any]      # flat: "eval/policy-gsm8k.json:strict" -> 0.5 (scores), "train.json:loss"


def parse_exp_show(rows: list[dict]) -> list[Experiment]:
    """Every row of `dvc exp show --json` that has data: the workspace, baselines, experiments."""
    out: list[Experiment] = []
    for row in rows:
        _add(out, row.get("name") or row["rev"], row)
        for group in row.get("experiments") or []:
            for rev in group.get("revs") or []:
                _add(out, rev.get("name") or group.get("name") or rev["rev"][:7], rev)
    return out


def _add(out: list[Experiment], name: str, row: dict) -> None:
    data = row.get("data")
    if not data or row.get("error"):
        return
    params: dict[str, Any] = {}
    for _file, content in (data.get("params") or {}).items():
        params.update(identity.flatten(content.get("data") or {}))
    metrics: dict[str, Any] = {}
    for path, content in (data.get("metrics") or {}).items():
        metrics.update(_metrics(path, content.get("data") or {}))
    out.append(Experiment(name, row.get("rev", ""), params, metrics))


def _metrics(path: str, data: dict) -> dict[str, Any]:
    """Eval files contribute their scores (`eval policy-gsm8k strict`), others every leaf."""
    m = prcomment.EVAL_FILE.search(path)
    if m:
        cell = f"eval {m['model']}-{m['bench']}"
        out = {f"{cell} {metric}": v for metric, v, _lo, _hi in evaltable.scores(data)}
        return out | ({f"{cell} n": data["n"]} if "n" in data else {})    # a score is read with its n
    short = path.removeprefix("reports/metrics/").removesuffix(".json")
    return {f"{short}: {k}": v for k, v in identity.flatten(data).items()
            if not (VOLATILE.search(k) or prcomment.DETAIL.search(k))}


def select(exps: list[Experiment], names: list[str]) -> list[Experiment]:
    """By experiment name, branch name (`main`), `workspace`, or a rev prefix; order kept."""
    if not names:
        return [e for e in exps if e.name != "workspace"]
    chosen = []
    for name in names:
        hits = [e for e in exps if e.name == name or (len(name) >= 6 and e.rev.startswith(name))]
        if not hits:
            valid = ", ".join(sorted({e.name for e in exps}))
            raise KeyError(f"no experiment {name!r} in `dvc exp show`; valid: {valid}")
        chosen.append(hits[0])
    return chosen


def varying(exps: list[Experiment], attr: str) -> list[str]:
    keys = sorted({k for e in exps for k in getattr(e, attr)})
    return [k for k in keys if len({_key(getattr(e, attr).get(k)) for e in exps}) > 1]


def _key(v: Any) -> str:
    return "nan" if isinstance(v, float) and math.isnan(v) else repr(v)


def metric_rows(exps: list[Experiment]) -> list[str]:
    """Metrics that differ: eval scores first (what a sweep is judged by), then the rest."""
    keys = varying(exps, "metrics")
    return [k for k in keys if k.startswith("eval ")] + [k for k in keys if not k.startswith("eval ")]


def render(exps: list[Experiment], figure_name: str | None = "compare.png") -> str:
    head = "| | " + " | ".join(f"`{e.name}`" for e in exps) + " |"
    rule = "|:---|" + "---:|" * len(exps)
    out = [f"# Experiment comparison ({len(exps)} experiments)", "", head, rule]
    params = varying(exps, "params")
    out += [f"| **param** `{k}` | " + " | ".join(_cell(e.params.get(k)) for e in exps) + " |" for k in params]
    for k in metric_rows(exps):
        values = [e.metrics.get(k) for e in exps]
        best = _best(values) if k.startswith("eval ") and not k.endswith(" n") else None
        cells = [f"**{_cell(v)}**" if best is not None and v == best else _cell(v) for v in values]
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    if not params and not metric_rows(exps):
        out.append("| _no param or metric differs_ |" + " |" * len(exps))
    out += ["", f"Params and metrics that are equal across all {len(exps)} experiments are not shown; "
            "the best eval score per row is bold."]
    if figure_name:
        out += ["", f"![comparison]({figure_name})"]
    return "\n".join(out) + "\n"


def _cell(v: Any) -> str:
    return prcomment.fmt(v).strip("`") if v is not None else "—"


def _best(values: list[Any]) -> float | None:
    nums = [v for v in values if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))]
    return max(nums) if nums else None


def figure(exps: list[Experiment], max_panels: int = 6) -> bytes | None:
    """One small bar panel per differing numeric metric (eval scores first), a bar per experiment."""
    from stages.report.figures import _plt, _png

    keys = [k for k in metric_rows(exps) if any(isinstance(e.metrics.get(k), (int, float)) for e in exps)]
    keys = keys[:max_panels]
    if not keys:
        return None
    plt = _plt()
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, key in zip(axes.flat, keys):
        vals = [e.metrics.get(key) if isinstance(e.metrics.get(key), (int, float)) else float("nan") for e in exps]
        ax.bar(range(len(exps)), vals, color=[colors[i % 10] for i in range(len(exps))])
        ax.set_xticks(range(len(exps)), [e.name for e in exps], rotation=30, ha="right")
        ax.set_title(key, fontsize=9)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _png(fig)

