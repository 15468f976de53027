"""Text helpers shared by the data stages: checking a list of text columns, the normal form used to
compare texts (dedup, decontamination), and a deterministic natural row order.

Everything here is a polars expression or a vectorised function, so a batch of 10k rows is
one pass in Rust, not 10k Python calls.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from stages.data.schema import TEXT_FIELDS


def check_fields(fields, where: str) -> list[str]:
    """Validate a params list of text columns; the error names the key and the valid columns."""
    fields = list(fields)
    bad = [f for f in fields if f not in TEXT_FIELDS]
    if bad or not fields:
        raise ValueError(f"{where}: unknown or empty text field(s) {bad}; valid: {list(TEXT_FIELDS)}")
    return fields


def joined(fields) -> pl.Expr:
    """The row's text: its non-null text fields joined by a newline (what dedup compares)."""
    return pl.concat_str([pl.col(f) for f in fields], separator="\n", ignore_nulls=True)


def normalised(expr: pl.Expr) -> pl.Expr:
    """Compare-form: NFKC, lower case, every run of characters that are not letters or digits
    (punctuation and whitespace) -> one space, no leading/trailing space.

    Two texts that differ only in case, punctuation or spacing have the same normal form, as
    in lm-eval-harness's decontamination and datatrove's dedup normalisation. `normalise` is the
    same on a Series, faster (it skips NFKC, the identity on ASCII, for ASCII texts).
    """
    return _fold(expr.str.normalize("NFKC"))


def _fold(expr: pl.Expr) -> pl.Expr:
    # `[^\p{L}\p{N}]+` -> " ", written so that a lone space (most gaps) is not a match to replace
    return (expr.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]{2,}|[^\p{L}\p{N} ]", " ")
            .str.strip_chars())


def ascii_mask(s: pl.Series) -> np.ndarray:
    """True where a text is non-null and pure ASCII (one byte per character)."""
    return (s.str.len_bytes() == s.str.len_chars()).fill_null(False).to_numpy()


def nfkc(s: pl.Series) -> pl.Series:
    """Unicode NFKC of the texts with a non-ASCII character (NFKC leaves ASCII unchanged)."""
    other = np.flatnonzero(~ascii_mask(s) & s.is_not_null().to_numpy())
    if len(other) == 0:
        return s
    if len(other) == len(s):
        return s.str.normalize("NFKC")
    return s.clone().scatter(other, s.gather(other).str.normalize("NFKC"))   # scatter is in place


def normalise(s: pl.Series) -> pl.Series:
    """`normalised` of a Series of texts."""
    return nfkc(s).to_frame("t").select(_fold(pl.col("t"))).to_series().alias(s.name)


def order_key() -> list[pl.Expr]:
    """Natural order of ids `<source>:<n>`: by source, then n as a number (`x:2` before `x:10`)."""
    idx = pl.col("id").str.extract(r":(\d+)$").cast(pl.Int64, strict=False)
    return [pl.col("source"), idx, pl.col("id")]


def sort_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Deterministic row order every data stage writes (so outputs are byte-identical)."""
    if df.height == 0:
        return df
    return df.sort(order_key(), nulls_last=True, maintain_order=True)
