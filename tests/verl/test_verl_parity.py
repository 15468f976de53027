"""The local RL loop and verl compute the same rewards and advantages for the same batch.

One batch of real GSM8K completions (several prompts x rollout.n responses, right and wrong
answers mixed per group) goes both ways:
  local   stages.train.rl: scoring.score (reward registry -> token-level scores) and
          advantage.compute with the estimator and AlgoConfig built from params `train`
  verl    the composed verl config: RewardLoopWorker loading verl/reward.py, the reward
          manager's assemble_rm_scores, then compute_advantage_for_multi_trajectories, the
          function verl's v1 trainer calls (_compute_advantage), with config.algorithm
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stages.train import verl_config
from verl_helpers import RL_ALGOS, gsm8k_rows, wrong_gsm8k, batch

PATTERNS = [(1, 0, 0, 0), (1, 1, 0, 0), (1, 1, 1, 0), (0, 0, 0, 0), (1, 0, 1, 0), (0, 1, 1, 1)]


def _rows(datasets_dir, n: int):
    """len(PATTERNS) prompts x n responses; pattern bit 1 = the reference solution."""
    rows, uids = [], []
    for p, (r, bits) in enumerate(zip(gsm8k_rows(datasets_dir, len(PATTERNS)), PATTERNS)):
        for j in range(n):
            good = bits[j % len(bits)] if n > 1 else p % 2
            rows.append({"data_source": "gsm8k", "prompt": r["question"], "ground_truth": r["gold"],
                         "response": r["answer"] if good else wrong_gsm8k(r["answer"]), "id": r["id"]})
            uids.append(f"p{p}")
    return rows, uids


@pytest.mark.parametrize("algo", RL_ALGOS)
def test_rewards_and_advantages_match(verl_params, datasets_dir, algo):
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop import RewardLoopWorker, migrate_legacy_reward_impl
    from verl.trainer.ppo.reward import resolve_reward_manager_cls
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    from stages.train.rl import advantage, rollout, scoring
    from stages.train.rl import config as rl_config

    cfg = verl_params(algo)
    c = verl_config.compose(cfg).config
    n = int(cfg.train.rollout.n)
    rows, uids = _rows(datasets_dir, n)
    tok = AutoTokenizer.from_pretrained(c.actor_rollout_ref.model.path)
    data, t = batch(tok, rows, uids)
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(t["responses"].shape, generator=gen) * t["response_mask"]    # a critic's (gae)
    baselines = torch.tensor([float(i % 2) for i in range(len(rows))])                # greedy rewards (remax)

    # local: the RL loop's own scoring and estimator call
    ro = rollout.Rollout(input_ids=None, attention_mask=t["attention_mask"], position_ids=None,
                         responses=t["responses"], response_mask=t["response_mask"], texts=t["texts"],
                         rows=[{k: r[k] for k in ("id", "data_source", "ground_truth")} for r in rows],
                         index=np.array(uids, dtype=object))
    scores, token_scores = scoring.score(ro, scoring.reward_fn(cfg.train))
    fn, _ = rl_config.estimator(cfg.train.algorithm.adv_estimator)
    adv, ret = advantage.compute(fn, rl_config.algo_config(cfg.train), token_level_rewards=token_scores,
                                 response_mask=t["response_mask"], index=ro.index, values=values,
                                 reward_baselines=baselines)

    # verl: reward worker -> rm_scores -> the v1 trainer's advantage function
    worker = RewardLoopWorker(migrate_legacy_reward_impl(c.copy()))
    out = worker.loop.run_until_complete(worker.compute_score_batch(data))
    rm_scores = resolve_reward_manager_cls(c).assemble_rm_scores(data, [o["reward_score"] for o in out])
    data.batch["token_level_rewards"] = rm_scores
    data.batch["values"] = values
    data.batch["reward_baselines"] = baselines
    keys = [f"{u}_{i}_0" for i, u in enumerate(uids)]          # one single-turn session per response
    data = compute_advantage_for_multi_trajectories(
        data, batch_keys=keys, adv_estimator=c.algorithm.adv_estimator, gamma=c.algorithm.gamma,
        lam=c.algorithm.lam, num_repeat=c.actor_rollout_ref.rollout.n,
        norm_adv_by_std_in_grpo=c.algorithm.norm_adv_by_std_in_grpo, config=c.algorithm)

    assert torch.equal(rm_scores, token_scores)
    assert 0 < scores.sum() < len(rows)                       # the batch is not all right or all wrong
    torch.testing.assert_close(data.batch["advantages"], adv, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(data.batch["returns"], ret, rtol=1e-5, atol=1e-6)
    assert adv.abs().sum() > 0                                # and the advantages are not all zero
