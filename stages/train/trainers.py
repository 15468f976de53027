"""Trainer registry: `train.trainer` names one; each stages/train/algos/<name>.py registers itself.

    @TRAINERS.register("dpo")
    def train(ctx: TrainContext) -> dict:    # trains, saves ctx.policy_dir, returns metrics

Several params files may share one trainer (grpo, dapo, ppo, rloo... all use `rl`; the
algorithm differences are verl-named keys, never a branch on a name).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from stages.common.registry import Registry

TRAINERS: Registry[Callable] = Registry("trainer", "train.trainer")


def load_all() -> None:
    """Import every module under stages.train.algos so each registers itself."""
    import stages.train.algos as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def get(name: str) -> Callable:
    load_all()
    return TRAINERS.get(name)
