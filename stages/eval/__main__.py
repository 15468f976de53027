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

from stages.common import cli, io, params, stagerun


def main(argv: list[str] | None = None) -> None:
    from stages.eval.engines import make_engine
    from stages.eval.paired import item_outcomes
    from stages.eval.runner import evaluate, schema

    ap = argparse.ArgumentParser(prog="python -m stages.eval", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a dir name under paths.models: base | policy")
    ap.add_argument("--bench", required=True, help="a key of eval.benchmarks")
    args = ap.parse_args(argv)
    benchmarks = params.load().eval.benchmarks
    if args.bench not in benchmarks:
        raise SystemExit(f"--bench {args.bench!r}: not in eval.benchmarks (valid: {', '.join(benchmarks)}; "
                         "a benchmark is a file in params/eval/benchmarks/)")
    cell, bench = f"{args.model}-{args.bench}", f"eval.benchmarks.{args.bench}"
    sections = {"eval.engine": None, "eval.batch_size": None, "eval.dtype": None, "seed": None,
                bench: lambda block: schema(args.bench, block)}
    with stagerun.stage("eval", sections, out=f"eval/{cell}", metrics=f"metrics/eval/{cell}.json",
                        config_extra={"model": args.model, "bench": args.bench}) as st:
        p = st.params
        engine = make_engine(p["eval.engine"], str(st.path(f"models/{args.model}")),
                             batch_size=int(p["eval.batch_size"]), dtype=str(p["eval.dtype"]))
        rows, metrics = evaluate(args.bench, st.cfg.eval.benchmarks[args.bench], engine, seed=int(p["seed"]))
        st.metrics = {"model": args.model, "bench": args.bench, "engine": p["eval.engine"], **metrics}
        with io.atomic_path(st.path(f"eval/{cell}"), is_dir=True) as out:
            io.write_jsonl(rows, out / "samples.jsonl")
        io.write_json({"model": args.model, "bench": args.bench, **item_outcomes(rows, metrics.get("headline"))},
                      st.path(f"metrics/items/{cell}.json"))


if __name__ == "__main__":
    cli.run(main, "eval")
