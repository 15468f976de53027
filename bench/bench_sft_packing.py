"""SFT throughput: packed, padding-free batches (train.packing=true) vs plain padding.

    python bench/bench_sft_packing.py [--model-dir DIR] [--rows 384] [--max-length 1024]

Same rows, same model, one epoch each, side by side in one run, through the project's SFT
trainer (TRL SFTTrainer). Rows have answers of very different lengths (8 to ~500 tokens),
as real SFT data does, so padded batches spend much of their compute on pad tokens; packing
(TRL `bfd`, position ids restart per row, transformers masks across rows) spends none.
Throughput counts real (non-pad) tokens per second of training. Default model: the tiny
random Llama of params/model/tiny-random.yaml (built into a temp dir). Goal: >= 1.5x.
Ends with one JSON line {"bench", "unit", "value", "baseline", "baseline_value", "ratio", ...}.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORDS = "the a of to and apples costs each more than left so total answer is".split()


def rows(n: int, seed: int = 0) -> list[dict]:
    """Long-tailed answer lengths: most short, some long (like mixed chat / reasoning data)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = min(int(rng.lognormvariate(3.5, 1.0)) + 4, 480)
        answer = " ".join(rng.choice(WORDS) for _ in range(k))
        out.append({"id": f"bench:{i}", "messages": [{"role": "user", "content": f"Question {i}?"},
                                                     {"role": "assistant", "content": answer}]})
    return out


def model_dir(arg: str | None, tmp: Path) -> Path:
    if arg:
        return Path(arg)
    from stages.models import build_random

    cfg = yaml.safe_load((ROOT / "params" / "model" / "tiny-random.yaml").read_text())
    build_random(cfg["architecture"], cfg["tokenizer_source"], tmp / "tiny", seed=0)
    return tmp / "tiny"


def run(fmt: Path, base: Path, out: Path, packing: bool, batch: int, max_length: int) -> dict:
    from omegaconf import OmegaConf

    from stages.train import trainers
    from stages.train.context import TrainContext
    from stages.train.curves import Curves

    cfg = OmegaConf.load(ROOT / "params" / "train" / "_base.yaml")
    cfg.merge_with(OmegaConf.load(ROOT / "params" / "train" / "sft.yaml"))
    cfg.pop("defaults", None)
    cfg.merge_with({"max_steps": -1, "epochs": 1, "per_device_batch_size": batch, "max_length": max_length,
                    "packing": packing, "eval_steps": 0, "save_steps": 10**6, "logging_steps": 1,
                    "warmup_ratio": 0.0})
    ctx = TrainContext(cfg=cfg, seed=0, format_dir=fmt, base_dir=base, policy_dir=out / "policy",
                       checkpoint_dir=out / "ck", curves=Curves(out / "plots"))
    m = trainers.get("sft")(ctx)
    ctx.curves.close()
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir")
    ap.add_argument("--rows", type=int, default=384)
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8, help="rows per padded batch")
    args = ap.parse_args()
    import polars as pl

    from stages.common import io

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = model_dir(args.model_dir, tmp)
        data = rows(args.rows)
        io.write_parquet(pl.DataFrame(data), tmp / "format" / "sft" / "train.parquet")
        io.write_parquet(pl.DataFrame(data[:16]), tmp / "format" / "sft" / "val.parquet")
        padded = run(tmp / "format", base, tmp / "padded", False, args.batch, args.max_length)
        # packed sequences of max_length tokens; 2 per batch ~ the padded batch's token budget
        packed = run(tmp / "format", base, tmp / "packed", True, 2, args.max_length)
    print(json.dumps({"bench": "sft_packing", "unit": "tokens/s", "value": packed["tokens_per_s"],
                      "baseline": "padding", "baseline_value": padded["tokens_per_s"],
                      "ratio": packed["tokens_per_s"] / padded["tokens_per_s"],
                      "tokens": packed["tokens"], "baseline_tokens": padded["tokens"],
                      "steps": packed["steps"], "baseline_steps": padded["steps"],
                      "model": str(args.model_dir or "tiny-random")}))


if __name__ == "__main__":
    main()
