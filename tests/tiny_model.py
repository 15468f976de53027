"""The smoke profile's tiny random model, built from params/model/tiny-random.yaml."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tiny_model_params() -> dict:
    """The smoke profile's model group (params/model/tiny-random.yaml): one source of truth."""
    import yaml

    return yaml.safe_load((REPO / "params/model/tiny-random.yaml").read_text())


def build_tiny(out: Path, seed: int = 0) -> Path:
    from stages.models import build_random

    p = tiny_model_params()
    build_random(p["architecture"], p["tokenizer_source"], out, seed=seed)
    return out


def untied_copy(src, out):
    """A copy of the tiny model at `out` with an untied random output head: varied, non-empty
    greedy text (the tied head of a random model repeats one token)."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    shutil.copytree(src, out)
    model = AutoModelForCausalLM.from_pretrained(src)
    model.config.tie_word_embeddings = False
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=False)
    torch.nn.init.normal_(head.weight, std=0.02, generator=torch.Generator().manual_seed(1))
    model.lm_head = head
    model.save_pretrained(out)
    return out
