"""Online RL with the local loop (stages/train/rl): GRPO, DAPO, Dr.GRPO, GSPO, PPO, RLOO,
REINFORCE++, ReMax. Which one is purely params (params/train/<algo>.yaml, verl-named keys)."""
from __future__ import annotations

from stages.train.context import KEYS as BASE_KEYS, TrainContext
from stages.train.rl import config
from stages.train.trainers import TRAINERS

KEYS = {**BASE_KEYS, **config.KEYS}     # params/train/_rl.yaml


@TRAINERS.register("rl")
def train(ctx: TrainContext) -> dict:
    from stages.train.rl.loop import RLLoop

    loop = RLLoop(ctx).setup()
    metrics = loop.train()
    loop.cleanup()
    return metrics
