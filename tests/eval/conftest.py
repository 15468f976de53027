"""Eval test fixtures: a tiny random model whose greedy output varies from token to token."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def varied_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """`tiny_model_dir` with its own (untied) random output head.

    With tied embeddings a random model mostly repeats its last token ("\\n\\n\\n..."), which
    makes batched-vs-single and stop-string tests vacuous; an untied head says varied things.
    """
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("models") / "tiny-untied"
    shutil.copytree(tiny_model_dir, out)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.config.tie_word_embeddings = False
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=False)
    torch.nn.init.normal_(head.weight, std=0.02, generator=torch.Generator().manual_seed(1))
    model.lm_head = head
    model.save_pretrained(out)
    return out
