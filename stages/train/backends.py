"""Executor registry (`train.backend`): where the training runs.

    local   this machine: the trainer named by `train.trainer` (TRL or the local RL loop)
    verl    stages/train/verl_backend.py: the same params mapped onto verl's ppo_trainer
"""
from __future__ import annotations

from typing import Any, Callable

from stages.common.registry import Registry
from stages.train import algos, modeling, trainers, verl_config
from stages.train.context import TrainContext

BACKENDS: Registry[Callable[[Any, Any], dict]] = Registry("backend", "train.backend")


def keys(train: dict) -> dict:
    """The `train:` key schema (params.check_keys): the chosen trainer's KEYS. Under
    train.backend=verl the verl-shaped sub-trees (actor, rollout, ...) pass through whole, as
    verl's own config takes keys the local loop does not read; verl_config.compose checks them
    against verl's config, naming the nearest key."""
    schema = algos.keys(train.get("trainer"))
    if train.get("backend") == "verl":
        schema = {k: None if k in verl_config.RL_SECTIONS else v for k, v in schema.items()}
    return schema


@BACKENDS.register("local")
def local(params: Any, curves: Any) -> dict:
    """Check the config, then run the registered trainer; it saves the policy itself."""
    ctx = TrainContext.from_params(params, curves)
    modeling.check(ctx.cfg)
    trainer = trainers.get(ctx.cfg.trainer)
    return trainer(ctx)


@BACKENDS.register("verl")
def verl(params: Any, curves: Any) -> dict:
    from stages.train import verl_backend

    return verl_backend.train(params, dry_run=False, curves=curves) or {}
