"""PR vs base branch paired on items, base vs policy paired on items, and the merge gate.

    python -m stages.report.gate --base origin/main --comment comment.md --verdict gate.txt

The eval stage commits each cell's per-item outcomes (`reports/metrics/items/<cell>.json`), so
the PR's policy and the base branch's policy can be compared item by item (stages.eval.paired),
not by overlapping intervals. `report.gate` (params) names one score and the smallest acceptable
PR − base delta: the gate fails only on a *significant* regression (p < report.alpha), so noise
passes. The section is inserted into the PR comment before its metrics diff; the verdict file's
first line is `pass`, `fail` or `off`, then the reason (the workflow fails the job on `fail`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.report import evaltable, inputs

Items = dict[tuple[str, str], dict]         # (model, bench) -> per-item outcomes


@dataclass
class Verdict:
    status: str         # pass | fail | off
    reason: str


def items_at(rev: str, items_dir: str) -> Items:
    """Every items file committed at `rev` (none: an empty dict, e.g. before this feature landed)."""
    ls = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", f"{items_dir}/"],
                        capture_output=True, text=True)
    if ls.returncode != 0:
        raise RuntimeError(f"git ls-tree {rev} {items_dir}: {ls.stderr.strip()}")
    out: Items = {}
    for path in ls.stdout.split():
        model, _, bench = Path(path).stem.partition("-")
        if not bench:              # not an eval cell's (<model>-<bench>): the win rate's outcomes
            continue
        text = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True).stdout
        out[(model, bench)] = json.loads(text)
    return out


def pr_vs_base(base: Items, pr: Items, keys: list[tuple[str, str]], model: str = "policy") -> list[dict]:
    """[{bench, metric, test}] of PR − base for `model`, where both sides have outcomes."""
    a = {b: o for (m, b), o in base.items() if m == model}
    b = {b: o for (m, b), o in pr.items() if m == model}
    tests = evaltable.paired_tests(a, b, keys)
    return [{"bench": k[0], "metric": k[1], "test": tests[k]} for k in keys if k in tests]


def check(rows: list[dict], keys: list[tuple[str, str]], gate: dict | None, alpha: float, base: str) -> Verdict:
    """Fail iff the gated score is lower on the PR by more than `min_delta` AND p < alpha."""
    metric = (gate or {}).get("metric")
    if not metric:
        return Verdict("off", "no gate (report.gate.metric is null)")
    bench, _, name = str(metric).partition("/")
    if (bench, name) not in keys:
        valid = ", ".join(f"{b}/{m}" for b, m in keys)
        return Verdict("fail", f"report.gate.metric={metric!r} is not a score of this run; valid: {valid}")
    row = next((r for r in rows if (r["bench"], r["metric"]) == (bench, name)), None)
    if row is None:
        return Verdict("pass", f"{metric}: no per-item outcomes on `{base}` to pair with (not gated)")
    t, floor = row["test"], float(gate.get("min_delta", 0.0))
    ci, p = evaltable.paired_text(t)
    what = f"{metric}: PR − `{base}` = {t['delta']:+.3f} {ci}, p = {p}"
    if t["delta"] < floor and t["p_value"] < alpha:
        return Verdict("fail", f"{what}: a significant regression (p < {alpha:g}) below "
                               f"report.gate.min_delta={floor:g}")
    why = "not significant" if t["p_value"] >= alpha else f"not below min_delta={floor:g}"
    return Verdict("pass", f"{what}: {why}")


def section(this_run: list[dict], rows: list[dict], verdict: Verdict, base: str, alpha: float) -> list[str]:
    """Markdown: base vs policy in this run, policy PR vs base branch, the gate's verdict."""
    out = ["### Paired tests (same items)", "",
           "| benchmark | metric | Δ policy − base model | paired 95% CI | p |", "|:---|:---|---:|---:|---:|"]
    for c in this_run:
        ci, p = evaltable.paired_text(c.get("paired"))
        out.append(f"| {c['bench']} | {c['metric']} | {_d(c['delta'])} | {ci} | {_p(c.get('paired'), p, alpha)} |")
    out += ["", f"| benchmark | metric | Δ policy: PR − `{base}` | paired 95% CI | p |", "|:---|:---|---:|---:|---:|"]
    for r in rows:
        ci, p = evaltable.paired_text(r["test"])
        out.append(f"| {r['bench']} | {r['metric']} | {_d(r['test']['delta'])} | {ci} | {_p(r['test'], p, alpha)} |")
    if not rows:
        out.append(f"| _no per-item outcomes on `{base}` yet_ | | | | |")
    out += ["", f"McNemar's exact test on 0/1 items (+gained/−lost), a paired bootstrap on fractional scores; "
                f"**bold** where p < {alpha:g}.", ""]
    mark = {"pass": "✅ passed", "fail": "❌ **failed**", "off": "⚪ off"}[verdict.status]
    return out + [f"**Merge gate** (`report.gate`): {mark}: {verdict.reason}", ""]


def _d(v: float | None) -> str:
    return "—" if v is None else f"{v:+.3f}"


def _p(t: dict | None, text: str, alpha: float) -> str:
    return f"**{text}**" if t and t.get("n") and t["p_value"] < alpha else text


def insert(comment: str, lines: list[str]) -> str:
    """Put the section before the comment's metrics diff (after its eval table), else at the end."""
    block = "\n".join(lines) + "\n"
    at = comment.find("\n### Metrics vs")
    return comment + "\n" + block if at < 0 else comment[:at + 1] + block + comment[at + 1:]


def main(argv: list[str] | None = None) -> Verdict:
    from stages.common import params

    ap = argparse.ArgumentParser(prog="python -m stages.report.gate", description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="git rev whose committed items to pair with")
    ap.add_argument("--comment", type=Path, help="PR comment markdown to insert the section into")
    ap.add_argument("--verdict", type=Path, default=Path("gate.txt"))
    args = ap.parse_args(argv)
    cfg = params.load()
    opts: dict[str, Any] = params.to_dict(cfg.report)
    alpha = float(opts["alpha"])
    metrics_dir = Path(cfg.paths.metrics)
    cells = inputs.eval_cells(metrics_dir, Path(cfg.paths.eval))
    this_run = evaltable.comparison(evaltable.flat_rows(cells), cells)
    keys = [(c["bench"], c["metric"]) for c in this_run]
    pr = {(c.model, c.bench): c.items for c in cells if c.items}
    rows = pr_vs_base(items_at(args.base, str(metrics_dir / "items")), pr, keys)
    verdict = check(rows, keys, opts.get("gate"), alpha, args.base)
    lines = section(this_run, rows, verdict, args.base, alpha)
    if args.comment:
        args.comment.write_text(insert(args.comment.read_text(encoding="utf-8"), lines), encoding="utf-8")
    args.verdict.write_text(f"{verdict.status}\n{verdict.reason}\n", encoding="utf-8")
    print(f"gate: {verdict.status}: {verdict.reason}")
    return verdict


if __name__ == "__main__":
    main()
