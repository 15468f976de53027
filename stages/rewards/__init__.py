"""Reward registry shared by the local RL loop, the verl backend and eval.

Every reward is a pure function with one signature (style: verl core_algos / lm-eval):

    RewardFn = (completion: str, ground_truth: str | None, extra: dict) -> float

One file per reward registers itself: gsm8k.py, math.py, code.py, fmt.py, length.py,
exact.py, learned.py. `train.reward` in params is a weighted sum of named rewards:

    reward: [{name: gsm8k, weight: 1.0}, {name: format, weight: 0.1}]
    reward: [{name: length, weight: -0.1, max_chars: 400}]     # extra keys -> `extra`

`compute_score` is the entry verl's `custom_reward_function` calls (verl/reward.py).
Without a weighted spec, a row's `data_source` picks its reward from the benchmark files
(params/eval/benchmarks/*.yaml: `reward` and `data_sources`), which the `datasets` stage
gathers into paths.datasets/rewards.json: data, not an if/elif.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any, Callable, Iterable

from stages.common.registry import Registry

RewardFn = Callable[[str, "str | None", dict], float]
REWARDS: Registry[RewardFn] = Registry("reward", "train.reward[].name")

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


def default_table() -> dict[str, str]:
    """The workspace's rewards.json (the `datasets` stage), else the repo's benchmark files."""
    import yaml

    from stages.common.shared import REPO_PARAMS, datasets_dir, reward_table

    written = datasets_dir() / "rewards.json"
    if written.exists():
        return json.loads(written.read_text())
    files = sorted(Path(REPO_PARAMS / "eval" / "benchmarks").glob("*.yaml"))
    return reward_table({f.stem: yaml.safe_load(f.read_text()) or {} for f in files})


def for_data_source(data_source: str, table: dict[str, str] | None = None) -> RewardFn:
    table = default_table() if table is None else table
    if data_source not in table:
        raise KeyError(f"no default reward for data_source {data_source!r}; known: "
                       f"{', '.join(sorted(table))} (a benchmark's `data_sources`); or set train.reward")
    return get(table[data_source])


def compute_score(data_source: str, solution_str: str, ground_truth: str | None,
                  extra_info: dict | None = None, reward: list | None = None,
                  defaults: dict | None = None, **_: Any) -> float:
    """verl's custom_reward_function signature. `reward` (a weighted spec) overrides the
    data_source default; `defaults` is the {data_source: reward} table (both arrive through
    verl's `custom_reward_function.reward_kwargs`)."""
    fn = weighted(reward) if reward else for_data_source(data_source, defaults)
    return float(fn(solution_str, ground_truth, dict(extra_info or {})))


def _names() -> list[str]:
    load_all()
    return REWARDS.names()
