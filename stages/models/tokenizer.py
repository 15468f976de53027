"""Tokenizer fixes: GGUF-converted SmolLM2 says eos=<|im_start|> and has no pad token."""
from __future__ import annotations


def fix_special_tokens(tok, eos_token: str | None, pad_token: str | None):
    """Generation must stop at the end of the assistant turn, and batching needs a pad token
    that is not eos (else the eos of a real answer would be masked out of SFT labels)."""
    if eos_token:
        if eos_token not in tok.get_vocab():
            raise ValueError(f"model.eos_token={eos_token!r} is not in the tokenizer vocabulary")
        tok.eos_token = eos_token
    if pad_token:
        if pad_token not in tok.get_vocab():
            tok.add_special_tokens({"pad_token": pad_token})
        tok.pad_token = pad_token
    elif tok.pad_token is None or tok.pad_token == tok.eos_token:
        tok.pad_token = _unused_special(tok) or "<|pad|>"
        if tok.pad_token not in tok.get_vocab():
            tok.add_special_tokens({"pad_token": tok.pad_token})
    if not tok.chat_template:
        raise ValueError("tokenizer has no chat template; the model source must ship one")
    return tok


def _unused_special(tok) -> str | None:
    """A special token the chat template never emits (SmolLM2 has <|endoftext|>, <repo_name>...)."""
    for cand in ("<|endoftext|>", "<|padding|>", "<pad>"):
        if cand in tok.get_vocab() and cand not in (tok.eos_token, tok.bos_token) \
                and cand not in (tok.chat_template or ""):
            return cand
    return None
