"""What every trainer receives: its params section and the resolved paths, nothing global."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.common.params import Alias
from stages.train.verl_config import OPTS as VERL_OPTS

# `train:` keys every trainer reads (params/train/_base.yaml): TrainingArguments via trl_args,
# peft/lora/bf16 via modeling, the rest the RL loop; `verl` is train.backend=verl's device and
# cluster shape. Each trainer adds its own keys as KEYS in stages/train/algos/<name>.py.
KEYS = {"algo": None, "trainer": None, "backend": None, "peft": None,
        "lora": ("r", "alpha", "dropout", "target_modules"),
        "lr": None, "lr_scheduler": None, "warmup_ratio": None, "weight_decay": None,
        "max_grad_norm": None, "max_steps": None, "epochs": None, "per_device_batch_size": None,
        "grad_accum": None, "max_length": None, "bf16": None, "save_steps": None,
        "save_total_limit": None, "logging_steps": None, "eval_steps": None, "verl": tuple(VERL_OPTS)}
# TRL TrainingArguments names a user may write for ours (trl_args.common_args maps them)
TRL_NAMES = {"learning_rate": "lr", "lr_scheduler_type": "lr_scheduler", "num_train_epochs": "epochs",
             "per_device_train_batch_size": "per_device_batch_size",
             "gradient_accumulation_steps": "grad_accum", "warmup_steps": "warmup_ratio"}
KEYS |= {trl: Alias(ours, f"TRL's {trl} is train.{ours}") for trl, ours in TRL_NAMES.items()}
# ... and what the offline preference trainers share (params/train/_preference.yaml, preference.py)
PREFERENCE_KEYS = {**KEYS, "beta": None, "pref_eval_rows": None}


@dataclass
class TrainContext:
    cfg: Any                 # the `train:` params section (read-only DictConfig)
    seed: int                # top-level `seed`
    format_dir: Path         # ${paths.format}: <kind>/{train,val}.parquet
    base_dir: Path           # ${paths.models}/base
    policy_dir: Path         # ${paths.models}/policy (written by the trainer, atomically)
    checkpoint_dir: Path     # ${paths.checkpoints} (persist out: resume after a crash)
    curves: Any              # curves.Curves: .log(metrics, step)

    def config_dict(self) -> dict:
        """The params that made this run, saved beside the policy and the metrics."""
        from stages.common import params

        return {"train": params.to_dict(self.cfg), "seed": self.seed}

    @classmethod
    def from_params(cls, params: Any, curves: Any) -> "TrainContext":
        paths = params.paths
        return cls(cfg=params.train, seed=int(params.seed), format_dir=Path(paths.format),
                   base_dir=Path(paths.models) / "base", policy_dir=Path(paths.models) / "policy",
                   checkpoint_dir=Path(paths.checkpoints), curves=curves)
