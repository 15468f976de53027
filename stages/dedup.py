"""Dedup: exact + MinHash-LSH near duplicates, then decontamination against benchmark tests.

    dvc exp run -S data.dedup.verify=0.6 -S data.decontam.ngram=8

Writes kept/rejected rows, `clusters.parquet` (one row per member of a duplicate cluster: the
representative it was verified against and the similarity) and `contamination.parquet` (one row
per contaminated row: benchmark, item, the shared n-gram). Two passes over the rows, a chunk at
a time: sign every row (the signatures stay in memory: ~0.5 GB per 1M rows at 120
permutations), decide, then write each chunk's kept and rejected rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from stages.common import cli, stagerun
from stages.data import decontam, dedup, rows, schema, text

CONTAMINATION_SCHEMA = {"id": pl.Utf8, "source_id": pl.Utf8, "benchmark": pl.Utf8, "item": pl.Utf8,
                        "ngram": pl.Utf8}
FILES = rows.KEPT_REJECTED | {"clusters.parquet": dedup.CLUSTER_SCHEMA,
                              "contamination.parquet": CONTAMINATION_SCHEMA}


def run(in_dir: Path, out_dir: Path, dcfg: dict, ccfg: dict) -> dict:
    cfg = dedup.DedupConfig.from_params(dcfg)
    src = rows.Input.open([in_dir / "kept.parquet"])
    dd = dedup.Deduper(cfg, rows=src.height)
    for _, df in src.chunks("dedup: sign"):
        dd.add(dedup.normal_text(df, cfg))
    d = dd.finish()
    ids, members = src.keys["id"], dedup.members(d)
    index = decontam.index_from_params(ccfg) if ccfg["enabled"] else None
    member_sids, reports = [], []
    with rows.stage_dir(out_dir, FILES) as out:
        for lo, df in src.chunks("dedup: write"):
            kept, rejected = dedup.split(df, lo, d, ids)
            here = members[(members >= lo) & (members < lo + df.height)] - lo
            member_sids.append(dedup.source_ids(df["meta"].gather(here)))
            if index is not None:
                kept, rejected = _decontaminate(kept, rejected, index, ccfg["fields"], out, reports)
            out.rows(kept, rejected)
        out.append("clusters.parquet", dedup.cluster_frame(ids, pl.concat(member_sids) if member_sids
                                                           else pl.Series([], dtype=pl.Utf8), d))
        clusters = dedup.cluster_report(ids, d, lambda at: _texts(src, cfg, at), cfg.examples)
        contamination = _merged(reports, index, ccfg["fields"])
        out.json = {"clusters.json": clusters, "contamination.json": contamination}
    return out.tally.funnel(src.height, out.kept, clusters=clusters["clusters"],
                            exact_dropped=clusters["exact_dropped"], near_dropped=clusters["near_dropped"],
                            contaminated=len(contamination["hits"]),
                            contaminated_by_benchmark=contamination.get("by_benchmark", {}))


def _decontaminate(kept, rejected, index, fields, out: rows.Out, reports: list):
    """One chunk's rows that survived dedup -> (clean rows, every rejected row of the chunk);
    its contamination hits go to contamination.parquet, its report to `reports`."""
    clean, cont_rejected, report = decontam.run(kept, index, fields)
    sid = dict(zip(kept["id"], dedup.source_ids(kept["meta"])))
    out.append("contamination.parquet", pl.DataFrame(
        [{"id": h["id"], "source_id": sid.get(h["id"]), "benchmark": h["benchmark"], "item": str(h["item"]),
          "ngram": h["ngram"]} for h in report["hits"]], schema=CONTAMINATION_SCHEMA))
    reports.append(report)
    return clean, text.sort_rows(pl.concat([rejected, cont_rejected]))


def _merged(reports: list[dict], index, fields) -> dict:
    """The chunks' decontamination reports as one (hits in row order, counts summed)."""
    if index is None:
        return {"enabled": False, "hits": []}
    if not reports:   # no rows at all: the report of nothing
        reports = [decontam.run(schema.frame([]), index, fields)[2]]
    hits = [h for r in reports for h in r["hits"]]
    by_bench: dict[str, int] = {}
    for h in hits:
        by_bench[h["benchmark"]] = by_bench.get(h["benchmark"], 0) + 1
    return {**reports[0], "by_benchmark": dict(sorted(by_bench.items())), "hits": hits}


def _texts(src: rows.Input, cfg: dedup.DedupConfig, at: np.ndarray) -> list[str]:
    """Normalised texts of the rows at natural positions `at` (the example pairs)."""
    return dedup.normal_text(src.take(src.order[at]), cfg).to_list()


def main() -> None:
    sections = {"data.dedup": dedup.DedupConfig, "data.decontam": decontam.KEYS}
    with stagerun.stage("dedup", sections, out="dedup") as st:
        st.metrics = run(st.path("clean"), st.path("dedup"), st.params["data.dedup"], st.params["data.decontam"])
    m = st.metrics
    print(f"dedup: {m['rows_kept']} kept; {m['exact_dropped']} exact, "
          f"{m['near_dropped']} near duplicates, {m['contaminated']} contaminated")


if __name__ == "__main__":
    cli.run(main, "dedup")
