"""Exact match: the stripped completion equals the stripped ground truth (1.0 / 0.0).
For single-token answers and classification-like tasks."""
from __future__ import annotations

from stages.rewards import REWARDS


@REWARDS.register("exact")
def exact(completion: str, ground_truth: str | None, extra: dict) -> float:
    return float(ground_truth is not None and completion.strip() == str(ground_truth).strip())
