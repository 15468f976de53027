"""Read what the other stages left behind; a missing piece is `None` ("not run"), never a crash.

Every reader takes explicit paths (from `params.paths`) so tests can point it at a fixture tree.
A file that exists but cannot be parsed raises with the file named: that is a bug upstream,
and hiding it behind "not run" would mislead the person reading the report.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA_STAGES = ("ingest", "clean", "dedup", "quality", "format")
MODELS = ("base", "policy")


@dataclass
class Curve:
    """One training curve: DVCLive's `<dir>/.../metrics/<name>.tsv` (columns step, <leaf>)."""
    name: str                 # e.g. "train/loss", "reward/mean", "kl"
    steps: list[float]
    values: list[float]


@dataclass
class EvalCell:
    """One (model, bench) eval cell: its metrics json, per-sample rows and per-item outcomes."""
    model: str
    bench: str
    metrics: dict[str, Any]
    samples: list[dict] = field(default_factory=list)
    items: dict | None = None        # reports/metrics/items/<cell>.json (stages.eval.paired)


def read_json_or_none(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from e


def stage_metrics(metrics_dir: Path, stages: tuple[str, ...] = DATA_STAGES) -> dict[str, dict | None]:
    """`reports/metrics/<stage>.json` per data stage, in pipeline order."""
    return {s: read_json_or_none(metrics_dir / f"{s}.json") for s in stages}


def curves(plots_dir: Path) -> list[Curve]:
    """Every DVCLive step curve under `plots_dir` (DVCLive puts them in `plots/metrics/`).

    The curve's name is its path below the `metrics` folder without `.tsv`, which is the name
    the trainer logged (`train/loss` -> `metrics/train/loss.tsv`).
    """
    if not plots_dir.exists():
        return []
    out = []
    for path in sorted(plots_dir.rglob("*.tsv")):
        rel = path.relative_to(plots_dir).with_suffix("")
        parts = rel.parts
        name = "/".join(parts[parts.index("metrics") + 1:]) if "metrics" in parts[:-1] else "/".join(parts)
        out.append(_read_tsv(path, name))
    return sorted((c for c in out if c.values), key=lambda c: (_curve_rank(c.name), c.name))


CURVE_ORDER = (  # what a reader looks at first; bookkeeping curves (epoch, tokens, runtime) last
    re.compile(r"(^|/)loss$"), re.compile(r"(^|/)eval_loss$"), re.compile(r"reward"), re.compile(r"(^|/|_)kl"),
    re.compile(r"accuracy|entropy|clip"), re.compile(r"grad_norm|learning_rate"),
)
BOOKKEEPING = re.compile(r"(^|/)(epoch|step|\w*num_tokens|\w*runtime\w*|\w*per_s(econd)?|tokens_per_s)$")


def _curve_rank(name: str) -> int:
    if BOOKKEEPING.search(name):
        return len(CURVE_ORDER) + 1
    return next((i for i, pattern in enumerate(CURVE_ORDER) if pattern.search(name)), len(CURVE_ORDER))


def _read_tsv(path: Path, name: str) -> Curve:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return Curve(name, [], [])
    value_col = [c for c in rows[0] if c not in ("step", "timestamp")]
    if "step" not in rows[0] or len(value_col) != 1:
        raise ValueError(f"{path}: expected DVCLive columns 'step' and one value, got {list(rows[0])}")
    try:
        steps = [float(r["step"]) for r in rows]
        values = [float(r[value_col[0]]) for r in rows]
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: non-numeric value ({e})") from e
    return Curve(name, steps, values)


def eval_cells(metrics_dir: Path, eval_dir: Path, benches: list[str] | None = None,
               models: tuple[str, ...] = MODELS) -> list[EvalCell]:
    """`reports/metrics/eval/<model>-<bench>.json` (+ `data/eval/<model>-<bench>/samples.jsonl`,
    + the per-item outcomes `reports/metrics/items/<model>-<bench>.json`, or derived from the
    samples when a run predates that file).

    Benches default to whatever metrics files exist, so a new benchmark needs no edit here.
    """
    eval_metrics = metrics_dir / "eval"
    if benches is None:
        found = {p.stem.split("-", 1)[1] for p in eval_metrics.glob("*-*.json")
                 if p.stem.split("-", 1)[0] in models}
        benches = sorted(found)
    cells = []
    for bench in benches:
        for model in models:
            data = read_json_or_none(eval_metrics / f"{model}-{bench}.json")
            if data is None:
                continue
            rows = samples(eval_dir / f"{model}-{bench}" / "samples.jsonl")
            cells.append(EvalCell(model, bench, data, rows,
                                  item_outcomes(metrics_dir / "items" / f"{model}-{bench}.json", rows)))
    return cells


def item_outcomes(path: Path, rows: list[dict]) -> dict | None:
    """The cell's per-item outcomes: its items file, else counted from samples that carry ids."""
    from stages.eval.paired import item_outcomes as count

    found = read_json_or_none(path)
    if found is not None:
        return found
    return count(rows) if rows and all("id" in r for r in rows) else None


def items_dir(metrics_dir: Path) -> dict[tuple[str, str], dict]:
    """Every `reports/metrics/items/<model>-<bench>.json`: {(model, bench): outcomes}."""
    out = {}
    for path in sorted((metrics_dir / "items").glob("*-*.json")):
        model, bench = path.stem.split("-", 1)
        out[(model, bench)] = read_json_or_none(path)
    return out


def samples(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i}: invalid JSON ({e.msg})") from e
    return rows


def dedup_report(obj: Any) -> dict | None:
    """clusters.json -> {clusters, rows_in_clusters, exact_dropped, near_dropped, size_histogram,
    example_pairs}; a bare list of clusters is accepted too (its length is the count)."""
    if obj is None:
        return None
    if isinstance(obj, list):
        return {"clusters": len(obj)}
    if isinstance(obj, dict):
        n = obj.get("clusters")
        return {**obj, "clusters": len(n) if isinstance(n, (list, dict)) else n}
    raise ValueError(f"clusters.json: expected an object or a list, got {type(obj).__name__}")


def contamination_report(obj: Any) -> dict | None:
    """contamination.json -> {enabled, hits: [...], by_benchmark: {bench: n}}; a bare list of
    hits is accepted too."""
    if obj is None:
        return None
    if isinstance(obj, list):
        obj = {"enabled": True, "hits": obj}
    if not isinstance(obj, dict):
        raise ValueError(f"contamination.json: expected an object or a list, got {type(obj).__name__}")
    hits = obj.get("hits") or []
    by_bench = obj.get("by_benchmark")
    if by_bench is None:
        by_bench = {}
        for h in hits:
            b = str(h.get("benchmark", "?")) if isinstance(h, dict) else "?"
            by_bench[b] = by_bench.get(b, 0) + 1
    return {**obj, "enabled": bool(obj.get("enabled", True)), "hits": hits, "by_benchmark": by_bench}
