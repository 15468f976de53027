"""Workspaces for running the real train stage (`python -m stages.train`) on toy data."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))   # train_toy helpers


def compose_params(overrides: list[str]):
    """params.yaml content exactly as `dvc exp run -S train=<algo> -S profile=smoke` composes it
    (eval removed: the train stage never reads it)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "params"), version_base=None):
        cfg = compose(config_name="config", overrides=["profile=smoke", "~eval", *overrides])
    cfg.track.mode = "disabled"
    return OmegaConf.to_container(cfg, resolve=False)


def make_workspace(root: Path, model_dir: Path, overrides: list[str], write_data=None) -> Path:
    """A temp workspace: params.yaml, models/base (a copy of `model_dir`), toy format data."""
    from omegaconf import OmegaConf

    import train_toy

    root.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(compose_params(overrides)), root / "params.yaml")
    shutil.copytree(model_dir, root / "models" / "base")
    (write_data or train_toy.write_format_dir)(root / "data" / "format")
    return root


def stage_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "2",
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}


def run_stage(ws: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "stages.train"], cwd=ws, env=stage_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"stages.train failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture
def workspace(tmp_path, tiny_model_dir):
    def make(overrides: list[str], write_data=None) -> Path:
        return make_workspace(tmp_path / "ws", tiny_model_dir, overrides, write_data)
    return make


def run_in_process(trainer: str, overrides: list[str], format_dir: Path, base_dir: Path, out: Path) -> dict:
    """Run a registered trainer in this process (no stage glue): for fixtures."""
    from omegaconf import OmegaConf

    from stages.train import trainers
    from stages.train.context import TrainContext
    from stages.train.curves import Curves

    cfg = OmegaConf.create(compose_params(overrides))
    ctx = TrainContext(cfg=cfg.train, seed=0, format_dir=format_dir, base_dir=base_dir,
                       policy_dir=out / "policy", checkpoint_dir=out / "checkpoints",
                       curves=Curves(out / "plots"))
    metrics = trainers.get(trainer)(ctx)
    ctx.curves.close()
    return metrics


@pytest.fixture(scope="session")
def digit_base_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """The tiny model after SFT on random-digit answers: it answers a digit (uniformly, whatever
    the prompt) then <|im_end|>, so the digit task's reward starts near 0.1 (see train_toy).

    lr 5e-3 for 60 steps: at 2e-2 the warm-up was chaotic, float-rounding differences (another
    LM-head tiling) moved the digits' share of the answer between 0.5 and 0.9, and the RL tests'
    starting point with it."""
    import train_toy

    root = tmp_path_factory.mktemp("digit_base")
    train_toy.write_split(root / "format", "sft", train_toy.digit_warmup_rows(256, 1),
                          train_toy.digit_warmup_rows(32, 2))
    metrics = run_in_process("sft", ["train=sft", "train.max_steps=60", "train.lr=5e-3",
                                     "train.lr_scheduler=constant", "train.warmup_ratio=0",
                                     "train.per_device_batch_size=32", "train.logging_steps=10",
                                     "train.eval_steps=0", "train.save_steps=1000"],
                             root / "format", tiny_model_dir, root)
    assert metrics["eval_loss"] < 1.2, metrics      # from 10.8; ~1.15 = digit uniform, then eos
    shares = train_toy.digit_shares(root / "policy")
    assert sum(shares) > 0.8 and max(shares) < 0.3, shares   # a digit, none of them favoured
    return root / "policy"
