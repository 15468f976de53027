"""Answer rate and accuracy of models on the held-out RL prompts (`data/format/rl/val`):
the generated problems no training step saw, scored as the RL reward and GSM8K strict do.

    python scripts/heldout_eval.py models/base models/policy [--rows 64] [--max-new-tokens 192] \
        [--markdown reports/heldout.md]

Greedy decoding with the eval stage's HF engine. Answer rate: the share of answers with a
`#### N` line; accuracy: the share whose `#### N` equals the ground truth. Prints one JSON line
per model; `--markdown` also writes them as a table (atomically) for reports/.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def score(model_dir: str, rows: list[dict], max_new_tokens: int, batch_size: int) -> dict:
    from stages.scoring import extract
    from stages.eval.engines import SamplingParams, make_engine

    engine = make_engine("hf", model_dir, batch_size=batch_size)
    outs = engine.generate([list(r["prompt"]) for r in rows], SamplingParams(max_new_tokens=max_new_tokens))
    answered = correct = 0
    for row, out in zip(rows, outs):
        got, ok = extract.gsm8k_match(out.texts[0], extract.normalize_number(row["ground_truth"]))
        answered += got is not None
        correct += ok
    return {"model": model_dir, "rows": len(rows), "answer_rate": answered / len(rows),
            "accuracy": correct / len(rows), "max_new_tokens": max_new_tokens}


def write_markdown(path: Path, results: list[dict], labels: list[str], command: str) -> None:
    """A table of the figures, first model as the baseline, written via a temp file + rename."""
    base = results[0]
    lines = ["# Held-out generated problems", "",
             f"{base['rows']} rows of `data/format/rl/val`, greedy, {base['max_new_tokens']} new tokens.",
             "", "| model | answer rate | accuracy | vs first: answer rate | vs first: accuracy |",
             "|:---|---:|---:|---:|---:|"]
    for label, r in zip(labels, results):
        lines.append(f"| {label} | {r['answer_rate']:.3f} | {r['accuracy']:.3f} | "
                     f"{r['answer_rate'] - base['answer_rate']:+.3f} | {r['accuracy'] - base['accuracy']:+.3f} |")
    lines += ["", f"Command: `{command}`", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)


def main() -> None:
    import polars as pl

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model dirs (models/base, models/policy, ...)")
    ap.add_argument("--format-dir", default="data/format")
    ap.add_argument("--rows", type=int, default=64, help="the first N val rows (as train.val_rows)")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--markdown", type=Path, help="also write the figures as a markdown table here")
    ap.add_argument("--labels", help="comma-separated names for the models in the table")
    args = ap.parse_args()
    labels = args.labels.split(",") if args.labels else args.models
    if len(labels) != len(args.models):
        ap.error(f"--labels names {len(labels)} models, but {len(args.models)} were given")
    rows = pl.read_parquet(Path(args.format_dir) / "rl" / "val.parquet").head(args.rows).to_dicts()
    results = []
    for model_dir in args.models:
        results.append(score(model_dir, rows, args.max_new_tokens, args.batch_size))
        print(json.dumps(results[-1]), flush=True)
    if args.markdown:
        write_markdown(args.markdown, results, labels, shlex.join(["python", *sys.argv]))


if __name__ == "__main__":
    main()
