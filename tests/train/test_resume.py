"""Crash safety: SIGKILL the real stage mid-training, rerun it, and it resumes from the last
complete checkpoint (TRL's for SFT, the RL loop's own for GRPO)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from train_workspace import make_workspace, run_stage, stage_env
from stages.train import checkpoints

CASES = {
    "sft": ["train=sft", "train.max_steps=12", "train.save_steps=3", "train.eval_steps=0", "train.logging_steps=1"],
    "grpo": ["train=grpo", "train.max_steps=12", "train.save_steps=3", "train.data.max_response_length=4",
             "train.val_rows=4", "train.reward=[{name: length, max_chars: 20}]"],
}


def kill_after_first_checkpoint(ws, timeout: float = 300) -> int:
    """Start the stage, SIGKILL it once a complete checkpoint exists; return that step."""
    proc = subprocess.Popen([sys.executable, "-m", "stages.train"], cwd=ws, env=stage_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            last = checkpoints.last_checkpoint(ws / "checkpoints" / "train") \
                if (ws / "checkpoints" / "train").exists() else None
            if last is not None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return int(last.name.rpartition("-")[2])
            if proc.poll() is not None:
                pytest.fail(f"stage exited ({proc.returncode}) before writing a checkpoint")
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail("no checkpoint within the timeout")


@pytest.mark.slow
@pytest.mark.parametrize("algo", sorted(CASES))
def test_sigkill_then_rerun_resumes(tmp_path, tiny_model_dir, algo):
    ws = make_workspace(tmp_path / "ws", tiny_model_dir, CASES[algo])
    killed_at = kill_after_first_checkpoint(ws)
    assert 3 <= killed_at < 12
    assert not (ws / "models" / "policy").exists()          # nothing half-written as if complete
    proc = run_stage(ws)
    assert "resuming from" in proc.stdout + proc.stderr
    m = json.loads((ws / "reports/metrics/train.json").read_text())
    assert m["resumed_from_step"] >= killed_at and m["steps"] == 12, m
    first = (ws / "reports/plots/train/plots/metrics/loss.tsv").read_text().splitlines()[1]
    assert int(first.split("\t")[0]) > m["resumed_from_step"]   # no step was trained twice
    assert (ws / "models" / "policy" / "config.json").exists()
