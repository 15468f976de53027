"""Batched HF generation (left-padded, KV cache) vs one prompt at a time, same prompts.

    python bench/bench_generation.py [--model-dir models/base] [--prompts 32] [--new-tokens 128]

Uses SmolLM2-135M-Instruct: `models/base` when the model stage has run with default params,
else it is materialised from the GGUF into a temp dir first (~30 s). Prompts are the first
GSM8K test questions (`--bench math500|humaneval`: theirs) with the eval stage's prompt; greedy decoding. Goal:
batched >= 6x the tokens/s of one-at-a-time. Also reported: the ratio on CPU seconds, and on
decoding alone (each side's prompt pass, timed with max_new_tokens=1, taken out). Ends with one JSON line:
{"bench", "unit", "value", "baseline", "baseline_value", "ratio", ...}.

Then the engines side by side on the same prompts, batched, greedy: HF float32 (the batched run
above), HF bfloat16, HF bfloat16 with transformers' own eager attention instead of the engine's
grouped one (CPU), vLLM float32 and vLLM bfloat16 (vLLM only where it imports: run with
.venv-vllm/bin/python after `make setup-vllm`; else the line says why it is missing): tokens/s,
the ratio to HF float32, and how many greedy texts equal HF float32's. A second JSON line
{"bench": "generation_engines", ...}. `--engines-only` skips the one-at-a-time run.
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


def prompts(n: int, bench: str = "gsm8k") -> list:
    from omegaconf import OmegaConf

    from stages.eval.benchmarks import get

    block = yaml.safe_load((ROOT / "params" / "eval" / "benchmarks" / f"{bench}.yaml").read_text())
    cfg = OmegaConf.create({**block, "limit": None})
    return [t.prompt for t in get(cfg.scorer).load(bench, cfg)[:n]]


def timed(engine, ps: list, params) -> tuple[float, float, int, list]:
    """(wall s, CPU s, new tokens, texts). CPU seconds (all threads) are reported too: on a
    shared machine the wall-clock ratio moves with other people's load, the CPU one less."""
    t0, c0 = time.perf_counter(), time.process_time()
    outs = engine.generate(ps, params)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, sum(sum(o.new_tokens) for o in outs), [o.texts[0] for o in outs]


def engine_columns(path: Path, ps: list, params, done: dict, batch: int) -> dict:
    """{column: tokens/s, ratio to HF float32, share of greedy texts equal to HF float32's};
    `done`: columns already timed, {name: timed(...)}."""
    from stages.eval.engines import SamplingParams, make_engine

    runs, load = dict(done), {}
    # (column, engine, dtype, change): the engine's defaults, and bfloat16 HF with one of them
    # undone: transformers' own eager attention (KV heads copied per query head) instead of the
    # grouped one (stages/models/attention.py), or one padded prompt pass instead of length groups
    names = [("hf-float32", "hf", "float32", None), ("hf-bfloat16", "hf", "bfloat16", None),
             ("hf-bfloat16-eager", "hf", "bfloat16", lambda e: e.model.set_attn_implementation("eager")),
             ("hf-bfloat16-one-prefill", "hf", "bfloat16", lambda e: setattr(e, "_prefill", lambda *a: None))]
    names = [n for n in names if n[0] not in runs]
    try:
        from stages.eval.engines.vllm_engine import import_vllm

        import_vllm(None)
        names += [("vllm-float32", "vllm", "float32", None), ("vllm-bfloat16", "vllm", "bfloat16", None)]
        missing = None
    except RuntimeError as e:
        missing = f"not measured: {e}"
    for column, engine_name, dtype, change in names:
        t0 = time.perf_counter()
        engine = make_engine(engine_name, str(path), batch_size=batch, dtype=dtype, progress=False)
        if change:
            change(engine)
        load[column] = round(time.perf_counter() - t0, 1)
        engine.generate(ps[:2], SamplingParams(max_new_tokens=4))           # warm-up
        runs[column] = timed(engine, ps, params)
        del engine
    wall, _cpu, tok, base_txt = runs["hf-float32"]
    base_tps = tok / wall
    cols = {name: {"tokens_per_s": round(tok / wall, 2), "ratio": round(tok / wall / base_tps, 2),
                   "same_text_as_hf_float32": round(sum(a == b for a, b in zip(txt, base_txt)) / len(ps), 3),
                   "new_tokens": tok, "load_s": load.get(name)}
            for name, (wall, _cpu, tok, txt) in runs.items()}
    return {"columns": cols, "vllm": missing or "measured"}


def main() -> None:
    import torch

    from stages.eval.engines import SamplingParams, make_engine

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--dtype", default="auto", help="auto (eval.dtype's: bfloat16 where the hardware "
                    "has it, else the model dir's) | model | bfloat16 | float32; both sides use the same")
    ap.add_argument("--bench", default="gsm8k", help="whose prompts: gsm8k | math500 | humaneval "
                    "(the eval stage's prompt for it; humaneval's vary most in length)")
    ap.add_argument("--engines-only", action="store_true", help="only the engines side by side "
                    "(skip the one-at-a-time run)")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice); 1 is "
                    "steadier on a machine others are using")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path, origin = model_dir(args.model_dir, tmp)
        engine = make_engine("hf", str(path), batch_size=args.prompts, dtype=args.dtype,
                             progress=False)
        ps = prompts(args.prompts, args.bench)
        params = SamplingParams(max_new_tokens=args.new_tokens)
        engine.generate(ps[:2], SamplingParams(max_new_tokens=4))           # warm-up
        dtype = str(engine.model.dtype).removeprefix("torch.")
        info = {"prompts": len(ps), "bench": args.bench, "max_new_tokens": args.new_tokens, "batch_size": args.prompts,
                "model": origin, "dtype": dtype, "device": engine.device}
        batched = timed(engine, ps, params) if args.engines_only else batching(engine, ps, params, info)
        del engine
        side = engine_columns(path, ps, params, {f"hf-{dtype}": batched}, args.prompts)
    cols = side["columns"]
    best = max((c for c in cols if c.startswith("vllm")), key=lambda c: cols[c]["tokens_per_s"],
               default=None)
    print(json.dumps({"bench": "generation_engines", "unit": "tokens/s",
                      "value": cols[best]["tokens_per_s"] if best else None, "best": best,
                      "baseline": "hf-float32", "baseline_value": cols["hf-float32"]["tokens_per_s"],
                      "ratio": cols[best]["ratio"] if best else None, **side,
                      **{k: v for k, v in info.items() if k != "dtype"},
                      "threads": torch.get_num_threads(), "load_avg_1m": round(os.getloadavg()[0], 2)}))


def batching(engine, ps: list, params, info: dict) -> tuple:
    """Batched vs one prompt at a time on one HF engine; prints the hf_generation_batched line
    and returns the batched run's timed(...)."""
    import torch

    from stages.eval.engines import SamplingParams

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
                      "ratio": round(batched / single, 2), "prompts": info["prompts"],
                      "max_new_tokens": info["max_new_tokens"], "batch_size": info["batch_size"],
                      "same_text": sum(a == b for a, b in zip(b_txt, s_txt)) / len(ps),
                      "cpu_ratio": round((b_tok / b_cpu) / (s_tok / s_cpu), 2),
                      "decode_ratio": round(decode_ratio, 2),
                      "prefill_seconds": round(b_pre, 1), "baseline_prefill_seconds": round(s_pre, 1),
                      "model": info["model"], "dtype": info["dtype"], "device": info["device"],
                      "threads": torch.get_num_threads(), "load_avg_1m": round(os.getloadavg()[0], 2)}),
          flush=True)
    return b_s, b_cpu, b_tok, b_txt

if __name__ == "__main__":
    main()
