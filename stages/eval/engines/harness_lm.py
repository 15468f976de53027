"""lm-eval-harness's `LM` interface over this project's engine, so a harness task runs on the
same model, prompts and generation code as the built-in benchmarks.

- `generate_until`: the engine's `generate` (HF or vLLM), grouped by the task's gen_kwargs; each
  request's `Completion` is kept (`completions`) so the eval stage can write per-sample tokens,
  finish reasons and timing.
- `loglikelihood`: one forward pass per batch of (context, continuation) pairs on the HF engine's
  model, summing the continuation's token log-probs; tokenised as lm-eval's HFLM does (trailing
  context spaces move to the continuation; the continuation is the tail of the joint encoding),
  so scores are comparable with published `hf` numbers.
- `loglikelihood_rolling`: the same pass over the whole text (perplexity tasks); a text longer
  than the model's context is refused, not silently cut.
Imported only when a harness benchmark runs: lm-eval is the optional `harness` extra.
"""
from __future__ import annotations

import json
from typing import Any

from lm_eval.api.model import LM

from stages.eval.engines import Completion, SamplingParams

NEEDS_HF = ("harness loglikelihood tasks (multiple choice, perplexity) score with the model's "
            "logits: set eval.engine=hf, or pick a generation task")


class EngineLM(LM):
    def __init__(self, engine: Any, max_new_tokens: int = 256, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, top_p: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        self.engine, self.tok = engine, engine.tok
        self.defaults = dict(max_new_tokens=max_new_tokens, stop=tuple(stop), temperature=temperature,
                             top_p=top_p, seed=seed)
        self.completions: dict[str, Completion] = {}  # context -> what the engine returned for it
        self.batch_size = int(getattr(engine, "batch_size", 16))

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tok, "name_or_path", "")).replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.tok.chat_template if chat_template else None

    def apply_chat_template(self, chat_history: list[dict], add_generation_prompt: bool = True) -> str:
        return self.tok.apply_chat_template(chat_history, tokenize=False,
                                            add_generation_prompt=add_generation_prompt)

    # -- generation -------------------------------------------------------------------------
    def _sampling(self, gen_kwargs: dict) -> SamplingParams:
        until = gen_kwargs.get("until") or ()
        until = (until,) if isinstance(until, str) else tuple(until)
        sample = bool(gen_kwargs.get("do_sample", False)) or float(gen_kwargs.get("temperature", 0)) > 0
        temperature = float(gen_kwargs.get("temperature", self.defaults["temperature"] or 1.0)) if sample \
            else self.defaults["temperature"]
        return SamplingParams(max_new_tokens=int(gen_kwargs.get("max_gen_toks", self.defaults["max_new_tokens"])),
                              temperature=temperature, top_p=float(gen_kwargs.get("top_p", self.defaults["top_p"])),
                              n=1, stop=until + self.defaults["stop"], seed=self.defaults["seed"])

    def generate_until(self, requests: list, disable_tqdm: bool = False) -> list[str]:
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault(json.dumps(req.args[1], sort_keys=True, default=str), []).append(i)
        out: list[str] = [""] * len(requests)
        for key, idx in groups.items():
            params = self._sampling(json.loads(key))
            contexts = [requests[i].args[0] for i in idx]
            for i, context, comp in zip(idx, contexts, self.engine.generate(contexts, params)):
                self.completions[context] = comp
                out[i] = comp.texts[0]
        return out

    # -- log-likelihood ---------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        if not context:  # nothing to condition on: start from the end-of-text token, as HFLM
            return [self.tok.eos_token_id], self._encode(continuation)
        whole, ctx = self._encode(context + continuation), self._encode(context)
        return ctx, whole[len(ctx):]

    def _score(self, pairs: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """(sum of continuation log-probs, continuation is the greedy one) per (ctx, cont) pair."""
        import torch

        model = getattr(self.engine, "model", None)
        if model is None or not hasattr(model, "forward"):
            raise RuntimeError(NEEDS_HF)
        limit = int(getattr(model.config, "max_position_embeddings", 2048))
        device = next(model.parameters()).device
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))
        out: list[tuple[float, bool] | None] = [None] * len(pairs)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            seqs = [(pairs[i][0] + pairs[i][1])[-(limit + 1):][:-1] for i in batch]  # inputs, left-cut
            width = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), width), self.tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, s in enumerate(seqs):  # right padding: real tokens keep positions 0..n-1
                ids[r, :len(s)], mask[r, :len(s)] = torch.tensor(s), 1
            with torch.inference_mode():
                logp = torch.log_softmax(model(input_ids=ids.to(device), attention_mask=mask.to(device))
                                         .logits.float(), dim=-1)  # (B, T, V)
            for r, i in enumerate(batch):
                cont = pairs[i][1]
                n = len(seqs[r])
                rows = logp[r, n - len(cont):n]  # (len(cont), V): positions predicting cont
                target = torch.tensor(cont, device=rows.device)
                out[i] = (float(rows.gather(1, target[:, None]).sum()), bool((rows.argmax(-1) == target).all()))
        return out  # type: ignore[return-value]

    def loglikelihood(self, requests: list, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        return self._score([self._encode_pair(*req.args) for req in requests])

    def loglikelihood_rolling(self, requests: list, disable_tqdm: bool = False) -> list[float]:
        pairs = [([self.tok.eos_token_id], self._encode(req.args[0])) for req in requests]
        limit = int(getattr(getattr(self.engine, "model", None), "config", None).max_position_embeddings)
        too_long = [len(c) for _, c in pairs if len(c) > limit]
        if too_long:
            raise ValueError(f"loglikelihood_rolling: a text of {too_long[0]} tokens exceeds the model's "
                             f"context ({limit}); windowed perplexity is not implemented here")
        return [ll for ll, _ in self._score(pairs)]
