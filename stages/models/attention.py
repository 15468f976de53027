"""Eager attention for grouped-query models without copying the KV cache per step.

transformers' eager attention expands each key/value head to the query heads that share it
(`repeat_kv`) on every forward: in batched decoding on CPU that copy of the whole cache is ~16%
of the time (SmolLM2-135M: 9 query heads on 3 KV heads). Here the query heads of a group are
stacked instead, so one matmul per KV head serves them all: the same arithmetic, no copy
(~1.3x the tokens/s in bfloat16 generation; bench/bench_generation.py, docs/benchmarks.md).

Models that pass attention options the plain formula lacks (logit soft-capping, attention
sinks) fall back to their own eager function.
"""
from __future__ import annotations

import sys

GROUPED_EAGER = "grouped_eager"
_OWN_EAGER_KWARGS = ("softcap", "s_aux", "sinks")


def grouped_eager_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
    """query (b, h, q, d), key/value (b, kv, t, d) -> ((b, q, h, d), weights (b, h, q, t))."""
    import torch
    from torch import nn

    if any(kwargs.get(k) is not None for k in _OWN_EAGER_KWARGS):
        own = sys.modules[type(module).__module__].eager_attention_forward
        return own(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    b, h, q, d = query.shape
    kv, t = key.shape[1], key.shape[2]
    group = h // kv                     # query head i reads KV head i // group, as repeat_kv does
    weights = (query.reshape(b, kv, group * q, d) @ key.transpose(2, 3) * scaling).view(b, kv, group, q, t)
    if attention_mask is not None:
        weights = weights + attention_mask[:, :, None, :, :t]
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    out = (weights.view(b, kv, group * q, t) @ value).view(b, h, q, -1)
    return out.transpose(1, 2).contiguous(), weights.view(b, h, q, t)


def register() -> str:
    """Register the function (and eager's additive mask) with transformers; returns the
    `attn_implementation` name to load or switch a model with."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(GROUPED_EAGER, grouped_eager_attention)
    AttentionMaskInterface.register(GROUPED_EAGER, eager_mask)
    return GROUPED_EAGER
