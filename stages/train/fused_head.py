"""TRL's fused LM head, told to score only the positions that carry a label on CPU too.

SFT, DPO, KTO, GRPO and RLOO in TRL compute per-token log-probs through a chunked LM head
(`trl.trainer.utils.add_fused_lm_head`). With Triton (CUDA, XPU) it projects only the positions
whose label is not -100; elsewhere it projects every position, prompt and padding included,
so that tile shapes stay fixed for compiling backends. Eager CPU compiles nothing, so the
fixed shapes buy nothing there and cost the most: the head is a 49k-wide matmul per position,
its backward in float32. Scoring the labelled positions only is the same loss, gradient and
metrics (unlabelled rows are zeroed either way); on SmolLM2 SFT (41% of positions labelled)
a bf16 step goes from 9.4 to 7.5 s (docs/benchmarks.md).

The switch is TRL's own `compact` branch, chosen by `_use_triton(device)` in
trl/trainer/utils.py. It is only redirected when that module calls `_use_triton` exactly once
and as `compact = _use_triton(...)`; any other TRL leaves TRL's behaviour untouched.
"""
from __future__ import annotations

import inspect

_MARK = "_lmforge_compact_on_cpu"


def compact_on_cpu() -> bool:
    """Make TRL's fused head score labelled positions only on CPU; True if it now does."""
    import trl.trainer.utils as trl_utils

    choose = getattr(trl_utils, "_use_triton", None)
    if choose is None:
        return False
    if getattr(choose, _MARK, False):
        return True
    source = inspect.getsource(trl_utils)
    if source.count("_use_triton(") != 1 or "compact = _use_triton(" not in source:
        return False

    def use_compact(device) -> bool:
        return choose(device) or device.type == "cpu"

    setattr(use_compact, _MARK, True)
    trl_utils._use_triton = use_compact
    return True
