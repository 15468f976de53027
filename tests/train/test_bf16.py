"""bf16 autocast training (what `train.bf16: auto` picks on a CPU with AVX512-BF16 or AMX, and on
bf16 CUDA devices) follows the float32 loss curve on the same data, steps and seed.

    pytest -q tests/train/test_bf16.py
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from stages.train import modeling, trainers
from stages.train.context import TrainContext
from stages.train.curves import Curves
from train_toy import write_format_dir
from train_workspace import compose_params

STEPS = 8


def loss_curve(bf16: str, format_dir: Path, base_dir: Path, out: Path) -> list[float]:
    """Per-step SFT train loss of the tiny model, `train.bf16=<bf16>`."""
    cfg = OmegaConf.create(compose_params([f"train.bf16={bf16}", f"train.max_steps={STEPS}",
                                           "train.logging_steps=1", "train.eval_steps=0",
                                           "train.save_steps=1000", "train.lr=1e-3"]))
    ctx = TrainContext(cfg=cfg.train, seed=0, format_dir=format_dir, base_dir=base_dir,
                       policy_dir=out / "policy", checkpoint_dir=out / "checkpoints",
                       curves=Curves(out / "plots"))
    trainers.get("sft")(ctx)
    ctx.curves.close()
    return ctx.curves.series("loss")


@pytest.mark.skipif(not modeling.bf16_supported(), reason="no native bf16 on this machine")
def test_bf16_loss_curve_matches_float32(tmp_path, tiny_model_dir):
    format_dir = write_format_dir(tmp_path / "format", kinds=("sft",))
    fp32 = loss_curve("false", format_dir, tiny_model_dir, tmp_path / "fp32")
    bf16 = loss_curve("true", format_dir, tiny_model_dir, tmp_path / "bf16")
    assert len(fp32) == len(bf16) == STEPS
    assert all(math.isfinite(x) for x in bf16)
    # bf16 rounds activations to 8 mantissa bits: the curves agree to ~1%, not bit for bit
    assert max(abs(a - b) / a for a, b in zip(fp32, bf16)) < 0.03, (fp32, bf16)
    fell_fp32, fell_bf16 = fp32[0] - fp32[-1], bf16[0] - bf16[-1]
    assert fell_bf16 > 0.4 and abs(fell_bf16 - fell_fp32) < 0.2 * fell_fp32, (fp32, bf16)  # learns as much
    assert fp32 != bf16                                 # bf16 really ran (rounding shows)


def test_auto_is_bf16_exactly_where_supported():
    cfg = OmegaConf.create({"bf16": "auto"})
    assert modeling.use_bf16(cfg) == modeling.bf16_supported()
    assert modeling.use_bf16(OmegaConf.create({"bf16": False})) is False
    with pytest.raises(ValueError, match=r"train.bf16='ture': valid: auto, true, false"):
        modeling.check(OmegaConf.create({"bf16": "ture", "peft": "none"}))


def test_the_default_precision_trains_identically_on_a_rerun(tmp_path, tiny_model_dir):
    """`train.bf16=auto` (bf16 autocast where the CPU has bf16 units, else float32): the same
    data, steps and seed give the same loss curve and bit-identical policy weights, so `dvc
    repro` after a cache loss rebuilds the same model."""
    import torch
    from safetensors.torch import load_file

    format_dir = write_format_dir(tmp_path / "format", kinds=("sft",))
    first = loss_curve("auto", format_dir, tiny_model_dir, tmp_path / "a")
    second = loss_curve("auto", format_dir, tiny_model_dir, tmp_path / "b")
    assert len(first) == STEPS and first[0] - first[-1] > 0.4, first      # it trained
    assert first == second
    a, b = (load_file(tmp_path / run / "policy" / "model.safetensors") for run in ("a", "b"))
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[k], b[k]) for k in a)
