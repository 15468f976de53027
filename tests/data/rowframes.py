"""Small builders for canonical row frames, and the clean rules' default thresholds."""
from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from stages.data.schema import ROW_SCHEMA


def frame(rows: list[dict], source: str = "t") -> pl.DataFrame:
    """Canonical frame; rows give any of prompt/response/chosen/rejected/ground_truth."""
    full = [{"id": r.get("id", f"{source}:{i}"), "source": r.get("source", source),
             **{c: r.get(c) for c in ROW_SCHEMA if c not in ("id", "source")}}
            for i, r in enumerate(rows)]
    return pl.DataFrame(full, schema=ROW_SCHEMA)


def rule_defaults() -> dict:
    """data.clean.rules as params ship them: {rule: default thresholds}."""
    factory = Path(__file__).resolve().parents[2] / "params" / "data" / "profiles" / "factory.yaml"
    return yaml.safe_load(factory.read_text())["clean"]["rules"]
