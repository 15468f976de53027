"""Supervised fine-tuning with TRL's SFTTrainer on ${paths.format}/sft.

Loss on the final assistant turn only (rows become conversational prompt/completion).
`train.packing: true` packs rows into full `max_length` sequences with position-id resets
(TRL's `bfd` strategy, padding-free): no pad tokens are computed. See bench/bench_sft_packing.py.
"""
from __future__ import annotations

from stages.train import data, modeling, trl_args
from stages.train.context import KEYS as BASE_KEYS, TrainContext
from stages.train.trainers import TRAINERS

KEYS = {**BASE_KEYS, "packing": None}     # params/train/sft.yaml


def last_eval(trainer) -> dict | None:
    """The held-out metrics logged at the final step, if the trainer evaluated there (eval_steps
    divides max_steps): evaluating the same weights on the same rows again costs a minute on CPU."""
    step = trainer.state.global_step
    return next((h for h in reversed(trainer.state.log_history)
                 if h.get("step") == step and "eval_loss" in h), None)


@TRAINERS.register("sft")
def train(ctx: TrainContext) -> dict:
    from trl import SFTConfig, SFTTrainer

    cfg = ctx.cfg
    train_ds = data.to_dataset(data.sft_prompt_completion(data.read_rows(ctx.format_dir, "sft", "train")))
    val_ds = data.to_dataset(data.sft_prompt_completion(data.read_rows(ctx.format_dir, "sft", "val")))
    model, tok = modeling.load_base(ctx.base_dir)
    args = SFTConfig(**trl_args.common_args(cfg, ctx, has_eval=True), max_length=int(cfg.max_length),
                     packing=bool(cfg.packing), padding_free=bool(cfg.packing),
                     completion_only_loss=True, dataset_num_proc=None)
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                         processing_class=tok, peft_config=modeling.lora_config(cfg))
    stats = trl_args.fit(trainer, ctx, [ctx.format_dir / "sft", ctx.base_dir])
    final_eval = last_eval(trainer) or trainer.evaluate()
    modeling.save_policy(trainer.model, tok, ctx.policy_dir, ctx.config_dict())
    losses, tokens = ctx.curves.series("loss"), ctx.curves.series("num_tokens")
    runtime = stats.get("train_runtime")
    return {"tokens": int(tokens[-1]) if tokens else None,
            "tokens_per_s": tokens[-1] / runtime if tokens and runtime else None,
            "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None,
            "eval_loss": final_eval.get("eval_loss"), "steps": trainer.state.global_step,
            "train_runtime_s": stats.get("train_runtime"), "resumed_from_step": stats["resumed_from_step"]}

