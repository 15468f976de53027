"""Benchmark rows from a `source` string, and the seeded subset a quick run evaluates.

    local:gsm8k/test.jsonl      a reference file, materialised by the `datasets` stage (stages.common.shared)
    /abs/path/test.jsonl        any file (jsonl / json / parquet / csv, optionally .gz)
    hf:openai/gsm8k             a hub dataset (+ `hf_config`, `split` keys)

Eval data must be whole: a malformed line is an error naming file and line (a benchmark
with silently dropped rows is a different benchmark), unlike ingest's quarantine.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from stages.common.shared import dataset_file


def resolve_local(ref: str) -> Path:
    return dataset_file(ref)


def load_rows(source: str, hf_config: str | None = None, split: str | None = None) -> list[dict]:
    from stages.data.sources import READERS

    kind, sep, ref = source.partition(":")
    if not sep and source.startswith("/"):
        kind, ref = "local", source
    if kind == "local":
        path = resolve_local(ref)
        if not path.exists():
            raise FileNotFoundError(f"{path}: benchmark source {source!r} not found "
                                    "(set LMFORGE_SHARED_DATASETS, or use an hf: source)")
        records, where = READERS.get("file")({"path": str(path)}), str(path)
    elif kind == "hf":
        records = READERS.get("hf")({"path": ref, "config": hf_config, "split": split or "test"})
        where = f"hf:{ref}"
    else:
        raise ValueError(f"benchmark source {source!r}: expected local:<path>, /abs/path or hf:<id>")
    rows = []
    for lineno, record, _raw, problem in records:
        if problem is not None:
            raise ValueError(f"{where}:{lineno}: {problem[0]} ({problem[1]})")
        rows.append(record)
    if not rows:
        raise ValueError(f"{where}: no rows")
    return rows


def require(row: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if row.get(k) in (None, "")]
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}; have {sorted(row)}")


def subset(rows: list[Any], limit: int | None, seed: int) -> list[tuple[int, Any]]:
    """(original index, row) for `limit` rows drawn with `seed` (all rows, in order, if None).

    The draw depends only on (number of rows, limit, seed), so the base and policy cells of
    one experiment score the same items.
    """
    if limit is not None and int(limit) < 1:
        raise ValueError(f"limit={limit}: must be >= 1, or null for every row")
    idx = list(range(len(rows)))
    if limit is not None and limit < len(rows):
        idx = sorted(random.Random(seed).sample(idx, int(limit)))
    return [(i, rows[i]) for i in idx]
