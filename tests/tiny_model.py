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
