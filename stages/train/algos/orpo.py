"""Odds Ratio Preference Optimization (Hong et al. 2024, https://arxiv.org/abs/2403.07691):
SFT on the chosen answer plus an odds-ratio penalty on the rejected one, no reference model.
TRL keeps it in trl.experimental.orpo."""
from __future__ import annotations

import os

from stages.train import preference
from stages.train.context import PREFERENCE_KEYS, TrainContext
from stages.train.trainers import TRAINERS

KEYS = PREFERENCE_KEYS      # params/train/orpo.yaml adds no key of its own


@TRAINERS.register("orpo")
def train(ctx: TrainContext) -> dict:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    return preference.run(ctx, ORPOTrainer, ORPOConfig, {"beta": float(ctx.cfg.beta)})
