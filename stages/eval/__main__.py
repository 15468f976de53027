"""The eval stage: python -m stages.eval --model {base,policy} --bench <a key of eval.benchmarks>

(The stage module is stages/eval/__main__.py: a `stages/eval.py` would be shadowed by this
package.) One cell of dvc.yaml's eval matrix. Reads params `eval` (engine, batch_size,
benchmarks.<bench>), `seed`, `paths`, `track`; reads ${paths.models}/<model>; writes
${paths.eval}/<model>-<bench>/{samples.jsonl,config.json},
${paths.metrics}/eval/<model>-<bench>.json and ${paths.metrics}/items/<model>-<bench>.json
(correct samples per item: small, committed to git, so a PR's run pairs its items with main's).

    dvc exp run -S eval.benchmarks.gsm8k.limit=50      # only the gsm8k cells and report rerun
    dvc exp run -S eval.engine=vllm                   # on a GPU machine
"""
from __future__ import annotations

import argparse
from pathlib import Path

from stages.common import cli, io, params, tracking


def main(argv: list[str] | None = None) -> None:
    from stages.eval.engines import make_engine
    from stages.eval.paired import item_outcomes
    from stages.eval.runner import evaluate

    ap = argparse.ArgumentParser(prog="python -m stages.eval", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a dir name under paths.models: base | policy")
    ap.add_argument("--bench", required=True, help="a key of eval.benchmarks")
    args = ap.parse_args(argv)
    cfg = params.load()
    if args.bench not in cfg.eval.benchmarks:
        raise SystemExit(f"--bench {args.bench!r}: not in eval.benchmarks "
                         f"(valid: {', '.join(cfg.eval.benchmarks)})")
    bench_cfg = cfg.eval.benchmarks[args.bench]
    cell = f"{args.model}-{args.bench}"
    config = {"model": args.model, "bench": args.bench, "seed": cfg.seed,
              "eval": {"engine": cfg.eval.engine, "batch_size": cfg.eval.batch_size,
                       "dtype": cfg.eval.dtype,
                       "benchmarks": {args.bench: params.to_dict(bench_cfg)}}}
    with tracking.stage_run("eval", config=config, track=cfg.track) as run:
        engine = make_engine(cfg.eval.engine, str(Path(cfg.paths.models) / args.model),
                             batch_size=int(cfg.eval.batch_size), dtype=str(cfg.eval.dtype))
        rows, metrics = evaluate(args.bench, bench_cfg, engine, seed=int(cfg.seed))
        metrics = {"model": args.model, "bench": args.bench, "engine": cfg.eval.engine, **metrics}
        with io.atomic_path(Path(cfg.paths.eval) / cell, is_dir=True) as out:
            io.write_jsonl(rows, out / "samples.jsonl")
            io.write_json(config, out / "config.json")
        io.write_json(metrics, Path(cfg.paths.metrics) / "eval" / f"{cell}.json")
        io.write_json({"model": args.model, "bench": args.bench,
                       **item_outcomes(rows, metrics.get("headline"))},
                      Path(cfg.paths.metrics) / "items" / f"{cell}.json")
        run.summary(metrics)


if __name__ == "__main__":
    cli.run(main, "eval")
