"""Model sources: `gguf:<package>/<file>`, `hf:<repo id>`, `local:<dir>`, `random:<architecture>`.

Each kind is one function registered under its prefix, returning (model, tokenizer).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

from stages.common import io
from stages.common.packages import resolve_package_file
from stages.common.registry import Registry
from stages.models.tokenizer import fix_special_tokens

SOURCES: Registry[Callable[[str, Any], tuple]] = Registry("model source kind", "model.source")


def _dtype(cfg):
    import torch

    return getattr(torch, cfg.get("dtype") or "float32")


@contextmanager
def _gguf_parsed_once():
    """transformers reads a GGUF file's metadata anew for the config, the tokenizer's config, the
    tokenizer and the weights: four parses of its 49k-token vocabulary (~3 s each on 2 CPU
    cores). Inside this block each file is parsed once (`gguf.GGUFReader` is looked up by
    transformers at each call, and a reader is read-only)."""
    import gguf

    real, readers = gguf.GGUFReader, {}

    def reader(path, mode="r"):
        key = (str(Path(path).resolve()), mode)
        if key not in readers:
            readers[key] = real(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = real


@SOURCES.register("gguf")
def _gguf(ref: str, cfg) -> tuple:
    from transformers import AutoModelForCausalLM

    path = resolve_package_file(ref)
    with _gguf_parsed_once():
        model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=_dtype(cfg))
        return model, _gguf_tokenizer(ref)


def _gguf_tokenizer(ref: str):
    from transformers import AutoTokenizer

    path = resolve_package_file(ref)
    with _gguf_parsed_once():
        return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


@SOURCES.register("hf")
def _hf(ref: str, cfg) -> tuple:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rev = cfg.get("revision")
    model = AutoModelForCausalLM.from_pretrained(ref, revision=rev, dtype=_dtype(cfg))
    return model, AutoTokenizer.from_pretrained(ref, revision=rev)


@SOURCES.register("local")
def _local(ref: str, cfg) -> tuple:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (Path(ref) / "config.json").exists():
        raise FileNotFoundError(f"model.source=local:{ref}: no config.json in {ref}")
    return AutoModelForCausalLM.from_pretrained(ref, dtype=_dtype(cfg)), AutoTokenizer.from_pretrained(ref)


@SOURCES.register("random")
def _random(ref: str, cfg) -> tuple:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if not cfg.get("tokenizer_source"):
        raise ValueError("model.source=random:... needs model.tokenizer_source (e.g. gguf:...)")
    tok = _tokenizer_only(cfg["tokenizer_source"])
    arch = dict(cfg.get("architecture") or {})
    config = AutoConfig.for_model(ref, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                                  eos_token_id=tok.convert_tokens_to_ids(cfg.get("eos_token") or tok.eos_token),
                                  **arch)
    torch.manual_seed(int(cfg.get("seed", 0)))
    return AutoModelForCausalLM.from_config(config, dtype=_dtype(cfg)), tok


def _tokenizer_only(source: str):
    from transformers import AutoTokenizer

    kind, _, ref = source.partition(":")
    if kind == "gguf":
        return _gguf_tokenizer(ref)
    if kind in ("hf", "local"):
        return AutoTokenizer.from_pretrained(ref)
    raise ValueError(f"model.tokenizer_source={source!r}: valid kinds gguf:, hf:, local:")


def materialise(cfg, out_dir: str | Path) -> dict:
    """Write the base model as a plain HF dir (atomically); returns a summary for metrics."""
    kind, sep, ref = str(cfg["source"]).partition(":")
    if not sep:
        raise ValueError(f"model.source={cfg['source']!r}: expected <kind>:<ref>, kinds: {SOURCES.names()}")
    model, tok = SOURCES.get(kind)(ref, cfg)
    tok = fix_special_tokens(tok, cfg.get("eos_token"), cfg.get("pad_token"))
    if len(tok) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tok))
    model.config.eos_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    with io.atomic_path(out_dir, is_dir=True) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return {"parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tok),
            "eos_token": tok.eos_token, "pad_token": tok.pad_token, "source_kind": kind}


def build_random(arch: dict, tokenizer_source: str, out_dir: str | Path, seed: int = 0) -> dict:
    """A tiny random model dir, for smoke runs and tests."""
    cfg = {"source": "random:llama", "tokenizer_source": tokenizer_source, "architecture": arch,
           "eos_token": "<|im_end|>", "pad_token": None, "dtype": "float32", "seed": seed}
    return materialise(cfg, out_dir)
