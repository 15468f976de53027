"""bf16 autocast training (what `train.bf16: auto` picks on a CPU with AVX512-BF16 or AMX, and on
bf16 CUDA devices) follows the float32 loss curve on the same data, steps and seed.

    pytest -q tests/train/test_bf16.py
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from stages.models.loading import generation_dtype
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
    # the bf16 run saves the weights its autocast loss saw; the float32 run its float32 weights
    on_grid = {run: linear_weights_on_bf16_grid(tmp_path / run / "policy") for run in ("fp32", "bf16")}
    assert on_grid == {"fp32": False, "bf16": True}, on_grid
    served = {run: generation_dtype(tmp_path / run / "policy", "auto") for run in ("fp32", "bf16")}
    assert served == {"fp32": "float32", "bf16": "bfloat16"}, served     # each as it was trained


def linear_weights_on_bf16_grid(policy_dir: Path) -> bool:
    import torch
    from safetensors.torch import load_file

    weights = load_file(policy_dir / "model.safetensors")
    linear = [w for name, w in weights.items() if name.endswith("proj.weight")]
    assert len(linear) >= 7 and all(w.dtype == torch.float32 for w in linear)
    return all(torch.equal(w, w.bfloat16().float()) for w in linear)


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


def _off_grid(model, seed: int = 0) -> None:
    """Move every weight off the bf16 grid, as float32 training leaves its masters."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 1e-3)


def test_export_rounds_what_autocast_cast_and_nothing_else(tmp_path, tiny_model_dir):
    """The policy a bf16-autocast run saves is the function its loss saw: trained linear weights
    on the bf16 grid, autocast's output unchanged, frozen and non-linear weights untouched."""
    import torch
    from transformers import AutoModelForCausalLM

    from tiny_model import untied_copy

    model = AutoModelForCausalLM.from_pretrained(untied_copy(tiny_model_dir, tmp_path / "m"),
                                                 dtype=torch.float32)
    _off_grid(model)
    frozen = model.model.layers[0].mlp.up_proj.weight
    frozen.requires_grad_(False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids = torch.randint(0, model.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        seen = model(input_ids=ids).logits

    linear = {id(p) for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters()}
    trained_linear = {n for n, p in model.named_parameters() if id(p) in linear and p.requires_grad}
    assert modeling.to_autocast_weights(model) == len(trained_linear) > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(model(input_ids=ids).logits, seen)     # the trained function, exactly
    for name, p in model.named_parameters():
        if name in trained_linear:
            assert torch.equal(p, p.bfloat16().float()) and not torch.equal(p, before[name]), name
        else:
            assert torch.equal(p, before[name]), name           # embeddings, norms, the frozen layer
    assert not torch.equal(frozen, frozen.bfloat16().float())


def test_export_rounds_lora_adapters_and_leaves_the_base(tiny_model_dir):
    import torch
    from omegaconf import OmegaConf
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = OmegaConf.create({"peft": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                                     "target_modules": "all-linear"}})
    model = modeling.wrap(model, cfg)
    _off_grid(model)
    base = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert modeling.to_autocast_weights(model) > 0
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert p.requires_grad and torch.equal(p, p.bfloat16().float()), name
        else:
            assert torch.equal(p, base[name]), name


@pytest.mark.skipif(not modeling.bf16_supported(), reason="no native bf16 on this machine")
def test_auto_serves_bf16_only_what_bf16_serves_as_trained(tmp_path, tiny_model_dir):
    """eval.dtype=auto: the base in bf16; a policy in bf16 only if its linear weights are exact
    there (a bf16-autocast export), else in its saved float32 (a float32 or LoRA fine-tune)."""
    import torch
    from omegaconf import OmegaConf
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    lora = OmegaConf.create({"peft": "lora", "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                                      "target_modules": "all-linear"}})

    def saved(name: str, rounded: bool, cfg=OmegaConf.create({"peft": "none"})) -> str:
        model = modeling.wrap(AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32), cfg)
        _off_grid(model)
        if rounded:
            modeling.to_autocast_weights(model)
        modeling.save_policy(model, tok, tmp_path / name, {"train": {"algo": name}})
        return generation_dtype(tmp_path / name, "auto")

    assert generation_dtype(tiny_model_dir, "auto") == "bfloat16"
    assert saved("float32", rounded=False) == "float32"
    assert saved("bf16_autocast", rounded=True) == "bfloat16"
    assert saved("lora_bf16_autocast", rounded=True, cfg=lora) == "float32"   # merged into float32 W
    assert generation_dtype(tmp_path / "float32", "bfloat16") == "bfloat16"    # an explicit dtype wins
