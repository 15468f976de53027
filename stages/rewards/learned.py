"""Learned reward: the scalar a trained reward model (train=rm) gives prompt + completion.

    reward: [{name: reward_model, weight: 1.0, path: models/rm}]

`path` is an HF sequence-classification dir with one label and a tokenizer (what train=rm
writes to ${paths.models}/policy/reward_model). `extra["prompt"]` must hold the prompt
messages (the RL loop passes them). Loading and scoring are stages.scoring.reward_model's,
shared with the preference win rate (stages.eval.winrate).
"""
from __future__ import annotations

from stages.rewards import REWARDS
from stages.scoring.reward_model import load, score

__all__ = ["load", "score", "reward_model"]


@REWARDS.register("reward_model")
def reward_model(completion: str, ground_truth: str | None, extra: dict) -> float:
    if "path" not in extra:
        raise ValueError("reward_model reward needs `path` (the reward model dir) in its train.reward entry")
    if "prompt" not in extra:
        raise ValueError("reward_model reward needs the prompt messages in extra['prompt']")
    model, tok = load(str(extra["path"]))
    return score(model, tok, list(extra["prompt"]), [{"role": "assistant", "content": completion}])
