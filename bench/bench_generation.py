"""Batched HF generation (left-padded, KV cache) vs one prompt at a time, same prompts.

    python bench/bench_generation.py [--model-dir models/base] [--prompts 32] [--new-tokens 128]

Uses SmolLM2-135M-Instruct: `models/base` when the model stage has run with default params,
else it is materialised from the GGUF into a temp dir first (~30 s). Prompts are the first
GSM8K test questions with the eval stage's zero-shot chat prompt; greedy decoding. Goal:
batched >= 6x the tokens/s of one-at-a-time. Also reported: the ratio on CPU seconds, and on
decoding alone (each side's prompt pass, timed with max_new_tokens=1, taken out). Ends with one JSON line:
{"bench", "unit", "value", "baseline", "baseline_value", "ratio", ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def model_dir(arg: str | None, tmp: str) -> tuple[Path, str]:
    """(dir, where it came from): the given dir, models/base if it is SmolLM2, or a fresh build."""
    if arg:
        return Path(arg), arg
    base = ROOT / "models" / "base"
    if (base / "config.json").exists() and json.loads((base / "config.json").read_text()).get(
            "num_hidden_layers") == 30:
        return base, "models/base"
    from stages.models import materialise

    cfg = yaml.safe_load((ROOT / "params" / "model" / "smollm2-135m.yaml").read_text())
    out = Path(tmp) / "smollm2"
    materialise(cfg, out)
    return out, f"built from {cfg['source']}"


def prompts(n: int) -> list:
    from omegaconf import OmegaConf

    from stages.eval.benchmarks import get

    block = yaml.safe_load((ROOT / "params" / "eval" / "default.yaml").read_text())["benchmarks"]["gsm8k"]
    cfg = OmegaConf.create({**block, "limit": None})
    return [t.prompt for t in get("gsm8k").load(cfg)[:n]]


def timed(engine, ps: list, params) -> tuple[float, float, int, list]:
    """(wall s, CPU s, new tokens, texts). CPU seconds (all threads) are reported too: on a
    shared machine the wall-clock ratio moves with other people's load, the CPU one less."""
    t0, c0 = time.perf_counter(), time.process_time()
    outs = engine.generate(ps, params)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, sum(sum(o.new_tokens) for o in outs), [o.texts[0] for o in outs]


def main() -> None:
    import torch

    from stages.eval.engines import SamplingParams, make_engine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--dtype", default="auto", help="auto (the model dir's, float32 for SmolLM2 on "
                    "CPU) | bfloat16 | float32; both sides use the same")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice); 1 is "
                    "steadier on a machine others are using")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path, origin = model_dir(args.model_dir, tmp)
        engine = make_engine("hf", str(path), batch_size=args.prompts, dtype=args.dtype,
                             progress=False)
        ps = prompts(args.prompts)
        params = SamplingParams(max_new_tokens=args.new_tokens)
        engine.generate(ps[:2], SamplingParams(max_new_tokens=4))           # warm-up
        prefill = SamplingParams(max_new_tokens=1)
        b_pre = timed(engine, ps, prefill)[0]
        b_s, b_cpu, b_tok, b_txt = timed(engine, ps, params)
        engine.batch_size = 1
        s_pre = timed(engine, ps, prefill)[0]
        s_s, s_cpu, s_tok, s_txt = timed(engine, ps, params)
    batched, single = b_tok / b_s, s_tok / s_s
    # Decoding alone (the prompt pass is compute-bound, so batching cannot speed it up much):
    decode_ratio = ((b_tok - len(ps)) / (b_s - b_pre)) / ((s_tok - len(ps)) / (s_s - s_pre))
    print(f"batched: {b_tok} tokens in {b_s:.1f} s; one at a time: {s_tok} tokens in {s_s:.1f} s",
          file=sys.stderr)
    print(json.dumps({"bench": "hf_generation_batched", "unit": "tokens/s", "value": round(batched, 2),
                      "baseline": "one prompt at a time", "baseline_value": round(single, 2),
                      "ratio": round(batched / single, 2), "prompts": len(ps),
                      "max_new_tokens": args.new_tokens, "batch_size": args.prompts,
                      "same_text": sum(a == b for a, b in zip(b_txt, s_txt)) / len(ps),
                      "cpu_ratio": round((b_tok / b_cpu) / (s_tok / s_cpu), 2),
                      "decode_ratio": round(decode_ratio, 2),
                      "prefill_seconds": round(b_pre, 1), "baseline_prefill_seconds": round(s_pre, 1),
                      "model": origin, "dtype": str(engine.model.dtype).removeprefix("torch."),
                      "device": engine.device, "threads": torch.get_num_threads(),
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
