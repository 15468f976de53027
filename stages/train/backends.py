"""Executor registry (`train.backend`): where the training runs.

    local   this machine: the trainer named by `train.trainer` (TRL or the local RL loop)
    verl    stages/train/verl_backend.py: the same params mapped onto verl's ppo_trainer
"""
from __future__ import annotations

from typing import Any, Callable

from stages.common.registry import Registry
from stages.train import modeling, trainers
from stages.train.context import TrainContext

BACKENDS: Registry[Callable[[Any, Any], dict]] = Registry("backend", "train.backend")


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

    return verl_backend.train(params, dry_run=False) or {}
