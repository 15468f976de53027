"""Quality: score rows (heuristics, or the base model's likelihood), keep by threshold.

    dvc exp run -S data.quality.method=model -S data.quality.top_fraction=0.8
"""
from __future__ import annotations

from pathlib import Path

from stages.common import cli, rejects, stagerun
from stages.data import quality, rows

METHODS = ("heuristic", "model", "both")


def scores(df, cfg: dict, model_dir: Path):
    if cfg["method"] not in METHODS:
        raise ValueError(f"data.quality.method={cfg['method']!r}: valid: {', '.join(METHODS)}")
    h = quality.heuristic(df, cfg["min_words"]) if cfg["method"] != "model" else None
    if cfg["method"] == "heuristic":
        return h
    if not model_dir.exists():
        raise FileNotFoundError(f"{model_dir}: no base model for data.quality.method={cfg['method']} "
                                f"(run the model stage, or set data.quality.method=heuristic)")
    m = quality.model_scores(df, str(model_dir), cfg["batch_size"], cfg["max_length"])
    return m if h is None else (h + m) / 2


def run(in_dir: Path, out_dir: Path, cfg: dict, model_dir: Path) -> dict:
    df = rows.read_rows(in_dir / "kept.parquet")
    kept, rejected, report = quality.run(df, scores(df, cfg, model_dir), cfg["threshold"],
                                         cfg["top_fraction"], cfg["bins"])
    rows.write_stage(out_dir, kept, rejected, frames={"scores.parquet": report.pop("scores")})
    return rejects.funnel(df.height, kept, rejected, method=cfg["method"], **report)


def main() -> None:
    with stagerun.stage("quality", {"data.quality": quality.KEYS}, out="quality") as st:
        st.metrics = run(st.path("dedup"), st.path("quality"), st.params["data.quality"],
                         st.path("models") / "base")
    print(f"quality: {st.metrics['rows_kept']} kept, {st.metrics['rows_rejected']} below the bar")


if __name__ == "__main__":
    cli.run(main, "quality")
