"""Per-token quantities of response tokens, in micro-batches.

The policy's logits are divided by the rollout temperature before the softmax (as verl's
actor does), so log-probs describe the distribution the samples came from.
"""
from __future__ import annotations

from typing import Any


def policy_outputs(model, batch: dict, temperature: float, with_entropy: bool, entropy_grad: bool = False):
    """(log_probs (N, R), entropy (N, R) or None) for batch['responses'] given the prompt.
    Entropy is a metric unless `entropy_grad` (entropy_coeff != 0): then no graph is kept
    through the (N, R, V) entropy computation."""
    import torch
    from verl.utils import torch_functional as verl_F

    resp = batch["responses"]
    R = resp.shape[1]
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"], use_cache=False,
                   logits_to_keep=R + 1).logits                              # (N, R + 1, V): no prompt logits
    logits = logits[:, :-1].float() / temperature                            # (N, R, V)
    logp = verl_F.logprobs_from_logits(logits, resp)                         # (N, R)
    entropy = None
    if with_entropy:
        with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
            entropy = verl_F.entropy_from_logits(logits)
    return logp, entropy


def values(critic, batch: dict):
    """(N, R) value of the state before each response token (verl critic convention)."""
    R = batch["responses"].shape[1]
    out = critic(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                 position_ids=batch["position_ids"], use_cache=False).logits  # (N, T, 1)
    return out[:, -R - 1:-1, 0].float()


def no_grad_batched(fn, model, batch: dict, micro: int, **kw) -> Any:
    """Run `fn(model, sub_batch)` without grad over micro-batches and concatenate."""
    import torch

    n = batch["responses"].shape[0]
    parts = []
    with torch.no_grad():
        for i in range(0, n, micro):
            sub = {k: v[i:i + micro] for k, v in batch.items()}
            out = fn(model, sub, **kw)
            parts.append(out[0] if isinstance(out, tuple) else out)
    return torch.cat(parts)
