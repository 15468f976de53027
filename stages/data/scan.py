"""Token statistics of ASCII texts from their bytes, a whole batch per numpy pass.

On ASCII text the regex classes the clean rules count with are byte classes (`\\w` is
[A-Za-z0-9_], `\\s` is [\\t\\n\\v\\f\\r ]), so datatrove-style tokens (`\\w+|[^\\w\\s]+`), `\\w+`
words and `\\S+` runs are boundaries in one class array of the batch's concatenated bytes: no
per-text Python and no per-match regex work. Rules use this for the ASCII rows of a batch (the
bulk of English data) and polars regexes for the rest; tests/data/test_fast_paths.py checks both
give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from stages.data import ngrams

WORD, OTHER = 1, 2                # token kinds; whitespace is 0
TEXT_START = 255                  # the "byte before" a text's first byte: a run always starts there


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
        out = np.zeros(len(self.bounds) - 1, np.int64)
        some = np.flatnonzero(self.bounds[1:] > self.bounds[:-1])
        if len(some):
            out[some] = np.add.reduceat(values, self.bounds[some], dtype=np.int64)
        return out

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.bounds)

    def doc(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.bounds) - 1, dtype=np.int64), self.counts)

    def features(self) -> np.ndarray:
        """Per token, length | first byte | last byte packed in a uint64: equal tokens have
        equal features (a cheap stand-in for `hashes` where a superset of matches will do)."""
        f = (self.end - self.start).astype(np.uint64) << np.uint64(16)
        f |= self.data[self.start].astype(np.uint64) << np.uint64(8)
        f |= self.data[self.end - 1].astype(np.uint64)
        return f * np.uint64(0x9E3779B97F4A7C15)   # spread over the high bits the sort key keeps

    def of_texts(self, texts: np.ndarray) -> np.ndarray:
        """Indices of the tokens of some texts (ascending text indices), in order."""
        n = self.counts[texts]
        first = np.zeros(len(n), np.int64)
        np.cumsum(n[:-1], out=first[1:])
        return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(self.bounds[texts] - first, n)

    def hashes(self, which: np.ndarray | None = None) -> np.ndarray:
        """polars' 64-bit hash (seed 0) of each token's text (or of tokens `which`, ascending):
        the value `Series.hash` gives the same strings, so tables built here and from
        `str.extract_all` are interchangeable."""
        import pyarrow as pa

        start, end = (self.start, self.end) if which is None else (self.start[which], self.end[which])
        if len(start) == 0:
            return np.zeros(0, np.uint64)
        cuts = np.empty(2 * len(start), np.int64)   # token, gap, token, gap, ...
        cuts[0::2], cuts[1::2] = start, end
        arr = pa.LargeStringArray.from_buffers(len(cuts) - 1, pa.py_buffer(cuts), pa.py_buffer(self.data))
        return pl.Series(arr).hash(seed=0).to_numpy()[0::2].astype(np.uint64)


_last: tuple[pl.Series, Tokens] | None = None


def tokens(texts: pl.Series) -> Tokens:
    """Tokens of ASCII texts (no nulls: callers pass the rows `text.ascii_mask` selects).

    The length, quality and repetition rules scan the same texts one after another, so the
    last result is kept and returned again for texts equal to the last ones."""
    global _last
    if _last is not None and len(_last[0]) == len(texts) and _last[0].equals(texts):
        return _last[1]
    _last = None                             # free the previous batch first
    _last = (texts, _tokens(texts))
    return _last[1]


def _tokens(texts: pl.Series) -> Tokens:
    data, lens = ngrams.utf8_buffer(texts)
    off = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=off[1:])
    k = kinds(data)
    pk = np.empty_like(k)                    # kind of the byte before; TEXT_START at a text's start
    if len(k):
        pk[0], pk[1:] = TEXT_START, k[:-1]
        pk[off[:-1][lens > 0]] = TEXT_START
    cut = np.flatnonzero(k != pk)            # every run of one kind starts here, texts start here
    run = np.flatnonzero(k[cut] != 0)        # the runs that are tokens
    start = cut[run]
    end = cut.take(run + 1, mode="clip")     # a token ends where the next run (or text) starts
    if len(run) and run[-1] == len(cut) - 1:
        end[-1] = len(k)
    word = k[start] == WORD
    alpha = word & _letter(data[start])
    late = np.flatnonzero(word & ~alpha)     # starts with a digit or '_': look inside for a letter
    if len(late):
        alpha[late] = _has_letter(data, start[late], end[late])
    after = pk[start]
    return Tokens(data, off, start, end, word, alpha, (after == 0) | (after == TEXT_START),
                  np.searchsorted(start, off))


def kinds(data: np.ndarray) -> np.ndarray:
    """Per ASCII byte: 0 whitespace, WORD (`\\w`), OTHER; by comparisons, which numpy runs
    several times faster than a 256-entry table lookup."""
    u = np.uint8
    word = _letter(data)
    word |= (data - u(48)) < 10                           # 0-9
    word |= data == 95                                    # _
    space = (data - u(9)) < 5                             # \t \n \v \f \r
    space |= data == 32
    k = np.full(len(data), OTHER, np.uint8)
    k -= word.view(np.uint8)                              # OTHER - 1 = WORD
    k -= space.view(np.uint8) << 1                        # OTHER - 2 = 0
    return k


def _letter(b: np.ndarray) -> np.ndarray:
    return ((b | np.uint8(32)) - np.uint8(97)) < 26       # a-z, A-Z


def _has_letter(data: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether each byte range [start, end) (non-empty) holds a letter."""
    n = end - start
    first = np.zeros(len(n), np.int64)
    np.cumsum(n[:-1], out=first[1:])
    pos = np.arange(int(n.sum()), dtype=np.int64) + np.repeat(start - first, n)
    return np.maximum.reduceat(_letter(data[pos]), first)
