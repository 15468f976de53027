"""Load a model dir written by the model or train stage."""
from __future__ import annotations

import json
from pathlib import Path


def _check_dir(model_dir: str | Path) -> Path:
    path = Path(model_dir)
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: not a model dir (no config.json); run `dvc repro model`"
                                f" or the stage that writes it")
    return path


def load_tokenizer(model_dir: str | Path, for_generation: bool = True):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(_check_dir(model_dir))
    tok.padding_side = "left" if for_generation else "right"
    return tok


DTYPES = ("bfloat16", "float16", "float32")


def bf16_supported() -> bool:
    """Whether this machine runs bf16 matmuls natively: a bf16 CUDA device, or (no CUDA) a CPU
    with AVX512-BF16 or AMX, where oneDNN's bf16 kernels beat float32 (docs/benchmarks.md)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def saved_dtype(model_dir: str | Path) -> str:
    """The dtype a model dir's weights were saved in (config.json), e.g. "float32"."""
    cfg = json.loads((_check_dir(model_dir) / "config.json").read_text())
    return str(cfg.get("dtype") or cfg.get("torch_dtype") or "float32")


TRAIN_RECORD = "lmforge_train.json"     # what a trained policy dir records about its training


def bf16_lossless(model_dir: str | Path) -> bool:
    """Whether serving this model dir in bf16 computes the function it was trained as. A base
    model is served as it is; a policy lmforge trained says so in its record: a float32 or LoRA
    fine-tune's updates are mostly far below a bf16 step, and rounding them off erases or, on a
    base whose weights sit at bf16 rounding ties (GGUF-quantised), amplifies them (docs/benchmarks.md)."""
    record = _check_dir(model_dir) / TRAIN_RECORD
    return not record.exists() or bool(json.loads(record.read_text()).get("bf16_lossless", False))


def generation_dtype(model_dir: str | Path, dtype: str) -> str:
    """`eval.dtype` -> a torch dtype name. `auto`: bfloat16 where the hardware runs it natively
    (batched decoding ~2-3x float32's tokens/s on such CPUs) and the model loses nothing to it
    (bf16_lossless), else the saved dtype; `model`: the saved dtype; anything else as given."""
    if dtype == "auto":
        return "bfloat16" if bf16_supported() and bf16_lossless(model_dir) else saved_dtype(model_dir)
    if dtype == "model":
        return saved_dtype(model_dir)
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: valid: auto, model, {', '.join(DTYPES)} (eval.dtype)")
    return dtype


def load(model_dir: str | Path, for_generation: bool = True, dtype: str = "model", device: str | None = None,
         attn_implementation: str | None = None):
    """(model, tokenizer); generation gets left padding so batched prompts end aligned.
    `dtype`: a torch dtype name, or `model` / `auto` (generation_dtype)."""
    import torch
    from transformers import AutoModelForCausalLM

    path = _check_dir(model_dir)
    tok = load_tokenizer(path, for_generation)
    torch_dtype = getattr(torch, generation_dtype(path, dtype))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, attn_implementation=attn_implementation)
    if device:
        model.to(device)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.eval()
    return model, tok
