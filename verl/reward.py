"""The reward verl calls: `reward.custom_reward_function.path` points at this file.

verl loads it by path inside its reward workers (verl.trainer.ppo.reward.get_custom_reward_fn ->
verl.utils.import_utils.load_extern_object), on whichever node runs them, so it first puts the
repository root (the directory above this file) on sys.path, then hands every call to the
project's reward registry: the local RL loop, verl and eval score a completion with the same
function. `train.reward` (a weighted list) arrives as the `reward` keyword through
`reward.custom_reward_function.reward_kwargs`; without it the data_source picks the reward.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from stages import rewards  # noqa: E402  (needs the sys.path entry above)


def compute_score(data_source: str, solution_str: str, ground_truth: str | None,
                  extra_info: dict | None = None, **kwargs: Any) -> float:
    """verl's custom reward signature; one float per completion (verl logs it as `acc` too)."""
    return float(rewards.compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs))
