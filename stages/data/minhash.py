"""MinHash signatures for a batch of texts, computed as datasketch computes them, vectorised.

datasketch's `affine32` scheme (its default since 2.0) hashes each shingle to 32 bits, mixes it
with the MurmurHash3 finalizer, applies permutation k as `a_k * h + b_k mod 2**32` and keeps the
minimum per permutation. `MinHash.bulk` does this with a Python call per shingle; here the same
arithmetic runs on a (permutations x shingles) matrix per chunk, with datasketch's own
permutation parameters and finalizer, so `signatures(...)[i]` equals
`MinHash.bulk([shingles_i], num_perm, seed, hashfunc=identity).hashvalues` bit for bit
(tests/data/test_dedup.py checks it); `lsh` bands them as datasketch's `MinHashLSH` would.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from stages.data import ngrams

SCHEME = "affine32"
EMPTY = np.uint32(0xFFFFFFFF)   # datasketch's value for a permutation that saw no shingle


class Signer:
    """Shingles -> MinHash signatures. `shingle`: `words` (datatrove) or `chars` (NeMo-Curator)."""

    def __init__(self, num_perm: int, seed: int, shingle: str, shingle_size: int, chunk: int = 8192):
        if shingle not in ("words", "chars"):
            raise ValueError(f"data.dedup.shingle={shingle!r}: valid: words, chars")
        self.num_perm, self.seed, self.shingle, self.size, self.chunk = (
            num_perm, seed, shingle, shingle_size, chunk)
        from datasketch import (
            MinHash,  # here, not at import: worker processes get a pickled
        )
        from datasketch.minhash import (
            _FMIX_CONSTANTS,  # Signer and skip datasketch's imports
        )

        a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
        self.a, self.b = a.astype(np.uint32), b.astype(np.uint32)   # (P,) each
        self.fmix = _FMIX_CONSTANTS[32]   # MurmurHash3's finalizer, as datasketch's _fmix applies it

    def shingles(self, texts: pl.Series) -> ngrams.Grams:
        """32-bit shingle hashes of normalised texts (a text shorter than one shingle is one)."""
        g = (ngrams.word_ngrams(texts, self.size) if self.shingle == "words"
             else ngrams.byte_ngrams(texts, self.size))
        g.hashes = (g.hashes ^ (g.hashes >> np.uint64(32))).astype(np.uint32)
        return g

    def finalize(self, h: np.ndarray) -> np.ndarray:
        """datasketch's `_fmix(h, 32)`: the pre-mix of every shingle hash before permuting."""
        s1, m1, s2, m2, s3 = self.fmix
        h = h ^ (h >> s1)
        h = h * m1
        h = h ^ (h >> s2)
        h = h * m2
        return h ^ (h >> s3)

    def signatures(self, texts: pl.Series) -> np.ndarray:
        """(len(texts), num_perm) uint32; an empty text gets datasketch's empty signature."""
        g = self.shingles(texts)
        out = np.full((len(texts), self.num_perm), EMPTY, dtype=np.uint32)
        if len(g.hashes) == 0:
            return out
        mixed = self.finalize(g.hashes)
        a, b = self.a[:, None], self.b[:, None]
        buf = np.empty((self.num_perm, min(self.chunk, len(mixed))), np.uint32)   # reused, cache-sized
        for lo in range(0, len(mixed), self.chunk):
            hi = min(len(mixed), lo + self.chunk)
            phv = buf[:, :hi - lo]                                   # (P, S): a_k * h + b_k mod 2**32
            np.multiply(a, mixed[None, lo:hi], out=phv)
            np.add(phv, b, out=phv)
            docs = g.doc[lo:hi]
            first = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
            rows = docs[first]                      # unique within a chunk; a text cut by a
            out[rows] = np.minimum(out[rows], np.minimum.reduceat(phv, first, axis=1).T)   # chunk edge folds in
        return out


def jaccard_estimate(sig: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Fraction of equal permutations between rows i and j (datasketch's `MinHash.jaccard`)."""
    out = np.empty(len(i), dtype=np.float64)
    for lo in range(0, len(i), 65536):   # bounded temporary: (chunk, P) booleans
        hi = lo + 65536
        out[lo:hi] = (sig[i[lo:hi]] == sig[j[lo:hi]]).mean(axis=1)
    return out
