"""Reading and writing the canonical row frames of the data stages (schema checked once here)."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.common import io, rejects
from stages.data import text


def check_schema(df: pl.DataFrame, where: str) -> pl.DataFrame:
    """A whole-file problem is one clear error: missing canonical columns or non-text columns."""
    missing = [c for c in text.COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: missing canonical column(s) {missing}; has {df.columns}")
    wrong = [f"{c}: {df[c].dtype}" for c in text.COLUMNS if df[c].dtype not in (pl.Utf8, pl.Null)]
    if wrong:
        raise ValueError(f"{where}: column(s) not text (Utf8): {wrong}")
    return df.select([pl.col(c).cast(pl.Utf8) for c in text.COLUMNS])


def read_rows(path: str | Path) -> pl.DataFrame:
    return check_schema(io.read_parquet(path), str(path))


def read_raw(raw_dir: str | Path) -> pl.DataFrame:
    """Every source parquet ingest wrote (not its rejected.parquet), in file-name order."""
    raw_dir = Path(raw_dir)
    files = sorted(p for p in raw_dir.glob("*.parquet") if p.name != "rejected.parquet")
    if not files:
        raise FileNotFoundError(f"{raw_dir}: no source parquet files (did ingest run?)")
    frames = [read_rows(p) for p in files]
    return pl.concat(frames) if len(frames) > 1 else frames[0]


def write_stage(out_dir: str | Path, kept: pl.DataFrame, rejected: pl.DataFrame,
                json_files: dict | None = None, frames: dict | None = None) -> None:
    """kept.parquet, rejected.parquet (+ extra json / parquet files) as one atomic directory."""
    with io.atomic_path(out_dir, is_dir=True) as tmp:
        io.write_parquet(text.sort_rows(kept.select(text.COLUMNS)), tmp / "kept.parquet")
        io.write_parquet(text.sort_rows(rejected.select(list(rejects.REJECT_SCHEMA))), tmp / "rejected.parquet")
        for name, obj in (json_files or {}).items():
            io.write_json(obj, tmp / name)
        for name, df in (frames or {}).items():
            io.write_parquet(df, tmp / name)
