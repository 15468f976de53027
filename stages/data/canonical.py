"""Map source records onto the canonical columns; quarantine what does not fit, with the rule.

Numeric ground truths are stored canonically (`145.0` -> `145`, `1.840` -> `1.84`), whether the
source held a float or a string, so a `#### 145` answer and exact-match rewards see the value.
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Iterator

from stages.common.rejects import reject
from stages.data.schema import CANONICAL
from stages.data.sources import READERS, Ingested, SourceError, lookup
from stages.scoring.extract import canonical_number, gsm8k_strict, normalize_number


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):  # repr's shortest digits, never an exponent: 1e20 -> 100000...
        return canonical_number(format(Decimal(repr(value)), "f")) if math.isfinite(value) else str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


def hash_answer(response: str | None) -> str | None:
    """The `#### N` final answer of a GSM8K-style solution: the eval's strict extractor, so
    ground truth, rewards and scores agree on what the answer is."""
    raw = gsm8k_strict(response or "")
    return canonical_number(normalize_number(raw)) if raw is not None else None


def map_record(record: Any, fields: dict[str, str]) -> tuple[dict | None, tuple[str, str] | None]:
    if not isinstance(record, dict):
        return None, ("wrong_type", f"record is a {type(record).__name__}, expected an object")
    row: dict[str, Any] = {c: None for c in CANONICAL}
    for column, source_field in fields.items():
        found, value = lookup(record, source_field)
        if not found:
            return None, ("missing_field", f"field {source_field!r} (for {column}) not in record")
        try:
            row[column] = _as_text(value)
        except TypeError as e:
            return None, ("wrong_type", f"field {source_field!r}: {e}")
    if not any((row[c] or "").strip() for c in CANONICAL if c != "ground_truth"):
        return None, ("empty_text", "every text field is empty")
    used = {f.split(".")[0] for f in fields.values()}
    rest = {k: v for k, v in record.items() if k not in used}
    row["meta"] = json.dumps(rest, ensure_ascii=False, sort_keys=True, default=str) if rest else None
    return row, None


def ingest_source(src: dict, on_bad_row: str = "quarantine") -> Ingested:
    """All rows of one source at once (the ingest stage streams `records` instead)."""
    out = Ingested()
    for row, rejected in records(src, on_bad_row):
        out.rows_in += 1
        (out.rows if row else out.rejected).append(row or rejected)
    return out


def records(src: dict, on_bad_row: str = "quarantine") -> Iterator[tuple[dict | None, dict | None]]:
    """Each record of one source as (canonical row, None) or (None, rejected row); ids are
    `<source>:<record number>`, stable across runs. Records are read as they are consumed."""
    if on_bad_row not in ("quarantine", "error"):
        raise SourceError(f"data.on_bad_row={on_bad_row!r}: valid: quarantine, error")
    name, kind = src["name"], src["kind"]
    fields = dict(src.get("fields") or {c: c for c in CANONICAL})
    bad_keys = sorted(set(fields) - set(CANONICAL))
    if bad_keys:
        raise SourceError(f"data.sources[{name}].fields: unknown column(s) {bad_keys}; valid: {list(CANONICAL)}")
    where = src.get("path") or src.get("generator") or name
    missing_everywhere, first_detail = None, None
    for index, record, raw, problem in READERS.get(kind)(src):
        row_id = f"{name}:{index}"
        if problem is None:
            row, problem = map_record(record, fields)
        if problem is not None:
            if on_bad_row == "error":
                raise SourceError(f"{where}, line {index}: {problem[0]}: {problem[1]} "
                                  f"(set data.on_bad_row=quarantine to keep going)")
            missing_everywhere = _track_missing(missing_everywhere, problem)
            first_detail = first_detail or problem[1]
            yield None, reject("ingest", problem[0], problem[1], record if raw is None else raw,
                               id=row_id, source=name)
            continue
        missing_everywhere = False
        if src.get("ground_truth_from") == "response_hash" and row["ground_truth"] is None:
            row["ground_truth"] = hash_answer(row["response"])
        elif row["ground_truth"] is not None:
            row["ground_truth"] = canonical_number(row["ground_truth"])
        yield {"id": row_id, "source": name, **row}, None
    if missing_everywhere:
        raise SourceError(f"{where}: no record has the mapped fields; check data.sources[{name}].fields "
                          f"({first_detail})")


def _track_missing(state: bool | None, problem: tuple[str, str]) -> bool:
    """True while every record so far lacked a mapped field: a mapping error, not bad rows."""
    return (state is None or state) and problem[0] == "missing_field"
