"""Is the default pipeline's policy as good as the baseline's, beyond one seed's luck?

    python bench/bench_policy_seeds.py                          # seeds 0,1,2; baseline cc54945 vs tree
    python bench/bench_policy_seeds.py --seeds 3,4 --items 256 --save more.json
    python bench/bench_policy_seeds.py --load more.json --side ""   # print saved runs, run nothing
    python bench/bench_policy_seeds.py --no-default --nll \\
        --side tree --side tree-f32train=tree:train.bf16=false  # training precision, + gold NLL
    python bench/bench_policy_seeds.py --no-default --seeds 0 --items 256 --side tree \\
        --eval bf16 --eval f32:eval.dtype=float32               # eval precision, one policy

A 135M model sits near GSM8K's floor, so the default 32 items move by a few answers between
runs of the same recipe. For each experiment `seed` (it draws the arithmetic SFT data and seeds
training) and each side (a commit or this working tree, with optional param overrides), a fresh
default-profile workspace runs `dvc repro eval@policy-gsm8k` (the default 32 items, unless
`--no-default`), then the same cell over `--items` GSM8K items once per `--eval` variant; an eval
variant's overrides change only the eval stage, so DVC reuses the side's trained policy. Each
side uses its own pipeline throughout (its training precision, its eval engine).

An arm is side/eval. Prints per-seed accuracy per arm, the means over seeds, and McNemar's exact
test on the larger draws' items pooled over seeds (pairs: same seed, same item) for every pair of
arms. The default draw is a prefix of the larger one (same `subset_seed`).

With `--nll`, each side's policy also scores GSM8K's worked answers on the larger draw's items
(bench/gold_nll.py: mean NLL per answer token, float32), a measure that, unlike accuracy at the
floor, moves smoothly with the model: per-seed means per side and, for every pair of sides, the
mean paired difference over (seed, item) with a 95% normal interval; and each policy's held-out
SFT loss (the train stage's `eval_loss` over the val rows, in the side's training precision),
the objective SFT optimises. SFT on the arithmetic data raises the gold NLL from the base's
(its answers carry `<<...>>` notes GSM8K's stripped ones lack), so a lower gold NLL means less
drift from the base, not a better policy.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_repro import BASE_REF, ROOT, env, sh, workspace   # noqa: E402

CELL = "eval@policy-gsm8k"


@dataclass(frozen=True)
class Variant:
    """NAME[=REF][:override,override]; REF `tree` (or none) is the working tree."""
    name: str
    ref: str | None
    overrides: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str) -> "Variant":
        head, _, tail = spec.partition(":")
        name, _, ref = head.partition("=")
        return cls(name, None if ref in ("", "tree") else ref, tuple(filter(None, tail.split(","))))


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


def gold_nll(ws: Path, overrides: list[str], items: int) -> dict[str, float]:
    sh([sys.executable, "-m", "stages.common.compose", *overrides], ws)
    subprocess.run(["dvc", "repro", "train"], cwd=ws, env=env(), check=True, capture_output=True)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gold_nll.py"), "models/policy",
                           "--items", str(items)], cwd=ws, env=env(), check=True,
                          stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout)


def frac(o: dict[str, int]) -> str:
    return f"{sum(o.values())}/{len(o)}"


def one_side(side: Variant, evals: list[Variant], seed: int, items: int, default: bool,
             nll: bool, tmp: Path) -> list[dict]:
    """All of one side's arms for one seed, in one workspace (one training run)."""
    ws = workspace(side.ref, tmp / f"{side.name}-{seed}")
    base = [f"seed={seed}", *side.overrides]
    runs = []
    for ev in evals:
        run = {"side": side.name, "eval": ev.name, "seed": seed, "seconds": 0.0}
        if default:
            run["default"], t = run_cell(ws, [*base, *ev.overrides])
            run["seconds"] += t
        run["large"], t = run_cell(ws, [*base, *ev.overrides, f"eval.benchmarks.gsm8k.limit={items}"])
        run["seconds"] = round(run["seconds"] + t, 1)
        shown = f"default {frac(run['default'])}, " if default else ""
        print(f"[{side.name}/{ev.name} seed {seed}] {shown}{items} items {frac(run['large'])} "
              f"({run['seconds']:.0f} s)", file=sys.stderr, flush=True)
        runs.append(run)
    if nll:
        run = {"side": side.name, "seed": seed, "nll": gold_nll(ws, base, items),
               "held_out": json.loads((ws / "reports/metrics/train.json").read_text())["eval_loss"]}
        print(f"[{side.name} seed {seed}] gold NLL {statistics.fmean(run['nll'].values()):.4f}, "
              f"held-out SFT loss {run['held_out']:.5f}", file=sys.stderr, flush=True)
        runs.append(run)
    shutil.rmtree(ws, ignore_errors=True)
    return runs


def arm(run: dict) -> str:
    return f"{run['side']}/{run.get('eval', 'default')}" if "nll" not in run else f"{run['side']}/nll"


def nll_summary(runs: list[dict]) -> dict:
    """Per side: mean gold NLL per seed; per pair of sides: paired difference over (seed, item)."""
    by = {(r["side"], r["seed"]): r["nll"] for r in runs if "nll" in r}
    sides = list(dict.fromkeys(s for s, _ in by))
    held = {(r["side"], r["seed"]): r.get("held_out") for r in runs if "nll" in r}
    out: dict = {"per_seed": {s: {seed: round(statistics.fmean(v.values()), 4)
                                  for (s2, seed), v in by.items() if s2 == s} for s in sides},
                 "held_out_sft_loss": {s: {seed: held[(s, seed)] for (s2, seed) in held if s2 == s}
                                       for s in sides}}
    for a, b in itertools.combinations(sides, 2):
        diffs = [by[(b, seed)][i] - by[(a, seed)][i] for (s, seed) in by if s == a and (b, seed) in by
                 for i in sorted(set(by[(a, seed)]) & set(by[(b, seed)]))]
        if len(diffs) > 1:
            mean, se = statistics.fmean(diffs), statistics.stdev(diffs) / len(diffs) ** 0.5
            out[f"{b} - {a}"] = {"n": len(diffs), "mean": round(mean, 5),
                                 "ci95": [round(mean - 1.96 * se, 5), round(mean + 1.96 * se, 5)]}
    return out


def summary(runs: list[dict]) -> dict:
    from stages.eval.paired import mcnemar

    by = {(arm(r), r["seed"]): r for r in runs if "nll" not in r}
    arms = list(dict.fromkeys(arm(r) for r in runs if "nll" not in r))
    seeds = sorted({s for _, s in by})
    cols = [(a, k) for a in arms for k in ("default", "large")
            if any(k in by.get((a, s), {}) for s in seeds)]
    print("| seed | " + " | ".join(f"{a} {k}" for a, k in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for s in seeds:
        cells = [frac(by[(a, s)][k]) if k in by.get((a, s), {}) else "-" for a, k in cols]
        print(f"| {s} | " + " | ".join(cells) + " |")
    out: dict = {"means": {}, "pooled_mcnemar": {}}
    for a, k in cols:
        rs = [by[(a, s)][k] for s in seeds if k in by.get((a, s), {})]
        out["means"][f"{a} {k}"] = round(sum(sum(o.values()) / len(o) for o in rs) / len(rs), 4)
    for a, b in itertools.combinations(arms, 2):
        xs, ys = [], []
        for s in seeds:
            if (a, s) in by and (b, s) in by:
                x, y = by[(a, s)]["large"], by[(b, s)]["large"]
                ids = sorted(set(x) & set(y))
                xs += [x[i] for i in ids]
                ys += [y[i] for i in ids]
        if xs:
            out["pooled_mcnemar"][f"{a} vs {b}"] = mcnemar(xs, ys)
    if any("nll" in r for r in runs):
        out["gold_nll"] = nll_summary(runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", action="append",
                    help=f"NAME[=REF][:override,...], repeatable (default: base={BASE_REF}, tree)")
    ap.add_argument("--eval", action="append",
                    help="NAME[:override,...] for the larger draw, repeatable (default: default; "
                         "\"\": none)")
    ap.add_argument("--seeds", default="0,1,2", help="experiment seeds, comma-separated")
    ap.add_argument("--items", type=int, default=128, help="GSM8K items of the larger draw")
    ap.add_argument("--no-default", action="store_true", help="skip the default 32-item cell")
    ap.add_argument("--nll", action="store_true", help="each side's gold NLL (bench/gold_nll.py)")
    ap.add_argument("--save", help="write the runs (loaded and measured now) to this JSON file")
    ap.add_argument("--load", help="add runs saved earlier (a run measured now wins)")
    args = ap.parse_args()
    sides = [Variant.parse(s) for s in (args.side or [f"base={BASE_REF}", "tree"]) if s]
    evals = [Variant.parse(e) for e in (args.eval or ["default"]) if e]
    runs = json.loads(Path(args.load).read_text()) if args.load else []
    tmp = Path(tempfile.mkdtemp(prefix="bench_seeds_"))
    try:
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            for side in sides:
                new = one_side(side, evals, seed, args.items, not args.no_default,
                               args.nll, tmp)
                keys = {(arm(r), r["seed"]) for r in new}
                runs = [r for r in runs if (arm(r), r["seed"]) not in keys] + new
                if args.save:
                    Path(args.save).write_text(json.dumps(runs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"bench": "policy_gsm8k_strict_over_seeds", "baseline": f"commit {BASE_REF}",
                      **summary(runs)}))


if __name__ == "__main__":
    main()
