"""Vectorised n-gram hashing over a batch of normalised texts (numpy, no per-word Python).

A text's words are hashed once (polars' 64-bit hash); an n-gram's hash is the polynomial
`sum(h[i+k] * P**(n-1-k)) mod 2**64`, computed for every position of the whole batch with n
vector operations. Dedup shingles (word or byte n-grams) and decontamination n-grams both come
from here, so a 13-gram in a training row and in a benchmark item hash identically.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

PRIME = np.uint64(1099511628211)   # FNV-64 prime: odd, so the polynomial mixes every word


@dataclass
class Grams:
    """Hashes of the n-grams of a batch: `hashes[i]` belongs to text `doc[i]` at word `pos[i]`."""
    hashes: np.ndarray   # (G,) uint64
    doc: np.ndarray      # (G,) int64, ascending
    pos: np.ndarray      # (G,) int64, start word of the gram
    n: np.ndarray        # (G,) int64, words in the gram (< n only for texts shorter than n)


def words(texts: pl.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word hashes (W,) uint64, doc index (W,) int64, words per text (D,) int64)."""
    lists = texts.fill_null("").str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    counts = lists.list.len().to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls()
    hashes = flat.hash(seed=0).to_numpy() if flat.len() else np.zeros(0, np.uint64)
    doc = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return hashes.astype(np.uint64), doc, counts


def rolling(h: np.ndarray, n: int) -> np.ndarray:
    """Polynomial hash of every window of n consecutive values: (len(h)-n+1,) uint64."""
    m = len(h) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    acc = h[:m].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            acc *= PRIME
            acc += h[k:k + m]
    return acc


def _whole(h: np.ndarray, starts: np.ndarray, m: int) -> np.ndarray:
    """The m-gram hash at each of `starts` (texts of exactly m words): same value as `rolling`."""
    acc = h[starts].copy()
    with np.errstate(over="ignore"):
        for k in range(1, m):
            acc *= PRIME
            acc += h[starts + k]
    return acc


def ngrams(h: np.ndarray, doc: np.ndarray, counts: np.ndarray, n: int,
           short: bool = True) -> Grams:
    """Every n-gram of every text; a text with fewer than n words gives one whole-text gram
    when `short` (so short texts still match exactly), none otherwise."""
    starts = np.zeros(len(counts), np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    full = rolling(h, n)
    m = len(full)
    ok = doc[n - 1:] == doc[:m]                  # the window ends in the text it starts in
    pos = np.arange(m, dtype=np.int64) - np.repeat(starts, counts)[:m]
    g = Grams(full[ok], doc[:m][ok], pos[ok], np.full(int(ok.sum()), n, np.int64))
    if short:
        for k in np.unique(counts[(counts > 0) & (counts < n)]):
            d = np.flatnonzero(counts == k)      # texts of k words have no full gram: slot
            at = np.searchsorted(g.doc, d)       # their whole-text gram in by text order
            g = Grams(np.insert(g.hashes, at, _whole(h, starts[d], int(k))), np.insert(g.doc, at, d),
                      np.insert(g.pos, at, 0), np.insert(g.n, at, k))
    return g


def word_ngrams(texts: pl.Series, n: int, short: bool = True) -> Grams:
    """Word n-grams of normalised texts (words are split on single spaces)."""
    h, doc, counts = words(texts)
    return ngrams(h, doc, counts, n, short)


def byte_ngrams(texts: pl.Series, n: int) -> Grams:
    """Byte n-grams (character n-grams for ASCII text) of each text, NeMo-Curator style."""
    raw, counts = utf8_buffer(texts)
    b = raw.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)   # spread bytes over 64 bits
    doc = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return ngrams(b, doc, counts, n, short=True)


def utf8_buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The texts' UTF-8 bytes back to back (uint8) and bytes per text, without a Python loop."""
    import pyarrow as pa

    arr = texts.fill_null("").cast(pl.Utf8).to_arrow()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.zeros(0, np.uint8)
    return data[offsets[0]:offsets[-1]], np.diff(offsets).astype(np.int64)


def gram_text(text: str, pos: int, n: int) -> str:
    """The words of one gram, for reports (`text` is the normalised text it came from)."""
    return " ".join(text.split()[pos:pos + n])
