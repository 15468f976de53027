"""Is the default pipeline's policy as good as the baseline's, beyond one seed's luck?

    python bench/bench_policy_seeds.py                          # seeds 0,1,2; baseline cc54945
    python bench/bench_policy_seeds.py --seeds 3,4 --items 256 --save more.json
    python bench/bench_policy_seeds.py --load more.json --sides ""  # print saved runs, run nothing

A 135M model sits near GSM8K's floor, so the default 32 items move by a few answers between
runs of the same recipe. For each experiment `seed` (it draws the arithmetic SFT data and seeds
training) and each side (a baseline commit, this working tree), a fresh default-profile
workspace runs `dvc repro eval@policy-gsm8k`, then the same cell again over `--items` GSM8K
items. Each side uses its own pipeline throughout (its training precision, its eval engine).
Prints per-seed accuracy on the default items and on the larger draw, their means over seeds,
and McNemar's exact test on the larger draws' items pooled over seeds (pairs: same seed, same
item). The default draw is a prefix of the larger one (same `subset_seed`), so the table also
shows how each side's 32-item figure sits within its own larger sample.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_repro import BASE_REF, env, sh, workspace   # noqa: E402

CELL = "eval@policy-gsm8k"


def outcomes(ws: Path) -> dict[str, int]:
    """item id -> 1 if the policy's strict answer is right."""
    rows = [json.loads(line) for line in (ws / "data/eval/policy-gsm8k/samples.jsonl").open()]
    return {r["id"]: int(r["correct"]) for r in rows}


def run_cell(ws: Path, overrides: list[str]) -> tuple[dict[str, int], float]:
    sh([sys.executable, "-m", "stages.common.compose", *overrides], ws)
    t0 = time.perf_counter()
    proc = subprocess.run(["dvc", "repro", CELL], cwd=ws, env=env(), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{ws}: dvc repro {CELL} failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
    return outcomes(ws), time.perf_counter() - t0


def one(side: str, ref: str | None, seed: int, items: int, tmp: Path) -> dict:
    ws = workspace(ref, tmp / f"{side}-{seed}")
    small, t_small = run_cell(ws, [f"seed={seed}"])
    large, t_large = run_cell(ws, [f"seed={seed}", f"eval.benchmarks.gsm8k.limit={items}"])
    shutil.rmtree(ws, ignore_errors=True)
    run = {"side": side, "seed": seed, "default": small, "large": large,
           "seconds": round(t_small + t_large, 1)}
    print(f"[{side} seed {seed}] default {sum(small.values())}/{len(small)}, "
          f"{items} items {sum(large.values())}/{len(large)} ({run['seconds']:.0f} s)",
          file=sys.stderr, flush=True)
    return run


def summary(runs: list[dict]) -> dict:
    from stages.eval.paired import mcnemar

    by = {(r["side"], r["seed"]): r for r in runs}
    seeds = sorted({s for _, s in by})
    print("| seed | base default | tree default | base large | tree large |")
    print("|---|---|---|---|---|")
    frac = lambda o: f"{sum(o.values())}/{len(o)}"   # noqa: E731
    for s in seeds:
        cells = [frac(by[(side, s)][k]) if (side, s) in by else "-"
                 for k in ("default", "large") for side in ("base", "tree")]
        print(f"| {s} | " + " | ".join(cells) + " |")
    out = {}
    for side in ("base", "tree"):
        for k in ("default", "large"):
            rs = [by[(side, s)][k] for s in seeds if (side, s) in by]
            if rs:
                out[f"{side}_{k}_mean"] = round(sum(sum(o.values()) / len(o) for o in rs) / len(rs), 4)
    paired = [s for s in seeds if ("base", s) in by and ("tree", s) in by]
    if paired:
        base, tree = [], []
        for s in paired:
            b, t = by[("base", s)]["large"], by[("tree", s)]["large"]
            ids = sorted(set(b) & set(t))
            base += [b[i] for i in ids]
            tree += [t[i] for i in ids]
        out["pooled_mcnemar"] = mcnemar(base, tree)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=BASE_REF, help="the baseline commit (default: %(default)s)")
    ap.add_argument("--seeds", default="0,1,2", help="experiment seeds, comma-separated")
    ap.add_argument("--items", type=int, default=128, help="GSM8K items of the larger draw")
    ap.add_argument("--sides", default="base,tree", help="which sides to run (empty: none)")
    ap.add_argument("--save", help="write the runs measured now to this JSON file")
    ap.add_argument("--load", help="add runs saved earlier (a run measured now wins)")
    args = ap.parse_args()
    runs = json.loads(Path(args.load).read_text()) if args.load else []
    tmp = Path(tempfile.mkdtemp(prefix="bench_seeds_"))
    try:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            for side in filter(None, args.sides.split(",")):
                run = one(side, args.base if side == "base" else None, seed, args.items, tmp)
                runs = [r for r in runs if (r["side"], r["seed"]) != (side, seed)] + [run]
                if args.save:
                    Path(args.save).write_text(json.dumps(runs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"bench": "policy_gsm8k_strict_over_seeds", "baseline": f"commit {args.base}",
                      **summary(runs)}))


if __name__ == "__main__":
    main()
