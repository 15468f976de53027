"""Read the composed `params.yaml`: one source of truth for every stage.

A section comes back read-only and in struct mode, so a typo in a key fails loudly
(`Key 'lenght' is not in struct`) instead of silently reading a default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Alias:
    """A schema entry for a name the section does not take but a user may well write (another
    library's name for one of its keys, e.g. TRL's `learning_rate` for `train.lr`): using it,
    or a typo of it, fails naming the key to write instead."""
    key: str             # the section's own key
    note: str = ""       # e.g. "TRL's learning_rate is train.lr"


def check_keys(section: Any, schema: Any, where: str) -> Any:
    """Fail on a key the code does not read, naming the nearest valid one; returns `section`.

    `schema`: a collection of key names, a dataclass (its fields), or a dict of key -> sub-schema
    (None: any value; `"*"` as the only key: every key of the section takes that sub-schema),
    or `[sub]`: a list each item of which takes `sub`, or a function of the section returning
    its schema (the keys depend on a value, e.g. `train.trainer`); an `Alias` value marks a
    name that is not a key but points at one. Keys only, never defaults: those live in params/.
    A level's own keys are checked before the levels below it.
    """
    if callable(schema) and not hasattr(schema, "__dataclass_fields__"):
        schema = schema(section)
    if isinstance(schema, list) and isinstance(section, list):
        for i, item in enumerate(section):
            check_keys(item, schema[0], f"{where}[{i}]")
        return section
    if schema is None or not isinstance(section, dict):
        return section
    if hasattr(schema, "__dataclass_fields__"):
        schema = dict.fromkeys(schema.__dataclass_fields__)
    elif not isinstance(schema, dict):
        schema = dict.fromkeys(schema)
    if set(schema) == {"*"}:
        for k, v in section.items():
            check_keys(v, schema["*"], f"{where}.{k}")
        return section
    valid = sorted(str(k) for k, v in schema.items() if not isinstance(v, Alias))
    for k in section:
        if k not in schema or isinstance(schema[k], Alias):
            raise KeyError(f"{where}.{k}: unknown key{_nearest(str(k), schema)}; valid: {', '.join(valid)}")
    for k, v in section.items():
        check_keys(v, schema[k], f"{where}.{k}")
    return section


def _nearest(key: str, schema: dict) -> str:
    import difflib

    near = difflib.get_close_matches(key, [str(k) for k in schema], n=1, cutoff=0.5)
    if not near:
        return ""
    alias = schema.get(near[0])
    if isinstance(alias, Alias):
        return f" (did you mean {alias.key!r}? {alias.note})" if alias.note else f" (did you mean {alias.key!r}?)"
    return f" (did you mean {near[0]!r}?)"


def select(cfg: Any, dotted: str) -> Any:
    """`cfg` at a dotted path (`data.quality`), plain containers; a missing key names the path."""
    node = cfg
    for i, part in enumerate(dotted.split(".")):
        if not OmegaConf.is_config(node) or part not in node:
            raise KeyError(f"params.yaml: no key {'.'.join(dotted.split('.')[:i + 1])!r}; "
                           f"run `make params` or check params/")
        node = node[part]
    return to_dict(node)
