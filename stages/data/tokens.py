"""Per-text token and line counts, the statistics the Gopher filters and the length rule judge.

Words are `\\w+` runs and punctuation runs (`TOKEN`), close to NLTK's word_tokenize that datatrove
uses for English. Counts of ASCII texts come from one byte scan of the batch (`scan`), of other
texts from polars regexes; tests/data/test_fast_paths.py checks both give the same numbers.
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl

from stages.data import scan, text
from stages.data.batch import ROWS_PER_PASS, by_subset

TOKEN = r"\w+|[^\w\s]+"
TOKEN_RE = re.compile(TOKEN)


def scan_counts(s: pl.Series) -> pl.DataFrame:
    if len(s) > ROWS_PER_PASS:
        return pl.concat([scan_counts(s.slice(lo, ROWS_PER_PASS)) for lo in range(0, len(s), ROWS_PER_PASS)])
    t = scan.tokens(s)
    return pl.DataFrame({"tokens": t.counts, "words": t.per_text(t.word),
                         "word_chars": t.per_text(np.where(t.word, t.end - t.start, 0)),
                         "alpha": t.per_text(t.alpha), "runs": t.per_text(t.after_space)})


def regex_counts(s: pl.Series) -> pl.DataFrame:
    t = pl.col("t")
    return s.to_frame("t").select(
        tokens=t.str.count_matches(TOKEN), words=t.str.count_matches(r"\w+"),
        word_chars=t.str.count_matches(r"\w"), alpha=t.str.count_matches(r"\w*\p{L}\w*"),
        runs=t.str.count_matches(r"\S+")).cast(pl.Int64)


def token_counts(s: pl.Series) -> pl.DataFrame:
    """Per text: tokens (`TOKEN` matches), words (`\\w+`), word_chars (`\\w`), alpha (`\\w+`
    with a letter) and runs (`\\S+`); byte scan for ASCII texts, regexes for the others."""
    return by_subset(s, text.ascii_mask(s), scan_counts, regex_counts)


def _one_line(s: pl.Series) -> pl.DataFrame:
    t = pl.col("t")
    head, tail = t.str.strip_chars_start(), t.str.strip_chars_end()
    return s.to_frame("t").select(
        n_lines=pl.lit(1, pl.Int64),
        bullets=(head.str.starts_with("•") | head.str.starts_with("-")).cast(pl.Int64),
        end_ellipsis=(tail.str.ends_with("...") | tail.str.ends_with("…")).cast(pl.Int64))


def _lines(s: pl.Series) -> pl.DataFrame:
    lines, el = pl.col("t").str.split("\n"), pl.element()
    return s.to_frame("t").select(
        n_lines=lines.list.len(),
        bullets=lines.list.eval(el.str.strip_chars_start().str.starts_with("•")
                                | el.str.strip_chars_start().str.starts_with("-")).list.sum(),
        end_ellipsis=lines.list.eval(el.str.strip_chars_end().str.ends_with("...")
                                     | el.str.strip_chars_end().str.ends_with("…")).list.sum())


def line_counts(s: pl.Series) -> pl.DataFrame:
    """Per text: lines, lines starting with a bullet, lines ending with an ellipsis."""
    one = ~s.str.contains("\n", literal=True).fill_null(True).to_numpy()
    return by_subset(s, one, _one_line, _lines)


def token_table(s: pl.Series):
    """Token hashes (T,), token char lengths (T,), doc index (T,), tokens per text (D,) of
    non-null texts: a byte scan when every text is ASCII, else `str.extract_all(TOKEN)`."""
    if len(s) and text.ascii_mask(s).all():
        t = scan.tokens(s)
        return t.hashes(), (t.end - t.start).astype(np.int64), t.doc(), t.counts
    lists = s.str.extract_all(TOKEN)
    counts = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls()
    h = flat.hash(seed=0).to_numpy().astype(np.uint64) if flat.len() else np.zeros(0, np.uint64)
    ln = flat.str.len_chars().to_numpy().astype(np.int64) if flat.len() else np.zeros(0, np.int64)
    return h, ln, np.repeat(np.arange(len(counts), dtype=np.int64), counts), counts
