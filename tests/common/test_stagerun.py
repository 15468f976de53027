"""The stage-run helper every stage uses: params checked before any work (nearest valid key),
`seconds` in the metrics file, the resolved params saved beside the outputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.common.compose import compose
from stages.common.params import check_keys

REPO = Path(__file__).resolve().parents[2]


def test_unknown_key_names_the_nearest_valid_one():
    with pytest.raises(KeyError, match=r"data.quality.treshold: unknown key \(did you mean 'threshold'\?\)"):
        check_keys({"treshold": 0.5}, ("method", "threshold"), "data.quality")
    with pytest.raises(KeyError, match=r"data.decontam.benchmarks.gsm8k.feild: unknown key \(did you mean 'field'"):
        check_keys({"benchmarks": {"gsm8k": {"feild": "q"}}}, {"benchmarks": {"*": ("path", "field")}}, "data.decontam")
    with pytest.raises(KeyError, match=r"data.sources\[1\].ground_truth: unknown key \(did you mean 'ground_truth_from'"):
        check_keys([{"name": "a"}, {"ground_truth": 1}], [("name", "ground_truth_from")], "data.sources")
    assert check_keys({"method": "x"}, ("method",), "q") == {"method": "x"}


def _stage(ws: Path, stage: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"}
    env.pop("LMFORGE_PARAMS", None)
    return subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=ws, env=env, capture_output=True, text=True)


@pytest.fixture
def ws(tmp_path) -> Path:
    compose([], tmp_path / "params.yaml", REPO / "params")
    p = yaml.safe_load((tmp_path / "params.yaml").read_text())
    p["data"]["sources"][0]["rows"] = 40
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    return tmp_path


def test_every_run_records_seconds_and_its_config(ws):
    res = _stage(ws, "ingest")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((ws / "reports/metrics/ingest.json").read_text())
    assert metrics["rows_kept"] == 40 and 0 <= metrics["seconds"] < 60
    saved = json.loads((ws / "data/raw/config.json").read_text())
    assert saved["stage"] == "ingest" and saved["params"]["data.sources"][0]["rows"] == 40
    assert saved["params"]["data.on_bad_row"] == "quarantine"


@pytest.mark.parametrize("stage,section,key,hint", [
    ("quality", "quality", "treshold", "threshold"),
    ("dedup", "dedup", "verfy", "verify"),
    ("format", "format", "val_frac", "val_fraction"),
    ("clean", "clean", "feilds", "fields"),
])
def test_a_typo_in_a_data_section_stops_the_stage_before_any_work(ws, stage, section, key, hint):
    p = yaml.safe_load((ws / "params.yaml").read_text())
    p["data"][section][key] = 1
    (ws / "params.yaml").write_text(yaml.safe_dump(p))
    res = _stage(ws, stage)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        f"{stage}: error: data.{section}.{key}: unknown key (did you mean {hint!r}?)")
    assert not (ws / "reports/metrics" / f"{stage}.json").exists()
