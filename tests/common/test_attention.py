"""Grouped eager attention computes what transformers' eager attention computes."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _llama(heads: int, kv_heads: int, impl: str, **extra):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=heads, num_key_value_heads=kv_heads,
                      max_position_embeddings=128, attn_implementation=impl, **extra)
    return LlamaForCausalLM(cfg).eval()


def _left_padded_batch():
    ids = torch.randint(3, 97, (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0                      # a shorter prompt, left-padded
    mask[2, :9] = 0
    return ids, mask


@pytest.mark.parametrize("heads,kv_heads", [(6, 2), (6, 3), (4, 4), (6, 1)])
def test_logits_equal_eager_with_padding(heads, kv_heads):
    from stages.models.attention import register

    name = register()
    ids, mask = _left_padded_batch()
    eager, grouped = _llama(heads, kv_heads, "eager"), _llama(heads, kv_heads, name)
    assert grouped.config._attn_implementation == name
    with torch.no_grad():
        a = eager(input_ids=ids, attention_mask=mask).logits
        b = grouped(input_ids=ids, attention_mask=mask).logits
    keep = mask.bool()
    assert a[keep].abs().max() > 0.01        # the comparison is not between two zero tensors
    torch.testing.assert_close(b[keep], a[keep], rtol=1e-5, atol=1e-5)


def test_cached_greedy_decoding_matches_eager_token_for_token():
    """Decoding reads a growing KV cache one query at a time: the path generation takes."""
    from stages.models.attention import register

    ids, mask = _left_padded_batch()
    outs = []
    for impl in ("eager", register()):
        model = _llama(6, 2, impl)
        with torch.no_grad():
            outs.append(model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12,
                                       do_sample=False, pad_token_id=0, eos_token_id=None))
    assert outs[0].shape == (3, 23)
    assert torch.equal(outs[0], outs[1])


def test_the_weights_it_returns_are_eager_attention_probabilities():
    from stages.models.attention import grouped_eager_attention

    torch.manual_seed(2)
    q, k, v = torch.randn(2, 6, 5, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    module = torch.nn.Module().eval()
    out, weights = grouped_eager_attention(module, q, k, v, None, scaling=8 ** -0.5)
    rep_k, rep_v = k.repeat_interleave(3, dim=1), v.repeat_interleave(3, dim=1)
    expect_w = torch.softmax(q @ rep_k.transpose(2, 3) * 8 ** -0.5, dim=-1)
    torch.testing.assert_close(weights, expect_w)
    torch.testing.assert_close(out, (expect_w @ rep_v).transpose(1, 2))


def test_soft_capped_models_keep_their_own_eager():
    """Options the plain formula lacks (here Gemma 2's logit soft-capping) go to the model's
    own eager function: the result equals eager's, and differs from ignoring the cap."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    from stages.models.attention import register

    ids, mask = _left_padded_batch()
    logits = {}
    for impl, cap in (("eager", 0.02), (register(), 0.02), ("eager", None)):
        torch.manual_seed(0)
        cfg = Gemma2Config(vocab_size=97, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=6, num_key_value_heads=2, head_dim=8,
                           max_position_embeddings=128, attn_logit_softcapping=cap,
                           attn_implementation=impl)
        with torch.no_grad():
            logits[(impl, cap)] = Gemma2ForCausalLM(cfg).eval()(input_ids=ids, attention_mask=mask).logits
    keep = mask.bool()
    torch.testing.assert_close(logits[(register(), 0.02)][keep], logits[("eager", 0.02)][keep])
    assert not torch.allclose(logits[("eager", None)][keep], logits[("eager", 0.02)][keep], atol=1e-4)
