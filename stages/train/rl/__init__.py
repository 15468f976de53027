"""The local online-RL loop: GRPO, DAPO, Dr.GRPO, GSPO, PPO (GAE + critic), RLOO, REINFORCE++,
ReMax, all one loop; the differences are verl-named params (adv_estimator, policy_loss.loss_mode,
loss_agg_mode, clip_ratio_*), and all the math is verl.trainer.ppo.core_algos.

  config.py    params -> verl ActorConfig / AlgoConfig; what an estimator needs
  rollout.py   HF generate: n samples per prompt -> token tensors + masks
  scoring.py   rewards from the registry -> token-level scores
  forward.py   per-token log-probs, entropy and values for response tokens
  update.py    one PPO-style update (policy loss, KL loss, entropy, value loss) via core_algos
  state.py     checkpoint save / resume of everything the loop needs
  loop.py      setup -> train -> cleanup
"""
