"""The local online-RL loop (verl's PPO trainer step, on one process with HF generate).

    step:  prompts -> rollout (n samples each) -> rewards -> old / ref log-probs (+ values)
           -> [KL in reward] -> advantages (core_algos estimator)
           -> ppo_epochs x mini-batches of core_algos policy loss (+ value loss)
Lifecycle: setup() -> train() -> cleanup().   python -m stages.train  (train=grpo, ppo, ...)
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
from tqdm import tqdm

from stages.train import checkpoints, data, modeling
from stages.train.context import TrainContext
from stages.train.rl import advantage, config, forward, rollout, scoring, state, update


class RLLoop:
    def __init__(self, ctx: TrainContext):
        self.ctx, self.cfg = ctx, ctx.cfg
        self.start_step, self.history, self.val_before = 0, [], None

    # ---- setup: one helper per object ---------------------------------------------------
    def setup(self) -> "RLLoop":
        import torch
        from verl.trainer.ppo import core_algos

        config.check(self.cfg)
        torch.manual_seed(self.ctx.seed)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.rows = data.read_rows(self.ctx.format_dir, "rl", "train")
        self.val_rows = data.read_rows(self.ctx.format_dir, "rl", "val")[: int(self.cfg.val_rows)]
        self.policy, self.tok = self._setup_policy()
        self.ref = self._setup_ref()
        self.estimator, needs = config.estimator(self.cfg.algorithm.adv_estimator)
        self.critic = self._setup_critic() if "values" in needs else None
        self.needs_baseline = "reward_baselines" in needs
        self.actor_cfg, self.algo_cfg = config.actor_config(self.cfg), config.algo_config(self.cfg)
        self.kl_ctrl = core_algos.get_kl_controller(self.algo_cfg.kl_ctrl)
        self.optim, self.sched = self._setup_optim(self.policy, float(self.cfg.lr))
        if self.critic is not None:
            self.critic_optim, self.critic_sched = self._setup_optim(self.critic, float(self.cfg.critic.lr))
        self.reward = scoring.reward_fn(self.cfg)
        self._resume()
        return self

    def _setup_policy(self):
        model, tok = modeling.load_base(self.ctx.base_dir, for_generation=True)
        return modeling.wrap(model, self.cfg).to(self.device), tok

    def _setup_ref(self):
        """Frozen reference: the base. With LoRA it is the policy with its adapter off."""
        if not (self.cfg.actor.use_kl_loss or self.cfg.algorithm.use_kl_in_reward):
            return None
        if self.cfg.peft == "lora":
            return "adapter-off"
        ref, _ = modeling.load_base(self.ctx.base_dir)
        return ref.eval().requires_grad_(False).to(self.device)

    def _setup_critic(self):
        """verl's critic: the base LM with a 1-unit token head, trained by value loss."""
        from transformers import AutoModelForTokenClassification

        critic = AutoModelForTokenClassification.from_pretrained(self.ctx.base_dir, num_labels=1)
        critic.config.pad_token_id = self.tok.pad_token_id
        return critic.to(self.device).train()

    def _setup_optim(self, model, lr: float):
        import torch
        from transformers import get_scheduler

        updates = int(self.cfg.max_steps) * int(self.cfg.actor.ppo_epochs) * (
            int(self.cfg.data.train_batch_size) // int(self.cfg.actor.ppo_mini_batch_size))
        optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                                  weight_decay=float(self.cfg.weight_decay))
        sched = get_scheduler(str(self.cfg.lr_scheduler), optim, num_training_steps=updates,
                              num_warmup_steps=int(float(self.cfg.warmup_ratio) * updates))
        return optim, sched

    def _objects(self) -> dict:
        objs = {"policy": self.policy, "optim": self.optim, "sched": self.sched}
        if self.critic is not None:
            objs.update(critic=self.critic, critic_optim=self.critic_optim, critic_sched=self.critic_sched)
        return objs

    def _resume(self) -> None:
        fp = checkpoints.fingerprint(self.ctx.config_dict(), [self.ctx.format_dir / "rl", self.ctx.base_dir])
        last = checkpoints.prepare(self.ctx.checkpoint_dir, fp)
        if last is not None:
            st = state.load(last, self._objects())
            self.start_step, self.kl_ctrl.value = int(st["step"]), float(st["kl_coef"])
            self.history, self.val_before = st.get("history", []), st.get("val_reward_before")
            print(f"train: resuming from {last}", flush=True)

    # ---- one step ------------------------------------------------------------------------
    def batch_rows(self, step: int) -> list[dict]:
        """Prompts of `step`: epochs of seeded permutations, so a resumed run sees the same order."""
        size, n = int(self.cfg.data.train_batch_size), len(self.rows)
        out = []
        for i in range(step * size, (step + 1) * size):
            order = np.random.default_rng(self.ctx.seed + i // n).permutation(n)
            out.append(self.rows[order[i % n]])
        return out

    def _ref_logprobs(self, batch: dict):
        temp = float(self.cfg.rollout.temperature)
        micro = int(self.cfg.actor.ppo_micro_batch_size_per_gpu)
        if self.ref == "adapter-off":
            with self.policy.disable_adapter():
                return forward.no_grad_batched(forward.policy_outputs, self.policy, batch, micro,
                                               temperature=temp, with_entropy=False)
        return forward.no_grad_batched(forward.policy_outputs, self.ref, batch, micro,
                                       temperature=temp, with_entropy=False)

    def experience(self, step: int, timing: dict) -> tuple[dict, Any, dict]:
        """(batch tensors incl. advantages, the rollout, metrics) for one step."""
        import torch
        from verl.trainer.ppo import core_algos
        from verl.utils.torch_functional import masked_mean

        cfg, rows = self.cfg, self.batch_rows(step)
        t = time.perf_counter()
        self.policy.eval()
        ro = rollout.generate(self.policy, self.tok, rows, int(cfg.rollout.n), cfg.rollout,
                              int(cfg.data.max_prompt_length), int(cfg.data.max_response_length))
        timing["timing/rollout_s"] = time.perf_counter() - t
        t = time.perf_counter()
        scores, token_scores = scoring.score(ro, self.reward)
        baselines = None
        if self.needs_baseline:   # ReMax: reward of the greedy answer to the same prompt
            greedy = rollout.generate(self.policy, self.tok, rows, 1, cfg.rollout, int(cfg.data.max_prompt_length),
                                      int(cfg.data.max_response_length), greedy=True)
            baselines = scoring.score(greedy, self.reward)[0].repeat_interleave(int(cfg.rollout.n))
        timing["timing/reward_s"] = time.perf_counter() - t
        t = time.perf_counter()
        batch = {"input_ids": ro.input_ids, "attention_mask": ro.attention_mask,
                 "position_ids": ro.position_ids, "responses": ro.responses, "response_mask": ro.response_mask}
        micro, temp = int(cfg.actor.ppo_micro_batch_size_per_gpu), float(cfg.rollout.temperature)
        batch["old_log_probs"] = forward.no_grad_batched(forward.policy_outputs, self.policy, batch, micro,
                                                         temperature=temp, with_entropy=False)
        metrics = {}
        if self.ref is not None:
            batch["ref_log_prob"] = self._ref_logprobs(batch)
            metrics["kl"] = masked_mean(batch["old_log_probs"] - batch["ref_log_prob"],
                                        ro.response_mask.bool()).item()
        if self.critic is not None:
            batch["values"] = forward.no_grad_batched(lambda m, b: forward.values(m, b), self.critic, batch, micro)
        rewards = token_scores
        if cfg.algorithm.use_kl_in_reward:   # verl ray_trainer.apply_kl_penalty
            kld = core_algos.kl_penalty(batch["old_log_probs"], batch["ref_log_prob"],
                                        kl_penalty=cfg.algorithm.kl_penalty) * ro.response_mask
            rewards = token_scores - self.kl_ctrl.value * kld
            self.kl_ctrl.update(current_kl=masked_mean(kld, ro.response_mask, axis=-1).mean().item(),
                                n_steps=len(ro))
        batch["token_level_rewards"] = rewards
        batch["advantages"], batch["returns"] = advantage.compute(
            self.estimator, self.algo_cfg, token_level_rewards=rewards, response_mask=ro.response_mask,
            index=ro.index, values=batch.get("values"), reward_baselines=baselines)
        timing["timing/logprob_adv_s"] = time.perf_counter() - t
        lengths = ro.response_mask.sum(-1).float()
        metrics.update({"reward/mean": scores.mean().item(), "reward/std": scores.std().item() if len(scores) > 1 else 0.0,
                        "response_length": lengths.mean().item(), "kl_coef": self.kl_ctrl.value})
        return batch, ro, metrics

    def update(self, batch: dict, step: int) -> dict:
        """ppo_epochs passes over mini-batches of `ppo_mini_batch_size` prompts (x n responses)."""
        import torch

        cfg, n = self.cfg, batch["responses"].shape[0]
        mini = int(cfg.actor.ppo_mini_batch_size) * int(cfg.rollout.n)
        sums, count = defaultdict(float), 0
        self.policy.train()
        gen = torch.Generator().manual_seed(self.ctx.seed * 100003 + step)   # mini-batch order per step
        for _ in range(int(cfg.actor.ppo_epochs)):
            order = torch.randperm(n, generator=gen) if cfg.actor.shuffle else torch.arange(n)
            for i in range(0, n, mini):
                idx = order[i:i + mini].to(batch["responses"].device)
                sub = {k: v[idx] for k, v in batch.items()}
                m = update.actor_step(self.policy, self.optim, sub, self.actor_cfg,
                                      float(cfg.rollout.temperature), float(cfg.max_grad_norm))
                self.sched.step()
                if self.critic is not None:
                    m.update(update.critic_step(self.critic, self.critic_optim, sub, float(cfg.critic.cliprange_value),
                                                str(cfg.actor.loss_agg_mode),
                                                int(cfg.actor.ppo_micro_batch_size_per_gpu), float(cfg.max_grad_norm)))
                    self.critic_sched.step()
                for k, v in m.items():
                    sums[k] += v
                count += 1
        return {k: v / count for k, v in sums.items()}

    def step(self, step: int) -> dict:
        timing: dict = {}
        t0 = time.perf_counter()
        batch, ro, metrics = self.experience(step, timing)
        t = time.perf_counter()
        metrics.update(self.update(batch, step))
        timing["timing/update_s"] = time.perf_counter() - t
        timing["timing/step_s"] = time.perf_counter() - t0
        tokens = int(batch["attention_mask"].sum())
        metrics.update(timing, tokens_per_s=tokens / timing["timing/step_s"], lr=self.sched.get_last_lr()[0],
                       loss=metrics.get("actor/loss", 0.0), entropy=metrics.get("actor/entropy", 0.0),
                       clip_frac=metrics.get("actor/pg_clipfrac", 0.0))
        return metrics

    # ---- train / evaluate / cleanup --------------------------------------------------------
    def evaluate(self, rows: list[dict]) -> float:
        """Mean reward of greedy answers to `rows` (held-out prompts)."""
        self.policy.eval()
        size, total = int(self.cfg.data.train_batch_size), 0.0
        for i in range(0, len(rows), size):
            ro = rollout.generate(self.policy, self.tok, rows[i:i + size], 1, self.cfg.rollout,
                                  int(self.cfg.data.max_prompt_length), int(self.cfg.data.max_response_length),
                                  greedy=True)
            total += float(scoring.score(ro, self.reward)[0].sum())
        return total / len(rows)

    def train(self) -> dict:
        cfg, steps = self.cfg, int(self.cfg.max_steps)
        if self.start_step == 0:
            self.val_before = self.evaluate(self.val_rows)
        for s in tqdm(range(self.start_step, steps), desc="rl steps", initial=self.start_step, total=steps):
            metrics = self.step(s)
            self.ctx.curves.log(metrics, step=s + 1)
            self.history.append({"step": s + 1, "reward_mean": metrics["reward/mean"]})
            if (s + 1) % int(cfg.save_steps) == 0 or s + 1 == steps:
                state.save(self.ctx.checkpoint_dir, s + 1, self._objects(),
                           {"kl_coef": self.kl_ctrl.value, "history": self.history,
                            "val_reward_before": self.val_before}, int(cfg.save_total_limit))
        return {"val_reward_before": self.val_before, "val_reward_after": self.evaluate(self.val_rows),
                "reward_mean_first": self.history[0]["reward_mean"] if self.history else None,
                "reward_mean_last": self.history[-1]["reward_mean"] if self.history else None,
                "steps": steps, "resumed_from_step": self.start_step, "val_rows": len(self.val_rows)}

    def cleanup(self) -> None:
        modeling.save_policy(self.policy, self.tok, self.ctx.policy_dir, self.ctx.config_dict())
