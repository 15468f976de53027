"""The row contract of the data stages: the canonical columns, their types, which hold text.

Every data stage reads and writes rows of exactly these columns (all text, nulls allowed);
ingest maps source records onto `CANONICAL`, the clean rules, dedup and decontamination read
`TEXT_FIELDS`. Other modules import these names; none spells the columns out again.
"""
from __future__ import annotations

import polars as pl

KEYS = ("id", "source")                    # `<source>:<record number>`, the source's name
TEXT_FIELDS = ("prompt", "response", "chosen", "rejected")   # text the rules may rewrite or judge
CANONICAL = TEXT_FIELDS + ("ground_truth",)   # what a source's `fields:` maps record fields onto
COLUMNS = KEYS + CANONICAL + ("meta",)     # meta: the record's other fields, as JSON
ROW_SCHEMA = {c: pl.Utf8 for c in COLUMNS}


def frame(rows: list[dict]) -> pl.DataFrame:
    """Canonical rows (dicts with every column) -> a frame of exactly the contract's columns."""
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def check(schema: dict, where: str) -> None:
    """A whole-file problem is one clear error: missing canonical columns or non-text columns."""
    missing = [c for c in COLUMNS if c not in schema]
    if missing:
        raise ValueError(f"{where}: missing canonical column(s) {missing}; has {list(schema)}")
    wrong = [f"{c}: {schema[c]}" for c in COLUMNS if schema[c] not in (pl.Utf8, pl.Null)]
    if wrong:
        raise ValueError(f"{where}: column(s) not text (Utf8): {wrong}")


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns, in its order, as text (a column of nulls reads as Null)."""
    return df.select([pl.col(c).cast(pl.Utf8) for c in COLUMNS])
