"""Where an RL step's time goes in the local loop: rollout (HF generate) vs the update.

    python bench/bench_rl_split.py [--model-dir DIR] [--steps 6] [--response-length 64] [--algo grpo]

Runs the project's RL loop (params/train/<algo>.yaml) on arithmetic prompts for a few steps
and sums its per-step timings: rollout (generate n samples per prompt), reward, old/ref
log-probs + advantages, and the update (ppo_epochs x mini-batches, backward, optimiser).
Default model: the tiny random Llama (temp dir); pass --model-dir models/base for SmolLM2.
Ends with one JSON line {"bench", "unit", "value", "baseline", "baseline_value", "ratio", ...}:
value = rollout s/step, baseline = update s/step, ratio = rollout / update.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def rl_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        out.append({"id": f"bench:{seed}:{i}", "prompt": [{"role": "user", "content": f"What is {a} plus {b}? "
                    "End with '#### <number>'."}], "ground_truth": str(a + b), "data_source": "gsm8k"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir")
    ap.add_argument("--algo", default="grpo")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--response-length", type=int, default=64)
    args = ap.parse_args()
    import polars as pl
    from hydra import compose, initialize_config_dir

    from bench_sft_packing import model_dir
    from stages.common import io
    from stages.train.context import TrainContext
    from stages.train.curves import Curves
    from stages.train.rl.loop import RLLoop

    with initialize_config_dir(config_dir=str(ROOT / "params" / "train"), version_base=None):
        cfg = compose(config_name=args.algo, overrides=[
            f"max_steps={args.steps}", f"data.max_response_length={args.response_length}",
            "val_rows=1", f"save_steps={10**6}"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = model_dir(args.model_dir, tmp)
        io.write_parquet(pl.DataFrame(rl_rows(64, 1)), tmp / "format" / "rl" / "train.parquet")
        io.write_parquet(pl.DataFrame(rl_rows(4, 2)), tmp / "format" / "rl" / "val.parquet")
        ctx = TrainContext(cfg=cfg, seed=0, format_dir=tmp / "format", base_dir=base, policy_dir=tmp / "policy",
                           checkpoint_dir=tmp / "ck", curves=Curves(tmp / "plots"))
        loop = RLLoop(ctx).setup()
        loop.train()
        t = {k: sum(ctx.curves.series(f"timing/{k}")) / args.steps
             for k in ("rollout_s", "reward_s", "logprob_adv_s", "update_s", "step_s")}
        tokens = sum(ctx.curves.series("response_length")) / args.steps
    print(json.dumps({"bench": f"rl_split_{args.algo}", "unit": "s/step", "value": t["rollout_s"],
                      "baseline": "update", "baseline_value": t["update_s"],
                      "ratio": t["rollout_s"] / t["update_s"], "reward_s": t["reward_s"],
                      "logprob_adv_s": t["logprob_adv_s"], "step_s": t["step_s"],
                      "rollout_share": t["rollout_s"] / t["step_s"], "mean_response_tokens": tokens,
                      "responses_per_step": int(cfg.data.train_batch_size) * int(cfg.rollout.n),
                      "model": str(args.model_dir or "tiny-random")}))


if __name__ == "__main__":
    main()
