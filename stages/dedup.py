"""Dedup: exact + MinHash-LSH near duplicates, then decontamination against benchmark tests.

    dvc exp run -S data.dedup.bands=20 -S data.dedup.rows=13 -S data.decontam.ngram=8
"""
from __future__ import annotations

from pathlib import Path

import polars as pl

from stages.common import cli, io, params, rejects, tracking
from stages.data import decontam, dedup, rows


def run(in_dir: Path, out_dir: Path, dcfg: dict, ccfg: dict) -> dict:
    df = rows.read_rows(in_dir / "kept.parquet")
    kept, dup_rejected, clusters = dedup.run(df, dedup.DedupConfig.from_params(dcfg))
    contamination = {"enabled": bool(ccfg["enabled"]), "hits": []}
    cont_rejected = rejects.frame([])
    if ccfg["enabled"]:
        index = decontam.index_from_params(ccfg)
        kept, cont_rejected, contamination = decontam.run(kept, index, ccfg["fields"])
    rejected = pl.concat([dup_rejected, cont_rejected])
    metrics = rejects.funnel(df.height, kept, rejected,
                             clusters=clusters["clusters"], exact_dropped=clusters["exact_dropped"],
                             near_dropped=clusters["near_dropped"],
                             contaminated=len(contamination["hits"]),
                             contaminated_by_benchmark=contamination.get("by_benchmark", {}))
    rows.write_stage(out_dir, kept, rejected,
                     json_files={"clusters.json": clusters, "contamination.json": contamination})
    return metrics


def main() -> None:
    cfg = params.load()
    config = {"dedup": params.to_dict(cfg.data.dedup), "decontam": params.to_dict(cfg.data.decontam)}
    with tracking.stage_run("dedup", config=config, track=cfg.track) as tr:
        metrics = run(Path(cfg.paths.clean), Path(cfg.paths.dedup), config["dedup"], config["decontam"])
        io.write_json(metrics, Path(cfg.paths.metrics) / "dedup.json")
        tr.summary(metrics)
    print(f"dedup: {metrics['rows_kept']} kept; {metrics['exact_dropped']} exact, "
          f"{metrics['near_dropped']} near duplicates, {metrics['contaminated']} contaminated")


if __name__ == "__main__":
    cli.run(main, "dedup")
