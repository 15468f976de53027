"""Resume after a crash, never across a config change.

The checkpoint dir is a DVC `persist` out, so it survives a rerun. A fingerprint of what
determines training (train params, seed, the input parquet files, the base model) is written
beside the checkpoints; if it differs on the next run the old checkpoints are discarded.
A checkpoint counts only when its last file (trainer_state.json / state.json) parses, so a
kill during a save falls back to the previous one.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from stages.common import io

FINGERPRINT = "fingerprint.json"
STATE_FILES = ("trainer_state.json", "state.json")   # TRL's last file / the RL loop's last file


def fingerprint(config: dict, inputs: list[Path]) -> dict:
    """Config + sha256 of every input file (dirs walked in sorted order)."""
    digests = {}
    for root in inputs:
        files = sorted(p for p in Path(root).rglob("*") if p.is_file()) if Path(root).is_dir() else [Path(root)]
        for f in files:
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digests[str(f)] = h.hexdigest()
    return {"config": config, "inputs": digests}


def prepare(checkpoint_dir: Path, fp: dict) -> Path | None:
    """Make `checkpoint_dir` belong to `fp`; return the last complete checkpoint, if any."""
    checkpoint_dir = Path(checkpoint_dir)
    stored = checkpoint_dir / FINGERPRINT
    same = stored.exists() and _read(stored) == json.loads(json.dumps(fp, default=str))
    if not same and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if not same:
        io.write_json(fp, stored)
    return last_checkpoint(checkpoint_dir)


def finish(checkpoint_dir: Path) -> None:
    """After a complete run the policy is the result: drop the checkpoints, so a forced rerun
    trains from scratch (and reproduces the run) instead of resuming a finished one."""
    checkpoint_dir = Path(checkpoint_dir)
    if checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest `checkpoint-<step>` dir whose state file parses."""
    best, best_step = None, -1
    for d in Path(checkpoint_dir).glob("checkpoint-*"):
        step = d.name.rpartition("-")[2]
        if d.is_dir() and step.isdigit() and int(step) > best_step and _complete(d):
            best, best_step = d, int(step)
    return best


def _complete(d: Path) -> bool:
    for name in STATE_FILES:
        if (d / name).exists():
            return _read(d / name) is not None
    return False


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
