"""What every trainer receives: its params section and the resolved paths, nothing global."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
