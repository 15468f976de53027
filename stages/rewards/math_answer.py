"""MATH equivalence: the last `\\boxed{}` of the completion (else the whole completion)
against the ground truth with math-verify, through eval's time-limited worker."""
from __future__ import annotations

from stages.scoring import extract, math_equiv
from stages.rewards import REWARDS


@REWARDS.register("math")
def math(completion: str, ground_truth: str | None, extra: dict) -> float:
    if ground_truth is None:
        raise ValueError("math reward needs a ground_truth")
    pred = extract.last_boxed(completion)
    if pred is None:
        return 0.0
    return float(math_equiv.math_equal(pred, str(ground_truth), timeout_s=float(extra.get("timeout_s", 5.0))))
