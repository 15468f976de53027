"""The default pipeline end to end, before and after: `dvc repro` (what `make repro` runs) in two
fresh workspaces, a baseline commit and this working tree, one after the other.

    python bench/bench_repro.py                       # baseline: cc54945 (main before the speed-up)
    python bench/bench_repro.py --base main --order tree,base
    python bench/bench_repro.py --only tree           # one side (e.g. on a busy machine)
    python bench/bench_repro.py --new HEAD            # the new side from a commit
    python bench/bench_repro.py --only base --save base.json    # one side now ...
    python bench/bench_repro.py --only tree --load base.json    # ... the other later, one table

Each workspace is the side's tracked files (the working tree's as they are now, uncommitted edits
included; the baseline's from `git archive`), git-initialised, default profile, reference data
from /work/shared/datasets ($LMFORGE_SHARED_DATASETS), this venv. Per stage: wall seconds from
dvc's "Running stage" lines (process start-up included) and the stage's own `seconds` from its
metrics file. The CPU seconds of all child processes are printed too, and the 1-minute load
average sampled through each run: on a shared 2-core machine the wall clock moves with other
people's jobs. Ends with one JSON line (`bench`, `unit`, `value`, `baseline`, `baseline_value`,
`ratio`, ...). Goal: the working tree under 600 s on an idle 2-core machine, same policy accuracy.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LMFORGE_SHARED_DATASETS", "/work/shared/datasets"))
BASE_REF = "cc54945"   # main before bf16 training and bf16 generation became the default


@dataclass
class Run:
    side: str
    wall: float = 0.0
    cpu: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)     # dvc stage -> wall s (from its log)
    inner: dict[str, float] = field(default_factory=dict)      # stage -> its metrics' `seconds`
    load: list[float] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def env() -> dict:
    return {**os.environ, "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "LMFORGE_SHARED_DATASETS": str(SHARED),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def sh(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, env=env(), check=True, capture_output=True)


def tree_files(dest: Path) -> None:
    """The working tree's tracked and new (not ignored) files, as they are on disk."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, out.split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def ref_files(ref: str, dest: Path) -> None:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)


def workspace(ref: str | None, dest: Path) -> Path:
    """A fresh repo of `ref`'s files (None: the working tree's), default profile, no lock."""
    dest.mkdir(parents=True)
    tree_files(dest) if ref is None else ref_files(ref, dest)
    (dest / "dvc.lock").unlink(missing_ok=True)          # the committed lock is the CI profile
    shutil.rmtree(dest / "reports" / "metrics", ignore_errors=True)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh([sys.executable, "-m", "stages.common.compose"], dest)      # the default profile
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"], dest)
    return dest


def sample_load(stop: threading.Event, into: list[float]) -> None:
    while not stop.wait(15):
        into.append(os.getloadavg()[0])


def repro(side: str, ws: Path) -> Run:
    """`dvc repro` once; each stage's wall time runs from its "Running stage" line to the next."""
    run, stop = Run(side), threading.Event()
    sampler = threading.Thread(target=sample_load, args=(stop, run.load), daemon=True)
    sampler.start()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = last = time.perf_counter()
    stage = None
    proc = subprocess.Popen(["dvc", "repro"], cwd=ws, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log = []
    for line in proc.stdout:
        log.append(line)
        if line.startswith("Running stage '"):
            now = time.perf_counter()
            if stage:
                run.stages[stage] = now - last
            stage, last = line.split("'")[1], now
            print(f"[{side} {now - t0:7.1f} s] {stage}", file=sys.stderr, flush=True)
    if proc.wait():
        raise SystemExit(f"{side}: dvc repro failed:\n{''.join(log[-60:])}")
    end = time.perf_counter()
    run.stages[stage] = end - last
    run.wall = end - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    stop.set()
    run.load.append(os.getloadavg()[0])
    for f in (ws / "reports" / "metrics").rglob("*.json"):
        if f.parent.name == "items":
            continue
        data = json.loads(f.read_text())
        name = f.stem if f.parent.name == "metrics" else f"eval@{f.stem}"
        run.metrics[name] = data
        if "seconds" in data:
            run.inner[name] = data["seconds"]
    return run


def policy_gsm8k(run: Run) -> float | None:
    return run.metrics.get("eval@policy-gsm8k", {}).get("strict", {}).get("accuracy")


def table(runs: list[Run]) -> None:
    names = list(dict.fromkeys(s for r in runs for s in r.stages))
    head = " | ".join(f"{r.side} wall s | {r.side} inner s" for r in runs)
    print(f"| stage | {head} |" + (" ratio |" if len(runs) == 2 else ""))
    for n in names:
        cells = " | ".join(f"{r.stages.get(n, 0):.1f} | {r.inner.get(n, float('nan')):.1f}" for r in runs)
        ratio = ""
        if len(runs) == 2 and runs[1].stages.get(n):
            ratio = f" {runs[0].stages.get(n, 0) / runs[1].stages[n]:.2f}x |"
        print(f"| {n} | {cells} |{ratio}")
    for r in runs:
        print(f"{r.side}: wall {r.wall:.0f} s, CPU {r.cpu:.0f} s, load avg (1 min) mean "
              f"{statistics.mean(r.load):.1f} max {max(r.load):.1f}, policy gsm8k strict "
              f"{policy_gsm8k(r)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=BASE_REF, help="the baseline commit (default: %(default)s)")
    ap.add_argument("--new", help="a commit for the new side instead of the working tree (whose "
                    "other uncommitted edits then stay out)")
    ap.add_argument("--order", default="base,tree", help="which side runs first")
    ap.add_argument("--only", choices=("base", "tree"), help="run one side only")
    ap.add_argument("--keep", help="keep the workspaces under this dir (reports, eval outputs)")
    ap.add_argument("--save", help="write the runs measured now to this JSON file")
    ap.add_argument("--load", help="add runs saved by an earlier --save (a side measured now wins)")
    args = ap.parse_args()
    sides = [args.only] if args.only else args.order.split(",")
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_repro_"))
    try:
        refs = {"base": args.base, "tree": args.new}
        runs = {s: repro(s, workspace(refs[s], tmp / s)) for s in sides}
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.save:
        Path(args.save).write_text(json.dumps({s: asdict(r) for s, r in runs.items()}))
    if args.load:
        saved = {s: Run(**r) for s, r in json.loads(Path(args.load).read_text()).items()}
        runs = {**saved, **runs}
    ordered = [runs[s] for s in ("base", "tree") if s in runs]
    table(ordered)
    out = {"bench": "make_repro_default", "unit": "s", "cpus": os.cpu_count()}
    if "tree" in runs:
        out.update(value=round(runs["tree"].wall, 1), cpu_seconds=round(runs["tree"].cpu, 1),
                   policy_gsm8k_strict=policy_gsm8k(runs["tree"]),
                   load_avg_mean=round(statistics.mean(runs["tree"].load), 2))
    if "base" in runs:
        out.update(baseline=f"commit {args.base}", baseline_value=round(runs["base"].wall, 1),
                   baseline_cpu_seconds=round(runs["base"].cpu, 1),
                   baseline_policy_gsm8k_strict=policy_gsm8k(runs["base"]),
                   baseline_load_avg_mean=round(statistics.mean(runs["base"].load), 2))
    if len(runs) == 2:
        out.update(ratio=round(runs["base"].wall / runs["tree"].wall, 2),
                   cpu_ratio=round(runs["base"].cpu / runs["tree"].cpu, 2))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
