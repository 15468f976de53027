"""Preference win rate: does a reward model prefer the policy's answer to the base model's?

GSM8K, MATH and HumanEval cannot see what DPO / KTO / ORPO change; a reward model trained on
the same kind of preference data (train=rm writes one to ${paths.models}/policy/reward_model,
or any HF sequence-classification dir with one label) judges each held-out prompt's pair of
completions. Win = 1, tie = 1/2, loss = 0 per prompt; the win rate is their mean, with a
Wilson interval (bootstrap when there are ties) and an exact two-sided sign test on the
non-tied prompts (H0: the RM prefers either side equally often).

    from stages.eval.winrate import judge, win_rate
    metrics = win_rate(*judge("models/rm", prompts, policy_texts, base_texts))

Scoring is stages.rewards.learned's (the same scalar the RL reward uses), so the RM is read
one way everywhere.
"""
from __future__ import annotations

from typing import Sequence


def judge(rm_dir: str, prompts: Sequence[list[dict]], policy: Sequence[str],
          base: Sequence[str]) -> tuple[list[float], list[float]]:
    """(policy rewards, base rewards), one per prompt: the RM's scalar for prompt + answer."""
    from stages.rewards.learned import load, score

    if not len(prompts) == len(policy) == len(base):
        raise ValueError(f"win rate: {len(prompts)} prompts, {len(policy)} policy and {len(base)} base "
                         "completions; expected one of each per prompt")
    model, tok = load(str(rm_dir))
    turn = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
    return ([score(model, tok, list(p), turn(c)) for p, c in zip(prompts, policy)],
            [score(model, tok, list(p), turn(c)) for p, c in zip(prompts, base)])


def outcomes(policy: Sequence[float], base: Sequence[float], tie_eps: float = 0.0) -> list[float]:
    """Per prompt: 1 policy preferred, 0 base preferred, 0.5 within `tie_eps` of each other."""
    return [0.5 if abs(p - b) <= tie_eps else float(p > b) for p, b in zip(policy, base)]


def win_rate(policy: Sequence[float], base: Sequence[float], tie_eps: float = 0.0, seed: int = 0) -> dict:
    """{"win_rate", "ci_low", "ci_high", "ci_method", "wins", "losses", "ties", "n", "p_value",
    "mean_margin"} from paired rewards (same prompts, same order)."""
    from scipy.stats import binomtest

    from stages.eval.metrics import mean_ci

    if len(policy) != len(base) or not policy:
        raise ValueError(f"win rate needs paired rewards: {len(policy)} policy vs {len(base)} base")
    out = outcomes(policy, base, tie_eps)
    wins, losses = out.count(1.0), out.count(0.0)
    ci = mean_ci(out, 1, seed)                  # Wilson for 0/1 outcomes, bootstrap with ties
    p = binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    return {"win_rate": ci.pop("accuracy"), **ci, "wins": wins, "losses": losses,
            "ties": len(out) - wins - losses, "n": len(out), "p_value": float(p),
            "mean_margin": sum(a - b for a, b in zip(policy, base)) / len(out)}
