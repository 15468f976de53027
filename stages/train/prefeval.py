"""Held-out preference accuracy of a causal LM: does it give the chosen answer a higher
log-probability than the rejected one?

Trainers call it on ${paths.format}/preference/val before and after training, so the
metrics show whether DPO / ORPO / KTO moved the model the right way on pairs it never saw
(`pref_accuracy_before` -> `pref_accuracy_after`, mean log-prob margin likewise).
"""
from __future__ import annotations


def completion_logprob(model, tok, prompt: list[dict], completion: list[dict]):
    """Sum of log p(completion tokens | prompt) under the chat template (a 0-d tensor)."""
    import torch

    prompt_ids = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                         return_dict=False)
    full_ids = tok.apply_chat_template(prompt + completion, tokenize=True, return_dict=False)
    if list(full_ids[:len(prompt_ids)]) != list(prompt_ids):
        raise ValueError("chat template: the prompt is not a prefix of prompt + completion")
    ids = torch.tensor([full_ids], device=model.device)                    # (1, T)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[:, :-1].float()             # (1, T-1, V)
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[0, :, 0]   # (T-1,)
    return logp[len(prompt_ids) - 1:].sum()


def preference_accuracy(model, tok, pairs: list[dict]) -> dict:
    """{"pref_accuracy": share of pairs with logp(chosen) > logp(rejected), "pref_margin": mean
    logp(chosen) - logp(rejected)} over TRL-style rows (prompt, chosen, rejected messages)."""
    was_training = model.training
    model.eval()
    margins = [float(completion_logprob(model, tok, p["prompt"], p["chosen"])
                     - completion_logprob(model, tok, p["prompt"], p["rejected"])) for p in pairs]
    model.train(was_training)
    return {"pref_accuracy": sum(m > 0 for m in margins) / len(margins),
            "pref_margin": sum(margins) / len(margins)}
