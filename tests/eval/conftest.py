"""Eval test fixtures: a tiny random model whose greedy output varies from token to token."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def varied_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """`tiny_model_dir` with its own (untied) random output head.

    With tied embeddings a random model mostly repeats its last token ("\\n\\n\\n..."), which
    makes batched-vs-single and stop-string tests vacuous; an untied head says varied things.
    """
    from tiny_model import untied_copy

    return untied_copy(tiny_model_dir, tmp_path_factory.mktemp("models") / "tiny-untied")
