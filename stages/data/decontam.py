"""Decontamination: drop training rows that share a word n-gram with a benchmark test item.

13-grams after normalisation, as lm-eval-harness, Qwen2.5-Math and FineMath do. A test item
shorter than n words is matched as a whole when it has at least `min_item_words` words (shorter
ones would match common phrases and are counted as skipped). Each hit reports the benchmark,
the item id and the matching n-gram, so a dropped row can be traced to the item it leaked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from stages.common.shared import datasets_dir
from stages.data import ngrams, text

MANIFEST = "benchmark.json"   # written per benchmark by the `datasets` stage


@dataclass
class Benchmark:
    name: str
    items: list[tuple[str, str]]   # (item id, text)


def load_benchmark(name: str, spec: dict) -> Benchmark:
    """One benchmark's test items: its `source` read by the shared resolver
    (stages.data.sources.locate), the text of its `decontam` field, ids from `id_field`."""
    from stages.data.sources import read_whole

    field = spec["decontam"]
    rows = read_whole(spec["source"], spec.get("hf_config"), spec.get("split"), spec.get("revision"))
    items = []
    for n, rec in enumerate(rows):
        if field not in rec:
            raise KeyError(f"{spec['source']}, row {n + 1}: no field {field!r} "
                           f"(eval.benchmarks.{name}.decontam)")
        item_id = str(rec[spec["id_field"]]) if spec.get("id_field") else f"{name}:{n}"
        items.append((item_id, rec[field]))
    return Benchmark(name, items)


def manifests(root: Path | None = None) -> dict[str, dict]:
    """{benchmark: manifest} of every benchmark the `datasets` stage wrote that names a
    `decontam` field (params/eval/benchmarks/*.yaml)."""
    root = root or datasets_dir()
    found = {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob(f"*/{MANIFEST}"))}
    return {name: m for name, m in found.items() if m.get("decontam")}


class Index:
    """All n-grams of all benchmark items: hash -> (benchmark, item id, n-gram text)."""

    def __init__(self, benchmarks: list[Benchmark], n: int, min_item_words: int):
        self.n, self.skipped = n, {}
        owners, hashes = [], []
        for b in benchmarks:
            norm = text.normalise(pl.Series([t for _, t in b.items], dtype=pl.Utf8))
            g = ngrams.word_ngrams(norm, n, short=True)
            ok = g.n >= min(n, min_item_words)
            self.skipped[b.name] = int(len(np.unique(g.doc[~ok])))
            for h, d, p, k in zip(g.hashes[ok], g.doc[ok], g.pos[ok], g.n[ok]):
                hashes.append(h)
                owners.append((b.name, b.items[d][0], norm[int(d)], int(p), int(k)))
        self.owner = {}
        for h, o in zip(hashes, owners):
            self.owner.setdefault(int(h), o)          # first item owning a gram names the hit
        self.hashes = np.array(sorted(self.owner), dtype=np.uint64)
        self.hash_set = pl.Series(self.hashes).implode()   # for polars' hash-set membership test
        self.lengths = sorted({o[4] for o in owners})  # n, plus whole short items' lengths
        self.items = {b.name: len(b.items) for b in benchmarks}

    def hits(self, norm: pl.Series, chunk: int = 20_000) -> dict[int, dict]:
        """Row index -> first hit {benchmark, item, ngram} for rows sharing any indexed gram.
        Rows go in chunks, so memory stays bounded by the chunk's grams whatever the row count."""
        from tqdm import tqdm

        found: dict[int, dict] = {}
        if not len(self.hashes):
            return found
        for lo in tqdm(range(0, len(norm), chunk), desc="decontam", unit="chunk",
                       disable=len(norm) <= chunk):
            h, doc, counts = ngrams.words(norm.slice(lo, chunk))
            for k in self.lengths:
                g = ngrams.ngrams(h, doc, counts, k, short=False)
                m = pl.Series(g.hashes).is_in(self.hash_set).to_numpy()     # a hash-set probe
                for hv, d in zip(g.hashes[m], g.doc[m]):
                    row = lo + int(d)
                    if row not in found:
                        bench, item, item_text, p, n = self.owner[int(hv)]
                        found[row] = {"benchmark": bench, "item": item,
                                      "ngram": ngrams.gram_text(item_text, p, n)}
        return found


KEYS = ("enabled", "ngram", "min_item_words", "fields")   # data.decontam


def index_from_params(p: dict, root: Path | None = None) -> Index:
    """The n-gram index of every benchmark under `root` (paths.datasets) with a decontam field."""
    benches = [load_benchmark(name, spec) for name, spec in manifests(root).items()]
    return Index(benches, int(p["ngram"]), int(p["min_item_words"]))


def run(df: pl.DataFrame, index: Index, fields) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Rows -> (clean rows, contaminated rows rejected with benchmark/item/n-gram, report)."""
    from stages.common import rejects

    fields = text.check_fields(fields, "data.decontam.fields")
    df = text.sort_rows(df)
    norm = text.normalise(df.select(text.joined(fields)).to_series())
    found = index.hits(norm)
    bad = sorted(found)
    hits = [{"id": df["id"][i], **found[i]} for i in bad]
    keep = np.ones(df.height, bool)
    keep[bad] = False
    rejected = rejects.frame([
        rejects.reject("dedup", "contamination", f"{h['benchmark']} item {h['item']}: {h['ngram']!r}",
                       df.row(i, named=True), id=h["id"], source=df["source"][i])
        for i, h in zip(bad, hits)])
    by_bench: dict[str, int] = {}
    for h in hits:
        by_bench[h["benchmark"]] = by_bench.get(h["benchmark"], 0) + 1
    report = {"enabled": True, "ngram": index.n, "benchmark_items": index.items,
              "items_too_short": index.skipped, "by_benchmark": dict(sorted(by_bench.items())),
              "hits": hits}
    return df.filter(pl.Series(keep)), rejected, report
