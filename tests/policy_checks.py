"""Checks on a trained policy dir shared by the train-stage and experiment tests."""
from __future__ import annotations

import json
from pathlib import Path


def metrics(ws: Path) -> dict:
    return json.loads((ws / "reports" / "metrics" / "train.json").read_text())


def assert_loadable_policy(ws: Path) -> None:
    """The policy dir loads exactly like the base (stages.models.load) and generates."""
    import torch

    from stages.models import load

    model, tok = load(ws / "models" / "policy")
    ids = tok.apply_chat_template([{"role": "user", "content": "1"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    assert torch.isfinite(model(**ids).logits).all()
    saved = json.loads((ws / "models" / "policy" / "lmforge_train.json").read_text())
    assert saved["train"]["algo"] == metrics(ws)["algo"]
