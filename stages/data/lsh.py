"""Near-duplicate clusters from MinHash signatures: the banding of datasketch's MinHashLSH,
vectorised over a whole signature matrix.

MinHashLSH(params=(b, r)) files a row under one bucket per band, keyed by the band's r hash
values; two rows are candidates when they share a bucket in any band. Inserting a row costs it a
Python call and b dict updates, which at a million rows is most of the dedup time. Here each
band's r values are hashed to one 64-bit key whose low bits are replaced by the row number, the
keys sorted (so rows of a bucket come together, in row order), and each run of equal top bits
whose band values really are equal is a bucket: the buckets MinHashLSH builds
(tests/data/test_dedup.py compares them with its hash tables). Candidate pairs from shared
buckets are checked against the estimated Jaccard (`verify`, optional) and joined into clusters
into clusters by `leaders`: each row, in order, joins the most similar earlier representative
it is verified against, else becomes one; a member is never joined through another member, so
unrelated rows are not chained into one cluster. `salt` (e.g. a hash of a text's numbers) is
appended to every band, so rows with different salts never share a bucket.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
from dataclasses import dataclass

import numpy as np

from stages.data.minhash import jaccard_estimate

_SIG: np.ndarray | None = None   # the signatures, shared with forked workers (copy-on-write)
_ROWS: np.ndarray | None = None  # the rows of _SIG that take part (None: all)
_SALT: np.ndarray | None = None  # (N,) uint32 appended to every band (None: none)
ALL_PAIRS_MAX = 32               # buckets up to this size give every pair, larger ones a star
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class LshConfig:
    bands: int            # b: a pair is a candidate if any band of r values matches
    rows: int             # r: values per band
    seed: int             # MinHash seed (the signatures' permutations; recorded for reports)
    verify: float | None  # keep a candidate pair only if estimated Jaccard >= this (None: off)
    groups: int = 1       # band groups (the unit of work of a worker process)
    workers: int = 1      # processes working on band groups in parallel


def band_keys(band: np.ndarray) -> np.ndarray:
    """(N, r) uint32 band values -> (N,) uint64 key; equal values give equal keys."""
    v = band.view(np.uint64) if band.shape[1] % 2 == 0 and band.strides[1] == 4 else band.astype(np.uint64)
    key = np.zeros(len(band), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(v.shape[1]):
            key ^= v[:, j]
            key *= _MIX
            key ^= key >> np.uint64(29)
    return key


def buckets(band: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows sharing a bucket in one band (of `rows` only, if given; members are then positions
    in `rows`): (members (M,), bucket sizes (K,)); bucket k is the next sizes[k] members, in
    ascending order; only buckets of two or more rows."""
    key = band_keys(band)

    def values(i: np.ndarray) -> np.ndarray:   # band values of members
        return band[i] if rows is None else band[rows[i]]
    if rows is not None:
        key = key[rows]
    n = len(key)
    bits = np.uint64(max(1, (n - 1).bit_length()))
    low = (np.uint64(1) << bits) - np.uint64(1)
    k = np.sort((key & ~low) | np.arange(n, dtype=np.uint64))   # the key's top bits, then the row
    order = (k & low).astype(np.int64)
    k >>= bits
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    size = np.diff(np.r_[start, n])
    multi = size > 1
    start, size = start[multi], size[multi]
    if len(start) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.repeat(start, size) + _ranks(size)                   # positions of members in `order`
    members = order[pos]
    clash = ~(values(members) == values(order[np.repeat(start, size)])).all(axis=1)   # same top bits,
    if clash.any():                                                                    # other values
        return _split(values(members), members, size, clash)
    return members, size


def _ranks(size: np.ndarray) -> np.ndarray:
    """0..size-1 for each group, back to back."""
    first = np.zeros(len(size), np.int64)
    np.cumsum(size[:-1], out=first[1:])
    return np.arange(int(size.sum()), dtype=np.int64) - np.repeat(first, size)


def _split(vals: np.ndarray, members: np.ndarray, size: np.ndarray, clash: np.ndarray):
    """Regroup the runs of a key that two different band values share, by their values
    (`vals[i]`: the band values of members[i])."""
    out_m, out_s, lo = [], [], 0
    bad = np.repeat(np.add.reduceat(clash, np.r_[0, np.cumsum(size)[:-1]]) > 0, size)
    for n in size:
        group = members[lo:lo + n]
        if bad[lo]:
            by_value: dict[bytes, list] = {}
            for i, row in enumerate(group):
                by_value.setdefault(vals[lo + i].tobytes(), []).append(row)
            parts = [np.array(v, np.int64) for v in by_value.values() if len(v) > 1]
        else:
            parts = [group]
        out_m += parts
        out_s += [len(p) for p in parts]
        lo += n
    if not out_m:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_m), np.array(out_s, np.int64)


def pairs(members: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Candidate pairs (i, j), i < j, of buckets: every pair of a bucket of up to ALL_PAIRS_MAX
    rows, a star from the first row plus a chain for larger ones: (E, 2) int64."""
    first = np.zeros(len(size), np.int64)
    np.cumsum(size[:-1], out=first[1:])
    out = []
    for n in np.unique(size):
        rows = members[first[size == n][:, None] + np.arange(n)]   # (buckets of n, n)
        if n <= ALL_PAIRS_MAX:
            i, j = np.triu_indices(n, 1)
            out.append(np.stack([rows[:, i].ravel(), rows[:, j].ravel()], 1))
        else:
            star = np.stack([np.repeat(rows[:, 0], n - 1), rows[:, 1:].ravel()], 1)
            chain = np.stack([rows[:, :-1].ravel(), rows[:, 1:].ravel()], 1)
            out += [star, chain]
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def _band_edges(bands: tuple[int, int], rows: int) -> np.ndarray:
    """Candidate pairs of bands [lo, hi) of the shared signatures: (E, 2) int64."""
    lo, hi = bands
    def band(b: int) -> np.ndarray:
        cols = _SIG[:, b * rows:(b + 1) * rows]
        return cols if _SALT is None else np.concatenate([cols, _SALT[:, None]], 1)
    parts = [pairs(*buckets(band(b), _ROWS)) for b in range(lo, hi)]
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)


def band_ranges(bands: int, groups: int) -> list[tuple[int, int]]:
    cuts = np.linspace(0, bands, max(1, min(groups, bands)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]


def unique_pairs(edges: np.ndarray, n: int) -> np.ndarray:
    """Distinct pairs in (i, j) order (what np.unique(axis=0) gives, without its cost)."""
    if len(edges) == 0:
        return edges
    code = np.sort(edges[:, 0] * np.int64(n) + edges[:, 1])
    code = code[np.r_[True, code[1:] != code[:-1]]]
    return np.stack([code // n, code % n], 1)


def candidate_edges(sig: np.ndarray, cfg: LshConfig, rows: np.ndarray | None = None,
                    salt: np.ndarray | None = None) -> np.ndarray:
    """Unique candidate pairs over all bands among `rows` of `sig` (default: all), verified if
    `cfg.verify`: (E, 2) int64 positions in `rows`."""
    global _SIG, _ROWS, _SALT
    if cfg.bands * cfg.rows > sig.shape[1]:
        raise ValueError(f"data.dedup: bands*rows = {cfg.bands}*{cfg.rows} > num_perm {sig.shape[1]}")
    _SIG, _ROWS, _SALT = sig, rows, None if salt is None else salt.astype(np.uint32)
    try:
        args = [(r, cfg.rows) for r in band_ranges(cfg.bands, cfg.groups)]
        if cfg.workers > 1 and len(args) > 1:   # children use numpy only: fork is safe
            with mp.get_context("fork").Pool(min(cfg.workers, len(args))) as pool:
                parts = pool.starmap(_band_edges, args)
        else:
            parts = [_band_edges(*a) for a in args]
    finally:
        _SIG = _ROWS = _SALT = None
    n = len(sig) if rows is None else len(rows)
    edges = unique_pairs(np.concatenate(parts), n) if parts else np.zeros((0, 2), np.int64)
    if cfg.verify is not None and len(edges):
        at = (lambda e: e) if rows is None else (lambda e: rows[e])
        edges = edges[jaccard_estimate(sig, at(edges[:, 0]), at(edges[:, 1])) >= cfg.verify]
    return edges


def leaders(sig: np.ndarray, rows: np.ndarray, edges: np.ndarray, verify: float | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Greedy representative clustering over candidate pairs (positions in `rows`, i < j):
    in row order, row j joins the earlier representative i with the highest estimated Jaccard
    >= verify (ties: the earliest), else represents itself. Returns (leader (M,) positions,
    similarity (M,) with the leader, 1.0 for representatives)."""
    m = len(rows)
    leader, sim = np.arange(m, dtype=np.int64), np.ones(m)
    if len(edges) == 0:
        return leader, sim
    score = jaccard_estimate(sig, rows[edges[:, 0]], rows[edges[:, 1]])
    ok = score >= (verify if verify is not None else 0.0)
    edges, score = edges[ok], score[ok]
    order = np.lexsort((edges[:, 0], -score, edges[:, 1]))     # by member, best first, earliest
    is_rep = np.ones(m, bool)
    for i, j, s in zip(edges[order, 0].tolist(), edges[order, 1].tolist(), score[order].tolist()):
        if leader[j] == j and is_rep[i] and i != j:      # j still unassigned, i a representative
            leader[j], sim[j], is_rep[j] = i, s, False
    return leader, sim
