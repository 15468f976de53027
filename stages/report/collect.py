"""Gather every input of the report into one value, so rendering does no file I/O.

    inputs = collect.gather(Paths.from_params(paths_section), params_file=..., config_dir=...)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stages.report import identity, inputs
from stages.report.inputs import Curve, EvalCell

TIMED_STAGES = ("model", *inputs.DATA_STAGES, "train")
PART_SECONDS = re.compile(r"(_seconds|_runtime_s)$")


@dataclass
class Paths:
    metrics: Path             # reports/metrics
    plots: Path               # reports/plots (train curves in <plots>/train)
    eval: Path                # data/eval
    dedup: Path               # data/dedup

    @classmethod
    def from_params(cls, paths: Any) -> "Paths":
        return cls(Path(paths["metrics"]), Path(paths["plots"]), Path(paths["eval"]), Path(paths["dedup"]))


@dataclass
class ReportInputs:
    git_rev: str
    experiment: str
    params_hash: str | None
    lock_outs: list[dict]
    params_diff: list[dict] | None          # None: params.yaml or params/ missing
    params_note: str | None                 # why params_diff is None
    stage_metrics: dict[str, dict | None]
    dedup: dict | None                      # clusters.json (None: dedup not run)
    contamination: dict | None              # contamination.json
    curves: list[Curve]
    train_metrics: dict | None
    eval_cells: list[EvalCell]
    timings: list[tuple[str, float | None]] = field(default_factory=list)
    winrate: dict | None = None             # reports/metrics/winrate.json (None: the stage did not run)
    winrate_samples: list[dict] = field(default_factory=list)   # data/eval/winrate/samples.jsonl


def gather(paths: Paths, params_file: Path = Path("params.yaml"), config_dir: Path = Path("params"),
           lock_file: Path = Path("dvc.lock")) -> ReportInputs:
    params = yaml.safe_load(params_file.read_text(encoding="utf-8")) if params_file.exists() else None
    defaults, params_note = _defaults(config_dir) if params is not None else (None, f"no {params_file}")
    stage_metrics = inputs.stage_metrics(paths.metrics)
    train = inputs.read_json_or_none(paths.metrics / "train.json")
    cells = inputs.eval_cells(paths.metrics, paths.eval)
    winrate = inputs.read_json_or_none(paths.metrics / "winrate.json")
    return ReportInputs(
        git_rev=identity.git_rev(),
        experiment=identity.experiment_name(),
        params_hash=identity.params_hash(params) if params is not None else None,
        lock_outs=identity.lock_hashes(lock_file),
        params_diff=identity.params_diff(params, defaults) if defaults is not None else None,
        params_note=params_note,
        stage_metrics=stage_metrics,
        dedup=inputs.dedup_report(inputs.read_json_or_none(paths.dedup / "clusters.json")),
        contamination=inputs.contamination_report(inputs.read_json_or_none(paths.dedup / "contamination.json")),
        curves=inputs.curves(paths.plots / "train"),
        train_metrics=train,
        eval_cells=cells,
        timings=timings(paths.metrics, stage_metrics, train, cells) + [("winrate", _seconds(winrate))],
        winrate=winrate,
        winrate_samples=inputs.samples(paths.eval / "winrate" / "samples.jsonl"),
    )


def _defaults(config_dir: Path) -> tuple[dict | None, str | None]:
    """The composed defaults, or why they could not be composed (shown in the report)."""
    try:
        defaults = identity.default_params(config_dir)
    except Exception as e:  # a broken params/ tree must not hide the rest of the report
        return None, f"could not compose the defaults from {config_dir}/: {str(e).splitlines()[0]}"
    return (defaults, None) if defaults is not None else (None, f"no {config_dir}/config.yaml")


def timings(metrics_dir: Path, stage_metrics: dict, train: dict | None,
            cells: list[EvalCell]) -> list[tuple[str, float | None]]:
    """Wall seconds per stage, from the `seconds` key each stage writes into its metrics json."""
    found = dict(stage_metrics)
    found["train"] = train
    found["model"] = inputs.read_json_or_none(metrics_dir / "model.json")
    out = [(s, _seconds(found.get(s))) for s in TIMED_STAGES]
    out += [(f"eval {c.model}-{c.bench}", _seconds(c.metrics)) for c in cells]
    return out


def _seconds(metrics: dict | None) -> float | None:
    """`seconds` if the stage wrote it, else the sum of its top-level time parts
    (eval writes `generate_seconds` and `score_seconds`, train `train_runtime_s`)."""
    if not metrics:
        return None
    if _is_number(metrics.get("seconds")):
        return float(metrics["seconds"])
    parts = [float(v) for k, v in metrics.items() if PART_SECONDS.search(str(k)) and _is_number(v)]
    return sum(parts) if parts else None


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
