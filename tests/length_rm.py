"""A reward model whose score grows with the conversation's token count, built by hand.

One Llama layer over 8 hidden dims: every token embeds as [1, 1, 0, ...] except `<|im_start|>`
([1, 0, 0, ...]); zero query/key weights make attention a uniform average over the prefix, and
the value/output maps carry dim 1 into dim 2, so at the last token dim 2 = 2 (n - k) / n for n
tokens of which k are `<|im_start|>`: larger for a longer answer to the same prompt (k is
fixed by the turns). The score head reads dim 2 after the final RMSNorm, which keeps the
order (a / sqrt(2 + a^2) rises with a). Equal token counts score exactly the same: a tie.
"""
from __future__ import annotations

from pathlib import Path


def build_length_rm(tokenizer_dir: Path, out: Path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                      num_attention_heads=1, num_key_value_heads=1, head_dim=8, num_labels=1,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = LlamaForSequenceClassification(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        emb = model.model.embed_tokens.weight                       # (V, 8)
        emb[:, 0], emb[:, 1] = 1.0, 1.0
        emb[tok.convert_tokens_to_ids("<|im_start|>"), 1] = 0.0
        layer = model.model.layers[0]
        layer.input_layernorm.weight.fill_(1.0)
        layer.post_attention_layernorm.weight.fill_(1.0)
        layer.self_attn.v_proj.weight[0, 1] = 1.0                   # v[0] = normed dim 1
        layer.self_attn.o_proj.weight[2, 0] = 1.0                   # attention output -> dim 2
        model.model.norm.weight.fill_(1.0)
        model.score.weight[0, 2] = 1.0
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
