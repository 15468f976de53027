"""Token statistics of ASCII texts from their bytes, a whole batch per numpy pass.

On ASCII text the regex classes the clean rules count with are byte classes (`\\w` is
[A-Za-z0-9_], `\\s` is [\\t\\n\\v\\f\\r ]), so datatrove-style tokens (`\\w+|[^\\w\\s]+`), `\\w+`
words and `\\S+` runs are boundaries in one class array of the batch's concatenated bytes: no
per-text Python and no per-match regex work. Rules use this for the ASCII rows of a batch (the
bulk of English data) and polars regexes for the rest; tests/data/test_rules.py checks both
give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from stages.data import ngrams

WORD, OTHER, LETTER = 1, 2, 4     # class bits; whitespace is 0, a letter is WORD | LETTER
_CLASS = np.zeros(256, np.uint8)
_CLASS[:128] = OTHER              # punctuation, symbols and control characters
_CLASS[list(b"\t\n\x0b\x0c\r ")] = 0
_CLASS[list(b"0123456789_")] = WORD
_CLASS[list(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")] = WORD | LETTER


@dataclass
class Tokens:
    """The tokens of a batch of ASCII texts: token i is bytes [start[i], end[i]) of `data`."""
    data: np.ndarray     # (B,) uint8, the texts back to back
    offsets: np.ndarray  # (D+1,) int64, text d is data[offsets[d]:offsets[d+1]]
    start: np.ndarray    # (T,) int64
    end: np.ndarray      # (T,) int64, exclusive
    word: np.ndarray     # (T,) bool, a `\w+` token (else a punctuation run)
    alpha: np.ndarray    # (T,) bool, a `\w+` token with a letter
    after_space: np.ndarray   # (T,) bool, first token of a text or preceded by whitespace
    bounds: np.ndarray   # (D+1,) int64, text d has tokens bounds[d]:bounds[d+1]

    def per_text(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-token value over each text's tokens: (D,) int64."""
        cum = np.zeros(len(values) + 1, np.int64)
        np.cumsum(values, out=cum[1:])
        return cum[self.bounds[1:]] - cum[self.bounds[:-1]]

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.bounds)

    def doc(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.bounds) - 1, dtype=np.int64), self.counts)

    def hashes(self) -> np.ndarray:
        """polars' 64-bit hash (seed 0) of each token's text: the value `Series.hash` gives the
        same strings, so tables built here and from `str.extract_all` are interchangeable."""
        import pyarrow as pa

        if len(self.start) == 0:
            return np.zeros(0, np.uint64)
        cuts = np.empty(2 * len(self.start), np.int64)   # token, gap, token, gap, ...
        cuts[0::2], cuts[1::2] = self.start, self.end
        arr = pa.LargeStringArray.from_buffers(len(cuts) - 1, pa.py_buffer(cuts), pa.py_buffer(self.data))
        return pl.Series(arr).hash(seed=0).to_numpy()[0::2].astype(np.uint64)


def tokens(texts: pl.Series) -> Tokens:
    """Tokens of ASCII texts (no nulls: callers pass the rows `text.ascii_mask` selects)."""
    data, lens = ngrams.utf8_buffer(texts)
    off = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    c = _CLASS[data]
    prev = np.empty_like(c)                  # class of the byte before; 0 at a text's start
    nxt = np.empty_like(c)                   # class of the byte after; 0 at a text's end
    if len(c):
        prev[0], prev[1:] = 0, c[:-1]
        nxt[-1], nxt[:-1] = 0, c[1:]
        full = lens > 0
        prev[off[:-1][full]] = 0
        nxt[off[1:][full] - 1] = 0
    k, pk, nk = c & 3, prev & 3, nxt & 3     # token kind: 0 space, WORD, OTHER
    solid = k != 0
    start = np.flatnonzero(solid & (k != pk))
    end = np.flatnonzero(solid & (k != nk)) + 1
    word = k[start] == WORD
    alpha = word & (c[start] == (WORD | LETTER))
    # a word token that starts with a digit or '_' holds a letter iff a letter follows a digit/_
    late = np.flatnonzero((c == (WORD | LETTER)) & (prev == WORD))
    if len(late):
        alpha[np.searchsorted(start, late, side="right") - 1] = True
    return Tokens(data, off, start, end, word, alpha, pk[start] == 0, np.searchsorted(start, off))
