"""Near-duplicate clusters from MinHash signatures with datasketch's MinHashLSH.

Bands are independent, so they are indexed in groups: each group is one `MinHashLSH` over its
slice of the signature (`params=(bands_in_group, rows)`), built in a worker process, read back
as buckets and dropped. Peak memory is one group's index per worker rather than every band at
once (datasketch keeps a Python set per bucket: ~0.35 KB per row per band), which is what lets
1M rows fit in a few GB. Candidate pairs from shared buckets are checked against the estimated
Jaccard (`verify`, optional) and joined into clusters with a connected-components pass.
"""
from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from stages.data.minhash import SCHEME, jaccard_estimate

_SIG: np.ndarray | None = None   # the signatures, shared with forked workers (copy-on-write)
ALL_PAIRS_MAX = 32               # buckets up to this size give every pair, larger ones a star


@dataclass
class LshConfig:
    bands: int            # b: a pair is a candidate if any band of r values matches
    rows: int             # r: values per band
    seed: int             # MinHash seed (only recorded on the LeanMinHash objects)
    verify: float | None  # keep a candidate pair only if estimated Jaccard >= this (None: off)
    groups: int = 1       # band groups indexed one after another (memory bound)
    workers: int = 1      # processes building band groups in parallel


def _bucket_edges(bands: tuple[int, int], rows: int, seed: int) -> np.ndarray:
    """Pairs (i, j), i < j, that share a bucket in bands [lo, hi): (E, 2) int64."""
    lo, hi = bands
    sig = _SIG[:, lo * rows:hi * rows]
    lsh = MinHashLSH(num_perm=sig.shape[1], params=(hi - lo, rows))
    with lsh.insertion_session() as session:
        for i in range(len(sig)):
            session.insert(i, LeanMinHash(seed=seed, hashvalues=sig[i], scheme=SCHEME),
                           check_duplication=False)
    edges = []
    for table in lsh.hashtables:
        for key, count in table.itemcounts().items():
            if count > 1:
                edges.append(_pairs(np.sort(np.fromiter(table.get(key), np.int64, count))))
    return np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)


def _pairs(m: np.ndarray) -> np.ndarray:
    """Candidate pairs of one bucket (sorted members): all pairs when small, else a star + chain."""
    if len(m) <= ALL_PAIRS_MAX:
        i, j = np.triu_indices(len(m), 1)
        return np.stack([m[i], m[j]], 1)
    star = np.stack([np.full(len(m) - 1, m[0]), m[1:]], 1)
    chain = np.stack([m[:-1], m[1:]], 1)
    return np.concatenate([star, chain])


def band_ranges(bands: int, groups: int) -> list[tuple[int, int]]:
    cuts = np.linspace(0, bands, max(1, min(groups, bands)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def candidate_edges(sig: np.ndarray, cfg: LshConfig) -> np.ndarray:
    """Unique candidate pairs over all bands, verified if `cfg.verify`: (E, 2) int64."""
    global _SIG
    if cfg.bands * cfg.rows > sig.shape[1]:
        raise ValueError(f"data.dedup: bands*rows = {cfg.bands}*{cfg.rows} > num_perm {sig.shape[1]}")
    _SIG = sig
    try:
        ranges = band_ranges(cfg.bands, cfg.groups)
        args = [(r, cfg.rows, cfg.seed) for r in ranges]
        if cfg.workers > 1 and len(ranges) > 1:
            with mp.get_context("fork").Pool(min(cfg.workers, len(ranges))) as pool:
                parts = pool.starmap(_bucket_edges, args)
        else:
            parts = [_bucket_edges(*a) for a in args]
    finally:
        _SIG = None
    edges = np.unique(np.concatenate(parts), axis=0) if parts else np.zeros((0, 2), np.int64)
    if cfg.verify is not None and len(edges):
        edges = edges[jaccard_estimate(sig, edges[:, 0], edges[:, 1]) >= cfg.verify]
    return edges


def clusters(n: int, edges: np.ndarray) -> np.ndarray:
    """rep[i] = smallest row index in i's cluster (so the earliest row is the one kept)."""
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    first = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n, dtype=np.int64))
    return first[label]
