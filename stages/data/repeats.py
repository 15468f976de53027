"""N-gram repetition statistics of the Gopher repetition filter, vectorised over a batch.

Top n-gram statistics come from the vectorised hashes of `ngrams`, grouped by sorting one
64-bit key per n-gram. The one sequential statistic (datatrove's greedy `find_all_duplicate`,
which skips n words after each repeat) runs in Python only for texts that repeat a 5-gram at
all: a text with no repeated 5-gram has no repeated n-gram for any n >= 5, so its value is 0.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from stages.data import ngrams, scan, text
from stages.data.tokens import TOKEN_RE, token_table


def doc_hash_order(doc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Indices sorting (doc, hash) pairs, equal pairs in their original order. One 64-bit key
    (doc in the high bits, the hash's top bits below) sorts fast; if two different hashes of a
    text share a key the exact (slower) two-key sort is used instead."""
    bits = np.uint64(max(1, int(doc.max()).bit_length()))
    key = (doc.astype(np.uint64) << (np.uint64(64) - bits)) | (h >> bits)
    order = np.argsort(key, kind="stable")
    k, hh = key[order], h[order]
    if np.any((k[1:] == k[:-1]) & (hh[1:] != hh[:-1])):
        order = np.lexsort((h, doc))
    return order


def top_ngram_chars(h, ln, doc, counts, n: int, n_docs: int) -> np.ndarray:
    """datatrove find_top_duplicate per text: chars of " ".join(top n-gram) x its count
    (ties: the n-gram seen first); 0 for texts with fewer than n tokens."""
    g = ngrams.ngrams(h, doc, counts, n, short=False)
    out = np.zeros(n_docs)
    if len(g.hashes) == 0:
        return out
    cum = np.concatenate([[0], np.cumsum(ln)])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    glen = cum[starts[g.doc] + g.pos + n] - cum[starts[g.doc] + g.pos] + (n - 1)
    order = doc_hash_order(g.doc, g.hashes)
    d, k = g.doc[order], g.hashes[order]
    first = np.flatnonzero(np.r_[True, (d[1:] != d[:-1]) | (k[1:] != k[:-1])])   # one per distinct gram
    count = np.diff(np.r_[first, len(order)])
    rdoc, rpos, rlen = d[first], g.pos[order[first]], glen[order[first]]   # first = earliest position
    dstart = np.flatnonzero(np.r_[True, rdoc[1:] != rdoc[:-1]])
    per = np.diff(np.r_[dstart, len(rdoc)])
    top = count == np.repeat(np.maximum.reduceat(count, dstart), per)      # grams with the top count
    pos = np.where(top, rpos, np.iinfo(np.int64).max)
    pick = top & (rpos == np.repeat(np.minimum.reduceat(pos, dstart), per))   # the earliest of them
    out[rdoc[pick]] = count[pick] * rlen[pick]
    return out


def repeats_5gram(h, doc, counts, n_docs: int) -> np.ndarray:
    """Which texts may repeat a 5-gram (the only ones whose dup-n-gram fractions can be > 0):
    never misses one; a text flagged by a clash of truncated hashes simply counts 0 later."""
    full = ngrams.rolling(h, 5)
    within = doc[4:] == doc[:len(full)]      # windows inside one text
    gram, gdoc = full[within], doc[:len(full)][within]
    out = np.zeros(n_docs, bool)
    if len(gram):
        bits = np.uint64(max(1, int(gdoc[-1]).bit_length()))
        key = np.sort((gdoc.view(np.uint64) << (np.uint64(64) - bits)) | (gram >> bits))
        same = key[1:] == key[:-1]
        out[(key[1:][same] >> (np.uint64(64) - bits)).astype(np.int64)] = True
    return out


def find_all_duplicate(words: list[str], n: int) -> int:
    """datatrove's greedy count of characters in repeated n-grams (a repeat skips n words)."""
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx:idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def ngram_values(s: pl.Series, top_n_grams, dup_n_grams) -> dict[str, np.ndarray]:
    """Top n-gram chars and greedy duplicate n-gram chars per text (not yet divided)."""
    out = {}
    if not (top_n_grams or dup_n_grams) or len(s) == 0:
        return out
    if top_n_grams:
        h, ln, doc, counts = token_table(s)
        for n, _ in top_n_grams:
            out[f"top_{n}"] = top_ngram_chars(h, ln, doc, counts, n, len(s))
        repeats = repeats_5gram(h, doc, counts, len(s)) if dup_n_grams else None
    elif dup_n_grams:
        repeats = repeats_5gram_of(s)
    for n, _ in (dup_n_grams or ()):
        out[f"dup_{n}"] = np.zeros(len(s))
    for i in np.flatnonzero(repeats) if dup_n_grams else ():
        words = TOKEN_RE.findall(s[int(i)])
        for n, _ in dup_n_grams:
            out[f"dup_{n}"][i] = find_all_duplicate(words, n)
    return out


def repeats_5gram_of(s: pl.Series) -> np.ndarray:
    """`repeats_5gram` of texts, hashing token strings only where it may matter: a text that
    repeats a 5-gram of tokens repeats a 5-gram of cheap token features (length, first and last
    byte) too, so ASCII texts without the latter are cleared by the byte scan alone."""
    if not text.ascii_mask(s).all():
        h, _, doc, counts = token_table(s)
        return repeats_5gram(h, doc, counts, len(s))
    t = scan.tokens(s)
    out = repeats_5gram(t.features(), t.doc(), t.counts, len(s))
    maybe = np.flatnonzero(out)
    if len(maybe):
        counts = t.counts[maybe]
        doc = np.repeat(np.arange(len(maybe), dtype=np.int64), counts)
        out[maybe] = repeats_5gram(t.hashes(t.of_texts(maybe)), doc, counts, len(maybe))
    return out
