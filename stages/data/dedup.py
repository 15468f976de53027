"""Exact and near-duplicate removal (datasketch MinHash LSH), keeping the earliest row.

Rows arrive in the natural id order (`text.sort_rows`); a cluster keeps its first row, so the
choice is deterministic. Exact duplicates (same normalised text) are collapsed first; only the
distinct texts are MinHashed and indexed. `Deduper` is fed batch by batch (it keeps 8 bytes of
hash and one signature per row, never the texts), so 1M rows stream through.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from stages.common import rejects
from stages.data import lsh, text
from stages.data.minhash import Signer

STAGE = "dedup"
KEEP, EXACT, NEAR = 0, 1, 2


@dataclass
class DedupConfig:
    """data.dedup; every value comes from params (params/data/profiles/factory.yaml)."""
    fields: list[str]            # text columns compared (joined by newlines)
    exact: bool                  # drop rows whose normalised text repeats an earlier row
    near: bool                   # drop near duplicates (MinHash LSH)
    num_perm: int                # MinHash permutations (>= bands * rows)
    bands: int                   # LSH bands
    rows: int                    # LSH rows per band
    shingle: str                 # words | chars
    shingle_size: int            # words (or characters) per shingle
    seed: int                    # MinHash permutation seed
    verify: float | None         # min estimated Jaccard of a member with its representative
    match_numbers: bool          # near duplicates must hold the same numbers (templates differ in them)
    groups: int                  # LSH band groups indexed one after another
    workers: int                 # processes
    examples: int                # example pairs in clusters.json

    @classmethod
    def from_params(cls, p: dict) -> DedupConfig:
        from stages.common.params import check_keys

        check_keys(p, cls, "data.dedup")
        missing = sorted(set(cls.__dataclass_fields__) - set(p))
        if missing:
            raise KeyError(f"data.dedup: missing key(s) {missing} (params/data/profiles/factory.yaml has them)")
        cfg = cls(**p)
        cfg.fields = text.check_fields(cfg.fields, "data.dedup.fields")
        return cfg


@dataclass
class Decision:
    rep: np.ndarray        # (N,) index of the row each row is a copy of (itself if kept)
    why: np.ndarray        # (N,) KEEP | EXACT | NEAR
    score: np.ndarray      # (N,) estimated Jaccard with its representative (1.0 for exact/kept)


@dataclass
class Deduper:
    """Feed normalised texts batch by batch with `add`, then `finish` decides every row."""
    cfg: DedupConfig
    signer: Signer | None = None      # built from cfg when not given
    rows: int | None = None           # rows to come, when known: signatures fill one array (no copy)
    _hashes: list = field(default_factory=list)
    _sigs: list = field(default_factory=list)
    _filled: int = 0
    _numbers: list = field(default_factory=list)

    def __post_init__(self):
        if self.signer is None and self.cfg.near:
            self.signer = Signer(self.cfg.num_perm, self.cfg.seed, self.cfg.shingle, self.cfg.shingle_size)

    def add(self, norm: pl.Series) -> None:
        """One batch of normalised texts."""
        self.add_hashed(norm.hash(seed=0).to_numpy().astype(np.uint64),
                        self.signer.signatures(norm) if self.cfg.near else None,
                        numbers_hash(norm) if self.cfg.near and self.cfg.match_numbers else None)

    def add_hashed(self, hashes: np.ndarray, signatures: np.ndarray | None,
                   numbers: np.ndarray | None = None) -> None:
        """One batch already hashed and signed (by a worker process)."""
        self._hashes.append(hashes)
        if self.cfg.near:
            if self.rows is None:
                self._sigs.append(signatures)
            else:
                if not self._sigs:
                    self._sigs.append(np.empty((self.rows, signatures.shape[1]), signatures.dtype))
                self._sigs[0][self._filled:self._filled + len(signatures)] = signatures
                self._filled += len(signatures)
            if numbers is not None:
                self._numbers.append(numbers)

    def finish(self) -> Decision:
        h = np.concatenate(self._hashes) if self._hashes else np.zeros(0, np.uint64)
        n = len(h)
        rep = np.arange(n, dtype=np.int64)
        if self.cfg.exact and n:
            rep = first_of_equal(h)
        why = np.where(rep != np.arange(n), EXACT, KEEP)
        score = np.ones(n)
        if self.cfg.near and n:
            sig = np.concatenate(self._sigs) if self.rows is None else self._sigs[0][:self._filled]
            self._sigs = []
            uniq = np.flatnonzero(why == KEEP)
            salt = np.concatenate(self._numbers) if self._numbers else None
            edges = lsh.candidate_edges(sig, self._lsh_config(), rows=None if len(uniq) == n else uniq,
                                        salt=salt)
            leader, sim = lsh.leaders(sig, uniq, edges, self.cfg.verify)
            near_rep = uniq[leader]
            moved = near_rep != uniq
            rep[uniq] = near_rep
            why[uniq[moved]] = NEAR
            score[uniq[moved]] = sim[moved]
            copies = np.flatnonzero(why == EXACT)     # a copy of a near member: near, as its original
            orig = rep[copies]
            rep[copies], why[copies], score[copies] = rep[orig], np.where(why[orig] == NEAR, NEAR, EXACT), score[orig]
        return Decision(rep, why, score)

    def _lsh_config(self) -> lsh.LshConfig:
        c = self.cfg
        return lsh.LshConfig(c.bands, c.rows, c.seed, c.verify, c.groups, c.workers)


def numbers_hash(norm: pl.Series) -> np.ndarray:
    """(N,) uint32 hash of each text's sorted numbers: rewordings keep them, templates do not."""
    nums = norm.str.extract_all(r"\d+(?:[.,]\d+)*").list.sort().list.join(" ").fill_null("")
    return nums.hash(seed=7).to_numpy().astype(np.uint32)


def first_of_equal(h: np.ndarray) -> np.ndarray:
    """For each value, the index of its first occurrence (a stable sort, no hash table)."""
    order = np.argsort(h, kind="stable")
    v = h[order]
    head = np.r_[True, v[1:] != v[:-1]]
    rep = np.empty(len(h), np.int64)
    rep[order] = order[np.flatnonzero(head)][np.cumsum(head) - 1]
    return rep


def normal_text(df: pl.DataFrame, cfg: DedupConfig) -> pl.Series:
    """What dedup compares: the row's `cfg.fields` joined, in the normal form."""
    return text.normalise(df.select(text.joined(cfg.fields)).to_series())


def run(df: pl.DataFrame, cfg: DedupConfig, batch: int = 50_000):
    """Rows -> (kept, rejected, cluster summary, clusters frame). Pure: no file I/O. (The dedup
    stage does the same a chunk of rows at a time: `Deduper`, then `split` per chunk.)"""
    df = text.sort_rows(df)
    norm = normal_text(df, cfg)
    dd = Deduper(cfg)
    for lo in range(0, len(norm), batch):        # shingles per batch: memory bounded by `batch`
        dd.add(norm.slice(lo, batch))
    d = dd.finish()
    kept, rejected = split(df, 0, d, df["id"])
    at = members(d)
    report = cluster_report(df["id"], d, lambda rows: norm.gather(rows).to_list(), cfg.examples)
    return kept, rejected, report, cluster_frame(df["id"], source_ids(df["meta"].gather(at)), d)


CLUSTER_SCHEMA = {"cluster_id": pl.Int64, "member_id": pl.Utf8, "source_id": pl.Utf8,
                  "representative": pl.Utf8, "similarity": pl.Float64, "kind": pl.Utf8}


def split(df: pl.DataFrame, lo: int, d: Decision, ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows lo.. of the input (`df`, in the natural order) -> (kept, rejected naming the row each
    dropped one copies); `ids`: every input row's id."""
    why, rep, score = (a[lo:lo + df.height] for a in (d.why, d.rep, d.score))
    gone = np.flatnonzero(why != KEEP)
    rule = np.where(why[gone] == EXACT, "exact_duplicate", "near_duplicate")
    reps = ids.gather(rep[gone]).to_list()
    detail = [f"{r.replace('_', ' ')} of {k} (jaccard~{score[i]:.2f})" for r, k, i in zip(rule, reps, gone)]
    dropped = df[gone]
    rejected = pl.DataFrame({
        "id": dropped["id"], "source": dropped["source"], "stage": [STAGE] * len(gone),
        "rule": rule.tolist(), "detail": detail,
        "record": [rejects.reject("", "", "", r)["record"] for r in dropped.iter_rows(named=True)],
    }, schema=rejects.REJECT_SCHEMA)
    return df.filter(pl.Series(why == KEEP)), rejected


def source_ids(meta: pl.Series) -> pl.Series:
    """The id a source row had itself (an `id` field, kept by ingest in `meta`), else null."""
    return meta.str.json_path_match("$.id")


def members(d: Decision) -> np.ndarray:
    """Rows in a cluster of two or more (ascending)."""
    in_cluster = np.zeros(len(d.rep), bool)
    in_cluster[d.rep[d.why != KEEP]] = True
    in_cluster[d.why != KEEP] = True
    return np.flatnonzero(in_cluster)


def cluster_frame(ids: pl.Series, member_source_ids: pl.Series, d: Decision) -> pl.DataFrame:
    """Members of every cluster of two or more rows, representative first, in row order;
    `member_source_ids`: `source_ids` of the rows `members(d)`."""
    at = members(d)
    reps = d.rep[at]
    order = np.lexsort((at, reps))
    at, reps, sids = at[order], reps[order], member_source_ids.gather(order)
    cluster = np.cumsum(np.r_[True, reps[1:] != reps[:-1]]) - 1 if len(at) else np.zeros(0, np.int64)
    kind = np.where(d.why[at] == EXACT, "exact", np.where(d.why[at] == NEAR, "near", "representative"))
    return pl.DataFrame({"cluster_id": cluster, "member_id": ids.gather(at), "source_id": sids,
                         "representative": ids.gather(reps), "similarity": d.score[at].round(4),
                         "kind": kind}, schema=CLUSTER_SCHEMA)


def cluster_report(ids: pl.Series, d: Decision, texts, examples: int) -> dict:
    """Cluster sizes (histogram, largest) and example pairs (kept row, dropped row, Jaccard);
    `texts(rows)`: the normalised texts of some rows (only the example pairs' are asked for)."""
    dup = np.flatnonzero(d.why != KEEP)
    reps, sizes = np.unique(d.rep[dup], return_counts=True)
    sizes = sizes + 1
    hist = dict(zip(*np.unique(sizes, return_counts=True))) if len(sizes) else {}
    largest = np.argsort(-sizes, kind="stable")[:10]
    shown = dup[np.argsort(d.score[dup], kind="stable")][:examples]   # least similar first
    need = np.unique(np.r_[shown, d.rep[shown]]).astype(np.int64)
    text_of = dict(zip(need.tolist(), texts(need)))
    pairs = []
    for i in shown:
        r = d.rep[i]
        pairs.append({"kept": str(ids[int(r)]), "dropped": str(ids[int(i)]), "rule": "exact" if d.why[i] == EXACT else "near",
                      "jaccard_estimate": round(float(d.score[i]), 3),
                      "kept_text": text_of[int(r)][:300], "dropped_text": text_of[int(i)][:300]})
    return {"clusters": len(reps), "rows_in_clusters": int(len(dup) + len(reps)),
            "exact_dropped": int((d.why == EXACT).sum()), "near_dropped": int((d.why == NEAR).sum()),
            "size_histogram": {str(int(k)): int(v) for k, v in hist.items()},
            "largest": [{"kept": str(ids[int(reps[k])]), "size": int(sizes[k])} for k in largest],
            "example_pairs": pairs}
