"""The HF engine on the tiny random model: batching must not change what greedy decoding says."""
from __future__ import annotations

from pathlib import Path

import pytest

from stages.eval.engines import SamplingParams, cut_at_stop, make_engine

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    "def add(a, b):\n",
    [{"role": "user", "content": "Write a long story about a cat " * 8}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    "x",
]


@pytest.fixture(scope="module")
def engine(varied_model_dir):
    return make_engine("hf", str(varied_model_dir), batch_size=8, progress=False)


def test_batched_greedy_equals_one_at_a_time(varied_model_dir):
    """In float32 an item's greedy text does not depend on what shares its batch."""
    params = SamplingParams(max_new_tokens=12)
    batched = make_engine("hf", str(varied_model_dir), batch_size=8, dtype="float32",
                          progress=False).generate(PROMPTS, params)
    single = make_engine("hf", str(varied_model_dir), batch_size=1, dtype="float32", progress=False)
    alone = single.generate(PROMPTS, params)
    assert len({c.texts[0] for c in batched}) == len(PROMPTS)       # not a degenerate model
    assert [c.texts for c in batched] == [c.texts for c in alone]
    assert [c.new_tokens for c in batched] == [c.new_tokens for c in alone]


def test_auto_dtype_is_bfloat16_exactly_where_the_hardware_has_it(varied_model_dir):
    from stages.models.loading import bf16_supported

    auto = make_engine("hf", str(varied_model_dir), batch_size=8, dtype="auto", progress=False)
    assert auto.dtype == ("bfloat16" if bf16_supported() else "float32")
    assert make_engine("hf", str(varied_model_dir), dtype="model", progress=False).dtype == "float32"


def test_a_misspelt_dtype_names_the_valid_ones(varied_model_dir):
    with pytest.raises(ValueError, match=r"dtype 'bfloat61': valid: auto, model, bfloat16"):
        make_engine("hf", str(varied_model_dir), dtype="bfloat61", progress=False)


def test_bfloat16_engine_loads_bf16_weights_and_generates(varied_model_dir):
    import torch

    bf16 = make_engine("hf", str(varied_model_dir), batch_size=8, dtype="bfloat16", progress=False)
    assert bf16.model.dtype == torch.bfloat16
    outs = bf16.generate(PROMPTS, SamplingParams(max_new_tokens=6))
    assert [len(c.texts) for c in outs] == [1] * len(PROMPTS) and all(c.new_tokens[0] > 0 for c in outs)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "default"])
def test_greedy_text_is_the_same_on_a_rerun(varied_model_dir, dtype):
    """Reruns of an eval cell give identical outputs, in either precision and in the one
    params/eval/default.yaml picks: two fresh engines, same prompts, same batch."""
    if dtype == "default":
        import yaml

        dtype = yaml.safe_load((REPO / "params" / "eval" / "default.yaml").read_text())["dtype"]
    params = SamplingParams(max_new_tokens=24)
    runs = [make_engine("hf", str(varied_model_dir), batch_size=8, dtype=dtype, progress=False)
            .generate(PROMPTS, params) for _ in range(2)]
    assert len({c.texts[0] for c in runs[0]}) == len(PROMPTS)       # not a degenerate model
    assert [c.texts for c in runs[0]] == [c.texts for c in runs[1]]
    assert [c.new_tokens for c in runs[0]] == [c.new_tokens for c in runs[1]]


def test_results_come_back_in_prompt_order_with_the_chat_template(engine):
    outs = engine.generate(PROMPTS, SamplingParams(max_new_tokens=2))
    assert outs[1].prompt_text == "def add(a, b):\n"                 # raw text: untouched
    assert outs[0].prompt_text.endswith("<|im_start|>assistant\n")  # chat: generation prompt
    assert "What is 2 + 2?" in outs[0].prompt_text
    assert outs[2].prompt_tokens > outs[0].prompt_tokens > outs[4].prompt_tokens


def test_stop_strings_cut_the_text(engine):
    free = engine.generate(PROMPTS, SamplingParams(max_new_tokens=16))
    checked = 0
    for prompt, comp in zip(PROMPTS, free):
        text = comp.texts[0]
        stop = text[4:7]                  # a piece of what the model says unprompted
        if len(stop) < 3 or not stop.strip() or text.find(stop) != 4:
            continue                      # (HF also matches across the prompt's tail: avoid repeats)
        cut = engine.generate([prompt], SamplingParams(max_new_tokens=16, stop=(stop,)))[0]
        assert cut.texts[0] == text[:text.find(stop)]
        assert cut.finish == ["stop"]
        checked += 1
    assert checked >= 3


def test_segments_drop_ended_rows_without_changing_the_text(varied_model_dir):
    """Generating 5 tokens at a time (ended rows leave the batch between segments) says exactly
    what one long segment says, in float32, with stop strings and sampled n > 1 too."""
    eng = make_engine("hf", str(varied_model_dir), batch_size=8, dtype="float32", progress=False)
    calls = []
    generate = eng.model.generate
    eng.model.generate = lambda **kw: calls.append(kw["input_ids"].shape[0]) or generate(**kw)

    def run(segment: int, params: SamplingParams):
        eng.segment = segment
        calls.clear()
        return eng.generate(PROMPTS, params), list(calls)

    whole, _ = run(10_000, SamplingParams(max_new_tokens=24))
    stops = tuple({c.texts[0][6:9] for c in whole if len(c.texts[0]) > 12 and c.texts[0][6:9].strip()})[:2]
    for params in (SamplingParams(max_new_tokens=24), SamplingParams(max_new_tokens=24, stop=stops)):
        one, _ = run(10_000, params)
        seg, seg_calls = run(5, params)
        assert [c.texts for c in seg] == [c.texts for c in one]
        assert [c.new_tokens for c in seg] == [c.new_tokens for c in one]
        assert [c.finish for c in seg] == [c.finish for c in one]
        assert len(seg_calls) > 1 and seg_calls == sorted(seg_calls, reverse=True)
    assert stops and seg_calls[-1] < seg_calls[0]     # with stop strings, ended rows left the batch
    sampled = SamplingParams(max_new_tokens=12, temperature=1.0, n=3, seed=1)
    assert [len(c.texts) for c in run(5, sampled)[0]] == [3] * len(PROMPTS)


def test_sampling_gives_n_different_samples(engine):
    outs = engine.generate(PROMPTS[:2], SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=1))
    assert [len(c.texts) for c in outs] == [3, 3]
    assert len(set(outs[0].texts)) > 1
    again = engine.generate(PROMPTS[:2], SamplingParams(max_new_tokens=8, temperature=1.0, n=3, seed=1))
    assert [c.texts for c in again] == [c.texts for c in outs]    # seeded


def test_max_new_tokens_is_respected_and_reported(engine):
    outs = engine.generate(PROMPTS, SamplingParams(max_new_tokens=5))
    assert all(n <= 5 for c in outs for n in c.new_tokens)
    assert all(f in ("stop", "length") for c in outs for f in c.finish)


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("abc\ndef x\nclass y", ("\nclass", "\ndef")) == ("abc", True)
    assert cut_at_stop("abc", ("\ndef",)) == ("abc", False)


def test_vllm_engine_says_what_to_do_without_vllm(tiny_model_dir):
    try:
        import vllm  # noqa: F401
        pytest.skip("vllm is installed (tests/eval/test_vllm_engine.py runs it)")
    except ImportError:
        pass
    with pytest.raises(RuntimeError, match=r"eval.engine=vllm needs vllm: on CPU `make setup-vllm`"):
        make_engine("vllm", str(tiny_model_dir))


def test_unknown_engine_lists_the_valid_ones(tiny_model_dir):
    with pytest.raises(KeyError, match="valid: hf, vllm"):
        make_engine("tgi", str(tiny_model_dir))


def test_length_groups_split_where_padding_would_pass_a_fifth():
    from stages.eval.engines.hf_engine import length_groups

    assert length_groups([395, 288, 232, 232, 212, 190, 100, 99, 51]) == [(0, 1), (1, 4), (4, 6), (6, 8), (8, 9)]
    assert length_groups([10, 9, 8]) == [(0, 3)]
    assert length_groups([7]) == [(0, 1)]


def test_grouped_prefill_is_the_one_pass_cache_with_padding_zeroed(varied_model_dir):
    """The cache built group by group holds, at every real position, what one padded forward
    over the whole batch holds; padded positions are zero (and masked)."""
    import torch
    from transformers.cache_utils import DynamicCache

    from stages.eval.engines import render
    from stages.eval.engines.hf_engine import length_groups

    eng = make_engine("hf", str(varied_model_dir), batch_size=8, dtype="float32", progress=False)
    ids = sorted((eng.tok(render(eng.tok, p), add_special_tokens=False)["input_ids"] for p in PROMPTS),
                 key=len, reverse=True)
    assert len(length_groups([len(i) for i in ids])) >= 3
    enc = eng.tok.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    with torch.inference_mode():
        grouped = eng._prefill(enc["input_ids"], enc["attention_mask"])
        one = DynamicCache(config=eng.model.config)
        m = enc["attention_mask"][:, :-1]
        eng.model(input_ids=enc["input_ids"][:, :-1], attention_mask=m, past_key_values=one,
                  position_ids=(m.cumsum(-1) - 1).masked_fill(m == 0, 1), use_cache=True)
    real = m.bool()
    for g, o in zip(grouped.layers, one.layers):
        assert g.keys.shape == o.keys.shape
        torch.testing.assert_close(g.keys.transpose(1, 2)[real], o.keys.transpose(1, 2)[real], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(g.values.transpose(1, 2)[real], o.values.transpose(1, 2)[real], rtol=1e-5, atol=1e-5)
        assert g.keys.transpose(1, 2)[~real].abs().max() == 0
