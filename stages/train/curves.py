"""Step curves to DVCLive (`dvc plots show`) and to the stage's W&B run, from one call.

DVCLive writes `<dir>/plots/metrics/<name>.tsv` (one row per step); names keep their `/`,
so `actor/entropy` lands in `plots/metrics/actor/entropy.tsv`, whose value column is named
after the leaf (`entropy`) beside DVCLive's own `step` and `timestamp`. A leaf with one of those
names (verl logs `timing_s/step`) is logged as `<leaf>_total`, so no column is shadowed.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any


class Curves:
    def __init__(self, plots_dir: str | Path, run: Any = None, resume: bool = False):
        from dvclive import Live

        self.live = Live(dir=str(plots_dir), dvcyaml=None, save_dvc_exp=False, resume=resume)
        self.run = run
        self.history: list[dict] = []     # every logged row, for the trainer's final metrics

    def log(self, metrics: dict, step: int) -> None:
        row = {_column_safe(k): float(v) for k, v in metrics.items() if _is_number(v)}
        if not row:
            return
        self.live.step = step
        for name, value in row.items():
            self.live.log_metric(name, value, plot=True)
        self.live.make_summary()
        if self.run is not None:
            self.run.log(row, step=step)
        self.history.append({"step": step, **row})

    def series(self, name: str) -> list[float]:
        return [r[name] for r in self.history if name in r]

    def close(self) -> None:
        self.live.end()


RESERVED = ("step", "timestamp")      # DVCLive's own columns in every .tsv


def _column_safe(name: str) -> str:
    return f"{name}_total" if name.rpartition("/")[2] in RESERVED else name


def _is_number(v: Any) -> bool:
    if hasattr(v, "item"):
        v = v.item()
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def hf_callback(curves: Curves):
    """A transformers TrainerCallback that forwards `on_log` rows to Curves, adding tokens/s
    from TRL's running `num_tokens` count (TRL logs it; the wall clock is ours)."""
    from transformers import TrainerCallback

    class _CurvesCallback(TrainerCallback):
        def __init__(self):
            self.last = None  # (time, num_tokens)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            if "train_runtime" in logs:      # the end-of-run summary row: metrics json, not a curve
                return
            now, tokens = time.perf_counter(), logs.get("num_tokens")
            if tokens is not None and self.last is not None and now > self.last[0]:
                logs["tokens_per_s"] = (tokens - self.last[1]) / (now - self.last[0])
            if tokens is not None:
                self.last = (now, tokens)
            curves.log(logs, step=state.global_step)

    return _CurvesCallback()
