"""Format reward: 1.0 when the completion states its answer the way the task asks, else 0.0:
a `#### N` answer as the strict GSM8K extractor reads it (the one the `gsm8k` reward grades,
so format 0.0 means gsm8k 0.0), or a non-empty `<answer>...</answer>` tag. `#### $40` has no
strict answer (lm-eval's strict regex has no `$`), so it scores 0.0 here too."""
from __future__ import annotations

import re

from stages.scoring import extract
from stages.rewards import REWARDS

ANSWER_TAG = re.compile(r"<answer>.+?</answer>", re.DOTALL)


@REWARDS.register("format")
def answer_format(completion: str, ground_truth: str | None, extra: dict) -> float:
    return float(extract.gsm8k_strict(completion) is not None or bool(ANSWER_TAG.search(completion)))
