"""Running a filter over a batch of texts: a text's verdict is its first failing check; nulls
pass; big batches go ROWS_PER_PASS texts at a time; a fast path serves the texts it can.

A filter's checks are (reason, failed expr, value expr, limit) over a frame of per-text
statistics; `first_fail` turns them into (reason, detail) Series: reason is null where the text
passes, detail gives the measured value and the limit.
"""
from __future__ import annotations

import numpy as np
import polars as pl


def first_fail(checks: list[tuple[str, pl.Expr, pl.Expr, float | None]], df: pl.DataFrame):
    """checks: (reason, failed expr, value expr, limit) in order; the first failing one wins.
    The detail text is formatted only for the rows that fail (most rows pass)."""
    reason = pl.Series("reason", [None] * df.height, dtype=pl.Utf8)
    detail = pl.Series("detail", [None] * df.height, dtype=pl.Utf8)
    if not checks or df.height == 0:
        return reason, detail
    failed = df.select([f.alias(str(i)) for i, (_, f, _, _) in enumerate(checks)]).to_numpy()
    hit = failed.any(axis=1)
    first = failed.argmax(axis=1)
    for i, (name, _, value, limit) in enumerate(checks):
        rows = np.flatnonzero(hit & (first == i))
        if len(rows):
            text_ = df[rows].select(pl.format("{} {} (limit {})", pl.lit(name), value.round(3),
                                              pl.lit(str(limit)))).to_series()
            reason.scatter(rows, name)
            detail.scatter(rows, text_)
    return reason, detail


ROWS_PER_PASS = 20000   # texts judged at once: bounds the byte-scan and n-gram arrays


def non_null(s: pl.Series, judge):
    """judge(texts without nulls) -> (reason, detail), ROWS_PER_PASS texts at a time; a null
    text passes (nothing to judge)."""
    if len(s) > ROWS_PER_PASS:
        parts = [non_null(s.slice(lo, ROWS_PER_PASS), judge) for lo in range(0, len(s), ROWS_PER_PASS)]
        return pl.concat([r for r, _ in parts]), pl.concat([d for _, d in parts])
    ok = s.is_not_null().to_numpy()
    if ok.all():
        return judge(s)
    reason = pl.Series("reason", [None] * len(s), dtype=pl.Utf8)
    detail = pl.Series("detail", [None] * len(s), dtype=pl.Utf8)
    if ok.any():
        r, d = judge(s.filter(pl.Series(ok)))
        idx = np.flatnonzero(ok)
        reason.scatter(idx, r)
        detail.scatter(idx, d)
    return reason, detail


def by_subset(s: pl.Series, mask: np.ndarray, fast, slow) -> pl.DataFrame:
    """fast(s[mask]) and slow(s[~mask]), frames with the same columns, back in row order."""
    if mask.all():
        return fast(s)
    if not mask.any():
        return slow(s)
    idx = np.arange(len(s))
    a = fast(s.filter(pl.Series(mask))).with_columns(_i=pl.Series(idx[mask]))
    b = slow(s.filter(pl.Series(~mask))).with_columns(_i=pl.Series(idx[~mask]))
    return pl.concat([a, b], how="vertical_relaxed").sort("_i").drop("_i")
