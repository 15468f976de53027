"""One generation interface, two engines: `hf` (transformers, CPU or GPU) and `vllm` (GPU).

    engine = make_engine("hf", "models/base", batch_size=16)
    outs = engine.generate([[{"role": "user", "content": "2+2?"}], "def f():"],
                           SamplingParams(max_new_tokens=64, stop=["\\ndef "]))
    outs[0].texts[0]   # the first sample for the first prompt, cut before any stop string

A prompt is either chat messages (rendered with the model's own chat template, generation
prompt appended) or a plain string (raw completion, e.g. HumanEval). Both engines render
prompts with the same tokenizer call, so the same params give the same prompts on either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Union

from stages.common.registry import Registry

Prompt = Union[str, list[dict]]


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.0       # 0: greedy
    top_p: float = 1.0
    n: int = 1                     # samples per prompt
    stop: tuple[str, ...] = ()     # the text is cut before the first of these
    seed: int = 0


@dataclass
class Completion:
    prompt_text: str               # the prompt as the model saw it (chat template applied)
    texts: list[str]               # n samples, stop strings removed
    prompt_tokens: int
    new_tokens: list[int]          # generated tokens per sample (stop text included)
    seconds: float                 # this prompt's share of its batch's wall time
    finish: list[str] = field(default_factory=list)  # "stop" | "length" per sample


class Engine(Protocol):
    def generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]: ...


ENGINES: Registry[Callable[..., Engine]] = Registry("eval engine", "eval.engine")


def render(tokenizer: Any, prompt: Prompt) -> str:
    """Chat messages -> text via the model's chat template; plain strings pass through."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """(text before the earliest stop string, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def make_engine(name: str, model_dir: str, **kwargs: Any) -> Engine:
    """Build the engine `eval.engine` names; the `vllm` package is imported only by its engine."""
    from stages.eval.engines import hf_engine, vllm_engine  # noqa: F401 - they register
    return ENGINES.get(name)(model_dir, **kwargs)
