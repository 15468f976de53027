"""Advantages from verl core_algos: the loop hands an estimator exactly the arguments its
signature asks for, so no estimator is special-cased by name (verl's own
`compute_advantage` does an if/elif on GAE and GRPO; the values it passes are the same)."""
from __future__ import annotations

import inspect
from typing import Any


def compute(fn, algo_cfg: Any, *, token_level_rewards, response_mask, index=None, values=None,
            reward_baselines=None):
    """(advantages (N, R), returns (N, R)) from estimator `fn`."""
    offered = {
        "token_level_rewards": token_level_rewards, "response_mask": response_mask,
        "index": index, "values": values, "reward_baselines": reward_baselines,
        "config": algo_cfg, "gamma": algo_cfg.gamma, "lam": algo_cfg.lam,
        "norm_adv_by_std_in_grpo": algo_cfg.norm_adv_by_std_in_grpo,
    }
    sig = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in offered.items() if k in sig}
    missing = [k for k, p in sig.items() if p.default is inspect.Parameter.empty
               and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and kwargs.get(k) is None]
    if missing:
        raise ValueError(f"advantage estimator {fn.__name__} needs {missing}, which this loop "
                         f"cannot provide")
    return fn(**kwargs)
