"""Reading and writing the canonical row files of the data stages, a chunk of rows at a time.

A stage reads its input in the natural row order (`text.sort_rows`) CHUNK_ROWS rows at a time
(only the id and source columns of every row are read up front, to find that order) and appends
what it writes, chunk by chunk, to `Out`; so its memory is a few chunks whatever the row count,
and its files are byte for byte those of the whole frame processed at once.
"""
from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from stages.common import io, rejects
from stages.data import schema, text
from stages.data.spool import Spool

CHUNK_ROWS = 50_000    # rows a stage holds at once (tests set it tiny to check chunking changes nothing)
SCRATCH = ".spool"     # scratch files inside the output's temp dir, removed before it is renamed


@dataclass
class Input:
    """Canonical rows of parquet files, in the natural row order."""
    files: list[tuple[Path, int, int]]   # (file, first global row, end)
    keys: pl.DataFrame                   # id, source of every row, in the natural order
    order: np.ndarray                    # (N,) global row of each natural position

    @classmethod
    def open(cls, files: list[Path]) -> Input:
        spans, keys, start = [], [], 0
        for f in files:
            if not f.exists():
                raise FileNotFoundError(f"{f}: not found (did the upstream stage run?)")
            try:
                columns = pl.read_parquet_schema(f)
            except Exception as e:  # corrupted or not parquet
                raise ValueError(f"{f}: unreadable parquet ({type(e).__name__}: {e})") from e
            schema.check(columns, str(f))
            k = pl.read_parquet(f, columns=list(schema.KEYS)).select(pl.col(c).cast(pl.Utf8) for c in schema.KEYS)
            spans.append((f, start, start + k.height))
            keys.append(k)
            start += k.height
        keys_df = pl.concat(keys) if keys else pl.DataFrame(schema={c: pl.Utf8 for c in schema.KEYS})
        order = text.sort_rows(keys_df.with_row_index("_row"))["_row"].to_numpy().astype(np.int64)
        return cls(spans, keys_df[order] if len(order) else keys_df, order)

    @property
    def height(self) -> int:
        return len(self.order)

    def chunks(self, desc: str, multiple_of: int = 1) -> Iterator[tuple[int, pl.DataFrame]]:
        """(first natural position, rows) about CHUNK_ROWS at a time (a multiple of
        `multiple_of`, so batches within chunks are the batches of the whole), with a progress bar."""
        from tqdm import tqdm

        size = max(multiple_of, CHUNK_ROWS // multiple_of * multiple_of)
        starts = range(0, self.height, size)
        for lo in tqdm(starts, desc=desc, unit="chunk", disable=len(starts) <= 1):
            yield lo, self.take(self.order[lo:lo + size])

    def take(self, rows: np.ndarray) -> pl.DataFrame:
        """The rows at these global positions, in this order."""
        ask = np.argsort(rows, kind="stable")
        asc = rows[ask]
        parts = [self._read(f, asc[(asc >= a) & (asc < b)] - a) for f, a, b in self.files]
        df = pl.concat([p for p in parts if p is not None]) if any(p is not None for p in parts) \
            else pl.DataFrame(schema=schema.ROW_SCHEMA)
        return df if np.array_equal(ask, np.arange(len(rows))) else df[np.argsort(ask)]

    @staticmethod
    def _read(f: Path, local: np.ndarray) -> pl.DataFrame | None:
        """Rows `local` (ascending) of one file: a slice when they are close together, else a
        filtered scan (the input is far from the natural order), either way about a chunk."""
        if len(local) == 0:
            return None
        lo, hi = int(local[0]), int(local[-1]) + 1
        scan = pl.scan_parquet(f)
        if hi - lo <= 4 * len(local):
            df = scan.slice(lo, hi - lo).collect()
            df = df if hi - lo == len(local) else df[local - lo]
        else:
            df = scan.with_row_index("_i").filter(pl.col("_i").is_in(pl.Series(local))).drop("_i").collect()
        return schema.conform(df)


def raw_files(raw_dir: str | Path) -> list[Path]:
    """Every source parquet ingest wrote (not its rejected.parquet), in file-name order."""
    raw_dir = Path(raw_dir)
    files = sorted(p for p in raw_dir.glob("*.parquet") if p.name != "rejected.parquet")
    if not files:
        raise FileNotFoundError(f"{raw_dir}: no source parquet files (did ingest run?)")
    return files


@dataclass
class Tally:
    """Rejected rows counted by rule, and the first few of each rule, over a stream of chunks."""
    rows: int = 0
    by_rule: Counter = field(default_factory=Counter)
    heads: list = field(default_factory=list)

    def add(self, rejected: pl.DataFrame) -> None:
        if rejected.height:
            self.rows += rejected.height
            self.by_rule.update(dict(rejected.group_by("rule").len().iter_rows()))
            self.heads.append(rejected.group_by("rule", maintain_order=True).head(rejects.EXAMPLES))

    def funnel(self, rows_in: int, kept: int, **extra) -> dict:
        heads = pl.concat(self.heads) if self.heads else rejects.frame([])
        return rejects.totals(rows_in, kept, self.rows, dict(self.by_rule), rejects.examples(heads), **extra)


@dataclass
class Out:
    """A stage's output directory being written: frames appended chunk by chunk, json files."""
    dir: Path
    spools: dict[str, Spool]
    json: dict = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    kept: int = 0

    def rows(self, kept: pl.DataFrame, rejected: pl.DataFrame) -> None:
        """One chunk's kept rows (canonical columns) and rejected rows."""
        self.spools["kept.parquet"].append(kept)
        self.append("rejected.parquet", rejected)
        self.kept += kept.height

    def append(self, name: str, df: pl.DataFrame) -> None:
        if name == "rejected.parquet":
            self.tally.add(df)
        self.spools[name].append(df)


KEPT_REJECTED = {"kept.parquet": schema.ROW_SCHEMA, "rejected.parquet": rejects.REJECT_SCHEMA}


@contextlib.contextmanager
def stage_dir(out_dir: str | Path, frames: dict[str, dict]) -> Iterator[Out]:
    """The parquet files `frames` ({file: schema}, e.g. KEPT_REJECTED) and any json files, as
    one atomic directory."""
    with io.atomic_path(out_dir, is_dir=True) as tmp:
        out = Out(tmp, {name: Spool(tmp / SCRATCH, name, s) for name, s in frames.items()})
        yield out
        for name, spool in out.spools.items():
            spool.write(tmp / name)
        shutil.rmtree(tmp / SCRATCH, ignore_errors=True)
        for name, obj in out.json.items():
            io.write_json(obj, tmp / name)
