"""transformers generation, batched: left-padded prompts, KV cache, stop strings, progress bar.

Prompts are sorted by token length (longest first) before batching, so each batch pads little
and an out-of-memory batch shows up at the start, not after an hour. Results come back in
input order. `batch_size` counts sequences: with n samples per prompt a batch holds
`batch_size // n` prompts.

transformers checks stop strings against the end of the whole sequence, prompt included, so a
stop string that straddles the prompt's last characters ends generation early; such a sample
still reports `finish: "stop"`.
"""
from __future__ import annotations

import time
from typing import Any

from stages.eval.engines import ENGINES, Completion, Prompt, SamplingParams, cut_at_stop, render


@ENGINES.register("hf")
class HFEngine:
    def __init__(self, model_dir: str, batch_size: int = 16, device: str | None = None,
                 dtype: str = "auto", progress: bool = True) -> None:
        import torch

        from stages.models import load

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model, self.tok = load(model_dir, for_generation=True, dtype=dtype, device=self.device)
        if self.tok.pad_token_id is None:
            raise ValueError(f"{model_dir}: tokenizer has no pad token; batched generation needs "
                             "one (the model stage sets it: model.pad_token)")
        self.tok.padding_side = "left"
        self.batch_size, self.progress = batch_size, progress

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
        t0 = time.perf_counter()
        with torch.inference_mode():
            gen = self.model.generate(
                **enc, max_new_tokens=params.max_new_tokens, do_sample=sampling,
                temperature=params.temperature if sampling else None,
                top_p=params.top_p if sampling else None, top_k=None,
                num_return_sequences=params.n, use_cache=True,
                stop_strings=list(params.stop) or None, tokenizer=self.tok,
                pad_token_id=self.tok.pad_token_id, eos_token_id=self.tok.eos_token_id)
        seconds = (time.perf_counter() - t0) / len(ids)
        new = gen[:, enc["input_ids"].shape[1]:]  # (B * n, new_tokens)
        comps = []
        for b, prompt_ids in enumerate(ids):
            rows = [self._decode(new[b * params.n + j], params) for j in range(params.n)]
            comps.append(Completion(prompt_text="", texts=[r[0] for r in rows],
                                    prompt_tokens=len(prompt_ids), new_tokens=[r[1] for r in rows],
                                    seconds=seconds, finish=[r[2] for r in rows]))
        return comps

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
