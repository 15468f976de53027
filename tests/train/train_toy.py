"""Toy data in the format stage's schema (docs/architecture.md), for trainer tests.

Arithmetic so every row has a checkable answer: sft rows answer `a+b = c\\n#### c`;
preference rows prefer the correct answer to a wrong one; rl rows carry the ground truth.
"""
from __future__ import annotations

import random
from pathlib import Path

import polars as pl

from stages.common import io


def _problem(rng: random.Random) -> tuple[str, int]:
    a, b = rng.randint(1, 20), rng.randint(1, 20)
    return f"What is {a} plus {b}?", a + b


def sft_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        rows.append({"id": f"toy:{seed}:{i}", "messages": [
            {"role": "user", "content": q}, {"role": "assistant", "content": f"The answer is {ans}.\n#### {ans}"}]})
    return rows


def preference_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        wrong = ans + rng.choice([-3, -2, -1, 1, 2, 3])
        rows.append({"id": f"toy:{seed}:{i}", "prompt": [{"role": "user", "content": q}],
                     "chosen": [{"role": "assistant", "content": f"#### {ans}"}],
                     "rejected": [{"role": "assistant", "content": f"#### {wrong}"}]})
    return rows


def rl_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        q, ans = _problem(rng)
        rows.append({"id": f"toy:{seed}:{i}", "prompt": [{"role": "user", "content": q}],
                     "ground_truth": str(ans), "data_source": "gsm8k"})
    return rows


MAKERS = {"sft": sft_rows, "preference": preference_rows, "rl": rl_rows}


def write_format_dir(root: Path, n_train: int = 64, n_val: int = 16, kinds=("sft", "preference", "rl")) -> Path:
    """${paths.format}-shaped dir with <kind>/{train,val}.parquet."""
    for kind in kinds:
        io.write_parquet(pl.DataFrame(MAKERS[kind](n_train, seed=1)), root / kind / "train.parquet")
        io.write_parquet(pl.DataFrame(MAKERS[kind](n_val, seed=2)), root / kind / "val.parquet")
    return root
