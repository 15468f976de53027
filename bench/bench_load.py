"""Load: the data stages on 1M rows and the eval stage on the whole GSM8K test set, each run as
its own `python -m stages.<name>` process in a temp workspace, with the process tree's peak
memory sampled every 0.1 s. Every data stage must stay under DATA_BUDGET_GB (it reads and
writes a chunk of rows at a time); the JSON line it ends with compares the heaviest data stage
with that budget, and the script exits non-zero, naming the stage, when one is over.

    python bench/bench_load.py                         # 1M generated rows; GSM8K eval, tiny model
    python bench/bench_load.py --model smollm2-135m    # the eval with SmolLM2 (hours on 2 cores)
    python bench/bench_load.py --rows 100000 --skip-eval

The rows come from the arithmetic generator (GSM8K-style problems with worked answers), so
every stage has real work: clean rules, exact and near dedup, decontamination against the
benchmarks, quality scores, and the sft/preference/rl/verl formats. "Swapping" is read from
/proc/vmstat (pages swapped in and out during the run); with no swap device configured a
stage over its memory would be OOM-killed instead, which the exit status shows.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA_STAGES = ["ingest", "clean", "dedup", "quality", "format"]
DATA_BUDGET_GB = 2.0   # peak RSS each data stage must stay under at 1M rows


def swap_pages() -> int:
    """Pages swapped in + out since boot."""
    stats = dict(line.split() for line in Path("/proc/vmstat").read_text().splitlines())
    return int(stats.get("pswpin", 0)) + int(stats.get("pswpout", 0))


def run_stage(ws: Path, args: list[str]) -> dict:
    """Run one stage process; its wall time, exit status and the tree's peak RSS (sum over
    the stage and its workers) and lowest MemAvailable while it ran."""
    env = {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT), "LMFORGE_SHARED_DATASETS": str(ROOT.parent / "shared" / "datasets")}
    swap0, t0 = swap_pages(), time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", *args], cwd=ws, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root, peak, low_avail = psutil.Process(proc.pid), 0, psutil.virtual_memory().available
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        low_avail = min(low_avail, psutil.virtual_memory().available)
        time.sleep(0.1)
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-3000:]}")
    return {"seconds": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(peak / 2**30, 3),
            "min_available_gb": round(low_avail / 2**30, 2), "swapped_pages": swap_pages() - swap0}


def workspace(dest: Path, model: str, rows: int, eval_limit: int | None) -> dict:
    """params.yaml for the run: the default composition, `model`, `rows` generated problems,
    and GSM8K eval on `eval_limit` items (None: all)."""
    shutil.copytree(ROOT / "params", dest / "params")
    overrides = [f"model={model}"] + (["profile=smoke"] if model == "tiny-random" else [])
    subprocess.run([sys.executable, "-m", "stages.common.compose", *overrides], cwd=dest,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["data"]["sources"] = [{"name": "arithmetic", "kind": "generator", "generator": "arithmetic",
                                  "rows": rows, "seed": 0}]
    params["eval"]["benchmarks"]["gsm8k"]["limit"] = eval_limit
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--model", default="tiny-random", help="params/model/<name> for the eval")
    ap.add_argument("--eval-limit", type=int, default=None, help="GSM8K items (default: all 1,319)")
    ap.add_argument("--skip-eval", action="store_true")
    args = ap.parse_args()
    result: dict = {"bench": "load", "unit": None, "value": None, "rows": args.rows, "model": args.model,
                    "memory_total_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "swap_total_gb": round(psutil.swap_memory().total / 2**30, 1), "stages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        params = workspace(ws, args.model, args.rows, args.eval_limit)
        result["setup"] = {"datasets": run_stage(ws, ["stages.datasets"])}   # decontamination's test sets
        for stage in DATA_STAGES:
            result["stages"][stage] = run_stage(ws, [f"stages.{stage}"])
            print(stage, result["stages"][stage], file=sys.stderr)
        metrics = ws / params["paths"]["metrics"]
        result["funnel"] = {s: json.loads((metrics / f"{s}.json").read_text()).get("rows_kept")
                            for s in ("clean", "dedup", "quality") if (metrics / f"{s}.json").exists()}
        if not args.skip_eval:
            result["stages"]["model"] = run_stage(ws, ["stages.model"])
            cell = run_stage(ws, ["stages.eval", "--model", "base", "--bench", "gsm8k"])
            scores = json.loads((metrics / "eval" / "base-gsm8k.json").read_text())
            result["stages"]["eval@base-gsm8k"] = {**cell, "items": scores.get("n"),
                                                   "accuracy": scores.get("accuracy")}
            print("eval", result["stages"]["eval@base-gsm8k"], file=sys.stderr)
    data = {s: result["stages"][s]["peak_rss_gb"] for s in DATA_STAGES}
    over = [f"{s} {gb} GB" for s, gb in data.items() if gb >= DATA_BUDGET_GB]
    result.update(unit="GB (peak RSS of the heaviest data stage)", value=max(data.values()),
                  baseline=f"budget per data stage at {args.rows:,} rows", baseline_value=DATA_BUDGET_GB,
                  ratio=round(max(data.values()) / DATA_BUDGET_GB, 3), over_budget=over,
                  swapped_pages=sum(s["swapped_pages"] for s in result["stages"].values()))
    for s, gb in data.items():
        print(f"{s:8s} {gb:6.3f} GB  {'OVER' if gb >= DATA_BUDGET_GB else 'ok'} (budget {DATA_BUDGET_GB} GB)",
              file=sys.stderr)
    print(json.dumps(result))
    if over:
        raise SystemExit(f"data stages over the {DATA_BUDGET_GB} GB budget: {', '.join(over)}")


if __name__ == "__main__":
    main()
