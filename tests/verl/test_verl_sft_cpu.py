"""verl's real SFT trainer on this CPU through the backend, end to end: compose -> torchrun
verl.trainer.sft_trainer -> verl's FSDP checkpoint -> verl's model merger -> models/policy.

`train.verl.device=cpu`: the backend loads the project's CPU platform through verl's own plugin
hook (verl/plugins/lmforge_verl_cpu.py) and verl/presets/cpu/sft.yaml selects verl's FSDP2
engine on it; verl itself is not modified. The RL trainer on CPU: test_verl_rl_cpu.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stages.train import verl_backend
from stages.train.verl_backend import VerlRunError


@pytest.fixture
def cpu_verl(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    return ["train.verl.device=cpu", "train.max_steps=3", "train.save_steps=-1",
            "train.per_device_batch_size=4", "train.grad_accum=2", "train.max_length=96",
            "train.lr=1e-3", "train.eval_steps=0"]


class Curves:
    """What stages.train.curves.Curves receives, kept in memory."""

    def __init__(self):
        self.rows = []

    def log(self, metrics, step):
        self.rows.append((step, metrics))


@pytest.mark.slow
def test_sft_through_verl_on_cpu_writes_a_policy(verl_params, cpu_verl):
    import torch
    from safetensors.torch import load_file

    from stages.models import load

    cfg = verl_params("sft", *cpu_verl)
    curves = Curves()
    metrics = verl_backend.train(cfg, curves=curves)

    losses = [m["train/loss"] for _, m in sorted(curves.rows, key=lambda r: r[0]) if "train/loss" in m]
    assert metrics["steps"] == 3 and len(losses) == 3 and losses[-1] < losses[0]   # it learned
    assert metrics["train/loss"] == losses[-1] and "val/loss" in metrics

    ckpt = Path(cfg.paths.checkpoints)
    assert (ckpt / "latest_checkpointed_iteration.txt").read_text().strip() == "3"
    shard = torch.load(ckpt / "global_step_3" / "model_world_size_1_rank_0.pt", weights_only=False)
    policy = Path(cfg.paths.models) / "policy"
    merged = load_file(policy / "model.safetensors")
    assert set(shard) - set(merged) == {"lm_head.weight"}     # tied to the embeddings, saved once
    for name in merged:                                     # the merger's output is the shard, in bf16
        full = shard[name].full_tensor() if hasattr(shard[name], "full_tensor") else shard[name]
        torch.testing.assert_close(merged[name], full.to(torch.bfloat16))
    base = load_file(Path(cfg.paths.models) / "base" / "model.safetensors")
    assert any(not torch.equal(base[k].to(torch.bfloat16), merged[k]) for k in merged)   # trained

    model, tok = load(policy)                               # what eval does with it
    assert tok.eos_token == "<|im_end|>" and tok.chat_template and tok.pad_token
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert json.loads((policy / "lmforge_train.json").read_text())["train"]["algo"] == "sft"
    assert "engine:" in (policy / "verl_config.yaml").read_text()


@pytest.mark.slow
def test_a_verl_failure_raises_with_the_log_tail(verl_params, cpu_verl, verl_workspace, tmp_path):
    """A parquet without the `messages` column passes the file checks, then verl's dataset fails."""
    import polars as pl

    fmt = tmp_path / "fmt" / "sft"
    fmt.mkdir(parents=True)
    for split in ("train", "val"):
        pl.DataFrame({"id": ["a", "b"], "text": ["x", "y"]}).write_parquet(fmt / f"{split}.parquet")
    cfg = verl_params("sft", *cpu_verl, f"paths.format={tmp_path / 'fmt'}")
    with pytest.raises(VerlRunError) as e:
        verl_backend.train(cfg)
    assert "exited with" in str(e.value) and "messages" in str(e.value)
    assert not (Path(cfg.paths.models) / "policy").exists()


def test_launch_streams_and_propagates_failure(tmp_path, capsys):
    code = "import sys\nfor i in range(100): print('line', i)\nsys.exit(3)"
    with pytest.raises(VerlRunError) as e:
        verl_backend.launch([sys.executable, "-c", code], {"PATH": "/usr/bin:/bin"}, tmp_path / "x.log",
                            tail_lines=5)
    msg = str(e.value)
    assert "exited with 3" in msg and "line 99" in msg and "line 94" not in msg   # only the tail
    assert "line 0" in capsys.readouterr().out                                     # streamed
    assert (tmp_path / "x.log").read_text().count("line") == 100                    # all logged
