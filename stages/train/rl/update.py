"""One optimiser step on one mini-batch, losses from verl core_algos.

The composition is verl's `ppo_loss` (verl/workers/utils/losses.py):
    policy_loss = pg_loss(loss_mode) - entropy_coeff * entropy + kl_loss_coef * kl_loss
Every loss is `agg_loss`-ed against the *mini-batch* token / sequence counts
(`global_batch_info`), so summing micro-batch gradients gives exactly the mini-batch loss.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from stages.train.rl.forward import policy_outputs, values


def _micro_batches(batch: dict, micro: int):
    n = batch["responses"].shape[0]
    for i in range(0, n, micro):
        yield {k: v[i:i + micro] for k, v in batch.items()}


def _global_info(mask, cfg_loss_scale_factor) -> dict:
    return {"dp_size": 1, "batch_num_tokens": int(mask.sum().item()), "global_batch_size": int(mask.shape[0]),
            "loss_scale_factor": cfg_loss_scale_factor}


def actor_step(model, optimizer, batch: dict, actor_cfg: Any, temperature: float, max_grad_norm: float) -> dict:
    """Policy update on `batch` (keys: input_ids, attention_mask, position_ids, responses,
    response_mask, old_log_probs, advantages[, ref_log_prob]); returns summed/averaged metrics."""
    import torch
    from verl.trainer.ppo import core_algos

    info = _global_info(batch["response_mask"], actor_cfg.loss_scale_factor)
    actor_cfg.global_batch_info.update(info)
    agg = info
    loss_fn = core_algos.get_policy_loss_fn(actor_cfg.policy_loss.loss_mode)
    mode, n = actor_cfg.loss_agg_mode, batch["responses"].shape[0]
    out: dict = defaultdict(float)
    optimizer.zero_grad(set_to_none=True)
    for sub in _micro_batches(batch, int(actor_cfg.ppo_micro_batch_size_per_gpu)):
        mask = sub["response_mask"].bool()
        logp, entropy = policy_outputs(model, sub, temperature, with_entropy=True,
                                       entropy_grad=actor_cfg.entropy_coeff != 0)
        pg_loss, pg_metrics = loss_fn(old_log_prob=sub["old_log_probs"], log_prob=logp,
                                      advantages=sub["advantages"], response_mask=mask,
                                      loss_agg_mode=mode, config=actor_cfg)
        ent_loss = core_algos.agg_loss(loss_mat=entropy, loss_mask=mask, loss_agg_mode=mode, **agg)
        loss = pg_loss - actor_cfg.entropy_coeff * ent_loss
        if actor_cfg.use_kl_loss:
            kld = core_algos.kl_penalty(logprob=logp, ref_logprob=sub["ref_log_prob"],
                                        kl_penalty=actor_cfg.kl_loss_type)
            kl_loss = core_algos.agg_loss(loss_mat=kld, loss_mask=mask, loss_agg_mode=mode, **agg)
            loss = loss + kl_loss * actor_cfg.kl_loss_coef
            out["actor/kl_loss"] += kl_loss.item()
        loss.backward()
        share = sub["responses"].shape[0] / n
        out["actor/loss"] += loss.item()
        out["actor/pg_loss"] += pg_loss.item()
        out["actor/entropy"] += ent_loss.item()
        for k, v in pg_metrics.items():
            out[k] += float(v) * share
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    if torch.isfinite(grad_norm):
        optimizer.step()
    out["actor/grad_norm"] = float(grad_norm)
    return dict(out)


def critic_step(critic, optimizer, batch: dict, cliprange_value: float, loss_agg_mode: str,
                micro: int, max_grad_norm: float) -> dict:
    """Value update on `batch` (+ keys values, returns) with core_algos.compute_value_loss."""
    import torch
    from verl.trainer.ppo import core_algos

    info = _global_info(batch["response_mask"], None)
    out: dict = defaultdict(float)
    n = batch["responses"].shape[0]
    optimizer.zero_grad(set_to_none=True)
    for sub in _micro_batches(batch, micro):
        vpreds = values(critic, sub)
        vf_loss, vf_clipfrac = core_algos.compute_value_loss(
            vpreds=vpreds, returns=sub["returns"], values=sub["values"],
            response_mask=sub["response_mask"].bool(), cliprange_value=cliprange_value,
            loss_agg_mode=loss_agg_mode, dp_size=1, batch_num_tokens=info["batch_num_tokens"],
            global_batch_size=info["global_batch_size"])
        vf_loss.backward()
        out["critic/vf_loss"] += vf_loss.item()
        out["critic/vf_clipfrac"] += float(vf_clipfrac) * sub["responses"].shape[0] / n
    grad_norm = torch.nn.utils.clip_grad_norm_([p for p in critic.parameters() if p.requires_grad],
                                               max_grad_norm)
    if torch.isfinite(grad_norm):
        optimizer.step()
    out["critic/grad_norm"] = float(grad_norm)
    return dict(out)
