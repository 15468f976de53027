"""Preference win rate: does a reward model prefer the policy's answer to the base model's?

GSM8K, MATH and HumanEval cannot see what DPO / KTO / ORPO change; a reward model trained on
the same kind of preference data (train=rm writes one to ${paths.models}/policy/reward_model,
or any HF sequence-classification dir with one label) judges each held-out prompt's pair of
completions. Win = 1, tie = 1/2, loss = 0 per prompt; the win rate is their mean, with a
Wilson interval (bootstrap when there are ties) and an exact two-sided sign test on the
non-tied prompts (H0: the RM prefers either side equally often).

    from stages.eval.winrate import judge, win_rate
    metrics = win_rate(*judge("models/rm", prompts, policy_texts, base_texts))

Scoring is stages.scoring.reward_model's (the same scalar the RL reward uses), so the RM is
read one way everywhere. The `winrate` stage (stages/winrate.py) runs it on the preference
data's val prompts: `dvc exp run -S data=hh-rlhf -S train=dpo -S eval.winrate.rm=/abs/rm`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

REWARD_MODEL_SUBDIR = "reward_model"   # where train=rm puts the RM inside its policy dir


@dataclass(frozen=True)
class Settings:
    """params `eval.winrate` (defaults live in params/eval/default.yaml)."""
    rm: str | None            # reward model dir; None: the stage writes `skipped` and why
    split: str                # preference split whose prompts both models answer: val | train
    limit: int | None         # prompts drawn with subset_seed; None: all
    subset_seed: int
    max_new_tokens: int
    temperature: float        # 0: greedy
    batch_size: int           # sequences per generate() call
    tie_eps: float            # |policy - base| reward within this counts as a tie

    def __post_init__(self):
        if self.split not in ("val", "train"):
            raise ValueError(f"eval.winrate.split={self.split!r}: valid: val, train")
        if self.limit is not None and int(self.limit) < 1:
            raise ValueError(f"eval.winrate.limit={self.limit}: must be >= 1, or null for every prompt")


def rm_dir(ref: str | Path) -> Path:
    """The reward model dir `ref` names: the dir itself, or its `reward_model/` when `ref` is the
    policy dir a train=rm run wrote (models/policy, copied out of the experiment)."""
    path = Path(ref)
    for cand in (path, path / REWARD_MODEL_SUBDIR):
        if (cand / "config.json").exists():
            return cand
    raise FileNotFoundError(f"eval.winrate.rm={str(ref)!r}: no reward model there (no config.json in it or "
                            f"in its {REWARD_MODEL_SUBDIR}/); train one with `dvc exp run -S data=hh-rlhf "
                            f"-S train=rm`, copy models/policy out, and give its absolute path")


def skip_reason(rm: str | None, n_prompts: int, prompts_file: str) -> str | None:
    """Why there is nothing to judge (None: run). Both missing pieces are named."""
    why = []
    if rm is None:
        why.append("no reward model (eval.winrate.rm is null)")
    if n_prompts == 0:
        why.append(f"no preference data ({prompts_file} has 0 rows: the data has no chosen/rejected "
                   "pairs, or data.format.kinds lacks preference)")
    return "; ".join(why) or None


def generate(model_dir: Path, prompts: Sequence[list[dict]], s: Settings, engine: str, dtype: str,
             seed: int) -> tuple[list[str], dict]:
    """(one completion per prompt, {generate_seconds, new_tokens, truncated}) from one model."""
    from stages.eval.engines import SamplingParams, make_engine

    eng = make_engine(engine, str(model_dir), batch_size=s.batch_size, dtype=dtype)
    params = SamplingParams(max_new_tokens=s.max_new_tokens, temperature=s.temperature, seed=seed)
    t0 = time.perf_counter()
    comps = eng.generate(list(prompts), params)
    info = {"generate_seconds": round(time.perf_counter() - t0, 2),
            "new_tokens": sum(c.new_tokens[0] for c in comps),
            "truncated": sum(c.finish[0] == "length" for c in comps)}
    return [c.texts[0] for c in comps], info


def pair_rows(ids: Sequence[str], prompts: Sequence[list[dict]], policy: Sequence[str], base: Sequence[str],
              policy_r: Sequence[float], base_r: Sequence[float], tie_eps: float) -> list[dict]:
    """One sample row per prompt: both answers, both rewards and the outcome (1 / 0.5 / 0)."""
    out = outcomes(policy_r, base_r, tie_eps)
    return [{"id": i, "prompt": list(p), "policy": a, "base": b, "policy_reward": ra, "base_reward": rb,
             "outcome": o} for i, p, a, b, ra, rb, o in zip(ids, prompts, policy, base, policy_r, base_r, out)]


def items(rows: Sequence[dict[str, Any]]) -> dict:
    """Per-item outcomes (committed beside the metrics, so a PR's run pairs with main's)."""
    return {"ids": [r["id"] for r in rows], "outcome": [r["outcome"] for r in rows],
            "policy_reward": [r["policy_reward"] for r in rows], "base_reward": [r["base_reward"] for r in rows]}


def judge(rm_dir: str, prompts: Sequence[list[dict]], policy: Sequence[str],
          base: Sequence[str]) -> tuple[list[float], list[float]]:
    """(policy rewards, base rewards), one per prompt: the RM's scalar for prompt + answer."""
    from stages.scoring.reward_model import load, score

    if not len(prompts) == len(policy) == len(base):
        raise ValueError(f"win rate: {len(prompts)} prompts, {len(policy)} policy and {len(base)} base "
                         "completions; expected one of each per prompt")
    model, tok = load(str(rm_dir))
    turn = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
    return ([score(model, tok, list(p), turn(c)) for p, c in zip(prompts, policy)],
            [score(model, tok, list(p), turn(c)) for p, c in zip(prompts, base)])


def outcomes(policy: Sequence[float], base: Sequence[float], tie_eps: float = 0.0) -> list[float]:
    """Per prompt: 1 policy preferred, 0 base preferred, 0.5 within `tie_eps` of each other."""
    return [0.5 if abs(p - b) <= tie_eps else float(p > b) for p, b in zip(policy, base)]


def win_rate(policy: Sequence[float], base: Sequence[float], tie_eps: float = 0.0, seed: int = 0) -> dict:
    """{"win_rate", "ci_low", "ci_high", "ci_method", "wins", "losses", "ties", "n", "p_value",
    "mean_margin"} from paired rewards (same prompts, same order)."""
    from scipy.stats import binomtest

    from stages.eval.metrics import mean_ci

    if len(policy) != len(base) or not policy:
        raise ValueError(f"win rate needs paired rewards: {len(policy)} policy vs {len(base)} base")
    out = outcomes(policy, base, tie_eps)
    wins, losses = out.count(1.0), out.count(0.0)
    ci = mean_ci(out, 1, seed)                  # Wilson for 0/1 outcomes, bootstrap with ties
    p = binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    return {"win_rate": ci.pop("accuracy"), **ci, "wins": wins, "losses": losses,
            "ties": len(out) - wins - losses, "n": len(out), "p_value": float(p),
            "mean_margin": sum(a - b for a, b in zip(policy, base)) / len(out)}
