"""Direct Preference Optimization (Rafailov et al. 2023, https://arxiv.org/abs/2305.18290)
with TRL's DPOTrainer on ${paths.format}/preference. The reference model is the frozen base
(with LoRA: the base with the adapter switched off, so no second copy in memory)."""
from __future__ import annotations

from stages.train import preference
from stages.train.context import PREFERENCE_KEYS, TrainContext
from stages.train.trainers import TRAINERS

KEYS = {**PREFERENCE_KEYS, "loss_type": None}     # params/train/dpo.yaml


@TRAINERS.register("dpo")
def train(ctx: TrainContext) -> dict:
    from trl import DPOConfig, DPOTrainer

    cfg = ctx.cfg
    return preference.run(ctx, DPOTrainer, DPOConfig,
                          {"beta": float(cfg.beta), "loss_type": [str(cfg.loss_type)]})
