"""Read the composed `params.yaml`: one source of truth for every stage.

A section comes back read-only and in struct mode, so a typo in a key fails loudly
(`Key 'lenght' is not in struct`) instead of silently reading a default.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

PARAMS_FILE = os.environ.get("LMFORGE_PARAMS", "params.yaml")


def load(path: str | Path = PARAMS_FILE) -> DictConfig:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: params file not found; run `make params` or `dvc exp run`")
    cfg = OmegaConf.load(path)
    OmegaConf.set_readonly(cfg, True)
    OmegaConf.set_struct(cfg, True)
    return cfg


def section(name: str, path: str | Path = PARAMS_FILE) -> DictConfig:
    cfg = load(path)
    if name not in cfg:
        raise KeyError(f"{path}: no section {name!r}; sections: {sorted(cfg.keys())}")
    return cfg[name]


def to_dict(cfg: Any) -> Any:
    """Plain python containers (for W&B config, json dumps, library kwargs)."""
    if isinstance(cfg, DictConfig) or OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg
