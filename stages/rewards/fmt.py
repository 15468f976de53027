"""Format reward: 1.0 when the completion states its answer the way the task asks,
a `#### N` line (GSM8K) or an `<answer>...</answer>` tag, else 0.0."""
from __future__ import annotations

import re

from stages.scoring import extract
from stages.rewards import REWARDS

ANSWER_TAG = re.compile(r"<answer>.+?</answer>", re.DOTALL)


@REWARDS.register("format")
def answer_format(completion: str, ground_truth: str | None, extra: dict) -> float:
    return float(extract.gsm8k_strict(completion) is not None or bool(ANSWER_TAG.search(completion)))
