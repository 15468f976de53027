"""The train stage: python -m stages.train      (dvc exp run -S train=grpo)

(The stage module is stages/train/__main__.py: a `stages/train.py` would be shadowed by
this package.)

Reads params `train` (+ `seed`, `paths`, `track`); writes ${paths.models}/policy, checkpoints
in ${paths.checkpoints} (resumed after a crash), ${paths.metrics}/train.json and DVCLive
curves in ${paths.plots}/train. The algorithm lives in stages/train/algos/, the executor in
stages/train/backends.py.
"""
from __future__ import annotations

from pathlib import Path

from stages.common import cli, io, params, tracking


def main() -> None:
    from stages.train import checkpoints
    from stages.train.backends import BACKENDS
    from stages.train.curves import Curves

    cfg = params.load()
    backend = BACKENDS.get(cfg.train.backend)
    config = {"train": params.to_dict(cfg.train), "seed": cfg.seed}
    with tracking.stage_run("train", config=config, track=cfg.track) as run:
        curves = Curves(Path(cfg.paths.plots) / "train", run=run)
        metrics = backend(cfg, curves)
        curves.close()
        checkpoints.finish(Path(cfg.paths.checkpoints))
        metrics = {"algo": cfg.train.algo, "trainer": cfg.train.trainer,
                   "backend": cfg.train.backend, **metrics}
        io.write_json(metrics, Path(cfg.paths.metrics) / "train.json")
        run.summary(metrics)


if __name__ == "__main__":
    cli.run(main, "train")
