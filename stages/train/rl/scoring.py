"""Rewards from the registry -> per-response scores and verl's token-level score tensor
(the outcome reward sits on the last response token; every other token gets 0)."""
from __future__ import annotations

from typing import Any, Callable

from stages import rewards
from stages.common import params


def reward_fn(cfg: Any) -> Callable[[str, dict], float]:
    """(completion, row) -> float: the weighted `train.reward` spec, or per-row by data_source."""
    if cfg.reward:
        fn = rewards.weighted(params.to_dict(cfg.reward))
        return lambda text, row: fn(text, row.get("ground_truth"), _extra(row))
    table = rewards.default_table()          # {data_source: reward}: the benchmarks' `reward`
    return lambda text, row: rewards.for_data_source(row["data_source"], table)(
        text, row.get("ground_truth"), _extra(row))


def _extra(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "ground_truth"}


def score(rollout, fn: Callable[[str, dict], float]):
    """(scores (N,), token_level_scores (N, R))."""
    import torch

    scores = torch.tensor([float(fn(t, r)) for t, r in zip(rollout.texts, rollout.rows)],
                          dtype=torch.float32, device=rollout.responses.device)
    token_scores = torch.zeros(rollout.responses.shape, dtype=torch.float32, device=scores.device)
    last = (rollout.response_mask.sum(-1) - 1).clamp(min=0)                  # (N,) index of last token
    token_scores[torch.arange(len(scores), device=scores.device), last] = scores
    return scores, token_scores
