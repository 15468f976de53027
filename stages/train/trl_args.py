"""The TrainingArguments every TRL trainer shares, and one way to run a TRL trainer.

Each `train.*` key maps to one TrainingArguments field; algorithm files add only their own
(beta, loss_type, ...). Checkpoints go to ${paths.checkpoints}; a rerun resumes from the
last complete one (checkpoints.py decides which are valid for this config).
"""
from __future__ import annotations

from typing import Any

from stages.train import checkpoints, fused_head, modeling
from stages.train.curves import hf_callback


def common_args(cfg: Any, ctx: Any, has_eval: bool) -> dict:
    """kwargs for any TRL *Config (they all extend TrainingArguments)."""
    import torch

    bf16 = modeling.use_bf16(cfg)
    return dict(
        output_dir=str(ctx.checkpoint_dir),
        max_steps=int(cfg.max_steps),                   # -1: run `epochs` epochs
        num_train_epochs=float(cfg.epochs),
        per_device_train_batch_size=int(cfg.per_device_batch_size),
        per_device_eval_batch_size=int(cfg.per_device_batch_size),
        gradient_accumulation_steps=int(cfg.grad_accum),
        learning_rate=float(cfg.lr),
        lr_scheduler_type=str(cfg.lr_scheduler),
        warmup_steps=float(cfg.warmup_ratio),          # transformers 5: a float < 1 is a ratio
        weight_decay=float(cfg.weight_decay),
        max_grad_norm=float(cfg.max_grad_norm),
        bf16=bf16,                                      # autocast; float32 masters (fit rounds at the end)
        use_cpu=bf16 and not torch.cuda.is_available(), # else transformers refuses bf16 on CPU
        seed=ctx.seed,
        data_seed=ctx.seed,
        save_strategy="steps",
        save_steps=int(cfg.save_steps),
        save_total_limit=int(cfg.save_total_limit),
        logging_steps=int(cfg.logging_steps),
        logging_first_step=True,
        eval_strategy="steps" if has_eval and cfg.eval_steps else "no",
        eval_steps=int(cfg.eval_steps) if has_eval and cfg.eval_steps else None,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def fit(trainer, ctx: Any, fingerprint_inputs: list) -> dict:
    """Train (resuming if a checkpoint for this exact config exists); return TRL's final stats."""
    fused_head.compact_on_cpu()
    fp = checkpoints.fingerprint(ctx.config_dict(), fingerprint_inputs)
    resume = checkpoints.prepare(ctx.checkpoint_dir, fp)
    trainer.add_callback(hf_callback(ctx.curves))
    if resume is not None:
        print(f"train: resuming from {resume}", flush=True)
    out = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if trainer.args.bf16:            # export what the autocast loss saw, not the float32 masters
        modeling.to_autocast_weights(trainer.model)
    stats = dict(out.metrics)
    stats["resumed_from_step"] = int(resume.name.rpartition("-")[2]) if resume else 0
    return stats
