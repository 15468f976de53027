"""Rollouts with HF generate: n sampled responses per prompt, as token tensors and masks.

Shapes (N = prompts x n, P = longest prompt, R = longest response):
  input_ids, attention_mask, position_ids   (N, P + R)   prompt left-padded, response right-padded
  responses, response_mask                  (N, R)       mask is 1 up to and including the first eos
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Rollout:
    input_ids: Any
    attention_mask: Any
    position_ids: Any
    responses: Any
    response_mask: Any
    texts: list[str]          # decoded responses (special tokens dropped)
    rows: list[dict]          # the source row of each response
    index: np.ndarray         # (N,) prompt-group id of each response (GRPO/RLOO groups)

    def __len__(self) -> int:
        return len(self.texts)


def encode_prompts(tok, rows: list[dict], max_prompt_length: int, device):
    """Chat-templated prompts, left-padded; a prompt over the limit fails naming its row."""
    texts = [tok.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=False) for r in rows]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    lengths = enc["attention_mask"].sum(-1)
    for r, n in zip(rows, lengths.tolist()):
        if n > max_prompt_length:
            raise ValueError(f"rl row {r.get('id')}: prompt has {n} tokens > train.data.max_prompt_length="
                             f"{max_prompt_length}; raise it or shorten the prompt")
    return enc["input_ids"].to(device), enc["attention_mask"].to(device)


def response_mask(responses, eos_id: int):
    """(N, R) 1 for tokens up to and including the first eos, 0 after (pads)."""
    is_eos = (responses == eos_id).int()
    return ((is_eos.cumsum(-1) - is_eos) == 0).to(responses.dtype)


def position_ids(attention_mask):
    """Positions that skip left padding: what generate used, so forward passes match it."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def generate(model, tok, rows: list[dict], n: int, rollout_cfg: Any, max_prompt_length: int,
             max_response_length: int, greedy: bool = False) -> Rollout:
    """Sample `n` responses per row (greedy: one, argmax) at the rollout temperature/top_p/top_k."""
    import torch

    ids, attn = encode_prompts(tok, rows, max_prompt_length, model.device)
    top_k = int(rollout_cfg.top_k)
    sampling = {} if greedy else dict(temperature=float(rollout_cfg.temperature),
                                      top_p=float(rollout_cfg.top_p), top_k=top_k if top_k > 0 else 0)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=attn, max_new_tokens=max_response_length,
                             num_return_sequences=1 if greedy else n, do_sample=not greedy,
                             eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **sampling)
    k = 1 if greedy else n
    responses = out[:, ids.shape[1]:]                                         # (N, R)
    mask = response_mask(responses, tok.eos_token_id)
    full_attn = torch.cat([attn.repeat_interleave(k, 0), mask], dim=-1)      # (N, P + R)
    texts = [tok.decode(r[m.bool()], skip_special_tokens=True) for r, m in zip(responses, mask)]
    return Rollout(input_ids=out, attention_mask=full_attn, position_ids=position_ids(full_attn),
                   responses=responses, response_mask=mask, texts=texts,
                   rows=[r for r in rows for _ in range(k)],
                   index=np.repeat(np.array([str(r["id"]) for r in rows], dtype=object), k))
