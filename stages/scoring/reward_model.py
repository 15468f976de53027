"""A trained reward model's scalar for prompt + completion: read one way by the learned RL
reward (stages.rewards.learned) and the preference win rate (stages.eval.winrate).

It lives here, below rewards and eval, so the win-rate stage's import closure holds this file
only, not every reward module (the rewards package imports all of its modules to register them).

`path` is an HF sequence-classification dir with one label and a tokenizer (what train=rm
writes to ${paths.models}/policy/reward_model). Models are cached per path; scoring is
deterministic and unbatched (a pad token that is also the end-of-turn token would make a
padded batch score the wrong position).
"""
from __future__ import annotations

from functools import lru_cache


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
