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


def _error(section, schema) -> str:
    with pytest.raises(KeyError) as e:
        check_keys(section, schema, "s")
    return e.value.args[0]


def test_a_schema_may_depend_on_the_section_and_point_at_another_key():
    from stages.common.params import Alias

    by_kind = {"a": ("kind", "x"), "b": ("kind", "y")}
    check_keys({"kind": "b", "y": 1}, lambda s: by_kind[s["kind"]], "s")
    assert _error({"kind": "b", "x": 1}, lambda s: by_kind[s["kind"]]) == "s.x: unknown key; valid: kind, y"
    schema = {"lr": None, "learning_rate": Alias("lr", "TRL's learning_rate is s.lr")}
    assert _error({"lerning_rate": 1}, schema) == \
        "s.lerning_rate: unknown key (did you mean 'lr'? TRL's learning_rate is s.lr); valid: lr"
    assert _error({"learning_rate": 1}, schema).startswith("s.learning_rate: unknown key (did you mean 'lr'?")
    # a level's own keys first: the typo beside a sub-tree is named before the sub-tree is read
    assert _error({"sub": {"a": 1}, "nmae": 1}, {"name": None, "sub": lambda _: pytest.fail("read")}) \
        .startswith("s.nmae: unknown key (did you mean 'name'?)")


def test_model_and_report_keys_are_what_the_params_files_declare():
    from stages import model
    from stages.report import __main__ as report

    for f in sorted((REPO / "params/model").glob("*.yaml")):
        assert set(yaml.safe_load(f.read_text())) == set(model.KEYS), f
    section = yaml.safe_load((REPO / "params/config.yaml").read_text())["report"]
    assert set(section) == set(report.KEYS) and set(section["gate"]) == set(report.KEYS["gate"])


def _set(ws: Path, dotted: str, value) -> None:
    p = yaml.safe_load((ws / "params.yaml").read_text())
    *parents, leaf = dotted.split(".")
    node = p
    for k in parents:
        node = node[k]
    node[leaf] = value
    (ws / "params.yaml").write_text(yaml.safe_dump(p))


@pytest.mark.parametrize("stage,dotted,hint", [
    ("model", "model.tokeniser_source", "tokenizer_source"),
    ("report", "report.samples_per_cel", "samples_per_cell"),
    ("report", "report.gate.min_detla", "min_delta"),
])
def test_a_typo_in_model_or_report_params_stops_the_stage_before_any_work(ws, stage, dotted, hint):
    _set(ws, dotted, 1)
    res = _stage(ws, stage)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        f"{stage}: error: {dotted}: unknown key (did you mean {hint!r}?)")
    assert not (ws / "reports").exists() and not (ws / "models").exists()


def test_model_stage_records_seconds_and_its_config_beside_hf_config(ws, tiny_model_dir):
    _set(ws, "model.source", f"local:{tiny_model_dir}")
    res = _stage(ws, "model")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((ws / "reports/metrics/model.json").read_text())
    assert metrics["source_kind"] == "local" and 0 < metrics["seconds"] < 300
    saved = json.loads((ws / "models/base/lmforge_config.json").read_text())
    assert saved["stage"] == "model" and saved["params"]["model"]["source"] == f"local:{tiny_model_dir}"
    assert saved["params"]["seed"] == 0
    assert json.loads((ws / "models/base/config.json").read_text())["model_type"] == "llama"   # HF's own


def test_report_stage_records_seconds_and_its_config_outside_the_metrics_it_reads(ws):
    _set(ws, "report.samples_per_cell", 2)
    res = _stage(ws, "report")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((ws / "reports/report_metrics.json").read_text())
    assert metrics["eval_rows"] == 0 and 0 <= metrics["seconds"] < 60
    saved = json.loads((ws / "reports/report_config.json").read_text())
    assert saved == {"stage": "report", "params": {"report": {**saved["params"]["report"], "samples_per_cell": 2}}}
    assert not (ws / "reports/metrics").exists()      # its input dir: writing there would be a DVC cycle
