"""Base-model materialisation and loading. Every model dir the pipeline writes is a plain HF dir.

    from stages.models import load
    model, tok = load("models/base")          # left padding, eos <|im_end|>, pad set
"""
from stages.models.loading import load, load_tokenizer
from stages.models.sources import build_random, materialise, resolve_package_file

__all__ = ["load", "load_tokenizer", "build_random", "materialise", "resolve_package_file"]
