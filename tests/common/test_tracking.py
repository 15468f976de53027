"""W&B: one real offline run dir per stage run, params as config, metrics as summary, no secrets."""
from __future__ import annotations

import json
import time
from pathlib import Path

from stages.common import tracking


def test_offline_run_dir_has_config_and_summary(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_CANARY_secret_123")
    monkeypatch.setenv("DVC_EXP_NAME", "exp-test")
    config = {"threshold": 0.8, "token_field": "hf_CANARY_secret_123"}
    with tracking.stage_run("dedup", config=config, track={"project": "t", "mode": "auto", "dir": str(tmp_path)}) as run:
        run.log({"loss": 1.0}, step=0)
        run.summary({"rows_kept": 7, "by_rule": {"dup": 3}})
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    blob = _run_bytes(runs[0], until=b"rows_kept")
    assert b"hf_CANARY_secret_123" not in blob                 # scrubbed from config, nothing else leaks
    assert b"rows_kept" in blob
    assert b"exp-test" in blob and b"dedup" in blob


def _run_bytes(run_dir: Path, until: bytes, timeout_s: float = 15.0) -> bytes:
    """W&B's service flushes the run file asynchronously after finish(): poll until it lands."""
    deadline = time.monotonic() + timeout_s
    while True:
        blob = b"".join(p.read_bytes() for p in run_dir.rglob("*") if p.is_file())
        if until in blob or time.monotonic() > deadline:
            return blob
        time.sleep(0.2)


def test_mode_resolution(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert tracking.resolve_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert tracking.resolve_mode("auto") == "online"
    assert tracking.resolve_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert tracking.resolve_mode("online") == "offline"
