"""Reward model (Bradley-Terry, TRL RewardTrainer) on ${paths.format}/preference.

Output: ${paths.models}/policy is the unchanged base (so eval and later stages still find a
causal LM there) and ${paths.models}/policy/reward_model/ is the trained reward model, which
GRPO/PPO use as a learned reward: `train.reward: [{name: reward_model, path: <that dir>}]`.
Metrics: held-out pair accuracy (score(chosen) > score(rejected)) before and after.
"""
from __future__ import annotations

from stages.train import data, modeling, trl_args
from stages.train.context import PREFERENCE_KEYS, TrainContext
from stages.train.trainers import TRAINERS

KEYS = {**PREFERENCE_KEYS, "center_rewards_coefficient": None}     # params/train/rm.yaml


def accuracy(model, tok, pairs: list[dict]) -> float:
    from stages.rewards.learned import score

    was_training = model.training
    model.eval()
    wins = [score(model, tok, p["prompt"], p["chosen"]) > score(model, tok, p["prompt"], p["rejected"])
            for p in pairs]
    model.train(was_training)
    return sum(wins) / len(wins)


@TRAINERS.register("rm")
def train(ctx: TrainContext) -> dict:
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    cfg = ctx.cfg
    train_pairs = data.preference_pairs(data.read_rows(ctx.format_dir, "preference", "train"))
    val_pairs = data.preference_pairs(data.read_rows(ctx.format_dir, "preference", "val"))
    policy, tok = modeling.load_base(ctx.base_dir)
    rm = AutoModelForSequenceClassification.from_pretrained(ctx.base_dir, num_labels=1)
    rm.config.pad_token_id = tok.pad_token_id
    held_out = val_pairs[: int(cfg.pref_eval_rows)]
    before = accuracy(rm, tok, held_out)
    args = RewardConfig(**trl_args.common_args(cfg, ctx, has_eval=True), max_length=int(cfg.max_length),
                        center_rewards_coefficient=float(cfg.center_rewards_coefficient))
    trainer = RewardTrainer(model=rm, args=args, train_dataset=data.to_dataset(train_pairs),
                            eval_dataset=data.to_dataset(val_pairs), processing_class=tok,
                            peft_config=modeling.lora_config(cfg, task_type="SEQ_CLS"))
    stats = trl_args.fit(trainer, ctx, [ctx.format_dir / "preference", ctx.base_dir])
    after = accuracy(trainer.model, tok, held_out)
    modeling.save_policy(policy, tok, ctx.policy_dir, ctx.config_dict(), reward_model=trainer.model,
                         bf16_lossless=True)        # the base, unchanged: served like the base
    losses = ctx.curves.series("loss")
    return {"rm_accuracy_before": before, "rm_accuracy_after": after, "pref_eval_pairs": len(held_out),
            "train_loss_first": losses[0] if losses else None, "train_loss_last": losses[-1] if losses else None,
            "steps": trainer.state.global_step, "train_runtime_s": stats.get("train_runtime"),
            "resumed_from_step": stats["resumed_from_step"]}
