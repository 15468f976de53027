"""Trainer registry: `train.trainer` names one; each stages/train/algos/<name>.py registers itself.

    @TRAINERS.register("dpo")
    def train(ctx: TrainContext) -> dict:    # trains, saves ctx.policy_dir, returns metrics

Several params files may share one trainer (grpo, dapo, ppo, rloo... all use `rl`; the
algorithm differences are verl-named keys, never a branch on a name).
"""
from __future__ import annotations

from typing import Callable

from stages.common.registry import Registry

TRAINERS: Registry[Callable] = Registry("trainer", "train.trainer")


def get(name: str) -> Callable:
    from stages.train import algos

    algos.load_all()
    return TRAINERS.get(name)
