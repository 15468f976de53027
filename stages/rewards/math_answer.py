"""MATH equivalence: the last `\\boxed{}` of the completion against the ground truth with
math-verify, through eval's time-limited worker. Without a box the whole completion is given
to math-verify, which takes its answer the way it would from any response (a `$...$`, "the
answer is ...", else the last expression), so an unboxed right answer still earns 1.0."""
from __future__ import annotations

from stages.scoring import extract, math_equiv
from stages.rewards import REWARDS


@REWARDS.register("math")
def math(completion: str, ground_truth: str | None, extra: dict) -> float:
    if ground_truth is None:
        raise ValueError("math reward needs a ground_truth")
    timeout_s = float(extra.get("timeout_s", 5.0))
    pred = extract.last_boxed(completion)
    if pred is None:
        return float(math_equiv.math_equal(completion, str(ground_truth), timeout_s, whole_text=True))
    return float(math_equiv.math_equal(pred, str(ground_truth), timeout_s))
