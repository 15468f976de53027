"""clean + dedup throughput on ~100-word documents, against a naive per-document datasketch loop
(and datatrove's MinHash pipeline from `make bench-env`, or $DATATROVE_PYTHON), with F1 on planted
duplicates, and recall/precision per planted similarity level (rewrites vs templates that differ
only in their numbers) for ours and datatrove side by side. Ends with one JSON line.

    python bench/bench_dedup.py                                 # 200k docs; datatrove on 40k
    python bench/bench_dedup.py --docs 1000000 --no-datatrove   # streaming run; reports peak RSS
    python bench/bench_dedup.py --levels-only                   # the planted-levels table alone
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
from stages.common import io
from stages.data import clean, dedup, stream
from stages.data.schema import ROW_SCHEMA

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
        j = int(originals[rng.integers(0, np.searchsorted(originals, i))])   # an earlier non-copy doc
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


def _ours_child(path: str, out: str, profile_name: str, workers: int, batch: int, over: dict, q) -> None:
    prof = yaml.safe_load((ROOT / "params/data/profiles/clean.yaml").read_text())[profile_name]
    factory = yaml.safe_load((ROOT / "params/data/profiles/factory.yaml").read_text())
    dcfg = dedup.DedupConfig.from_params({**factory["dedup"], "fields": ["prompt"], **over})
    t = time.perf_counter()
    rules = {"rules": factory["clean"]["rules"], "profiles": {profile_name: prof}}
    m = stream.run(path, out, clean.profile(rules, profile_name), ["prompt"], dcfg,
                   batch_size=batch, workers=workers, progress=False)
    wall = time.perf_counter() - t
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    peak = me.ru_maxrss + workers * kids.ru_maxrss   # KiB: main's peak + each worker at the largest's
    q.put((wall, cpu, peak * 1024, {k: v for k, v in m.items() if k != "decision"}))


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants now (from /proc)."""
    kids: dict[int, list] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def ours(path: Path, n: int, out: Path, profile_name: str, workers: int, batch: int, over: dict | None = None) -> dict:
    """clean + dedup (data.dedup params of factory.yaml, `over` on top) in a fresh process (so
    the corpus built here is not counted), the resident memory of its process tree sampled
    every 0.2 s."""
    import multiprocessing as mp
    import threading

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_ours_child, args=(str(path), str(out), profile_name, workers, batch, over or {}, q))
    proc.start()
    peak, done = [0], threading.Event()

    def sample():
        while not done.wait(0.2):
            peak[0] = max(peak[0], tree_rss(proc.pid))
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    seconds, cpu, bound, metrics = q.get()
    proc.join()
    done.set()
    th.join()
    kept = set(stream.kept_ids(out).to_list())
    return {"seconds": seconds, "docs_per_s": n / seconds, "metrics": metrics, "kept": kept,
            "peak_rss_gb": peak[0] / 1024 ** 3, "peak_rss_bound_gb": bound / 1024 ** 3, "cpu_seconds": cpu}


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
    """datatrove's four MinHash steps in its own venv (datatrove, spacy, orjson, pyarrow,
    xxhash<4: datatrove 0.10 hashes str, which xxhash 4 refuses)."""
    import gzip

    py = os.environ.get("DATATROVE_PYTHON", str(ROOT / ".bench/datatrove/bin/python"))
    if not Path(py).exists() or subprocess.run([py, "-c", "import datatrove"], capture_output=True,
                                               check=False).returncode:
        print(f"datatrove: skipped ({py} has no datatrove; run `make bench-env` or set DATATROVE_PYTHON)")
        return None
    work.mkdir(parents=True, exist_ok=True)
    script = work / "dt.py"
    script.write_text(DATATROVE)
    res = subprocess.run([py, str(script), str(path.parent), str(work), str(workers)], capture_output=True,
                         text=True, check=False)
    if res.returncode:
        print("datatrove: failed\n" + res.stderr[-2000:])
        return None
    secs = json.loads(res.stdout.strip().splitlines()[-1])["seconds"]
    removed = set()
    for f in (work / "removed").glob("*"):
        with gzip.open(f, "rt") if f.suffix == ".gz" else open(f) as lines:
            removed.update(json.loads(line)["id"] for line in lines)
    return {"seconds": secs, "docs_per_s": n / secs, "dropped": removed}


LEVELS = (0.9, 0.8, 0.7, 0.6, 0.5)   # planted similarity levels: true word-5-gram Jaccard in [L - 0.05, L + 0.05)


def _jac(a: list, b: list, n: int = 5) -> float:
    x = {tuple(a[i:i + n]) for i in range(max(1, len(a) - n + 1))}
    y = {tuple(b[i:i + n]) for i in range(max(1, len(b) - n + 1))}
    return len(x & y) / len(x | y)


def level_corpus(n: int, per_level: int, seed: int = 2) -> tuple[pl.DataFrame, dict, dict]:
    """Maths-like problems (60 words, 6 numbers) plus, per level, `per_level` rewrites (words
    replaced, numbers kept: the same problem) and `per_level` template variants (only numbers
    changed: a different problem), each at a measured Jaccard in the level's band.
    Returns (rows, rewrite id -> original id, id -> (level, "rewrite" | "variant"))."""
    rng = np.random.default_rng(seed)
    syl = ["ka", "lo", "mi", "ter", "pen", "dor", "an", "ri", "sto", "vel", "mar", "tin", "gal", "ro"]
    vocab = sorted({"".join(rng.choice(syl, size=3)) for _ in range(4000)})
    docs = []
    for _ in range(n):
        w = list(rng.choice(vocab, size=60))
        for k in rng.choice(60, size=6, replace=False):
            w[k] = str(rng.integers(2, 999))
        docs.append(w)
    rows = [(f"doc:{i}", d) for i, d in enumerate(docs)]
    truth, label = {}, {}
    for kind in ("rewrite", "variant"):
        for lv in LEVELS:
            made = 0
            while made < per_level:
                j = int(rng.integers(0, n))
                orig, new = docs[j], list(docs[j])
                spots = [k for k, t in enumerate(orig) if t.isdigit() == (kind == "variant")]
                for k in rng.permutation(spots):
                    new[k] = str(int(new[k]) + 1 + int(rng.integers(0, 50))) if kind == "variant" else str(rng.choice(vocab))
                    if _jac(orig, new) < lv + 0.05:
                        break
                if not lv - 0.05 <= _jac(orig, new) < lv + 0.05:
                    continue
                rid = f"{kind}:{lv}:{made}"
                rows.append((rid, new))
                label[rid] = (lv, kind)
                if kind == "rewrite":
                    truth[rid] = f"doc:{j}"
                made += 1
    df = pl.DataFrame({"id": [r[0] for r in rows], "source": "doc", "prompt": [" ".join(r[1]) for r in rows]})
    df = df.with_columns([pl.lit(None, pl.Utf8).alias(c) for c in ROW_SCHEMA if c not in ("id", "source", "prompt")])
    return df.select(list(ROW_SCHEMA)), truth, label


def per_level(dropped: set, truth: dict, label: dict) -> dict:
    """Per level: recall = rewrites dropped / rewrites; precision = rewrites dropped /
    (rewrites + template variants dropped); a dropped original counts for its rewrite."""
    out = {}
    for lv in LEVELS:
        rw = [r for r, (l, k) in label.items() if l == lv and k == "rewrite"]
        var = [r for r, (l, k) in label.items() if l == lv and k == "variant"]
        tp = sum(r in dropped or truth[r] in dropped for r in rw)
        fp = sum(r in dropped for r in var)
        out[str(lv)] = {"recall": round(tp / len(rw), 3), "precision": round(tp / max(tp + fp, 1), 3)}
    return out


def levels(a, tmp: Path) -> dict:
    """Ours (the factory's data.dedup) and datatrove on one corpus of planted levels."""
    df, truth, label = level_corpus(a.level_docs, a.per_level)
    factory = yaml.safe_load((ROOT / "params/data/profiles/factory.yaml").read_text())
    t = time.perf_counter()
    kept = dedup.run(df, dedup.DedupConfig.from_params({**factory["dedup"], "fields": ["prompt"]}))[0]
    ours_s = time.perf_counter() - t
    res = {"ours": per_level(set(df["id"]) - set(kept["id"]), truth, label)}
    d = None if a.no_datatrove else datatrove(shard(df, tmp / "lv-corpus", a.workers), df.height, tmp / "lv-dt", a.workers)
    if d:
        res["datatrove"] = per_level(d["dropped"], truth, label)
    print(f"planted levels ({df.height} docs, {a.per_level} rewrites + {a.per_level} number-only variants per level; "
          f"ours {ours_s:.1f}s):")
    print("  level  " + "  ".join(f"{m:>22}" for m in res))
    for lv in LEVELS:
        print(f"  {lv:<5}  " + "  ".join(f"R {res[m][str(lv)]['recall']:.3f} P {res[m][str(lv)]['precision']:.3f}".rjust(22)
                                       for m in res))
    return {"levels": res}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200000)
    ap.add_argument("--naive-docs", type=int, default=5000, help="docs for the naive loop (run before and after ours)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10000, help="rows per streamed batch")
    ap.add_argument("--profile", default="instruct", help="clean profile: web (full Gopher) | instruct | dialogue")
    ap.add_argument("--no-datatrove", action="store_true")
    ap.add_argument("--datatrove-docs", type=int, default=40000, help="corpus size for datatrove vs ours")
    ap.add_argument("--level-docs", type=int, default=5000, help="originals of the planted-levels corpus")
    ap.add_argument("--per-level", type=int, default=200, help="rewrites and number-only variants per level")
    ap.add_argument("--levels-only", action="store_true", help="only the planted-levels comparison")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if a.levels_only:
            print(json.dumps({"bench": "dedup_levels", **levels(a, tmp)}))
            return
        t = time.perf_counter()
        df, truth = corpus(a.docs)
        src = shard(df, tmp / "corpus", a.workers)
        head = df.head(a.naive_docs)
        print(f"corpus: {a.docs} docs, {len(truth)} planted copies ({time.perf_counter() - t:.1f}s); "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        del df
        b1 = naive(head, len(head))
        o = ours(src, a.docs, tmp / "ours", a.profile, a.workers, a.batch)
        b2 = naive(head, len(head))
        base = (b1["docs_per_s"] + b2["docs_per_s"]) / 2
        print(f"naive datasketch loop: {b1['docs_per_s']:.0f} docs/s before, {b2['docs_per_s']:.0f} after "
              f"(on {len(head)} docs)")
        of1 = f1({f"doc:{i}" for i in range(a.docs)} - o["kept"], truth)
        print(f"ours ({a.profile} clean + exact + MinHash LSH, {a.workers} workers): {o['docs_per_s']:.0f} docs/s, "
              f"{o['seconds']:.1f}s, F1 {of1}, peak RSS {o['peak_rss_gb']:.2f} GB; "
              f"{1e6 * o['cpu_seconds'] / a.docs:.1f} CPU-us/doc; load {os.getloadavg()[0]:.1f}")
        print(json.dumps(o["metrics"]))
        out = {"bench": "clean_dedup", "unit": "docs/s", "value": round(o["docs_per_s"], 1),
               "baseline": "naive per-document datasketch MinHash+LSH loop (mean of a run before and after)",
               "baseline_value": round(base, 1), "ratio": round(o["docs_per_s"] / base, 2),
               "docs": a.docs, "seconds": round(o["seconds"], 2), "clean_profile": a.profile, "f1": of1,
               "peak_rss_gb": round(o["peak_rss_gb"], 3),                   # sampled, whole process tree
               "peak_rss_bound_gb": round(o["peak_rss_bound_gb"], 3),       # main + workers x largest worker
               "phases_s": o["metrics"]["seconds"],
               "cpu_us_per_doc": round(1e6 * o["cpu_seconds"] / a.docs, 1),   # all processes, user+sys
               "docs_per_cpu_s_x2": round(2 * a.docs / o["cpu_seconds"], 1),  # 2 cores' worth of CPU time
               "load_avg_1m": round(os.getloadavg()[0], 2)}
        if not a.no_datatrove:
            out.update(vs_datatrove(a, tmp))
        out.update(levels(a, tmp))
        print(json.dumps(out))


def shard(df: pl.DataFrame, folder: Path, workers: int) -> Path:
    """Several parquet files (so datatrove's tasks each get some); returns their glob."""
    shards = max(4, 2 * workers)
    step = -(-df.height // shards)
    for i in range(shards):
        io.write_parquet(df.slice(i * step, step), folder / f"docs-{i:03d}.parquet")
    return folder / "docs-*.parquet"


def vs_datatrove(a, tmp: Path) -> dict:
    """datatrove's MinHash pipeline, then ours, on one corpus (smaller: datatrove is slow)."""
    n = min(a.docs, a.datatrove_docs)
    df, truth = corpus(n, seed=1)
    src = shard(df, tmp / "dt-corpus", a.workers)
    del df
    d = datatrove(src, n, tmp / "dt", a.workers)
    if not d:
        return {}
    ids = {f"doc:{i}" for i in range(n)}
    o = ours(src, n, tmp / "ours-dt", a.profile, a.workers, a.batch)
    same = ours(src, n, tmp / "ours-dt-same", a.profile, a.workers, a.batch, {"verify": None})
    df1, of1, sf1 = f1(d["dropped"], truth), f1(ids - o["kept"], truth), f1(ids - same["kept"], truth)
    print(f"datatrove MinHash (4 steps, {a.workers} workers, {n} docs): {d['docs_per_s']:.0f} docs/s, F1 {df1}; "
          f"ours on the same: {o['docs_per_s']:.0f} docs/s, F1 {of1} (factory params), "
          f"{same['docs_per_s']:.0f} docs/s, F1 {sf1} (as datatrove: no Jaccard check of LSH candidates)")
    return {"datatrove_docs": n, "datatrove_docs_per_s": round(d["docs_per_s"], 1), "datatrove_f1": df1,
            "ours_on_datatrove_corpus_docs_per_s": round(o["docs_per_s"], 1), "ours_on_datatrove_corpus_f1": of1,
            "ours_no_verify_docs_per_s": round(same["docs_per_s"], 1), "ours_no_verify_f1": sf1,
            "ratio_vs_datatrove": round(o["docs_per_s"] / d["docs_per_s"], 2)}


if __name__ == "__main__":
    main()
