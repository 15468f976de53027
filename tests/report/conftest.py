"""A fixture workspace with every input the report reads, in the shapes the stages write.

Curves are written by DVCLive itself (the layout the trainer produces); params.yaml is composed
by DVC's Hydra function from a small params/ tree, with one group choice and one key changed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from report_fixtures import CURVES, EVAL, FUNNEL, TRAIN

CONFIG = """\
defaults:
  - train: sft
  - profile: default
  - _self_
seed: 0
track: {project: lmforge, mode: disabled, dir: wandb_runs}
paths: {models: models, dedup: data/dedup, eval: data/eval, metrics: reports/metrics,
        plots: reports/plots, report: reports}
report:
  samples_per_cell: 3
  title: lmforge experiment report
"""


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def _params(root: Path) -> None:
    cfg = root / "params"
    (cfg / "train").mkdir(parents=True)
    (cfg / "profile").mkdir()
    (cfg / "config.yaml").write_text(CONFIG)
    (cfg / "train" / "sft.yaml").write_text("algo: sft\nlr: 2.0e-05\nmax_steps: 100\n")
    (cfg / "train" / "dpo.yaml").write_text("algo: dpo\nlr: 5.0e-07\nmax_steps: 100\nbeta: 0.1\n")
    (cfg / "profile" / "default.yaml").write_text("# @package _global_\n")
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(root / "params.yaml", str(cfg), None, "config", "", ["train=dpo", "train.max_steps=6"])


def _curves(root: Path, monkeypatch) -> None:
    from dvclive import Live

    monkeypatch.chdir(root)   # DVCLive looks for a repo from the cwd; keep it inside the fixture
    with Live(dir="reports/plots/train", dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for step in range(6):
            live.step = step
            for name, values in CURVES.items():
                live.log_metric(name, values[step])
    monkeypatch.undo()


def _samples(root: Path, model: str, bench: str, n: int, n_correct: int) -> None:
    rows = [{"prompt": f"Q{i}: what is {i} + {i}?", "output": f"Let me think.\n#### {2 * i if i < n_correct else -1}",
             "extracted": str(2 * i if i < n_correct else -1), "gold": str(2 * i), "correct": i < n_correct}
            for i in range(n)]
    path = root / "data" / "eval" / f"{model}-{bench}" / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _lock(root: Path) -> None:
    lock = {"schema": "2.0", "stages": {
        "model": {"cmd": "python -m stages.model", "outs": [
            {"path": "models/base", "hash": "md5", "md5": "0123456789abcdef0123456789abcdef.dir",
             "size": 5_400_000, "nfiles": 6}]},
        "format": {"cmd": "python -m stages.format", "outs": [
            {"path": "data/format", "hash": "md5", "md5": "fedcba9876543210fedcba9876543210.dir",
             "size": 81_920, "nfiles": 4},
            {"path": "reports/metrics/format.json", "hash": "md5", "md5": "aa" * 16, "size": 120}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))


@pytest.fixture
def report_workspace(tmp_path, monkeypatch) -> Path:
    """A workspace a full pipeline run would leave, with every report input present."""
    root = tmp_path / "ws"
    root.mkdir()
    _params(root)
    for stage, (rows_in, rules) in FUNNEL.items():
        rejected = sum(rules.values())
        write_json(root / "reports" / "metrics" / f"{stage}.json",
                   {"rows_in": rows_in, "rows_kept": rows_in - rejected, "rows_rejected": rejected,
                    "rejected_by_rule": rules, "seconds": 1.5})
    write_json(root / "reports" / "metrics" / "train.json", TRAIN)
    for (model, bench), metrics in EVAL.items():
        write_json(root / "reports" / "metrics" / "eval" / f"{model}-{bench}.json", metrics)
        _samples(root, model, bench, metrics["n"], round(metrics.get("accuracy", metrics.get("pass@1")) * metrics["n"]))
    write_json(root / "data" / "dedup" / "clusters.json", [{"ids": ["a:1", "a:7"]}, {"ids": ["a:3", "a:9", "a:11"]}])
    write_json(root / "data" / "dedup" / "contamination.json", [{"id": "a:5", "bench": "gsm8k", "similarity": 0.93},
                                                               {"id": "a:6", "bench": "gsm8k", "similarity": 0.88}])
    _curves(root, monkeypatch)
    _lock(root)
    return root
