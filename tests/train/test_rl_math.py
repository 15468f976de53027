"""The local RL loop's math is verl core_algos': advantages on fixed batches, the PPO clipped
loss on a hand-checked case, and the loop's own batch against a direct core_algos call."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from train_workspace import compose_params


def rl_cfg(algo: str, *overrides: str):
    from omegaconf import OmegaConf

    return OmegaConf.create(compose_params([f"train={algo}", *overrides])).train


def fixed_batch():
    """6 responses in 2 prompt groups, ragged lengths, outcome reward on the last token."""
    g = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]],
                        dtype=torch.float32)
    scores = torch.tensor([1.0, 0.0, 0.0, 0.5, 1.0, 0.0])
    rewards = torch.zeros_like(mask)
    rewards[torch.arange(6), mask.sum(-1).long() - 1] = scores
    values = torch.randn(mask.shape, generator=g) * mask
    return {"token_level_rewards": rewards, "response_mask": mask, "values": values,
            "index": np.array(["a", "a", "a", "b", "b", "b"], dtype=object),
            "reward_baselines": torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])}


# (params file, overrides, the call verl's ray_trainer.compute_advantage makes)
CASES = {
    "grpo": ("grpo", [], lambda ca, b, a: ca.compute_grpo_outcome_advantage(
        token_level_rewards=b["token_level_rewards"], response_mask=b["response_mask"], index=b["index"],
        norm_adv_by_std_in_grpo=True)),
    "dr_grpo": ("dr_grpo", [], lambda ca, b, a: ca.compute_grpo_outcome_advantage(
        token_level_rewards=b["token_level_rewards"], response_mask=b["response_mask"], index=b["index"],
        norm_adv_by_std_in_grpo=False)),
    "gae": ("ppo", [], lambda ca, b, a: ca.compute_gae_advantage_return(
        token_level_rewards=b["token_level_rewards"], values=b["values"], response_mask=b["response_mask"],
        gamma=a.gamma, lam=a.lam)),
    "rloo": ("rloo", [], lambda ca, b, a: ca.compute_rloo_outcome_advantage(
        token_level_rewards=b["token_level_rewards"], response_mask=b["response_mask"], index=b["index"], config=a)),
    "reinforce_pp": ("reinforce_pp", [], lambda ca, b, a: ca.compute_reinforce_plus_plus_outcome_advantage(
        token_level_rewards=b["token_level_rewards"], response_mask=b["response_mask"], config=a)),
    "reinforce_pp_baseline": ("reinforce_pp", ["train.algorithm.adv_estimator=reinforce_plus_plus_baseline"],
        lambda ca, b, a: ca.compute_reinforce_plus_plus_baseline_outcome_advantage(
            token_level_rewards=b["token_level_rewards"], response_mask=b["response_mask"], index=b["index"],
            config=a)),
    "remax": ("remax", [], lambda ca, b, a: ca.compute_remax_outcome_advantage(
        token_level_rewards=b["token_level_rewards"], reward_baselines=b["reward_baselines"],
        response_mask=b["response_mask"], config=a)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_advantages_equal_core_algos(case):
    from verl.trainer.ppo import core_algos

    from stages.train.rl import advantage, config

    algo, overrides, expected_call = CASES[case]
    cfg = rl_cfg(algo, *overrides)
    fn, _ = config.estimator(cfg.algorithm.adv_estimator)
    algo_cfg = config.algo_config(cfg)
    b = fixed_batch()
    got = advantage.compute(fn, algo_cfg, **{k: (v.clone() if torch.is_tensor(v) else v) for k, v in b.items()})
    want = expected_call(core_algos, {k: (v.clone() if torch.is_tensor(v) else v) for k, v in b.items()}, algo_cfg)
    torch.testing.assert_close(got[0], want[0])
    torch.testing.assert_close(got[1], want[1])
    assert got[0].abs().sum() > 0                        # a real, non-trivial batch


def test_grpo_and_dr_grpo_by_hand():
    """Group a: scores (1, 0, 0): mean 1/3, sample std sqrt(1/3)."""
    from stages.train.rl import advantage, config

    b = fixed_batch()
    for algo, scale in (("grpo", 1 / math.sqrt(1 / 3)), ("dr_grpo", 1.0)):
        cfg = rl_cfg(algo)
        adv, _ = advantage.compute(config.estimator("grpo")[0], config.algo_config(cfg), **b)
        expected = torch.tensor([2 / 3, -1 / 3, -1 / 3]) * scale
        torch.testing.assert_close(adv[:3, 0], expected, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(adv[1], torch.tensor([1, 1, 0, 0.0]) * expected[1], atol=1e-4, rtol=1e-4)


def test_ppo_clipped_loss_hand_checked():
    """clip 0.2, dual-clip c=3, token-mean over 4 tokens:
    t0 r=e^.5,  A=+1 -> clipped at 1.2        -> -1.2
    t1 r=e^-.5, A=-1 -> clipped at 0.8        ->  0.8
    t2 r=e^.1,  A=+1 -> inside the clip range -> -e^.1
    t3 r=e^2,   A=-1 -> dual clip: min(3, e^2) ->  3.0
    """
    from verl.trainer.ppo import core_algos

    from stages.train.rl import config

    actor = config.actor_config(rl_cfg("ppo"))
    actor.global_batch_info.clear()
    old = torch.zeros(1, 4)
    new = torch.tensor([[0.5, -0.5, 0.1, 2.0]])
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    loss, m = core_algos.get_policy_loss_fn(actor.policy_loss.loss_mode)(
        old_log_prob=old, log_prob=new, advantages=adv, response_mask=mask, loss_agg_mode=actor.loss_agg_mode,
        config=actor)
    assert loss.item() == pytest.approx((-1.2 + 0.8 - math.exp(0.1) + 3.0) / 4, abs=1e-6)
    assert m["actor/pg_clipfrac"] == pytest.approx(0.5)         # t0, t1
    assert m["actor/pg_clipfrac_lower"] == pytest.approx(0.25)  # t3


def _loop(tmp_path, tiny_model_dir, algo: str, *overrides: str):
    from omegaconf import OmegaConf

    import train_toy
    from stages.train.context import TrainContext
    from stages.train.curves import Curves
    from stages.train.rl.loop import RLLoop

    train_toy.write_format_dir(tmp_path / "format", kinds=("rl",))
    cfg = OmegaConf.create(compose_params([f"train={algo}", "train.reward=[{name: length, max_chars: 40}]",
                                           "train.data.max_response_length=8", "train.data.train_batch_size=4",
                                           "train.actor.ppo_mini_batch_size=4", *overrides])).train
    ctx = TrainContext(cfg=cfg, seed=0, format_dir=tmp_path / "format", base_dir=tiny_model_dir,
                       policy_dir=tmp_path / "policy", checkpoint_dir=tmp_path / "ck", curves=Curves(tmp_path / "pl"))
    return RLLoop(ctx).setup()


@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_loop_batch_matches_core_algos(tmp_path, tiny_model_dir, algo):
    """One real step of the loop: its rewards are the registry's on the decoded texts, its
    advantages are core_algos' on its own batch, and actor_step's pg_loss is core_algos'."""
    from verl.trainer.ppo import core_algos

    from stages import rewards
    from stages.train.rl import forward, update

    torch.manual_seed(0)
    loop = _loop(tmp_path, tiny_model_dir, algo)
    batch, ro, _ = loop.experience(0, {})
    n = int(loop.cfg.rollout.n)
    assert len(ro) == 4 * n and all(len(set(ro.index[i:i + n])) == 1 for i in range(0, len(ro), n))
    scores = torch.tensor([rewards.get("length")(t, None, {"max_chars": 40}) for t in ro.texts])
    mask = batch["response_mask"]
    if not loop.cfg.algorithm.use_kl_in_reward:
        torch.testing.assert_close(batch["token_level_rewards"].sum(-1), scores)
    algo_cfg = loop.algo_cfg
    if algo == "grpo":
        want = core_algos.compute_grpo_outcome_advantage(batch["token_level_rewards"], mask, ro.index)[0]
    else:
        want = core_algos.compute_gae_advantage_return(batch["token_level_rewards"], batch["values"], mask,
                                                       algo_cfg.gamma, algo_cfg.lam)[0]
    torch.testing.assert_close(batch["advantages"], want)

    batch["old_log_probs"] = batch["old_log_probs"] - 0.1 * torch.rand_like(batch["old_log_probs"])
    loop.policy.train()
    with torch.no_grad():
        logp, _ = forward.policy_outputs(loop.policy, batch, float(loop.cfg.rollout.temperature), False)
    loop.actor_cfg.global_batch_info.clear()
    want_loss, _ = core_algos.get_policy_loss_fn("vanilla")(batch["old_log_probs"], logp, batch["advantages"],
                                                            mask.bool(), loop.actor_cfg.loss_agg_mode, loop.actor_cfg)
    got = update.actor_step(loop.policy, loop.optim, batch, loop.actor_cfg, float(loop.cfg.rollout.temperature), 1.0)
    assert got["actor/pg_loss"] == pytest.approx(want_loss.item(), rel=1e-4, abs=1e-6)
