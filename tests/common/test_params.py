"""params.yaml is the composition of params/ defaults, and every group composes."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stages.common.compose import compose

REPO = Path(__file__).resolve().parents[2]


def _composed(tmp_path, overrides):
    out = tmp_path / "params.yaml"
    compose(overrides, out, REPO / "params")
    return yaml.safe_load(out.read_text())


def test_committed_params_yaml_is_the_default_composition(tmp_path):
    assert yaml.safe_load((REPO / "params.yaml").read_text()) == _composed(tmp_path, [])


@pytest.mark.parametrize("group", ["model", "data", "train", "eval", "profile"])
def test_every_choice_of_every_group_composes(tmp_path, group):
    choices = sorted(p.stem for p in (REPO / "params" / group).glob("*.yaml") if not p.stem.startswith("_"))
    assert choices
    for choice in choices:
        cfg = _composed(tmp_path, [f"{group}={choice}"])
        assert {"seed", "paths", "track", "model", "data", "train", "eval", "report"} <= set(cfg), choice


def test_smoke_profile_overrides_model_and_sizes(tmp_path):
    cfg = _composed(tmp_path, ["profile=smoke"])
    assert cfg["model"]["name"] == "tiny-random" and cfg["data"]["sources"][0]["rows"] == 400
    assert _composed(tmp_path, ["profile=ci"]) == cfg


def test_unknown_group_choice_names_the_options(tmp_path):
    with pytest.raises(SystemExit, match=r"Could not find 'train/nope'"):
        compose(["train=nope"], tmp_path / "p.yaml", REPO / "params")
