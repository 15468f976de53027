"""Exact match: the stripped completion equals the stripped ground truth (1.0 / 0.0).
For single-token answers and classification-like tasks. Two plain decimals compare as numbers
(`5.0` matches `5`), since a ground truth read from a float column may carry a `.0`."""
from __future__ import annotations

from stages.scoring.extract import as_number
from stages.rewards import REWARDS


@REWARDS.register("exact")
def exact(completion: str, ground_truth: str | None, extra: dict) -> float:
    if ground_truth is None:
        return 0.0
    pred, gold = completion.strip(), str(ground_truth).strip()
    x, y = as_number(pred), as_number(gold)
    return float(x == y if x is not None and y is not None else pred == gold)
