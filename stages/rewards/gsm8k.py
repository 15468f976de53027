"""GSM8K exact answer: the `#### N` value (strict) or the last number (flexible) equals the
ground truth as a number (`#### 145` earns 1.0 against `145`, `145.0` or `#### 145.00`), after
lm-eval's normalisation. The extractor is eval's (stages.scoring.extract), so a reward of 1.0
here is a correct answer in the eval table."""
from __future__ import annotations

from stages.scoring import extract
from stages.rewards import REWARDS


def _gold(ground_truth: str | None) -> str:
    """A bare ground truth value; a full `... #### N` solution is reduced to its N."""
    if ground_truth is None:
        raise ValueError("gsm8k reward needs a ground_truth (the `#### N` value)")
    text = str(ground_truth)
    return extract.gsm8k_gold(text) if "####" in text else extract.normalize_number(text)


@REWARDS.register("gsm8k")
def gsm8k(completion: str, ground_truth: str | None, extra: dict) -> float:
    return float(extract.gsm8k_match(completion, _gold(ground_truth), "strict")[1])


@REWARDS.register("gsm8k_flexible")
def gsm8k_flexible(completion: str, ground_truth: str | None, extra: dict) -> float:
    return float(extract.gsm8k_match(completion, _gold(ground_truth), "flexible")[1])
