"""Format: rows -> sft / preference / rl / verl parquet, train and val.

    dvc exp run -S data.format.val_fraction=0.05
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.common import cli, io, rejects, stagerun
from stages.data import format as fmt
from stages.data import rows


def run(in_dir: Path, out_dir: Path, cfg: dict, seed: int) -> dict:
    df = rows.read_rows(in_dir / "kept.parquet")
    fcfg = fmt.FormatConfig(seed=seed, **cfg)
    frames, rejected, kept = fmt.run(df, fcfg)
    with io.atomic_path(out_dir, is_dir=True) as tmp:
        for kind in fmt.KINDS:   # every kind gets its files (empty, with the schema, if unused)
            for split in ("train", "val"):
                frame = frames.get(kind, {}).get(split)
                frame = pl.DataFrame(schema=fmt.SCHEMAS[kind]) if frame is None else frame
                io.write_parquet(frame, tmp / kind / f"{split}.parquet")
        io.write_parquet(rejected, tmp / "rejected.parquet")
    # a kept row can fan out to several kinds, so the funnel counts rows, not examples
    return rejects.funnel(df.height, df.head(kept), rejected, rows=fmt.counts(frames))


def main() -> None:
    keys = [k for k in fmt.FormatConfig.__dataclass_fields__ if k != "seed"]
    with stagerun.stage("format", {"data.format": keys, "seed": None}, out="format") as st:
        st.metrics = run(st.path("quality"), st.path("format"), st.params["data.format"], int(st.params["seed"]))
    print(f"format: {st.metrics['rows']}")


if __name__ == "__main__":
    cli.run(main, "format")
