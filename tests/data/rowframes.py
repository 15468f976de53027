"""Small builders for canonical row frames."""
from __future__ import annotations

import polars as pl

from stages.data.schema import ROW_SCHEMA


def frame(rows: list[dict], source: str = "t") -> pl.DataFrame:
    """Canonical frame; rows give any of prompt/response/chosen/rejected/ground_truth."""
    full = [{"id": r.get("id", f"{source}:{i}"), "source": r.get("source", source),
             **{c: r.get(c) for c in ROW_SCHEMA if c not in ("id", "source")}}
            for i, r in enumerate(rows)]
    return pl.DataFrame(full, schema=ROW_SCHEMA)
