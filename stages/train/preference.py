"""The run every offline preference trainer shares (DPO, KTO, ORPO): read the pairs, measure
held-out preference accuracy, train with TRL, measure again, save the policy.

The algorithm files only name their TRL trainer/config, their own args, and how rows look.
"""
from __future__ import annotations

from typing import Any, Callable

from stages.train import data, modeling, prefeval, trl_args
from stages.train.context import TrainContext


def run(ctx: TrainContext, trainer_cls: Any, config_cls: Any, algo_args: dict,
        to_rows: Callable[[list[dict]], list[dict]] = data.preference_pairs) -> dict:
    cfg = ctx.cfg
    train_pairs = data.preference_pairs(data.read_rows(ctx.format_dir, "preference", "train"))
    val_pairs = data.preference_pairs(data.read_rows(ctx.format_dir, "preference", "val"))
    held_out = val_pairs[: int(cfg.pref_eval_rows)]
    model, tok = modeling.load_base(ctx.base_dir)
    before = prefeval.preference_accuracy(model, tok, held_out)
    args = config_cls(**trl_args.common_args(cfg, ctx, has_eval=True), max_length=int(cfg.max_length),
                      **algo_args)
    trainer = trainer_cls(model=model, args=args, train_dataset=data.to_dataset(to_rows(train_pairs)),
                          eval_dataset=data.to_dataset(to_rows(val_pairs)), processing_class=tok,
                          peft_config=modeling.lora_config(cfg))
    stats = trl_args.fit(trainer, ctx, [ctx.format_dir / "preference", ctx.base_dir])
    after = prefeval.preference_accuracy(trainer.model, tok, held_out)
    modeling.save_policy(trainer.model, tok, ctx.policy_dir, ctx.config_dict())
    losses = ctx.curves.series("loss")
    return {"pref_accuracy_before": before["pref_accuracy"], "pref_accuracy_after": after["pref_accuracy"],
            "pref_margin_before": before["pref_margin"], "pref_margin_after": after["pref_margin"],
            "pref_eval_pairs": len(held_out), "train_loss_first": losses[0] if losses else None,
            "train_loss_last": losses[-1] if losses else None, "steps": trainer.state.global_step,
            "train_runtime_s": stats.get("train_runtime"), "resumed_from_step": stats["resumed_from_step"]}
