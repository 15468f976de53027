"""Learned reward: the scalar a trained reward model (train=rm) gives prompt + completion.

    reward: [{name: reward_model, weight: 1.0, path: models/rm}]

`path` is an HF sequence-classification dir with one label and a tokenizer (what train=rm
writes to ${paths.models}/policy/reward_model). `extra["prompt"]` must hold the prompt
messages (the RL loop passes them). Models are cached per path; scoring is deterministic.
"""
from __future__ import annotations

from functools import lru_cache

from stages.rewards import REWARDS


@lru_cache(maxsize=2)
def load(path: str):
    """(model, tokenizer) of a saved reward model, in eval mode."""
    from pathlib import Path

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (Path(path) / "config.json").exists():
        raise FileNotFoundError(f"{path}: no reward model here (config.json missing); train one with "
                                f"`dvc exp run -S train=rm` and point reward[].path at its reward_model dir")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


def score(model, tok, prompt: list[dict], completion: list[dict]) -> float:
    """The reward model's scalar for one conversation (prompt messages + answer messages)."""
    import torch

    ids = tok.apply_chat_template(prompt + completion, tokenize=True, return_dict=False)
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], device=model.device))
    return float(out.logits[0, 0])


@REWARDS.register("reward_model")
def reward_model(completion: str, ground_truth: str | None, extra: dict) -> float:
    if "path" not in extra:
        raise ValueError("reward_model reward needs `path` (the reward model dir) in its train.reward entry")
    if "prompt" not in extra:
        raise ValueError("reward_model reward needs the prompt messages in extra['prompt']")
    model, tok = load(str(extra["path"]))
    return score(model, tok, list(extra["prompt"]), [{"role": "assistant", "content": completion}])
