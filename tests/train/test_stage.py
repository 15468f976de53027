"""Every algorithm through the real stage (`python -m stages.train` on a temp workspace):
it must learn on a toy task where learning is checkable, and leave a loadable policy.

The RL algorithms start from `digit_base_dir` (answers a random digit) and must raise the
reward of answering "7" from < 0.3 to > 0.7 (train_toy explains the task).
"""
from __future__ import annotations

import pytest
from policy_checks import assert_loadable_policy, metrics
from train_workspace import make_workspace, run_stage

OFFLINE_STEPS = ["train.max_steps=16", "train.save_steps=8", "train.eval_steps=0", "train.logging_steps=1"]
PREF = {"dpo": ["train.lr=3e-3", "train.beta=0.1"], "kto": ["train.lr=3e-3", "train.beta=0.1"],
        "orpo": ["train.lr=1e-2", "train.beta=1.0"]}   # ORPO's SFT term needs the larger step
RL = ["train.max_steps=30", "train.save_steps=30", "train.lr=3e-3", "train.reward=[{name: exact}]",
      "train.data.max_response_length=3", "train.val_rows=10", "train.rollout.n=8",
      "train.data.train_batch_size=8", "train.actor.ppo_mini_batch_size=8",
      "train.actor.ppo_micro_batch_size_per_gpu=64"]


def test_sft_loss_falls(workspace):
    ws = workspace(["train=sft", *OFFLINE_STEPS, "train.lr=3e-3"])
    run_stage(ws)
    m = metrics(ws)
    assert m["steps"] == 16 and m["algo"] == "sft"
    assert m["train_loss_last"] < 0.8 * m["train_loss_first"], m      # e.g. 10.7 -> 8.0
    assert m["eval_loss"] < 0.8 * m["train_loss_first"], m           # held-out rows too
    curve = (ws / "reports/plots/train/plots/metrics/loss.tsv").read_text().splitlines()
    assert len(curve) == 1 + 16                      # header + one row per step
    assert_loadable_policy(ws)


@pytest.mark.parametrize("algo", sorted(PREF))
def test_preference_accuracy_rises(workspace, algo):
    ws = workspace([f"train={algo}", *OFFLINE_STEPS, *PREF[algo]])
    run_stage(ws)
    m = metrics(ws)
    assert m["pref_accuracy_before"] < 0.3, m       # the random model prefers the shorter answer
    assert m["pref_accuracy_after"] > 0.9, m
    assert m["pref_margin_after"] > m["pref_margin_before"] + 5, m
    assert_loadable_policy(ws)


def test_reward_model_separates_held_out_pairs(workspace):
    ws = workspace(["train=rm", *OFFLINE_STEPS, "train.lr=1e-3"])
    run_stage(ws)
    m = metrics(ws)
    assert m["rm_accuracy_after"] > 0.9, m
    assert m["train_loss_last"] < m["train_loss_first"], m
    assert (ws / "models/policy/reward_model/config.json").exists()
    assert_loadable_policy(ws)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["grpo", "ppo", "rloo", "reinforce_pp", "remax"])
def test_rl_mean_reward_rises(tmp_path, digit_base_dir, algo):
    import train_toy

    ws = make_workspace(tmp_path / "ws", digit_base_dir, [f"train={algo}", *RL],
                        train_toy.write_digit_format_dir)
    run_stage(ws)
    m = metrics(ws)
    assert m["reward_mean_first"] < 0.3, m
    assert m["reward_mean_last"] > 0.7, m
    assert m["val_reward_before"] < 0.3 and m["val_reward_after"] > 0.7, m
    for name in ("reward/mean", "reward/std", "entropy", "clip_frac", "response_length", "tokens_per_s"):
        assert (ws / f"reports/plots/train/plots/metrics/{name}.tsv").exists(), name
    assert_loadable_policy(ws)
