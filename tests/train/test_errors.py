"""Bad input and impossible settings fail before training, naming the file/row/key to fix."""
from __future__ import annotations

import polars as pl
import pytest
from omegaconf import OmegaConf

import train_toy
from train_workspace import REPO, compose_params
from stages.common import io
from stages.train import data, modeling
from stages.train.rl import config


def train_cfg(*overrides: str):
    return OmegaConf.create(compose_params(list(overrides))).train


def test_missing_column_names_file_and_columns(tmp_path):
    io.write_parquet(pl.DataFrame([{"id": "a", "text": "x"}]), tmp_path / "sft" / "train.parquet")
    with pytest.raises(ValueError, match=r"sft/train.parquet: missing columns \['messages'\]"):
        data.read_rows(tmp_path, "sft", "train")
    with pytest.raises(FileNotFoundError, match="did the upstream stage run"):
        data.read_rows(tmp_path, "rl", "train")


def test_malformed_rows_name_the_row(tmp_path):
    rows = train_toy.sft_rows(3)
    rows[1]["messages"] = rows[1]["messages"][:-1]          # ends with the user turn
    io.write_parquet(pl.DataFrame(rows), tmp_path / "sft" / "train.parquet")
    with pytest.raises(ValueError, match="row toy:0:1: last message must be the assistant's answer"):
        data.sft_prompt_completion(data.read_rows(tmp_path, "sft", "train"))
    bad = train_toy.rl_rows(2)
    bad[0]["prompt"] = []
    io.write_parquet(pl.DataFrame(bad, schema_overrides={"prompt": pl.List(pl.Struct(
        {"role": pl.Utf8, "content": pl.Utf8}))}), tmp_path / "rl" / "train.parquet")
    with pytest.raises(ValueError, match="row toy:0:0: column 'prompt' must be a non-empty list"):
        data.read_rows(tmp_path, "rl", "train")


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="train.peft='qlora': valid: lora, none"):
        modeling.check(train_cfg("train=sft", "train.peft=qlora"))
    with pytest.raises(ValueError, match="adv_estimator='grpoo'; valid: .*grpo"):
        config.check(train_cfg("train=grpo", "train.algorithm.adv_estimator=grpoo"))
    with pytest.raises(ValueError, match="loss_mode='vanila'; valid: .*vanilla"):
        config.check(train_cfg("train=grpo", "train.actor.policy_loss.loss_mode=vanila"))
    with pytest.raises(ValueError, match="train_batch_size=6 must be a multiple of train.actor.ppo_mini_batch_size=4"):
        config.check(train_cfg("train=grpo", "train.data.train_batch_size=6", "train.actor.ppo_mini_batch_size=4"))
    with pytest.raises(ValueError, match="set train.rollout.n >= 2"):
        config.check(train_cfg("train=rloo", "train.rollout.n=1"))
    config.check(train_cfg("train=ppo", "train.rollout.n=1"))   # GAE needs no groups


def test_unknown_trainer_and_backend_list_choices():
    from stages.train import trainers
    from stages.train.backends import BACKENDS

    with pytest.raises(KeyError, match="set train.trainer.*valid: .*dpo.*rl.*sft"):
        trainers.get("ppo2")
    with pytest.raises(KeyError, match="set train.backend.*valid: local, verl"):
        BACKENDS.get("slurm")


def test_every_params_file_composes_and_checks():
    """Each params/train/<algo>.yaml composes with the smoke profile and passes the checks."""
    from pathlib import Path

    from stages.train import algos, trainers

    algos.load_all()
    for f in sorted((Path(REPO) / "params" / "train").glob("*.yaml")):
        if f.name.startswith("_"):
            continue
        cfg = train_cfg(f"train={f.stem}")
        assert cfg.algo == f.stem and cfg.trainer in trainers.TRAINERS, f
        modeling.check(cfg)
        if cfg.trainer == "rl":
            config.check(cfg)
