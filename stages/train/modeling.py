"""The model a trainer trains, and the policy dir it leaves behind.

`train.peft: lora` wraps the base in a peft LoRA adapter; `none` trains every weight.
The saved policy is always a plain HF causal-LM dir (LoRA merged in) plus the tokenizer,
so eval loads it exactly like the base.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.common import io, params
from stages.models.loading import TRAIN_RECORD, bf16_supported

PEFT_CHOICES = ("lora", "none")


def check(cfg: Any) -> None:
    """Reject impossible settings before any model is loaded, naming the key to change."""
    if cfg.peft not in PEFT_CHOICES:
        raise ValueError(f"train.peft={cfg.peft!r}: valid: {', '.join(PEFT_CHOICES)}")
    if cfg.bf16 not in ("auto", True, False):
        raise ValueError(f"train.bf16={cfg.bf16!r}: valid: auto, true, false")
    if cfg.peft == "lora":
        try:
            import peft  # noqa: F401
        except ImportError as e:
            raise ImportError("train.peft=lora needs peft installed (pip install peft), "
                              "or set train.peft=none") from e


def use_bf16(cfg: Any) -> bool:
    """`train.bf16: auto` means bf16 autocast exactly where the hardware supports it natively;
    the weights (and the optimiser's state) stay float32 either way."""
    supported = bf16_supported()
    if cfg.bf16 == "auto":
        return supported
    if cfg.bf16 and not supported:
        raise ValueError("train.bf16=true but neither a bf16-capable CUDA device nor a CPU with "
                         "AVX512-BF16/AMX is present; set train.bf16=auto")
    return bool(cfg.bf16)


def to_autocast_weights(model) -> int:
    """Round the trained weights of every layer bf16 autocast casts (linear layers, LoRA's
    included) to the bf16 values the training forward computed with; return how many tensors.

    Under autocast the loss only ever sees bf16 copies of these weights. An update smaller than
    half a bf16 step changes nothing the loss sees, so nothing pushes back, and such updates pile
    up in the float32 masters: saved as they are, they hand a float32 consumer a model that drifted
    further than the one trained (SmolLM2 SFT: +0.095 nats/token on GSM8K answers,
    docs/benchmarks.md). The rounded weights round to themselves, so autocast computes exactly
    what it did before; frozen weights (a LoRA base) and the rest (embedding lookups, norms),
    which autocast leaves in float32, keep their float32 values.
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    rounded = 0
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, (torch.nn.Linear, Conv1D)):
                continue
            for param in (module.weight, module.bias):
                if param is not None and param.requires_grad and param.dtype == torch.float32:
                    param.copy_(param.to(torch.bfloat16))
                    rounded += 1
    return rounded


def linear_weights_on_bf16_grid(model) -> bool:
    """Whether every linear layer's weights are exact in bf16, as a bf16-autocast run exports
    them (to_autocast_weights): then serving the model in bf16 computes what was trained."""
    import torch
    from transformers.pytorch_utils import Conv1D

    return all(torch.equal(p, p.to(torch.bfloat16).to(p.dtype))
               for m in model.modules() if isinstance(m, (torch.nn.Linear, Conv1D))
               for p in m.parameters(recurse=False))


def load_base(base_dir: Path, for_generation: bool = False):
    """(model, tokenizer) in float32 weights; mixed precision is the trainer's job."""
    from stages.models import load

    model, tok = load(base_dir, for_generation=for_generation, dtype="float32")
    model.train()
    return model, tok


def lora_config(cfg: Any, task_type: str = "CAUSAL_LM"):
    """A peft LoraConfig from `train.lora`, or None when `train.peft=none`."""
    if cfg.peft != "lora":
        return None
    from peft import LoraConfig

    lora = cfg.lora
    return LoraConfig(r=int(lora.r), lora_alpha=int(lora.alpha), lora_dropout=float(lora.dropout),
                      target_modules=params.to_dict(lora.target_modules), task_type=task_type)


def wrap(model, cfg: Any):
    """Apply LoRA for loops that own their model (the RL loop); TRL trainers take lora_config."""
    conf = lora_config(cfg)
    if conf is None:
        return model
    from peft import get_peft_model

    return get_peft_model(model, conf)


def unwrap_merged(model):
    """The plain transformers model: LoRA merged into the weights if present."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


REWARD_MODEL_SUBDIR = "reward_model"


def save_policy(model, tokenizer, policy_dir: Path, config: dict, reward_model=None,
                bf16_lossless: bool | None = None) -> None:
    """Atomically write the policy dir (merged weights, tokenizer, the config that made it, and
    whether bf16 serves it as trained: by default, whether its linear weights are exact in bf16).
    A trained reward model, if given, goes to `<policy_dir>/reward_model/` (same tokenizer)."""
    model = unwrap_merged(model)
    if bf16_lossless is None:
        bf16_lossless = linear_weights_on_bf16_grid(model)
    config = {**config, "bf16_lossless": bf16_lossless}
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    with io.atomic_path(policy_dir, is_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        io.write_json(config, Path(tmp) / TRAIN_RECORD)
        if reward_model is not None:
            unwrap_merged(reward_model).save_pretrained(Path(tmp) / REWARD_MODEL_SUBDIR)
            tokenizer.save_pretrained(Path(tmp) / REWARD_MODEL_SUBDIR)
