"""The pull-request comment: eval table, metrics diff vs the base branch, training curves.

Pure: takes two metrics states and returns markdown. A state is `{metrics file: {key: value}}`
with nested keys joined by `.` (DVC's own flattening); `states_from_dvc_diff` builds both from
`dvc metrics diff <base> --json --all`. scripts/pr_comment.py does the I/O.

Every metric is classified as changed / added / removed / unchanged; NaN is spelled out and
flagged, never silently compared (NaN != NaN would mark it changed on every run).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from stages.report import evaltable
from stages.report.inputs import Curve, EvalCell

MARKER = "<!-- lmforge-experiment-comment -->"
EVAL_FILE = re.compile(r"(?:^|/)eval/(?P<model>[^/]+?)-(?P<bench>[^/]+)\.json$")
WINRATE_FILE = re.compile(r"(?:^|/)winrate\.json$")   # the winrate stage's metrics (stages/winrate.py)
VOLATILE = re.compile(r"(^|\.)(\w*seconds|\w*per_second|_runtime|timestamp)$")   # differ on every run
DETAIL = re.compile(r"(^|\.)(ci_low|ci_high|ci_method)$|(^|\.)(by_\w+|status|sandbox)\.")   # beside a headline
SPARK = "▁▂▃▄▅▆▇█"
MAX_ROWS = 60              # per folded table: GitHub caps a comment at 65,536 characters

State = dict[str, dict[str, Any]]


@dataclass
class Change:
    path: str
    key: str
    old: Any
    new: Any
    status: str            # changed | added | removed | unchanged


def states_from_dvc_diff(diff: dict[str, dict[str, dict]]) -> tuple[State, State]:
    """`dvc metrics diff BASE --json --all` -> (base state, workspace state); null = absent."""
    old: State = {}
    new: State = {}
    for path, metrics in diff.items():
        for key, entry in metrics.items():
            if entry.get("old") is not None:
                old.setdefault(path, {})[key] = entry["old"]
            if entry.get("new") is not None:
                new.setdefault(path, {})[key] = entry["new"]
    return old, new


def diff_states(old: State, new: State) -> list[Change]:
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path, {}), new.get(path, {})
        for key in sorted(set(a) | set(b)):
            if key not in a:
                status = "added"
            elif key not in b:
                status = "removed"
            else:
                status = "unchanged" if _same(a[key], b[key]) else "changed"
            out.append(Change(path, key, a.get(key), b.get(key), status))
    return out


def _same(x: Any, y: Any) -> bool:
    if _is_nan(x) or _is_nan(y):
        return _is_nan(x) and _is_nan(y)
    return x == y


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if _is_nan(v):
        return "NaN"
    if isinstance(v, bool) or not _num(v):
        return f"`{v}`"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.4g}"


def change_text(c: Change) -> str:
    if c.status == "added":
        return "🆕 added"
    if c.status == "removed":
        return "➖ removed"
    if _is_nan(c.old) or _is_nan(c.new):
        return "⚠️ NaN"
    if not (_num(c.old) and _num(c.new)):
        return "changed" if c.status == "changed" else ""
    d = c.new - c.old
    if d == 0:
        return "0"
    pct = f" ({d / abs(c.old):+.1%})" if c.old else ""
    return f"{'▲' if d > 0 else '▼'} {d:+.4g}{pct}"


def metrics_table(changes: list[Change]) -> list[str]:
    rows = ["| file | metric | base | PR | change |", "|:---|:---|---:|---:|:---|"]
    rows += [f"| `{_short_path(c.path)}` | `{c.key}` | {fmt(c.old)} | {fmt(c.new)} | {change_text(c)} |"
             for c in changes]
    return rows


def _short_path(path: str) -> str:
    return path.removeprefix("reports/metrics/")


def eval_cells(state: State) -> list[EvalCell]:
    """Rebuild eval cells from the flat metrics of `reports/metrics/eval/<model>-<bench>.json`."""
    cells = []
    for path, metrics in sorted(state.items()):
        m = EVAL_FILE.search(path)
        if m:
            cells.append(EvalCell(m["model"], m["bench"], unflatten(metrics)))
    return cells


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def eval_section(old: State, new: State) -> list[str]:
    rows = evaltable.comparison(evaltable.flat_rows(eval_cells(new)))
    if not rows:
        return ["_No eval metrics in this run._"]
    on_base = {(r["bench"], r["metric"]): r for r in evaltable.comparison(evaltable.flat_rows(eval_cells(old)))}
    out = ["| benchmark | metric | base model | policy | Δ policy − base | policy on base branch | Δ vs base branch |",
           "|:---|:---|---:|---:|---:|---:|---:|"]
    for r in rows:
        prev = on_base.get((r["bench"], r["metric"]), {}).get("policy")
        now = r["policy"]
        vs_base = (now["value"] - prev["value"]) if now and prev and not _is_nan(now["value"]) \
            and not _is_nan(prev["value"]) else None
        out.append(f"| {r['bench']} | {r['metric']} | {_score(r['base'])} | {_score(now)} | "
                   f"{_signed(r['delta'])} | {_score(prev)} | {_signed(vs_base)} |")
    return out


def _score(r: dict | None) -> str:
    if r is None:
        return "—"
    if _is_nan(r["value"]):
        return "NaN"
    ci = f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" if r.get("ci_low") is not None else ""
    return f"{r['value']:.3f}{ci}"


def _signed(d: float | None) -> str:
    if d is None:
        return "—"
    return f"**{d:+.3f}**" if d else "0.000"


def winrate_section(old: State, new: State, base: str) -> list[str]:
    """The preference win rate of this run and of the base branch's (policy vs base model, RM judge)."""
    now, prev = _winrate(new), _winrate(old)
    if now is None:
        return ["_No win-rate metrics in this run._"]
    if now.get("skipped"):
        return [f"_Skipped: {now.get('reason') or 'no preference data/RM'}._"]
    out = ["| run | win rate [95% CI] | won / tied / lost | sign test p | n |", "|:---|---:|---:|---:|---:|"]
    for label, w in (("this PR", now), (f"`{base}`", prev)):
        if w and not w.get("skipped") and "win_rate" in w:
            out.append(f"| {label} | {w['win_rate']:.3f} [{w['ci_low']:.2f}, {w['ci_high']:.2f}] | "
                       f"{w['wins']} / {w['ties']} / {w['losses']} | {w['p_value']:.3g} | {w['n']} |")
    return out


def _winrate(state: State) -> dict | None:
    return next((m for path, m in sorted(state.items()) if WINRATE_FILE.search(path) and "/items/" not in path),
                None)


def sparkline(values: list[float], width: int = 40) -> str:
    """Unicode bars, downsampled to `width`: a curve's shape in any markdown viewer."""
    finite = [v for v in values if not _is_nan(v)]
    if not finite:
        return ""
    step = max(1, math.ceil(len(values) / width))
    pts = [values[i] for i in range(0, len(values), step)]
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(" " if _is_nan(v) else SPARK[min(7, int((v - lo) / span * 7.999))] for v in pts)


def mermaid_curve(curve: Curve, max_points: int = 50) -> list[str]:
    """A GitHub-rendered line chart (mermaid xychart) of one curve, downsampled."""
    step = max(1, math.ceil(len(curve.values) / max_points))
    idx = list(range(0, len(curve.values), step))
    ys = [curve.values[i] for i in idx if not _is_nan(curve.values[i])]
    if len(ys) < 2:
        return []
    xs = [f"{curve.steps[i]:g}" for i in idx if not _is_nan(curve.values[i])]
    return ["```mermaid", "xychart-beta", f'    title "{curve.name}"',
            f"    x-axis [{', '.join(xs)}]", f'    y-axis "{curve.name}"',
            f"    line [{', '.join(f'{y:.4g}' for y in ys)}]", "```"]


def curves_section(curves: list[Curve]) -> list[str]:
    if not curves:
        return ["_No training curves in this run._"]
    out = ["| curve | shape | first | last | min |", "|:---|:---|---:|---:|---:|"]
    out += [f"| `{c.name}` | `{sparkline(c.values)}` | {fmt(c.values[0])} | {fmt(c.values[-1])} | "
            f"{fmt(min(c.values))} |" for c in curves]
    return out + [""] + mermaid_curve(curves[0])


def render(old: State, new: State, curves: list[Curve], title: str, base: str,
           params_changes: list[Change] | None = None, links: dict[str, str] | None = None) -> str:
    """The whole comment; starts with MARKER so the workflow updates it instead of adding one."""
    changes = diff_states(old, new)
    moved = [c for c in changes if c.status != "unchanged"]
    volatile = [c for c in moved if VOLATILE.search(c.key)]
    detail = [c for c in moved if DETAIL.search(c.key) and c not in volatile]
    shown = [c for c in moved if c not in volatile and c not in detail]
    counts = {s: sum(c.status == s for c in changes) for s in ("changed", "added", "removed", "unchanged")}
    out = [MARKER, f"## 🧪 {title}", "", f"Compared with `{base}`.", "", "### Eval", ""]
    out += eval_section(old, new)
    out += ["", "### Preference win rate (reward model judge)", ""] + winrate_section(old, new, base)
    out += ["", f"### Metrics vs `{base}`", "",
            " · ".join(f"**{n}** {s}" for s, n in counts.items()) + "  ", ""]
    out += metrics_table(shown) if shown else ["_No metric changed._"]
    for label, group in ((f"{len(detail)} confidence-interval and breakdown changes", detail),
                         (f"{len(volatile)} timing changes", volatile)):
        if group:
            out += ["", f"<details><summary>{label}</summary>", ""] + metrics_table(group[:MAX_ROWS])
            out += (["", f"_… and {len(group) - MAX_ROWS} more (`dvc metrics diff {base} --all`)._"]
                    if len(group) > MAX_ROWS else []) + ["", "</details>"]
    if params_changes:
        out += ["", f"<details><summary>{len(params_changes)} params differ from {base}</summary>", "",
                "| param | base | PR |", "|:---|---:|---:|"]
        out += [f"| `{c.key}` | {fmt(c.old)} | {fmt(c.new)} |" for c in params_changes] + ["", "</details>"]
    out += ["", "### Training curves", ""] + curves_section(curves)
    if links:
        out += ["", " · ".join(f"[{k}]({v})" for k, v in links.items())]
    return "\n".join(out) + "\n"
