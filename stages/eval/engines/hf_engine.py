"""transformers generation, batched: left-padded prompts, KV cache, stop strings, progress bar.

Prompts are sorted by token length (longest first) before batching, so each batch pads little
and an out-of-memory batch shows up at the start, not after an hour. Results come back in
input order. `batch_size` counts sequences: with n samples per prompt a batch holds
`batch_size // n` prompts.

transformers checks stop strings against the end of the whole sequence, prompt included, so a
stop string that straddles the prompt's last characters ends generation early; such a sample
still reports `finish: "stop"`.

The prompts' KV cache is computed per group of similar length, then left-padded into one cache:
the batch is padded to its longest prompt, and one long prompt would otherwise make every row
compute its padding (HumanEval's 32 prompts: 12,640 positions for 4,675 tokens; 5,093 grouped).
Masked positions add nothing to attention, so this is the same arithmetic as one padded pass.

Generation runs in segments of `segment` new tokens; rows that have ended (EOS or a stop string)
leave the batch, KV cache rows included, between segments, so one long answer does not keep 31
finished rows decoding.

On CPU the model runs eager attention, grouped so that query heads sharing a KV head read it
without a copy (stages/models/attention.py): in bfloat16 batched decoding eager gives ~1.5x the
tokens/s of SDPA (whose masked CPU path is slow at these sizes), grouping ~1.3x more
(docs/benchmarks.md).
"""
from __future__ import annotations

import time
from typing import Any

from stages.eval.engines import ENGINES, Completion, Prompt, SamplingParams, cut_at_stop, render


def length_groups(lengths: list[int], keep: float = 0.8) -> list[tuple[int, int]]:
    """[first, end) row ranges of prompts sorted longest first: a group ends where a prompt is
    shorter than `keep` times the group's longest, so padding stays under ~20% of a group."""
    starts = [0]
    for i, n in enumerate(lengths[1:], 1):
        if n < keep * lengths[starts[-1]]:
            starts.append(i)
    return list(zip(starts, starts[1:] + [len(lengths)]))


@ENGINES.register("hf")
class HFEngine:
    def __init__(self, model_dir: str, batch_size: int = 16, device: str | None = None,
                 dtype: str = "auto", progress: bool = True, segment: int = 32) -> None:
        import torch

        from stages.models import attention, load

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model, self.tok = load(model_dir, for_generation=True, dtype=dtype, device=self.device,
                                    attn_implementation=attention.register() if self.device == "cpu" else None)
        if self.tok.pad_token_id is None:
            raise ValueError(f"{model_dir}: tokenizer has no pad token; batched generation needs "
                             "one (the model stage sets it: model.pad_token)")
        self.tok.padding_side = "left"
        self.batch_size, self.progress, self.segment = batch_size, progress, segment
        self.dtype = str(self.model.dtype).removeprefix("torch.")     # what `auto` resolved to

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        import torch
        from tqdm import tqdm

        texts = [render(self.tok, p) for p in prompts]
        ids = [self.tok(t, add_special_tokens=False)["input_ids"] for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        per_batch = max(1, self.batch_size // params.n)
        out: list[Completion | None] = [None] * len(ids)
        torch.manual_seed(params.seed)
        with tqdm(total=len(ids), desc="generate", unit="prompt", disable=not self.progress) as bar:
            for start in range(0, len(order), per_batch):
                batch = order[start:start + per_batch]
                for i, comp in zip(batch, self._batch([ids[i] for i in batch], params)):
                    comp.prompt_text = texts[i]
                    out[i] = comp
                bar.update(len(batch))
        return out  # type: ignore[return-value]

    def _batch(self, ids: list[list[int]], params: SamplingParams) -> list[Completion]:
        import torch

        enc = self.tok.pad({"input_ids": ids}, padding=True, return_tensors="pt").to(self.device)
        sampling = params.temperature > 0
        kwargs = dict(do_sample=sampling, temperature=params.temperature if sampling else None,
                      top_p=params.top_p if sampling else None, top_k=None, use_cache=True,
                      stop_strings=list(params.stop) or None, tokenizer=self.tok,
                      pad_token_id=self.tok.pad_token_id, eos_token_id=self.tok.eos_token_id,
                      return_dict_in_generate=True)
        t0 = time.perf_counter()
        prompt_len = enc["input_ids"].shape[1]
        with torch.inference_mode():
            full = self._segments(enc["input_ids"], enc["attention_mask"], params, kwargs)
        seconds = (time.perf_counter() - t0) / len(ids)
        comps = []
        for b, prompt_ids in enumerate(ids):
            rows = [self._decode(full[b * params.n + j][prompt_len:], params) for j in range(params.n)]
            comps.append(Completion(prompt_text="", texts=[r[0] for r in rows],
                                    prompt_tokens=len(prompt_ids), new_tokens=[r[1] for r in rows],
                                    seconds=seconds, finish=[r[2] for r in rows]))
        return comps

    def _segments(self, input_ids: Any, mask: Any, params: SamplingParams, kwargs: dict) -> list[Any]:
        """Every row's full sequence. Generates `segment` tokens at a time and carries only the
        rows that have not ended (and their KV cache rows) into the next segment: one long
        answer no longer keeps the whole batch decoding."""
        import torch

        prompt_len = input_ids.shape[1]
        cache = self._prefill(input_ids, mask)
        if params.n > 1:                                     # sample i of prompt b is row b * n + i
            input_ids, mask = input_ids.repeat_interleave(params.n, 0), mask.repeat_interleave(params.n, 0)
            if cache is not None:
                cache.batch_repeat_interleave(params.n)
        rows = list(range(input_ids.shape[0]))               # index into the final output
        done: list[Any] = [None] * len(rows)
        budget = params.max_new_tokens
        while rows:
            step = min(self.segment, budget)
            out = self.model.generate(input_ids=input_ids, attention_mask=mask, past_key_values=cache,
                                      max_new_tokens=step, **kwargs)
            seqs, cache, budget = out.sequences, out.past_key_values, budget - step
            mask = torch.cat([mask, torch.ones(seqs.shape[0], seqs.shape[1] - mask.shape[1], dtype=mask.dtype,
                                               device=mask.device)], 1)
            keep = [i for i in range(len(rows)) if budget > 0 and not self._ended(seqs[i, prompt_len:], params)]
            for i in set(range(len(rows))) - set(keep):
                done[rows[i]] = seqs[i]
            if keep and len(keep) < len(rows):
                cache.batch_select_indices(torch.tensor(keep, device=seqs.device))
            rows, input_ids, mask = [rows[i] for i in keep], seqs[keep], mask[keep]
        return done

    def _prefill(self, input_ids: Any, mask: Any) -> Any:
        """The KV cache of every prompt but its last token, one forward per length group (rows
        come longest first); None when one group covers the batch, or the model's cache is not
        a plain per-layer concatenation (sliding-window and other special caches)."""
        import torch
        from transformers.cache_utils import DynamicCache, DynamicLayer

        lengths = mask.sum(1).tolist()
        groups = length_groups(lengths)
        merged = DynamicCache(config=self.model.config)
        if len(groups) < 2 or any(type(x) is not DynamicLayer for x in merged.layers):
            return None
        width, caches = input_ids.shape[1] - 1, []
        for first, end in groups:
            n = lengths[first] - 1                           # the group's longest prompt, last token left out
            ids, m = input_ids[first:end, width - n:width], mask[first:end, width - n:width]
            cache = DynamicCache(config=self.model.config)
            if n:                                            # one-token prompts: nothing to cache
                position_ids = (m.long().cumsum(-1) - 1).masked_fill(m == 0, 1)   # as generate() numbers them
                self.model(input_ids=ids, attention_mask=m, position_ids=position_ids, past_key_values=cache,
                           use_cache=True, logits_to_keep=1)
            caches.append((end - first, cache if n else None))
        for i in range(len(merged.layers)):
            like = caches[0][1].layers[i].keys                 # the longest group always has a cache

            def left_padded(rows: int, cache: Any, attr: str) -> Any:
                t = getattr(cache.layers[i], attr) if cache else like.new_zeros((rows, like.shape[1], 0, like.shape[3]))
                return torch.nn.functional.pad(t, (0, 0, width - t.shape[2], 0))
            merged.update(torch.cat([left_padded(r, c, "keys") for r, c in caches]),
                          torch.cat([left_padded(r, c, "values") for r, c in caches]), i)
        return merged

    def _ended(self, tokens: Any, params: SamplingParams) -> bool:
        """Whether a row's generated tokens have ended: EOS, padding after a stop string, or a
        stop string in the decoded text (cut there by _decode)."""
        ids = tokens.tolist()
        if not ids or self.tok.eos_token_id in ids or ids[-1] == self.tok.pad_token_id:
            return True
        text = self.tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return cut_at_stop(text, params.stop)[1]

    def _decode(self, row: Any, params: SamplingParams) -> tuple[str, int, str]:
        """(text cut at stop strings, generated token count, finish reason) for one sequence."""
        tokens = row.tolist()
        eos = self.tok.eos_token_id
        n = tokens.index(eos) + 1 if eos in tokens else len(tokens)
        while n > 0 and tokens[n - 1] == self.tok.pad_token_id and tokens[n - 1] != eos:
            n -= 1  # padding after an early stop string
        text, stopped = cut_at_stop(self.tok.decode(tokens[:n], skip_special_tokens=True,
                                                clean_up_tokenization_spaces=False), params.stop)
        # HF also matches stop strings across the prompt's tail, so "ended early" counts as stop
        finish = "stop" if stopped or n < params.max_new_tokens or eos in tokens[:n] else "length"
        return text, n, finish
