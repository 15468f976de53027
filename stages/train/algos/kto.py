"""Kahneman-Tversky Optimization (Ethayarajh et al. 2024, https://arxiv.org/abs/2402.01306)
with TRL's KTOTrainer. KTO learns from unpaired thumbs-up / thumbs-down examples; we derive
them from ${paths.format}/preference: each pair gives (prompt, chosen, True) and
(prompt, rejected, False), so desirable and undesirable counts are equal."""
from __future__ import annotations

from stages.train import preference
from stages.train.context import PREFERENCE_KEYS, TrainContext
from stages.train.trainers import TRAINERS

KEYS = {**PREFERENCE_KEYS, "desirable_weight": None, "undesirable_weight": None}   # params/train/kto.yaml


def unpaired(pairs: list[dict]) -> list[dict]:
    """[{prompt, chosen, rejected}] -> [{prompt, completion, label}] (2 rows per pair)."""
    rows = []
    for p in pairs:
        rows.append({"prompt": p["prompt"], "completion": p["chosen"], "label": True})
        rows.append({"prompt": p["prompt"], "completion": p["rejected"], "label": False})
    return rows


@TRAINERS.register("kto")
def train(ctx: TrainContext) -> dict:
    from trl import KTOConfig, KTOTrainer

    cfg = ctx.cfg
    return preference.run(ctx, KTOTrainer, KTOConfig,
                          {"beta": float(cfg.beta), "desirable_weight": float(cfg.desirable_weight),
                           "undesirable_weight": float(cfg.undesirable_weight)}, to_rows=unpaired)
