"""Toy data in the format stage's schema (docs/architecture.md), for trainer tests.

- sft:        arithmetic questions answered `The answer is c.\\n#### c`
- preference: a separable toy preference: the chosen answer starts with "Sure!", the
              rejected one is the same answer without it. A random model prefers the shorter
              (rejected) answer, so held-out accuracy starts near 0 and must be learned.
- rl:         arithmetic prompts with ground truth (data_source gsm8k) for stage runs, and the
              digit task below for the learning tests.
- digit task: prompt "<X>" (a digit); the reward is 1 iff the answer is exactly "7". A model
              first taught (by SFT) to answer a uniformly random digit scores ~0.1; RL must find
              and reinforce the rewarded token. A conditional mapping (X -> X+1) was tried: the
              tiny random model cannot learn it even supervised within CI time.
"""
from __future__ import annotations

import random
from pathlib import Path

import polars as pl

from stages.common import io

SYSTEM = {"role": "system", "content": "."}   # short system turn: SmolLM2's default one is 30 tokens


def _problem(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(1, 20), rng.randint(1, 20)
    return f"What is {a} plus {b}?", a + b


def sft_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        rows.append({"id": f"toy:{seed}:{i}", "messages": [
            SYSTEM, {"role": "user", "content": q},
            {"role": "assistant", "content": f"The answer is {ans}.\n#### {ans}"}]})
    return rows


def preference_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        rows.append({"id": f"toy:{seed}:{i}", "prompt": [SYSTEM, {"role": "user", "content": q}],
                     "chosen": [{"role": "assistant", "content": f"Sure! #### {ans}"}],
                     "rejected": [{"role": "assistant", "content": f"#### {ans}"}]})
    return rows


def rl_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        rows.append({"id": f"toy:{seed}:{i}", "prompt": [SYSTEM, {"role": "user", "content": q}],
                     "ground_truth": str(ans), "data_source": "gsm8k"})
    return rows


def digit_warmup_rows(n: int, seed: int = 0) -> list[dict]:
    """SFT rows teaching the answer *format* only: a uniformly random digit, unrelated to X."""
    rng = random.Random(seed)
    return [{"id": f"warm:{seed}:{i}", "messages": [
        SYSTEM, {"role": "user", "content": str(rng.randrange(10))},
        {"role": "assistant", "content": str(rng.randrange(10))}]} for i in range(n)]


def digit_shares(model_dir) -> list[float]:
    """P(first answer token = d) for d = 0..9, averaged over the ten digit prompts."""
    import torch

    from stages.models import load

    model, tok = load(model_dir, dtype="float32")
    digits = torch.tensor([tok.convert_tokens_to_ids(str(d)) for d in range(10)])
    shares = torch.zeros(10)
    for row in digit_rl_rows(10):
        text = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        with torch.no_grad():
            logits = model(**tok(text, return_tensors="pt", add_special_tokens=False)).logits[0, -1]
        shares += logits.softmax(-1)[digits] / 10
    return shares.tolist()


def digit_rl_rows(n: int, seed: int = 0) -> list[dict]:
    return [{"id": f"digit:{seed}:{i}", "prompt": [SYSTEM, {"role": "user", "content": str(i % 10)}],
             "ground_truth": "7", "data_source": "toy"} for i in range(n)]


def digit_verl_rows(n: int, seed: int = 0) -> list[dict]:
    """The digit task in verl's RL layout (what the format stage writes to data/format/verl)."""
    return [{"data_source": r["data_source"], "prompt": r["prompt"], "ability": "toy",
             "reward_model": {"style": "rule", "ground_truth": r["ground_truth"]},
             "extra_info": {"split": "train", "index": i, "id": r["id"]}}
            for i, r in enumerate(digit_rl_rows(n, seed))]


MAKERS = {"sft": sft_rows, "preference": preference_rows, "rl": rl_rows}


def write_split(root: Path, kind: str, train: list[dict], val: list[dict]) -> None:
    io.write_parquet(pl.DataFrame(train), root / kind / "train.parquet")
    io.write_parquet(pl.DataFrame(val), root / kind / "val.parquet")


def write_format_dir(root: Path, n_train: int = 64, n_val: int = 16, kinds=("sft", "preference", "rl")) -> Path:
    """${paths.format}-shaped dir with <kind>/{train,val}.parquet."""
    for kind in kinds:
        write_split(root, kind, MAKERS[kind](n_train, seed=1), MAKERS[kind](n_val, seed=2))
    return root


def write_digit_format_dir(root: Path) -> Path:
    write_format_dir(root, kinds=("sft", "preference"))
    write_split(root, "rl", digit_rl_rows(80, seed=1), digit_rl_rows(10, seed=2))
    write_split(root, "verl", digit_verl_rows(80, seed=1), digit_verl_rows(10, seed=2))
    return root
