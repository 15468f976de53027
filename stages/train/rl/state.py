"""Checkpoints of the RL loop: trainable weights, optimisers, schedulers, RNG, step.

`checkpoint-<step>/` appears at once (written to a temp dir, then renamed), with
state.json inside, so a SIGKILL leaves either the whole checkpoint or none of it.
Only trainable parameters are saved (LoRA: the adapter; full: every weight).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from stages.common import io


def _state(obj: Any) -> dict:
    import torch

    if isinstance(obj, torch.nn.Module):
        return {n: p.detach().cpu() for n, p in obj.named_parameters() if p.requires_grad}
    return obj.state_dict()


def _load(obj: Any, state: dict, name: str) -> None:
    import torch

    if isinstance(obj, torch.nn.Module):
        trainable = {n for n, p in obj.named_parameters() if p.requires_grad}
        if set(state) != trainable:
            raise ValueError(f"checkpoint {name}: trainable parameters differ from the model's "
                             f"({len(set(state) ^ trainable)} names); was train.peft changed?")
        obj.load_state_dict(state, strict=False)
    else:
        obj.load_state_dict(state)


def save(checkpoint_dir: Path, step: int, objects: dict, extra: dict, keep: int) -> Path:
    import torch

    path = Path(checkpoint_dir) / f"checkpoint-{step}"
    with io.atomic_path(path, is_dir=True) as tmp:
        for name, obj in objects.items():
            torch.save(_state(obj), Path(tmp) / f"{name}.pt")
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, Path(tmp) / "rng.pt")
        io.write_json({"step": step, **extra}, Path(tmp) / "state.json")
    _rotate(Path(checkpoint_dir), keep)
    return path


def load(path: Path, objects: dict) -> dict:
    """Restore `objects` from `path`; returns state.json (step and extras)."""
    import torch

    for name, obj in objects.items():
        _load(obj, torch.load(Path(path) / f"{name}.pt", map_location="cpu", weights_only=False), name)
    rng = torch.load(Path(path) / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return io.read_json(Path(path) / "state.json")


def _rotate(checkpoint_dir: Path, keep: int) -> None:
    done = sorted((int(p.name.rpartition("-")[2]), p) for p in checkpoint_dir.glob("checkpoint-*")
                  if p.name.rpartition("-")[2].isdigit() and (p / "state.json").exists())
    for _, p in done[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
