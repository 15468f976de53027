"""TRL's fused LM head on CPU scores only labelled positions, with the same loss and gradient."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
trl_utils = pytest.importorskip("trl.trainer.utils")


def _model_and_batch():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = torch.randint(3, 300, (3, 12), generator=torch.Generator().manual_seed(1))
    labels = ids.clone()
    labels[:, :7] = -100            # a prompt: no loss there
    labels[2, 10:] = -100           # padding at the end of a shorter row
    return model, ids, labels


def _run(rows_seen: list):
    """Loss, per-token outputs and the LM head's weight gradient, recording how many positions
    the chunked head projected."""
    apply = trl_utils._ChunkedLogProbFunction.apply

    def spy(hidden, *args):
        rows_seen.append(hidden.shape[0])
        return apply(hidden, *args)

    model, ids, labels = _model_and_batch()
    trl_utils._ChunkedLogProbFunction.apply = spy
    try:
        out = model(input_ids=ids, labels=labels, fused_lm_head=True)
    finally:
        trl_utils._ChunkedLogProbFunction.apply = apply
    loss = -out.log_probs.sum() / out.label_mask.sum()
    loss.backward()
    return loss.detach(), out, model.lm_head.weight.grad.clone()


def test_cpu_scores_labelled_positions_only_with_the_same_loss_and_gradient(monkeypatch):
    from trl.kernels.chunked_logprob import _use_triton as trl_choice

    from stages.train.fused_head import compact_on_cpu

    monkeypatch.setattr(trl_utils, "_use_triton", trl_choice)       # TRL's own behaviour first
    full_rows, compact_rows = [], []
    loss_full, out_full, grad_full = _run(full_rows)
    assert compact_on_cpu() is True, "the installed TRL's fused head is no longer recognised"
    loss_compact, out_compact, grad_compact = _run(compact_rows)

    labelled = int(out_full.label_mask.sum())
    assert full_rows == [3 * 11] and compact_rows == [labelled] == [5 + 5 + 3]
    torch.testing.assert_close(loss_compact, loss_full)
    for field in ("log_probs", "entropy", "is_top1", "label_mask"):
        torch.testing.assert_close(getattr(out_compact, field), getattr(out_full, field))
    assert grad_full.abs().max() > 0
    torch.testing.assert_close(grad_compact, grad_full)


def test_the_switch_is_idempotent_and_keeps_trls_choice_for_triton_devices(monkeypatch):
    from trl.kernels.chunked_logprob import _use_triton as trl_choice

    from stages.train.fused_head import compact_on_cpu

    monkeypatch.setattr(trl_utils, "_use_triton", trl_choice)
    assert compact_on_cpu() and compact_on_cpu()
    patched = trl_utils._use_triton
    assert patched(torch.device("cpu")) is True
    assert patched(torch.device("meta")) == trl_choice(torch.device("meta"))
    compact_on_cpu()
    assert trl_utils._use_triton is patched                         # not wrapped twice


def test_an_unrecognised_trl_is_left_alone(monkeypatch):
    """If TRL's module no longer decides `compact` this way, nothing is redirected."""
    import inspect

    from stages.train.fused_head import compact_on_cpu

    monkeypatch.setattr(inspect, "getsource", lambda _m: "compact = is_compact(device)\n")
    monkeypatch.setattr(trl_utils, "_use_triton", lambda device: False)
    assert compact_on_cpu() is False
    assert trl_utils._use_triton(torch.device("cpu")) is False
