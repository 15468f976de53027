"""Issue-level acceptance of the backbone: `dvc repro` of the smoke profile, caching, staleness."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from e2e_workspace import CANARIES, sh, stages_run

pytestmark = pytest.mark.slow


def _declared_outs(ws: Path) -> list[Path]:
    lock = yaml.safe_load((ws / "dvc.lock").read_text())
    outs = [o["path"] for st in lock["stages"].values() for o in st.get("outs", [])]
    return [ws / o for o in outs]


def test_repro_produces_every_declared_out(smoke_repo):
    outs = _declared_outs(smoke_repo)
    assert len(outs) >= 10
    missing = [str(p) for p in outs if not p.exists()]
    assert not missing, missing
    for metrics in ("ingest", "clean", "dedup", "quality", "format", "train"):
        assert (smoke_repo / f"reports/metrics/{metrics}.json").exists(), metrics
    for model in ("base", "policy"):
        for bench in ("gsm8k", "math500", "humaneval"):
            m = json.loads((smoke_repo / f"reports/metrics/eval/{model}-{bench}.json").read_text())
            assert m["n"] > 0
    report = (smoke_repo / "reports/report.md").read_text()
    assert "gsm8k" in report and "policy" in report


def test_second_repro_runs_nothing(smoke_repo):
    """Only the keys stage runs (it always does), and it finds no key changed."""
    res = sh(["dvc", "repro"], smoke_repo)
    assert stages_run(res.stdout) == {"keys"}, res.stdout
    assert "keys: 0 changed" in res.stdout


def test_data_rows_are_conserved_through_the_funnel(smoke_repo):
    for stage in ("ingest", "clean", "dedup", "quality"):
        m = json.loads((smoke_repo / f"reports/metrics/{stage}.json").read_text())
        assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"], stage
    chain = [json.loads((smoke_repo / f"reports/metrics/{s}.json").read_text()) for s in ("clean", "dedup", "quality")]
    assert chain[0]["rows_kept"] == chain[1]["rows_in"] and chain[1]["rows_kept"] == chain[2]["rows_in"]


def _stale(ws: Path, override: str) -> set[str]:
    sh([sys.executable, "-m", "stages.common.compose", "profile=smoke", override], ws)
    try:
        out = sh(["dvc", "status", "--json"], ws).stdout
    finally:
        sh(["git", "checkout", "params.yaml"], ws)
    return set(json.loads(out)) - {"keys"}


def test_eval_param_marks_only_eval_and_report(smoke_repo):
    stale = _stale(smoke_repo, "eval.benchmarks.gsm8k.limit=5")
    assert stale - {"datasets"} == {"eval@base-gsm8k", "eval@policy-gsm8k", "report"} or \
        stale - {"datasets"} == {"eval@base-gsm8k", "eval@policy-gsm8k"}, stale


def test_a_benchmark_file_added_for_a_run_is_two_more_eval_cells(smoke_repo):
    """Benchmarks are data: `+eval/benchmarks@eval.benchmarks.<b>=<b>` adds its matrix cells,
    and nothing that ran already is stale but the (cheap) datasets stage and the report."""
    stale = _stale(smoke_repo, "+eval/benchmarks@eval.benchmarks.arc_easy=arc_easy")
    assert stale - {"report", "datasets"} == {"eval@base-arc_easy", "eval@policy-arc_easy"}, stale


def test_train_param_marks_train_policy_eval_and_report(smoke_repo):
    stale = _stale(smoke_repo, "train.lr=3e-4")
    assert "train" in stale
    assert not any(s.startswith("eval@base") for s in stale), stale
    assert not stale & {"model", "ingest", "clean", "dedup", "quality", "format"}, stale


def test_wandb_run_per_stage_and_no_secret_anywhere(smoke_repo):
    runs = list((smoke_repo / "wandb_runs" / "wandb").glob("offline-run-*"))
    assert len(runs) >= 9 + 6 - 1                               # every stage, six eval cells
    canaries = [v.encode() for v in CANARIES.values()]
    written = [p for d in ("data", "models", "reports", "wandb_runs", "checkpoints", ".dvc")
               for p in (smoke_repo / d).rglob("*") if p.is_file()]
    written += [smoke_repo / "dvc.lock", smoke_repo / "params.yaml"]
    hits = [str(p) for p in written if any(c in p.read_bytes() for c in canaries)]
    assert not hits, hits
