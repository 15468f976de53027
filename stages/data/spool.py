"""Parquet outputs written chunk by chunk, byte for byte the file `DataFrame.write_parquet` writes.

polars cuts a frame of n rows into row groups whose sizes depend on n alone, and encodes each
group on its own. A `Spool` keeps appended chunks in scratch Arrow IPC files; `write` cuts them
into exactly those row groups and streams them through polars' parquet sink, so one row group is
in memory and the file is the one writing the concatenated frame at once would give
(tests/data/test_streaming.py holds both to that, at several sizes).

One difference remains for nested columns (lists, structs: the format stage's chat messages):
polars sizes the data pages of a nested column chunk from the whole array a row group was sliced
from, so a spooled file of more than one row group has the same row groups and values as
`write_parquet` of the whole frame but other page boundaries. Writing nested files from the
whole frame instead would keep their bytes but cost about three times the frame in memory
(2.3 GB for the format stage at 1M rows); a spooled file is the same for any chunk size.
"""
from __future__ import annotations

import functools
import io as _bytes
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from stages.common import io

PARQUET = {"compression": "zstd", "statistics": False}   # as stages.common.io.write_parquet


@functools.lru_cache(maxsize=64)
def row_groups(n: int) -> tuple[int, ...]:
    """Rows per row group polars writes for an n-row frame (asked of polars: its rule is not
    documented and has changed between versions)."""
    import pyarrow.parquet as pq

    buf = _bytes.BytesIO()
    pl.DataFrame({"x": np.zeros(n, np.int8)}).write_parquet(buf, **PARQUET)
    meta = pq.read_metadata(_bytes.BytesIO(buf.getvalue()))
    return tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))


class Spool:
    """Frames appended in row order, written as one parquet file at the end."""

    def __init__(self, scratch: Path, name: str, schema: dict):
        self.scratch, self.name, self.schema = Path(scratch), name, schema
        self.files: list[Path] = []
        self.height = 0

    def append(self, df: pl.DataFrame) -> None:
        if df.height == 0:
            return
        path = self.scratch / f"{self.name.replace('/', '_')}-{len(self.files):05d}.arrow"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.select(list(self.schema)).write_ipc(path, compression="lz4")
        self.files.append(path)
        self.height += df.height

    def _groups(self, *_) -> Iterator[pl.DataFrame]:
        """The appended rows cut into the row groups `row_groups` gives (an io-source callback)."""
        pending, files = pl.DataFrame(schema=self.schema), iter(self.files)
        for size in row_groups(self.height):
            while pending.height < size:
                pending = pl.concat([pending, pl.read_ipc(next(files))])
            yield pending.head(size).rechunk()
            pending = pending.slice(size)

    def write(self, path: str | Path) -> None:
        """The parquet file of every appended row (atomic); the scratch files are removed."""
        if self.height == 0:
            io.write_parquet(pl.DataFrame(schema=self.schema), path)
        else:
            from polars.io.plugins import register_io_source

            source = register_io_source(self._groups, schema=self.schema)
            with io.atomic_path(path) as tmp:
                source.sink_parquet(tmp, **PARQUET)
        for f in self.files:
            f.unlink()
