"""Materialise the base model as a plain HF dir.   dvc exp run -S model=qwen2.5-0.5b"""
from __future__ import annotations

from pathlib import Path

from stages.common import cli, io, params, tracking
from stages.models import materialise


def main() -> None:
    cfg = params.load()
    model_cfg = {**params.to_dict(cfg.model), "seed": cfg.seed}
    out = Path(cfg.paths.models) / "base"
    with tracking.stage_run("model", config=model_cfg, track=cfg.track) as run:
        summary = {**materialise(model_cfg, out), "seconds": run.seconds()}
        io.write_json(summary, Path(cfg.paths.metrics) / "model.json")
        run.summary(summary)
    print(f"model: wrote {out} ({summary['parameters']:,} parameters, source {model_cfg['source']})")


if __name__ == "__main__":
    cli.run(main, "model")
