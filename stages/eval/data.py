"""Benchmark rows from a `source` location, and the seeded subset a quick run evaluates.

Locations are resolved by stages.data.sources.locate, as ingest and decontamination resolve
theirs (`local:<bench>/<file>`, `package:<pkg>/<file>`, `hf:<id>`, a path). Eval data must be
whole: a malformed line is an error naming file and line.
"""
from __future__ import annotations

import random
from typing import Any


def load_rows(source: str, hf_config: str | None = None, split: str | None = None,
              revision: str | None = None) -> list[dict]:
    from stages.data.sources import read_whole

    rows = read_whole(source, hf_config, split, revision)
    if not rows:
        raise ValueError(f"{source}: no rows")
    return rows


def require(row: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if row.get(k) in (None, "")]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; have {sorted(row)}")


def subset_indices(n_rows: int, limit: int | None, seed: int) -> list[int]:
    """Row indices of `limit` rows drawn with `seed`, in file order (all rows if None).

    The draw depends only on (number of rows, limit, seed), so the base and policy cells of
    one experiment score the same items.
    """
    if limit is not None and int(limit) < 1:
        raise ValueError(f"limit={limit}: must be >= 1, or null for every row")
    idx = list(range(n_rows))
    if limit is not None and limit < n_rows:
        idx = sorted(random.Random(seed).sample(idx, int(limit)))
    return idx


def subset(rows: list[Any], limit: int | None, seed: int) -> list[tuple[int, Any]]:
    """(original index, row) for the rows subset_indices draws."""
    return [(i, rows[i]) for i in subset_indices(len(rows), limit, seed)]
