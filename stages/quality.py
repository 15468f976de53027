"""Quality: score rows (heuristics, or the base model's likelihood), keep by threshold.

    dvc exp run -S data.quality.method=model -S data.quality.top_fraction=0.8

Two passes a chunk of rows at a time: score every row (the scores stay in memory: 8 bytes a
row), decide what to keep over all of them (`top_fraction` ranks every row), write the rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from stages.common import cli, stagerun
from stages.data import quality, rows

METHODS = ("heuristic", "model", "both")
SCORES = {"id": pl.Utf8, "score": pl.Float64, "kept": pl.Boolean}   # scores.parquet


def scorer(cfg: dict, model_dir: Path):
    """The scoring function of `data.quality.method` (the model is loaded once, here)."""
    if cfg["method"] not in METHODS:
        raise ValueError(f"data.quality.method={cfg['method']!r}: valid: {', '.join(METHODS)}")
    if cfg["method"] == "heuristic":
        return lambda df: quality.heuristic(df, cfg["min_words"])
    if not model_dir.exists():
        raise FileNotFoundError(f"{model_dir}: no base model for data.quality.method={cfg['method']} "
                                f"(run the model stage, or set data.quality.method=heuristic)")
    model, tok = quality.load_model(str(model_dir))

    def score(df):
        m = quality.model_scores(df, model, tok, cfg["batch_size"], cfg["max_length"])
        return m if cfg["method"] == "model" else (quality.heuristic(df, cfg["min_words"]) + m) / 2
    return score


def run(in_dir: Path, out_dir: Path, cfg: dict, model_dir: Path) -> dict:
    src = rows.Input.open([in_dir / "kept.parquet"])
    score = scorer(cfg, model_dir)
    batches = cfg["batch_size"] if cfg["method"] != "heuristic" else 1   # model batches stay whole
    scores = np.concatenate([score(df) for _, df in src.chunks("quality: score", batches)] or [np.zeros(0)])
    keep = quality.decide(scores, cfg["threshold"], cfg["top_fraction"])
    with rows.stage_dir(out_dir, rows.KEPT_REJECTED | {"scores.parquet": SCORES}) as out:
        for lo, df in src.chunks("quality: write"):
            part = slice(lo, lo + df.height)
            kept, rejected, scored = quality.split(df, scores[part], keep[part], cfg["threshold"], cfg["top_fraction"])
            out.rows(kept, rejected)
            out.append("scores.parquet", scored)
    return out.tally.funnel(src.height, out.kept, method=cfg["method"], **quality.report(scores, keep, cfg["bins"]))


def main() -> None:
    with stagerun.stage("quality", {"data.quality": quality.KEYS}, out="quality") as st:
        st.metrics = run(st.path("dedup"), st.path("quality"), st.params["data.quality"],
                         st.path("models") / "base")
    print(f"quality: {st.metrics['rows_kept']} kept, {st.metrics['rows_rejected']} below the bar")


if __name__ == "__main__":
    cli.run(main, "quality")
