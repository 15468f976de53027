"""Reward registry shared by the local RL loop, the verl backend and eval.

Every reward is a pure function with one signature (style: verl core_algos / lm-eval):

    RewardFn = (completion: str, ground_truth: str | None, extra: dict) -> float

One file per reward registers itself: gsm8k.py, math.py, code.py, fmt.py, length.py,
exact.py, learned.py. `train.reward` in params is a weighted sum of named rewards:

    reward: [{name: gsm8k, weight: 1.0}, {name: format, weight: 0.1}]
    reward: [{name: length, weight: -0.1, max_chars: 400}]     # extra keys -> `extra`

`compute_score` is the entry verl's `custom_reward_function` calls (verl/reward_fn.py).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Iterable

from stages.common.registry import Registry

RewardFn = Callable[[str, "str | None", dict], float]
REWARDS: Registry[RewardFn] = Registry("reward", "train.reward[].name")

# The reward a verl `data_source` gets when no weighted spec is given: data, not an if/elif.
DATA_SOURCE_REWARD = {
    "gsm8k": "gsm8k", "openai/gsm8k": "gsm8k", "arithmetic": "gsm8k",
    "math": "math", "math500": "math", "HuggingFaceH4/MATH-500": "math", "lighteval/MATH": "math",
    "humaneval": "code", "openai_humaneval": "code",
}


def load_all() -> None:
    """Import every reward module in this package so each registers itself."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def get(name: str) -> RewardFn:
    load_all()
    return REWARDS.get(name)


def weighted(spec: Iterable[Any]) -> RewardFn:
    """One RewardFn from `[{name, weight, **kwargs}]`: sum of weight x reward; the kwargs of
    an entry are added to `extra` for that reward only. Unknown names fail now, not mid-run."""
    terms = []
    for i, item in enumerate(spec):
        item = dict(item)
        if "name" not in item:
            raise ValueError(f"train.reward[{i}]: needs a `name` (valid: {', '.join(_names())})")
        name, weight = item.pop("name"), float(item.pop("weight", 1.0))
        terms.append((get(name), weight, item))
    if not terms:
        raise ValueError("train.reward is empty: give at least one {name, weight}")

    def total(completion: str, ground_truth: str | None, extra: dict) -> float:
        return sum(w * float(fn(completion, ground_truth, {**extra, **kw})) for fn, w, kw in terms)

    return total


def for_data_source(data_source: str) -> RewardFn:
    if data_source not in DATA_SOURCE_REWARD:
        raise KeyError(f"no default reward for data_source {data_source!r}; known: "
                       f"{', '.join(sorted(DATA_SOURCE_REWARD))}; or set train.reward")
    return get(DATA_SOURCE_REWARD[data_source])


def compute_score(data_source: str, solution_str: str, ground_truth: str | None,
                  extra_info: dict | None = None, reward: list | None = None, **_: Any) -> float:
    """verl's custom_reward_function signature. `reward` (a weighted spec, passed through
    verl's `custom_reward_function.reward_kwargs`) overrides the data_source default."""
    fn = weighted(reward) if reward else for_data_source(data_source)
    return float(fn(solution_str, ground_truth, dict(extra_info or {})))


def _names() -> list[str]:
    load_all()
    return REWARDS.names()
