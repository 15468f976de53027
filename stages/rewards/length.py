"""Length penalty in [0, 1]: 0 up to `target_chars`, rising linearly to 1 at `max_chars`.
Give it a negative weight: `{name: length, weight: -0.1, target_chars: 200, max_chars: 600}`."""
from __future__ import annotations

from stages.rewards import REWARDS


@REWARDS.register("length")
def length(completion: str, ground_truth: str | None, extra: dict) -> float:
    target, limit = float(extra.get("target_chars", 0)), float(extra.get("max_chars", 1000))
    if limit <= target:
        raise ValueError(f"length reward: max_chars ({limit}) must exceed target_chars ({target})")
    return min(1.0, max(0.0, (len(completion) - target) / (limit - target)))
