"""Training: one `train` stage, many algorithms, two executors.

    python -m stages.train                      # reads params.yaml `train:` (+ seed, paths, track)
    dvc exp run -S train=dpo                    # swap the algorithm (a Hydra group choice)

Layout (each file one job):
  backends.py     executor registry: `local` (this package) | `verl` (verl_backend.py)
  trainers.py     trainer registry: sft, dpo, kto, orpo, rm, rl; each algos/<name>.py registers itself
  context.py      what a trainer gets: its params, paths, seed, the curve logger
  data.py         read ${paths.format}/<kind>/{train,val}.parquet, check columns, to HF datasets
  modeling.py     load the base for training, LoRA (peft) or full, merge and save the policy
  checkpoints.py  checkpoint fingerprint (config + inputs) and the last complete checkpoint
  curves.py       step metrics to DVCLive (reports/plots/train) and W&B
  trl_args.py     the TrainingArguments every TRL trainer shares
  rl/             the local online-RL loop (rollouts, log-probs, verl core_algos losses)
"""
