"""vLLM generation (GPU): `eval.engine=vllm`. The `vllm` package is imported here, on use only.

Prompts are rendered and tokenized by the model's HF tokenizer exactly as the HF engine does
it, then handed to vLLM as token ids, so both engines see the same prompts (no extra BOS) and
share the same scoring. Not run in this repo's CI (no GPU there).
"""
from __future__ import annotations

from stages.eval.engines import ENGINES, Completion, Prompt, SamplingParams, cut_at_stop, render

NEEDS = ("eval.engine=vllm needs vllm installed (pip install .[gpu]) and a GPU, "
         "or set eval.engine=hf")


def _check_available() -> None:
    try:
        import vllm  # noqa: F401
    except ImportError as e:
        raise RuntimeError(f"{NEEDS} ({e})") from None
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"{NEEDS} (no CUDA device visible)")


@ENGINES.register("vllm")
class VLLMEngine:
    def __init__(self, model_dir: str, batch_size: int = 256, device: str | None = None,
                 dtype: str = "auto", progress: bool = True, seed: int = 0,
                 gpu_memory_utilization: float = 0.85) -> None:
        _check_available()
        from vllm import LLM

        from stages.models import load_tokenizer

        self.tok = load_tokenizer(model_dir, for_generation=True)
        self.llm = LLM(model=str(model_dir), dtype=dtype, seed=seed, max_num_seqs=batch_size,
                       gpu_memory_utilization=gpu_memory_utilization)
        self.progress = progress

    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        import time

        from vllm import SamplingParams as VSampling

        texts = [render(self.tok, p) for p in prompts]
        sp = VSampling(n=params.n, temperature=params.temperature,
                       top_p=params.top_p if params.temperature > 0 else 1.0,
                       max_tokens=params.max_new_tokens, stop=list(params.stop) or None,
                       seed=params.seed, skip_special_tokens=True)
        ids = [self.tok(t, add_special_tokens=False)["input_ids"] for t in texts]  # as HF does
        t0 = time.perf_counter()
        outs = self.llm.generate([{"prompt_token_ids": i} for i in ids], sp, use_tqdm=self.progress)
        seconds = (time.perf_counter() - t0) / max(1, len(texts))
        return [Completion(prompt_text=text, texts=[cut_at_stop(o.text, params.stop)[0] for o in out.outputs],
                           prompt_tokens=len(out.prompt_token_ids), seconds=seconds,
                           new_tokens=[len(o.token_ids) for o in out.outputs],
                           finish=["length" if o.finish_reason == "length" else "stop" for o in out.outputs])
                for text, out in zip(texts, outs)]
