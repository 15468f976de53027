"""Dedup: exact + MinHash-LSH near duplicates, then decontamination against benchmark tests.

    dvc exp run -S data.dedup.verify=0.6 -S data.decontam.ngram=8

Writes kept/rejected rows, `clusters.parquet` (one row per member of a duplicate cluster: the
representative it was verified against and the similarity) and `contamination.parquet` (one row
per contaminated row: benchmark, item, the shared n-gram).
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.common import cli, rejects, stagerun
from stages.data import decontam, dedup, rows

CONTAMINATION_SCHEMA = {"id": pl.Utf8, "source_id": pl.Utf8, "benchmark": pl.Utf8, "item": pl.Utf8,
                        "ngram": pl.Utf8}


def run(in_dir: Path, out_dir: Path, dcfg: dict, ccfg: dict) -> dict:
    df = rows.read_rows(in_dir / "kept.parquet")
    kept, dup_rejected, clusters, members = dedup.run(df, dedup.DedupConfig.from_params(dcfg))
    contamination = {"enabled": bool(ccfg["enabled"]), "hits": []}
    cont_rejected, meta = rejects.frame([]), {}
    if ccfg["enabled"]:
        index = decontam.index_from_params(ccfg)
        kept_before = kept
        kept, cont_rejected, contamination = decontam.run(kept, index, ccfg["fields"])
        meta = dict(zip(kept_before["id"], dedup.source_ids(kept_before["meta"])))
    hits = pl.DataFrame([{"id": h["id"], "source_id": meta.get(h["id"]), "benchmark": h["benchmark"],
                          "item": str(h["item"]), "ngram": h["ngram"]} for h in contamination["hits"]],
                        schema=CONTAMINATION_SCHEMA)
    rejected = pl.concat([dup_rejected, cont_rejected])
    metrics = rejects.funnel(df.height, kept, rejected,
                             clusters=clusters["clusters"], exact_dropped=clusters["exact_dropped"],
                             near_dropped=clusters["near_dropped"],
                             contaminated=len(contamination["hits"]),
                             contaminated_by_benchmark=contamination.get("by_benchmark", {}))
    rows.write_stage(out_dir, kept, rejected,
                     json_files={"clusters.json": clusters, "contamination.json": contamination},
                     frames={"clusters.parquet": members, "contamination.parquet": hits})
    return metrics


def main() -> None:
    sections = {"data.dedup": dedup.DedupConfig, "data.decontam": decontam.KEYS}
    with stagerun.stage("dedup", sections, out="dedup") as st:
        st.metrics = run(st.path("clean"), st.path("dedup"), st.params["data.dedup"], st.params["data.decontam"])
    m = st.metrics
    print(f"dedup: {m['rows_kept']} kept; {m['exact_dropped']} exact, "
          f"{m['near_dropped']} near duplicates, {m['contaminated']} contaminated")


if __name__ == "__main__":
    cli.run(main, "dedup")
