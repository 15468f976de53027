"""Clean + dedup over a large parquet file in batches, on several processes, in bounded memory.

Workers each read one slice of the input, clean it, write the kept rows of that slice to a
scratch part and send back only 8 bytes of hash and one MinHash signature per kept row. The main
process then decides duplicates (exact, then LSH bands) and the workers rewrite each part without
them. Workers are spawned, not forked (fork can deadlock polars' threads); they get a pickled
`Signer`, so they never import datasketch. Memory is one batch per worker plus num_perm * 4
bytes per row in the main process: 1M rows of ~100 words peak under 2 GB.

    python bench/bench_dedup.py --docs 1000000
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from stages.common import io
from stages.data import clean, dedup, text


@dataclass
class Job:
    path: str
    offset: int
    length: int
    part: int
    out: str
    profile: dict
    fields: list
    dfields: list                 # text columns dedup compares
    signer: dedup.Signer | None   # built once here: workers need not import datasketch
    numbers: bool = False         # also hash each text's numbers (data.dedup.match_numbers)


def _clean_part(job: Job) -> tuple[int, np.ndarray, np.ndarray | None, np.ndarray | None, int, dict]:
    """Clean one slice, write its kept rows; return their text hashes and MinHash signatures."""
    df = pl.scan_parquet(job.path).slice(job.offset, job.length).collect()
    kept, rejected, _ = clean.run(df, job.profile, job.fields)
    kept.write_ipc(Path(job.out) / f"clean-{job.part:05d}.arrow", compression="uncompressed")   # scratch
    norm = text.normalise(kept.select(text.joined(job.dfields)).to_series())
    h = norm.hash(seed=0).to_numpy().astype(np.uint64)
    sig = job.signer.signatures(norm) if job.signer else None
    nums = dedup.numbers_hash(norm) if job.signer and job.numbers else None
    by_rule = dict(rejected.group_by("rule").len().iter_rows()) if rejected.height else {}
    return job.part, h, sig, nums, rejected.height, by_rule


def _drop_rows(args: tuple[str, np.ndarray]) -> None:
    """Rewrite one clean part without its duplicates as kept-<part>.parquet."""
    path, keep = args
    f = Path(path)
    kept = pl.read_ipc(f).filter(pl.Series(keep))
    io.write_parquet(kept, f.parent / f"kept-{f.stem.split('-')[1]}.parquet")
    f.unlink()


def run(path: str | Path, out_dir: str | Path, profile: dict, fields: list, dcfg: dedup.DedupConfig,
        batch_size: int = 20000, workers: int = 2, progress: bool = True) -> dict:
    """Returns clean and dedup funnels; kept rows end up in out_dir/kept-*.parquet."""
    from tqdm import tqdm

    clock = [("start", time.perf_counter())]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n = pl.scan_parquet(path).select(pl.len()).collect().item()
    signer = dedup.Signer(dcfg.num_perm, dcfg.seed, dcfg.shingle, dcfg.shingle_size) if dcfg.near else None
    jobs = [Job(str(path), o, min(batch_size, n - o), i, str(out), profile, fields, dcfg.fields, signer,
                dcfg.match_numbers)
            for i, o in enumerate(range(0, n, batch_size))]
    parts: dict[int, tuple] = {}
    by_rule: dict[str, int] = {}
    with mp.get_context("spawn").Pool(workers) as pool:   # fork can deadlock polars threads
        clock.append(("workers_started", time.perf_counter()))
        for part, h, sig, nums, n_rej, rules in tqdm(pool.imap_unordered(_clean_part, jobs), total=len(jobs),
                                               desc="clean+minhash", disable=not progress):
            parts[part] = (h, sig, nums)
            for k, v in rules.items():
                by_rule[k] = by_rule.get(k, 0) + v
        clock.append(("cleaned_and_signed", time.perf_counter()))
        dd = dedup.Deduper(dcfg, signer=signer)
        sizes = []
        for i in range(len(jobs)):          # part order = row order, so the earliest row is kept
            h, sig, nums = parts.pop(i)
            dd.add_hashed(h, sig, nums)
            sizes.append(len(h))
        decision = dd.finish()
        keep = decision.why == dedup.KEEP
        clock.append(("duplicates_decided", time.perf_counter()))
        bounds = np.r_[0, np.cumsum(sizes)]
        pool.map(_drop_rows, [(str(out / f"clean-{i:05d}.arrow"), keep[bounds[i]:bounds[i + 1]])
                              for i in range(len(jobs))])
        clock.append(("duplicates_dropped", time.perf_counter()))
    rows_clean = int(bounds[-1])
    return {"clean": {"rows_in": n, "rows_kept": rows_clean, "rows_rejected": n - rows_clean,
                      "rejected_by_rule": dict(sorted(by_rule.items()))},
            "dedup": {"rows_in": rows_clean, "rows_kept": int(keep.sum()),
                      "exact_dropped": int((decision.why == dedup.EXACT).sum()),
                      "near_dropped": int((decision.why == dedup.NEAR).sum())},
            "seconds": {k: round(t - t0, 3) for (_, t0), (k, t) in itertools.pairwise(clock)},
            "decision": decision}


def kept_ids(out_dir: str | Path) -> pl.Series:
    return pl.scan_parquet(str(Path(out_dir) / "kept-*.parquet")).select("id").collect()["id"]

