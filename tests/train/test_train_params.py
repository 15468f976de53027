"""The train stage's `train:` keys: each trainer's schema is exactly what its params files
declare, a typo anywhere stops the stage before any work naming the nearest key, and a run
records `seconds` and the params that made the policy (models/policy/lmforge_config.json)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from policy_checks import metrics
from train_workspace import REPO, compose_params, run_stage, stage_env

from stages.common.params import Alias, check_keys
from stages.train import algos, backends, context


def _tree(schema) -> dict:
    """A dict schema as {key: sub-tree or None}; an Alias is no key, a function or a dataclass
    (a sub-schema verl owns) a leaf."""
    if isinstance(schema, (tuple, list, set)):
        schema = dict.fromkeys(schema)
    return {k: _tree(v) if isinstance(v, (dict, tuple)) else None
            for k, v in schema.items() if not isinstance(v, Alias)}


def _declared(section: dict, tree: dict) -> dict:
    """The keys of a composed section, down to where the schema stops naming keys."""
    return {k: _declared(v, tree[k]) if isinstance(v, dict) and tree.get(k) else None
            for k, v in section.items()}


def _merge(a: dict, b: dict) -> dict:
    return {k: _merge(a.get(k) or {}, b.get(k) or {}) or None for k in a.keys() | b.keys()}


def test_each_trainer_reads_exactly_the_keys_its_params_files_declare():
    """No hand-kept list drifts: KEYS of stages/train/algos/<trainer>.py == the union of the
    keys params/train/<algo>.yaml compose to, over the algorithms using that trainer."""
    by_trainer: dict[str, dict] = defaultdict(dict)
    for f in sorted((REPO / "params/train").glob("[!_]*.yaml")):
        train = compose_params([f"train={f.stem}"])["train"]
        check_keys(train, backends.keys, "train")              # every shipped file passes
        tree = _tree(algos.keys(train["trainer"]))
        by_trainer[train["trainer"]] = _merge(by_trainer[train["trainer"]], _declared(train, tree))
    assert set(by_trainer) == {"sft", "dpo", "kto", "orpo", "rm", "rl"}
    for trainer, declared in by_trainer.items():
        code = _tree(algos.keys(trainer))
        assert code == declared, trainer


def test_trl_names_point_at_the_key_trl_args_maps_them_from():
    src = (REPO / "stages/train/trl_args.py").read_text()
    for trl, ours in context.TRL_NAMES.items():
        assert re.search(rf"\b{trl}=\w*\(cfg\.{ours}\)", src), (trl, ours)


@pytest.mark.parametrize("overrides,message", [
    (["train=sft", "+train.lerning_rate=1e-4"],
     "train.lerning_rate: unknown key (did you mean 'lr'? TRL's learning_rate is train.lr)"),
    (["train=sft", "+train.lr_shceduler=cosine"], "train.lr_shceduler: unknown key (did you mean 'lr_scheduler'?)"),
    (["train=sft", "+train.lora.alhpa=8"], "train.lora.alhpa: unknown key (did you mean 'alpha'?)"),
    (["train=dpo", "+train.packing=true"], "train.packing: unknown key"),     # an SFT key, not DPO's
    (["train=kto", "+train.desireable_weight=2"],
     "train.desireable_weight: unknown key (did you mean 'desirable_weight'?)"),
    (["train=grpo", "+train.actor.clip_ratio_hgih=0.28"],
     "train.actor.clip_ratio_hgih: unknown key (did you mean 'clip_ratio_high'?)"),
    (["train=grpo", "+train.rollout.temprature=0.7"],
     "train.rollout.temprature: unknown key (did you mean 'temperature'?)"),
    (["train=ppo", "+train.algorithm.kl_ctrl.kl_cof=0.1"],
     "train.algorithm.kl_ctrl.kl_cof: unknown key (did you mean 'kl_coef'?)"),
    (["train=gspo", "+train.actor.policy_loss.loss_mod=gspo"],
     "train.actor.policy_loss.loss_mod: unknown key (did you mean 'loss_mode'?)"),
    (["train=grpo", "+train.verl.nodes=2"], "train.verl.nodes: unknown key (did you mean 'nnodes'?)"),
])
def test_a_typo_anywhere_in_train_names_the_nearest_key(overrides, message):
    with pytest.raises(KeyError) as e:
        check_keys(compose_params(overrides)["train"], backends.keys, "train")
    assert e.value.args[0].startswith(message)


def test_verl_backend_leaves_verl_shaped_keys_to_verl():
    """verl's actor takes keys the local loop does not read; verl's own config checks them
    (tests/verl: a key verl lacks fails naming the nearest). Top-level typos still fail here."""
    train = compose_params(["train=grpo", "train.backend=verl", "+train.actor.use_dynamic_bsz=true"])["train"]
    check_keys(train, backends.keys, "train")
    with pytest.raises(KeyError, match=r"train.actor.use_dynamic_bsz: unknown key"):
        check_keys({**train, "backend": "local"}, backends.keys, "train")
    with pytest.raises(KeyError, match=r"train.val_row: unknown key \(did you mean 'val_rows'"):
        check_keys({**train, "val_row": 3}, backends.keys, "train")


def _stage_fails(ws: Path, overrides: list[str]) -> str:
    OmegaConf.save(OmegaConf.create(compose_params(overrides)), ws / "params.yaml")
    proc = subprocess.run([sys.executable, "-m", "stages.train"], cwd=ws, env=stage_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert not (ws / "reports").exists() and not (ws / "models").exists()   # no work done
    return proc.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("overrides,message", [
    (["train=sft", "+train.lerning_rate=1e-4"], "train.lerning_rate: unknown key (did you mean 'lr'?"),
    (["train=grpo", "+train.actor.clip_ratio_hgih=0.28"],
     "train.actor.clip_ratio_hgih: unknown key (did you mean 'clip_ratio_high'?)"),
])
def test_the_stage_stops_on_a_typo_before_any_work(tmp_path, overrides, message):
    """No model, no data in the workspace: the check comes first, so the error is the typo."""
    assert _stage_fails(tmp_path, overrides).startswith(f"train: error: {message}")


@pytest.mark.slow
def test_a_run_records_seconds_and_the_params_beside_the_policy(workspace):
    ws = workspace(["train=sft", "train.max_steps=2", "train.save_steps=2", "train.eval_steps=0",
                    "train.logging_steps=1", "train.lr=3e-3"])
    run_stage(ws)
    m = metrics(ws)
    assert m["steps"] == 2 and m["algo"] == "sft" and 0 < m["seconds"] < 600
    saved = json.loads((ws / "models/policy/lmforge_config.json").read_text())
    assert saved["stage"] == "train" and saved["params"]["seed"] == 0
    assert saved["params"]["train"]["max_steps"] == 2 and saved["params"]["train"]["lr"] == 3e-3
    assert json.loads((ws / "models/policy/config.json").read_text())["model_type"] == "llama"   # HF's, untouched
