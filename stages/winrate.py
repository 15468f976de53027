"""Preference win rate: base and policy answer the preference data's held-out prompts and a
reward model judges each pair (stages.eval.winrate): win rate, its 95% CI, the sign test.

    dvc exp run -S data=hh-rlhf -S train=dpo -S eval.winrate.rm=/abs/path/to/rm-policy

With `eval.winrate.rm: null` (the default) or no preference rows (arithmetic data), the stage
writes `skipped` and the reason, so the default pipeline runs and the report says why.
"""
from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from stages.common import cli, io, stagerun
from stages.eval import winrate
from stages.eval.data import subset_indices


def judge_pairs(prompts_file: Path, models: Path, s: winrate.Settings, engine: str, dtype: str,
                seed: int) -> tuple[list[dict], dict]:
    """(sample rows, metrics): both models answer the subset, the RM judges each pair."""
    frame = pl.read_parquet(prompts_file)
    reason = winrate.skip_reason(s.rm, frame.height, str(prompts_file))
    if reason:
        return [], {"skipped": True, "reason": reason}
    rm = winrate.rm_dir(s.rm)
    picked = frame[subset_indices(frame.height, s.limit, s.subset_seed)]
    ids, prompts = picked["id"].to_list(), picked["prompt"].to_list()
    base, base_info = winrate.generate(models / "base", prompts, s, engine, dtype, seed)
    policy, policy_info = winrate.generate(models / "policy", prompts, s, engine, dtype, seed)
    t0 = time.perf_counter()
    policy_r, base_r = winrate.judge(str(rm), prompts, policy, base)
    rows = winrate.pair_rows(ids, prompts, policy, base, policy_r, base_r, s.tie_eps)
    metrics = {"skipped": False, **winrate.win_rate(policy_r, base_r, s.tie_eps, seed), "rm": str(s.rm),
               "rows_available": frame.height, "base": base_info, "policy": policy_info,
               "judge_seconds": round(time.perf_counter() - t0, 2)}
    return rows, metrics


def main() -> None:
    sections = {"eval.winrate": winrate.Settings, "eval.engine": None, "eval.dtype": None, "seed": None}
    with stagerun.stage("winrate", sections) as st:
        s = winrate.Settings(**st.params["eval.winrate"])
        prompts_file = st.path("format") / "preference" / f"{s.split}.parquet"
        rows, st.metrics = judge_pairs(prompts_file, st.path("models"), s, st.params["eval.engine"],
                                       st.params["eval.dtype"], int(st.params["seed"]))
        with io.atomic_path(st.path("eval") / "winrate", is_dir=True) as out:
            io.write_jsonl(rows, out / "samples.jsonl")
            io.write_json({"stage": "winrate", "params": st.params}, out / stagerun.CONFIG_FILE)
        items = winrate.items(rows) if rows else {"skipped": st.metrics["reason"]}
        io.write_json(items, st.path("metrics") / "items" / "winrate.json")
    m = st.metrics
    print(f"winrate: skipped: {m['reason']}" if m["skipped"] else
          f"winrate: {m['win_rate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] over {m['n']} prompts "
          f"({m['wins']} won, {m['ties']} tied, {m['losses']} lost), sign test p={m['p_value']:.3g}")


if __name__ == "__main__":
    cli.run(main, "winrate")
