"""What made this result: git rev, DVC experiment, params hash, data/model hashes, changed params.

A report that cannot name the code, params and data that produced it cannot be trusted, so this
section comes first and every field says "unknown" rather than disappearing.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml


def git_rev(cwd: Path | None = None) -> str:
    """Short HEAD sha, with `+dirty` when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        rev = git("rev-parse", "--short=10", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout, or no commit yet)"
    try:
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except subprocess.CalledProcessError:
        dirty = False
    return rev + ("+dirty" if dirty else "")


def experiment_name() -> str:
    """DVC sets DVC_EXP_NAME while it runs `dvc exp run`; a plain `dvc repro` has none."""
    return os.environ.get("DVC_EXP_NAME") or "workspace (dvc repro, not an experiment)"


def params_hash(params: dict) -> str:
    """sha256 of the canonical JSON of the composed params: equal params, equal hash."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def lock_hashes(lock_path: Path) -> list[dict[str, str]]:
    """Each out DVC recorded in dvc.lock: stage, path, md5 (dirs end in `.dir`), size."""
    if not lock_path.exists():
        return []
    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}
    rows = []
    for stage, entry in sorted((lock.get("stages") or {}).items()):
        for out in entry.get("outs") or []:
            md5 = out.get("md5") or out.get("hash") or ""
            rows.append({"stage": stage, "path": out["path"], "md5": md5,
                         "size": out.get("size"), "nfiles": out.get("nfiles")})
    return rows


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}, 's': [{'rows': 2}]} -> {'a.b': 1, 's[0].rows': 2}.

    Lists of dicts (e.g. `data.sources`) are opened up so a diff names the one field that changed;
    lists of scalars stay whole values.
    """
    if not isinstance(d, dict):
        return {prefix: d} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for i, item in enumerate(v):
                out.update(flatten(item, f"{key}[{i}]"))
        else:
            out[key] = v
    return out


def default_params(config_dir: Path) -> dict | None:
    """The defaults list composed by DVC's own Hydra function (what `make params` writes)."""
    if not (config_dir / "config.yaml").exists():
        return None
    from dvc.utils.hydra import compose_and_dump

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose_and_dump(out, str(config_dir.resolve()), None, "config", "", [])
        return yaml.safe_load(out.read_text(encoding="utf-8"))


def params_diff(current: dict, defaults: dict) -> list[dict[str, Any]]:
    """Params whose value differs from the defaults: key, default (or absent), this run."""
    now, base = flatten(current), flatten(defaults)
    keys = sorted(set(now) | set(base))
    rows = []
    for key in keys:
        a, b = base.get(key, _ABSENT), now.get(key, _ABSENT)
        if a == b or _replaced_by_children(key, a, b, keys):
            continue
        rows.append({"key": key, "default": a, "value": b})
    return rows


def _replaced_by_children(key: str, a: Any, b: Any, keys: list[str]) -> bool:
    """`model.architecture: null` in one, a dict in the other: its children's rows say it all."""
    empty = (None, _ABSENT, {}, [])
    return a in empty and b in empty and any(k.startswith(key + ".") or k.startswith(key + "[") for k in keys)


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()
ABSENT = _ABSENT
