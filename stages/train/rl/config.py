"""Params (verl-shaped `train.algorithm / actor / rollout / critic / data`) -> verl configs.

The policy-loss functions of core_algos take an `ActorConfig`; the estimators take an
`AlgoConfig`. Building the real dataclasses means verl validates the values, and the same
yaml keys drive the verl backend unchanged.
"""
from __future__ import annotations

import inspect
from typing import Any

from stages.common import params


def _policy_loss_keys(_section: Any) -> type:
    from verl.workers.config import PolicyLossConfig    # passed whole: its fields are the keys

    return PolicyLossConfig


def _kl_ctrl_keys(_section: Any) -> type:
    from verl.trainer.config.algorithm import KLControlConfig

    return KLControlConfig


# `train:` keys of the online-RL trainer (params/train/_rl.yaml) besides the shared ones: what
# actor_config / algo_config below, the loop (loop.py) and the rewards (scoring.py) read.
KEYS = {
    "val_rows": None, "reward": None,    # reward: null or [{name, weight, ...}] (stages/rewards)
    "data": ("train_batch_size", "max_prompt_length", "max_response_length"),
    "algorithm": {"adv_estimator": None, "gamma": None, "lam": None, "norm_adv_by_std_in_grpo": None,
                  "use_kl_in_reward": None, "kl_penalty": None, "kl_ctrl": _kl_ctrl_keys},
    "actor": {"ppo_mini_batch_size": None, "ppo_micro_batch_size_per_gpu": None, "ppo_epochs": None,
              "shuffle": None, "clip_ratio": None, "clip_ratio_low": None, "clip_ratio_high": None,
              "clip_ratio_c": None, "loss_agg_mode": None, "loss_scale_factor": None,
              "policy_loss": _policy_loss_keys, "entropy_coeff": None, "use_kl_loss": None,
              "kl_loss_coef": None, "kl_loss_type": None},
    "rollout": ("n", "temperature", "top_p", "top_k"),
    "critic": ("lr", "cliprange_value"),
}


def actor_config(cfg: Any):
    from verl.workers.config import ActorConfig, PolicyLossConfig

    a = cfg.actor
    return ActorConfig(
        strategy="fsdp", rollout_n=int(cfg.rollout.n),
        ppo_mini_batch_size=int(a.ppo_mini_batch_size),
        ppo_micro_batch_size_per_gpu=int(a.ppo_micro_batch_size_per_gpu),
        ppo_epochs=int(a.ppo_epochs), shuffle=bool(a.shuffle),
        clip_ratio=float(a.clip_ratio), clip_ratio_low=float(a.clip_ratio_low),
        clip_ratio_high=float(a.clip_ratio_high), clip_ratio_c=float(a.clip_ratio_c),
        loss_agg_mode=str(a.loss_agg_mode),
        loss_scale_factor=None if a.loss_scale_factor is None else int(a.loss_scale_factor),
        policy_loss=PolicyLossConfig(**params.to_dict(a.policy_loss)),
        entropy_coeff=float(a.entropy_coeff), use_kl_loss=bool(a.use_kl_loss),
        kl_loss_coef=float(a.kl_loss_coef), kl_loss_type=str(a.kl_loss_type),
        use_torch_compile=False)


def algo_config(cfg: Any):
    from verl.trainer.config import AlgoConfig
    from verl.trainer.config.algorithm import KLControlConfig

    g = cfg.algorithm
    return AlgoConfig(adv_estimator=str(g.adv_estimator), gamma=float(g.gamma), lam=float(g.lam),
                      norm_adv_by_std_in_grpo=bool(g.norm_adv_by_std_in_grpo),
                      use_kl_in_reward=bool(g.use_kl_in_reward), kl_penalty=str(g.kl_penalty),
                      kl_ctrl=KLControlConfig(**params.to_dict(g.kl_ctrl)))


def estimator(name: str):
    """(fn, its parameter names): the loop supplies exactly what the estimator asks for
    (`values` -> a critic, `reward_baselines` -> a greedy rollout, `index` -> prompt groups)."""
    from verl.trainer.ppo import core_algos

    if name not in core_algos.ADV_ESTIMATOR_REGISTRY:
        raise ValueError(f"train.algorithm.adv_estimator={name!r}; valid: "
                         f"{', '.join(sorted(core_algos.ADV_ESTIMATOR_REGISTRY))}")
    fn = core_algos.get_adv_estimator_fn(name)
    return fn, set(inspect.signature(fn).parameters)


def check(cfg: Any) -> None:
    """Reject impossible combinations before any model is loaded, naming the key to change."""
    from verl.trainer.ppo import core_algos

    estimator(cfg.algorithm.adv_estimator)
    mode = cfg.actor.policy_loss.loss_mode
    if mode not in core_algos.POLICY_LOSS_REGISTRY:
        raise ValueError(f"train.actor.policy_loss.loss_mode={mode!r}; valid: "
                         f"{', '.join(sorted(core_algos.POLICY_LOSS_REGISTRY))}")
    prompts, mini, n = int(cfg.data.train_batch_size), int(cfg.actor.ppo_mini_batch_size), int(cfg.rollout.n)
    if prompts % mini:
        raise ValueError(f"train.data.train_batch_size={prompts} must be a multiple of "
                         f"train.actor.ppo_mini_batch_size={mini}")
    needs_group = "index" in estimator(cfg.algorithm.adv_estimator)[1]
    if needs_group and n < 2:
        raise ValueError(f"adv_estimator={cfg.algorithm.adv_estimator} compares samples of one prompt: "
                         f"set train.rollout.n >= 2")
    actor_config(cfg)    # verl's own validation (loss_agg_mode, batch sizes)
    algo_config(cfg)
