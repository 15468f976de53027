"""Load a model dir written by the model or train stage."""
from __future__ import annotations

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


def load(model_dir: str | Path, for_generation: bool = True, dtype: str = "auto", device: str | None = None):
    """(model, tokenizer); generation gets left padding so batched prompts end aligned."""
    import torch
    from transformers import AutoModelForCausalLM

    path = _check_dir(model_dir)
    tok = load_tokenizer(path, for_generation)
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    if device:
        model.to(device)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.eval()
    return model, tok
