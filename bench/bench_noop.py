"""No-op `dvc repro` at real sizes: what a user pays to learn that nothing changed.

    python bench/bench_noop.py                 # both workspaces below, 5 timed runs each
    python bench/bench_noop.py --rows 100000   # a smaller data workspace

1. default: the default params (SmolLM2-135M: models/base and models/policy of ~0.5 GB each)
   with training and eval cut to a step and an item, so every stage has real-size outputs.
2. data-1M: the data stages on a 1M-row file source (hashed by the keys stage on every repro).

Each is reproduced once, then a no-op `dvc repro` (keys included: it always runs) is timed side
by side with `dvc status` (DVC's own check, without the keys stage). Ends with one JSON line;
the goal is a no-op under 3 s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
SMALL_RUN = ["train.max_steps=1", "train.save_steps=1", "eval.benchmarks.gsm8k.limit=1",
             "eval.benchmarks.math500.limit=1", "eval.benchmarks.humaneval.limit=1",
             "eval.benchmarks.gsm8k.max_new_tokens=4", "eval.benchmarks.math500.max_new_tokens=4",
             "eval.benchmarks.humaneval.max_new_tokens=4"]


def _env() -> dict:
    return {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "LMFORGE_SHARED_DATASETS": str(SHARED)}


def sh(cmd: list[str], cwd: Path) -> str:
    res = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return res.stdout


def workspace(dest: Path, overrides: list[str]) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True).stdout.decode()
    for rel in filter(None, files.split("\0")):
        if (ROOT / rel).is_file() and not rel.startswith(("tests/", "bench/")) and rel != "dvc.lock":
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh([sys.executable, "-m", "stages.common.compose", *overrides], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"], dest)
    return dest


def timed(cmd: list[str], cwd: Path, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sh(cmd, cwd)
        out.append(time.perf_counter() - t0)
    return out


def data_source(path: Path, rows: int) -> None:
    from stages.data.generators import GENERATORS

    with open(path, "w") as f:
        for rec in GENERATORS.get("arithmetic")(rows=rows, seed=0):
            f.write(json.dumps({"question": rec["prompt"], "answer": rec["response"]}) + "\n")


def measure(ws: Path, targets: list[str], runs: int) -> dict:
    t0 = time.perf_counter()
    sh(["dvc", "repro", *targets], ws)
    first = time.perf_counter() - t0
    noop = timed(["dvc", "repro", *targets], ws, runs)
    status = timed(["dvc", "status", *targets], ws, runs)
    size = sum(p.stat().st_size for p in ws.rglob("*") if p.is_file() and ".dvc" not in p.parts)
    return {"first_repro_s": round(first, 1), "noop_repro_s": round(statistics.median(noop), 2),
            "noop_repro_max_s": round(max(noop), 2), "dvc_status_s": round(statistics.median(status), 2),
            "workspace_gb": round(size / 2**30, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="lmforge-noop-") as tmp:
        ws = workspace(Path(tmp) / "default", SMALL_RUN)
        results["default"] = measure(ws, [], args.runs)
        print("default:", results["default"], flush=True)
        ws = workspace(Path(tmp) / "data", ["data=gsm8k", "data.sources.0.path=data_in/rows.jsonl"])
        (ws / "data_in").mkdir()
        data_source(ws / "data_in/rows.jsonl", args.rows)
        results["data"] = measure(ws, ["format"], args.runs)
        print(f"data-{args.rows}:", results["data"], flush=True)
    value = max(r["noop_repro_s"] for r in results.values())
    base = max(r["dvc_status_s"] for r in results.values())
    print(json.dumps({"bench": "noop_repro", "unit": "s", "value": value, "baseline": "dvc status",
                      "baseline_value": base, "ratio": round(value / base, 2), "goal_s": 3.0,
                      "rows": args.rows, **results}))


if __name__ == "__main__":
    main()
