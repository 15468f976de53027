"""Format: rows -> sft / preference / rl / verl parquet, train and val.

    dvc exp run -S data.format.val_fraction=0.05
"""
from __future__ import annotations

from pathlib import Path

from stages.common import cli, rejects, stagerun
from stages.data import format as fmt
from stages.data import rows

SPLITS = ("train", "val")
FILES = {f"{kind}/{split}.parquet": fmt.SCHEMAS[kind] for kind in fmt.KINDS for split in SPLITS} | {
    "rejected.parquet": rejects.REJECT_SCHEMA}   # every kind gets its files (empty, with the schema, if unused)


def run(in_dir: Path, out_dir: Path, cfg: dict, seed: int) -> dict:
    src = rows.Input.open([in_dir / "kept.parquet"])
    formatter = fmt.Formatter(fmt.FormatConfig(seed=seed, **cfg))
    with rows.stage_dir(out_dir, FILES) as out:
        for _, df in src.chunks("format"):
            frames, rejected, kept = formatter.chunk(df)
            for kind, splits in frames.items():
                for split, frame in splits.items():
                    out.append(f"{kind}/{split}.parquet", frame)
            out.append("rejected.parquet", rejected)
            out.kept += kept
    counts = {k: {s: formatter.seen.get((k, s), 0) for s in SPLITS} for k in formatter.cfg.kinds}
    # a kept row can fan out to several kinds, so the funnel counts rows, not examples
    return out.tally.funnel(src.height, out.kept, rows=counts)


def main() -> None:
    keys = [k for k in fmt.FormatConfig.__dataclass_fields__ if k != "seed"]
    with stagerun.stage("format", {"data.format": keys, "seed": None}, out="format") as st:
        st.metrics = run(st.path("quality"), st.path("format"), st.params["data.format"], int(st.params["seed"]))
    print(f"format: {st.metrics['rows']}")


if __name__ == "__main__":
    cli.run(main, "format")
