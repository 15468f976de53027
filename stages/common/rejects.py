"""The rejected-row schema every data stage writes, and the row-conservation metrics."""
from __future__ import annotations

import json
from typing import Any

import polars as pl

REJECT_SCHEMA = {"id": pl.Utf8, "source": pl.Utf8, "stage": pl.Utf8, "rule": pl.Utf8,
                 "detail": pl.Utf8, "record": pl.Utf8}
EXAMPLES = 3   # rejected rows per rule shown in a stage's metrics


def reject(stage: str, rule: str, detail: str, record: Any, id: str | None = None,
           source: str | None = None) -> dict:
    text = record if isinstance(record, str) else json.dumps(record, ensure_ascii=False, default=str)
    return {"id": id, "source": source, "stage": stage, "rule": rule, "detail": detail, "record": text}


def frame(rejected: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rejected, schema=REJECT_SCHEMA)


def funnel(rows_in: int, kept: pl.DataFrame | int, rejected: pl.DataFrame, **extra: Any) -> dict:
    """Stage metrics; raises if a row went missing, so loss of data is a crash, not a silent bug."""
    n_kept = kept if isinstance(kept, int) else kept.height
    by_rule = dict(rejected.group_by("rule").len().iter_rows()) if rejected.height else {}
    return totals(rows_in, n_kept, rejected.height, by_rule, examples(rejected), **extra)


def totals(rows_in: int, kept: int, rejected: int, by_rule: dict, shown: dict, **extra: Any) -> dict:
    """`funnel` from counts (a stage that streams its rows counts them chunk by chunk)."""
    if rows_in != kept + rejected:
        raise AssertionError(f"row conservation broken: in={rows_in} kept={kept} rejected={rejected}")
    return {"rows_in": rows_in, "rows_kept": kept, "rows_rejected": rejected,
            "rejected_by_rule": dict(sorted(by_rule.items())), "rejected_examples": shown, **extra}


def examples(rejected: pl.DataFrame, per_rule: int = EXAMPLES, chars: int = 160) -> dict:
    """A few rejected rows per rule (id, detail, text excerpt) for the report, so a user tuning a
    threshold sees what it removes without opening rejected.parquet."""
    if not rejected.height:
        return {}
    first = rejected.group_by("rule", maintain_order=True).head(per_rule)
    return {rule: [{"id": r["id"], "detail": (r["detail"] or "")[:chars], "text": _excerpt(r["record"], chars)}
                   for r in first.filter(pl.col("rule") == rule).iter_rows(named=True)]
            for rule in sorted(set(first["rule"]))}


def _excerpt(record: str | None, chars: int) -> str:
    """The row's text fields (or the raw line) as one short string."""
    try:
        obj = json.loads(record or "")
    except ValueError:
        return (record or "")[:chars]
    if isinstance(obj, dict):
        obj = " | ".join(str(obj[k]) for k in ("prompt", "response", "chosen", "rejected", "text") if obj.get(k))
    return str(obj)[:chars]
