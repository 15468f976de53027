"""clean + dedup throughput on ~100-word documents, against a naive per-document datasketch loop
(and datatrove's MinHash pipeline when /tmp/dtvenv or $DATATROVE_PYTHON has datatrove), with F1
on planted duplicates. Ends with one JSON line.

    python bench/bench_dedup.py                    # 40k docs
    python bench/bench_dedup.py --docs 1000000     # streaming run; reports peak RSS
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stages.common import io  # noqa: E402
from stages.common.rejects import ROW_SCHEMA  # noqa: E402
from stages.data import clean, dedup, stream, text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STOP = ["the", "of", "and", "to", "with", "that", "have", "be", "in", "is", "for", "on", "it", "as"]


def corpus(n: int, seed: int = 0, dup_frac: float = 0.05, near_frac: float = 0.10,
           words: int = 100) -> tuple[pl.DataFrame, dict]:
    """Zipf-distributed pseudo-English docs; a share are exact copies and near copies (2 of 100
    words replaced: Jaccard ~0.8-0.9 on 5-word shingles) of earlier docs. Returns (rows, truth:
    planted id -> original id)."""
    rng = np.random.default_rng(seed)
    syl = np.array(["ka", "lo", "mi", "ter", "pen", "dor", "an", "ri", "sto", "vel", "mar", "tin",
                    "gal", "ro", "be", "ne", "qua", "sil"])
    made = ["".join(rng.choice(syl, size=rng.integers(2, 4))) for _ in range(20000)]
    vocab = np.array(STOP + made)
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    toks = rng.choice(len(vocab), size=(n, words), p=p / p.sum())
    n_dup, n_near = int(n * dup_frac), int(n * near_frac)
    planted = np.sort(rng.choice(np.arange(n // 10, n), size=n_dup + n_near, replace=False))
    originals = np.setdiff1d(np.arange(n), planted)
    kinds = rng.permutation(np.r_[np.zeros(n_dup, int), np.ones(n_near, int)])
    truth = {}
    for i, near in zip(planted, kinds):
        j = int(rng.choice(originals[originals < i]))   # an earlier doc that is not a copy itself
        toks[i] = toks[j]
        if near:                                        # 2 of 100 words: Jaccard ~0.8-0.9
            toks[i, rng.choice(words, size=2, replace=False)] = rng.integers(len(STOP), len(vocab), size=2)
        truth[f"doc:{i}"] = f"doc:{j}"
    docs = [" ".join(vocab[row]).capitalize() + "." for row in toks]
    df = pl.DataFrame({"id": [f"doc:{i}" for i in range(n)], "source": "doc", "prompt": docs},
                      schema_overrides={"id": pl.Utf8}).with_columns(
        [pl.lit(None, pl.Utf8).alias(c) for c in ROW_SCHEMA if c not in ("id", "source", "prompt")])
    return df.select(list(ROW_SCHEMA)), truth


def f1(dropped: set, truth: dict) -> dict:
    """Precision/recall of dropped rows against the planted copies, whichever row of a group
    (an original and its copies) a method keeps: up to |group| - 1 drops in a group are right,
    a drop beyond that or outside any group is wrong."""
    groups: dict[str, set] = {}
    for copy, orig in truth.items():
        groups.setdefault(orig, {orig}).add(copy)
    tp = sum(min(len(dropped & g), len(g) - 1) for g in groups.values())
    prec = tp / max(len(dropped), 1)
    rec = tp / max(sum(len(g) - 1 for g in groups.values()), 1)
    return {"precision": round(prec, 4), "recall": round(rec, 4),
            "f1": round(2 * prec * rec / max(prec + rec, 1e-9), 4)}


def ours(path: Path, n: int, out: Path, profile_name: str, workers: int) -> dict:
    prof = yaml.safe_load((ROOT / "params/data/profiles/clean.yaml").read_text())[profile_name]
    factory = yaml.safe_load((ROOT / "params/data/profiles/factory.yaml").read_text())
    dcfg = dedup.DedupConfig.from_params({**factory["dedup"], "fields": ["prompt"]})
    t = time.perf_counter()
    m = stream.run(path, out, clean.check_profile(prof, profile_name), ["prompt"], dcfg,
                   batch_size=10000, workers=workers, progress=False)
    dt = time.perf_counter() - t
    kept = set(stream.kept_ids(out).to_list())
    return {"seconds": dt, "docs_per_s": n / dt, "metrics": {k: v for k, v in m.items() if k != "decision"},
            "kept": kept}


def naive(df: pl.DataFrame, limit: int) -> dict:
    """The obvious loop: per document, MinHash.update per shingle, LSH query, insert."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    sub = df.head(limit)
    dropped = set()
    t = time.perf_counter()
    for rid, doc in zip(sub["id"], sub["prompt"]):
        w = doc.lower().split()
        m = MinHash(num_perm=112, seed=1)
        for i in range(max(1, len(w) - 4)):
            m.update(" ".join(w[i:i + 5]).encode())
        if lsh.query(m):
            dropped.add(rid)
        else:
            lsh.insert(rid, m)
    dt = time.perf_counter() - t
    return {"seconds": dt, "docs_per_s": limit / dt, "dropped": dropped}


DATATROVE = '''
import sys, time, json
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.dedup import MinhashDedupSignature, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig


def main():   # under a main guard: datatrove's workers re-import this file
    src, work, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5)
    t = time.perf_counter()
    r = lambda: ParquetReader(src, text_key="prompt", id_key="id")
    run = lambda steps, tasks, name, w=workers: LocalPipelineExecutor(
        steps, tasks=tasks, workers=w, logging_dir=f"{work}/{name}").run()
    run([r(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], workers, "l1")
    run([MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)],
        cfg.num_buckets, "l2")
    run([MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove_ids", config=cfg)],
        1, "l3", 1)
    run([r(), MinhashDedupFilter(input_folder=f"{work}/remove_ids", exclusion_writer=JsonlWriter(f"{work}/removed")),
         JsonlWriter(f"{work}/kept")], workers, "l4")
    print(json.dumps({"seconds": time.perf_counter() - t}))


if __name__ == "__main__":
    main()
'''


def datatrove(path: Path, n: int, work: Path, workers: int) -> dict | None:
    py = os.environ.get("DATATROVE_PYTHON", "/tmp/dtvenv/bin/python")
    if not Path(py).exists() or subprocess.run([py, "-c", "import datatrove"], capture_output=True).returncode:
        print(f"datatrove: skipped ({py} has no datatrove; set DATATROVE_PYTHON)")
        return None
    work.mkdir(parents=True, exist_ok=True)
    script = work / "dt.py"
    script.write_text(DATATROVE)
    res = subprocess.run([py, str(script), str(path.parent), str(work), str(workers)], capture_output=True, text=True)
    if res.returncode:
        print("datatrove: failed\n" + res.stderr[-2000:])
        return None
    secs = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
    removed = set()
    import gzip
    for f in (work / "removed").glob("*"):
        for line in gzip.open(f, "rt") if f.suffix == ".gz" else open(f):
            removed.add(json.loads(line)["id"])
    return {"seconds": secs, "docs_per_s": n / secs, "dropped": removed}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=40000)
    ap.add_argument("--naive-docs", type=int, default=5000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", default="instruct", help="clean profile: web (full Gopher) | instruct | dialogue")
    ap.add_argument("--no-datatrove", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        df, truth = corpus(a.docs)
        shards = max(4, 2 * a.workers)      # several files, so datatrove's tasks each get some
        step = -(-a.docs // shards)
        for i in range(shards):
            io.write_parquet(df.slice(i * step, step), tmp / "corpus" / f"docs-{i:03d}.parquet")
        src = tmp / "corpus" / "docs-*.parquet"
        print(f"corpus: {a.docs} docs, {len(truth)} planted copies ({time.perf_counter() - t:.1f}s)")
        small = a.docs <= 200000
        if small:
            b = naive(df, min(a.naive_docs, a.docs))
            print(f"naive datasketch loop: {b['docs_per_s']:.0f} docs/s on {min(a.naive_docs, a.docs)} docs")
        del df
        o = ours(src, a.docs, tmp / "ours", a.profile, a.workers)
        rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024 ** 2
        all_ids = {f"doc:{i}" for i in range(a.docs)}
        of1 = f1(all_ids - o["kept"], truth)
        print(f"ours ({a.profile} clean + exact + MinHash LSH, {a.workers} workers): {o['docs_per_s']:.0f} docs/s, "
              f"{o['seconds']:.1f}s, F1 {of1}, peak RSS {rss:.2f} GB")
        print(json.dumps(o["metrics"]))
        out = {"bench": "clean_dedup", "unit": "docs/s", "value": round(o["docs_per_s"], 1),
               "docs": a.docs, "clean_profile": a.profile, "f1": of1, "peak_rss_gb": round(rss, 3)}
        if small:
            out.update(baseline="naive per-document datasketch MinHash+LSH loop",
                       baseline_value=round(b["docs_per_s"], 1), ratio=round(o["docs_per_s"] / b["docs_per_s"], 2))
            if not a.no_datatrove:
                d = datatrove(src, a.docs, tmp / "dt", a.workers)
                if d:
                    df1 = f1(d["dropped"], truth)
                    print(f"datatrove MinHash (4 steps, {a.workers} workers): {d['docs_per_s']:.0f} docs/s, F1 {df1}")
                    out.update(datatrove_docs_per_s=round(d["docs_per_s"], 1), datatrove_f1=df1,
                               ratio_vs_datatrove=round(o["docs_per_s"] / d["docs_per_s"], 2))
        print(json.dumps(out))


if __name__ == "__main__":
    main()
