"""Main carries dvc.lock and reports/metrics from the CI profile: PR diffs have a baseline."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from e2e_workspace import REPO, make_workspace, sh


def _get(cfg: dict, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


@pytest.fixture(scope="module")
def ci_workspace(tmp_path_factory):
    if not (REPO / "dvc.lock").exists():
        pytest.fail("dvc.lock is not committed: run the CI profile and commit its lock and metrics")
    ws = make_workspace(tmp_path_factory.mktemp("baseline") / "repo", ["profile=ci"])
    shutil.copy(REPO / "dvc.lock", ws / "dvc.lock")
    shutil.copytree(REPO / "reports", ws / "reports", dirs_exist_ok=True)
    return ws


def test_lock_params_are_the_ci_profile(ci_workspace):
    lock = yaml.safe_load((ci_workspace / "dvc.lock").read_text())
    cfg = yaml.safe_load((ci_workspace / "params.yaml").read_text())
    checked = 0
    for name, stage in lock["stages"].items():
        for values in stage.get("params", {}).values():
            for key, value in values.items():
                assert _get(cfg, key) == value, (name, key)
                checked += 1
    assert checked >= 15


def test_committed_metrics_are_the_ones_the_lock_names(ci_workspace):
    lock = yaml.safe_load((ci_workspace / "dvc.lock").read_text())
    metrics = [o["path"] for s in lock["stages"].values() for o in s.get("outs", [])
               if o["path"].startswith("reports/metrics/")]
    assert len(metrics) >= 13
    for path in metrics:
        json.loads((REPO / path).read_text())


def test_dvc_status_sees_no_param_change_against_the_lock(ci_workspace):
    status = json.loads(sh(["dvc", "status", "--json"], ci_workspace).stdout)
    for stage, changes in status.items():
        for change in changes:
            if isinstance(change, dict) and "changed deps" in change:
                changed = change["changed deps"]
                assert not any(k.startswith("params.yaml") or "params.yaml" in str(v)
                               for k, v in changed.items()), (stage, changed)
    metrics = json.loads(sh(["dvc", "metrics", "show", "--json"], ci_workspace).stdout)
    assert metrics                                               # readable on a fresh clone


def _code_or_params(path: str) -> bool:
    return path.startswith(("stages/", "verl/", "params/")) or path in ("stages", "verl", "params") \
        or path.startswith("params.yaml")


def stale_against_lock(ws) -> list[str]:
    """What in the code or params no longer matches the committed dvc.lock (data not present)."""
    lock = yaml.safe_load((ws / "dvc.lock").read_text())["stages"]
    names = sh(["dvc", "stage", "list", "--name-only"], ws).stdout.split()
    problems = [f"stage {n}: not in dvc.lock" for n in names if n not in lock]
    problems += [f"stage {n}: in dvc.lock but not in dvc.yaml" for n in lock if n not in names]
    status = json.loads(sh(["dvc", "status", "--json"], ws).stdout)
    for stage, changes in status.items():
        for change in changes:
            if change == "changed command":
                problems.append(f"stage {stage}: command changed")
            if isinstance(change, dict):
                for path, what in change.get("changed deps", {}).items():
                    if _code_or_params(path):
                        problems.append(f"stage {stage}: {path} {what}")
    return problems


def test_committed_baseline_is_what_this_code_and_params_produce(ci_workspace):
    problems = stale_against_lock(ci_workspace)
    assert not problems, ("the committed baseline (dvc.lock, reports/) was made by other code or "
                          "params; run `make baseline` and commit it:\n" + "\n".join(problems))


def test_the_baseline_check_sees_a_code_change(ci_workspace):
    path = ci_workspace / "stages/data/lsh.py"
    original = path.read_bytes()
    path.write_bytes(original + b"\n# changed\n")
    try:
        assert stale_against_lock(ci_workspace) == ["stage dedup: stages/data/lsh.py modified"]
    finally:
        path.write_bytes(original)
