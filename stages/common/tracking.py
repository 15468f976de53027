"""One W&B run per stage run: project from params, group = DVC experiment (or git rev),
job_type = stage, config = the params the stage read, summary = its metrics.

Offline unless WANDB_API_KEY is set or `track.mode` says otherwise; `disabled` for tests.
Secrets are never passed to W&B: config is params only, and W&B's own environment and
code capture are off.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

SECRET_ENV = ("WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY")


def resolve_mode(configured: str | None) -> str:
    mode = os.environ.get("WANDB_MODE") or configured or "auto"
    if mode == "auto":
        return "online" if os.environ.get("WANDB_API_KEY") else "offline"
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"track.mode={mode!r}: valid: auto, online, offline, disabled")
    return mode


def experiment_group() -> str:
    """DVC sets DVC_EXP_NAME while it runs an experiment; otherwise the git revision."""
    if os.environ.get("DVC_EXP_NAME"):
        return os.environ["DVC_EXP_NAME"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() or "workspace"
    except (OSError, subprocess.CalledProcessError):
        return "workspace"


@dataclass
class StageRun:
    wandb_run: Any = None
    summary_data: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def seconds(self) -> float:
        """Wall time of the stage so far: every stage reports it as `seconds` in its metrics."""
        return round(time.monotonic() - self.started, 2)

    def log(self, metrics: dict, step: int | None = None) -> None:
        if self.wandb_run is not None:
            self.wandb_run.log(metrics, step=step)

    def summary(self, metrics: dict) -> None:
        self.summary_data.update(metrics)
        if self.wandb_run is not None:
            self.wandb_run.summary.update(_flatten(metrics))


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def _scrub(obj: Any) -> Any:
    """Drop any value equal to a secret in the environment (belt and braces: params hold none)."""
    secrets = {os.environ[k] for k in SECRET_ENV if os.environ.get(k)}
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return "<redacted>" if isinstance(obj, str) and obj in secrets else obj


@contextlib.contextmanager
def stage_run(stage: str, config: dict, track: Any = None) -> Iterator[StageRun]:
    """`track` is the params `track` section (project, mode, dir)."""
    track = track or {}
    mode = resolve_mode(track.get("mode"))
    if mode == "disabled":
        yield StageRun()
        return
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    root = Path(track.get("dir") or "wandb_runs")
    root.mkdir(parents=True, exist_ok=True)
    settings = wandb.Settings(mode=mode, x_disable_stats=True, x_disable_meta=True,
                              save_code=False, disable_git=True, console="off")
    run = wandb.init(project=track.get("project", "lmforge"), group=experiment_group(),
                     job_type=stage, name=f"{stage}-{experiment_group()}", dir=str(root),
                     config=_scrub(config), settings=settings, reinit="create_new")
    state = StageRun(wandb_run=run)
    try:
        yield state
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
