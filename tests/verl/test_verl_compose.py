"""Composition against verl's real Hydra schema (verl 0.9.1's ppo_trainer / sft_trainer_engine):
every preset composes and validates, the resolved config carries the params' values, and a
bad key or value fails before launch naming where it came from."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from verl_helpers import REPO, RL_ALGOS
from stages.train import verl_backend, verl_config
from stages.train.verl_config import VerlConfigError

SECTIONS = {"algorithm": "algorithm", "actor": "actor_rollout_ref.actor",
            "rollout": "actor_rollout_ref.rollout", "data": "data"}


def _composed(verl_params, algo, *overrides):
    cfg = verl_params(algo, *overrides)
    composed = verl_config.compose(cfg)
    verl_backend.validate(composed)             # verl's own checks, model and data files included
    return cfg, composed, composed.config


@pytest.mark.parametrize("algo", RL_ALGOS)
def test_rl_preset_composes_with_the_params_values(verl_params, algo):
    cfg, composed, c = _composed(verl_params, algo)
    t = cfg.train
    assert composed.kind == "rl"
    for section, prefix in SECTIONS.items():            # every verl-shaped params key, one by one
        for key, value in verl_config.flatten(OmegaConf.to_container(t[section])).items():
            assert OmegaConf.select(c, f"{prefix}.{key}") == value, f"train.{section}.{key}"
    assert c.critic.optim.lr == t.critic.lr and c.critic.cliprange_value == t.critic.cliprange_value
    # the headline values, spelled out
    assert c.data.train_batch_size == t.data.train_batch_size
    assert c.actor_rollout_ref.rollout.n == t.rollout.n
    assert c.actor_rollout_ref.actor.ppo_mini_batch_size == t.actor.ppo_mini_batch_size
    assert c.algorithm.adv_estimator == t.algorithm.adv_estimator
    assert c.actor_rollout_ref.actor.use_kl_loss == t.actor.use_kl_loss
    assert c.actor_rollout_ref.actor.kl_loss_coef == t.actor.kl_loss_coef
    assert c.algorithm.use_kl_in_reward == t.algorithm.use_kl_in_reward
    assert c.algorithm.kl_ctrl.kl_coef == t.algorithm.kl_ctrl.kl_coef
    assert c.actor_rollout_ref.actor.optim.lr == t.lr
    assert c.trainer.total_training_steps == t.max_steps and c.trainer.save_freq == t.save_steps
    base = str((Path(cfg.paths.models) / "base").resolve())
    assert c.actor_rollout_ref.model.path == base and c.critic.model.path == base
    assert c.data.train_files == str(Path(cfg.paths.format, "verl", "train.parquet").resolve())
    assert c.data.val_files == str(Path(cfg.paths.format, "verl", "val.parquet").resolve())
    assert c.reward.custom_reward_function.path == str(REPO / "verl" / "reward.py")
    assert c.reward.custom_reward_function.name == "compute_score"
    assert c.trainer.default_local_dir == str(Path(cfg.paths.checkpoints).resolve())
    assert c.trainer.experiment_name == "exp-verl-test"       # the DVC experiment = W&B group
    assert c.trainer.project_name == cfg.track.project


def test_presets_add_what_only_verl_does(verl_params):
    _, _, dapo = _composed(verl_params, "dapo")
    assert dapo.algorithm.filter_groups.enable and dapo.algorithm.filter_groups.metric == "reward"
    assert dapo.reward.reward_manager.name == "naive"        # overlong shaping is opt-in
    _, _, ppo = _composed(verl_params, "ppo")
    assert ppo.critic.enable and ppo.algorithm.adv_estimator == "gae"
    _, _, grpo = _composed(verl_params, "grpo")
    assert not grpo.algorithm.filter_groups.enable and grpo.reward.reward_manager.name == "naive"


def test_readme_overlong_shaping_overrides_compose(verl_params):
    """The opt-in in verl/README.md: verl's DAPO reward manager with an overlong buffer."""
    readme = (REPO / "verl" / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "overlong_buffer_cfg" in x and "-S" in x)
    value = line.split("-S ", 1)[1].strip().strip("\\").strip().strip("'")
    _, _, c = _composed(verl_params, "dapo", "+" + value)
    assert c.reward.reward_manager.name == "dapo"
    assert c.reward.reward_kwargs.overlong_buffer_cfg.enable is True
    assert c.reward.reward_kwargs.max_resp_len == c.data.max_response_length
    with pytest.raises(VerlConfigError, match="max_resp_len=192 must equal"):
        verl_backend.validate(verl_config.compose(verl_params(
            "dapo", "+" + value, "train.data.max_response_length=256")))
    with pytest.raises(VerlConfigError, match="overlong_buffer_cfg.len=512 exceeds"):
        verl_backend.validate(verl_config.compose(verl_params(
            "dapo", "+" + value.replace("len:64", "len:512"))))


def test_sft_composes_onto_verls_sft_trainer(verl_params):
    cfg, composed, c = _composed(verl_params, "sft", "train.grad_accum=2", "train.peft=lora")
    t = cfg.train
    assert composed.kind == "sft"
    assert c.model.path == str((Path(cfg.paths.models) / "base").resolve())
    assert c.data.train_files == str(Path(cfg.paths.format, "sft", "train.parquet").resolve())
    assert c.data.train_batch_size == t.per_device_batch_size * 2     # the local effective batch
    assert c.data.micro_batch_size_per_gpu == t.per_device_batch_size
    assert c.data.max_length == t.max_length and c.optim.lr == t.lr
    assert c.model.lora_rank == t.lora.r and c.model.lora_alpha == t.lora.alpha
    assert c.trainer.total_training_steps == t.max_steps and c.trainer.seed == cfg.seed


def test_wrong_params_key_names_the_key_and_the_near_miss(verl_params):
    cfg = verl_params("grpo", "+train.actor.clip_ratio_lowx=0.1")
    with pytest.raises(VerlConfigError) as e:
        verl_config.compose(cfg)
    msg = str(e.value)
    assert "params train.actor.clip_ratio_lowx" in msg
    assert "actor_rollout_ref.actor.clip_ratio_lowx" in msg
    assert "did you mean actor_rollout_ref.actor.clip_ratio_low" in msg


def test_wrong_raw_override_and_wrong_preset_key_name_their_source(verl_params, tmp_path, monkeypatch):
    cfg = verl_params("grpo", "++train.verl.overrides=['trainer.n_gpu_per_node=2']")
    with pytest.raises(VerlConfigError, match=r"train.verl.overrides\[0\].*trainer.n_gpu_per_node"):
        verl_config.compose(cfg)
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "grpo.yaml").write_text("algorithm:\n  adv_estimatr: grpo\n")
    monkeypatch.setattr(verl_config, "PRESETS", tmp_path / "presets")
    with pytest.raises(VerlConfigError, match=r"verl/presets/grpo.yaml.*algorithm.adv_estimatr"):
        verl_config.compose(verl_params("grpo"))


@pytest.mark.parametrize("overrides, match", [
    (["train.algorithm.adv_estimator=grpoo"], r"adv_estimator='grpoo' is not registered.*grpo"),
    (["train.actor.policy_loss.loss_mode=gspoo"], r"loss_mode='gspoo' is not registered"),
    (["train.rollout.n=1"], r"set train.rollout.n >= 2"),
    (["train.lr_scheduler=linear"], r"train.lr_scheduler='linear'"),
    (["train.actor.ppo_mini_batch_size=16"], r"verl rejects.*train_batch_size"),
    (["train.bf16=false"], r"train.bf16=false"),
    (["++train.verl.overrides=['actor_rollout_ref.rollout.tensor_model_parallel_size=2']"],
     r"tensor_model_parallel_size=2 must divide the 1 GPUs"),
    (["+train.packing_ratio=2"], r"train.packing_ratio .*no verl mapping"),
    (["train.actor.ppo_micro_batch_size_per_gpu=12"], r"32 responses per optimiser step over 1 GPUs.*=12 must divide"),
    (["train.verl.n_gpus_per_node=2", "train.actor.ppo_micro_batch_size_per_gpu=32"], r"\(16 each\)"),
])
def test_invalid_values_fail_before_launch(verl_params, overrides, match):
    with pytest.raises(VerlConfigError, match=match):
        verl_backend.validate(verl_config.compose(verl_params("grpo", *overrides)))


def test_algorithms_verl_cannot_run_say_so(verl_params):
    with pytest.raises(VerlConfigError, match=r"train.trainer='dpo'.*train.backend=local"):
        verl_config.compose(verl_params("dpo"))


def test_missing_inputs_fail_with_the_path(verl_params, tmp_path):
    cfg = verl_params("grpo", f"paths.format={tmp_path / 'nowhere'}")
    with pytest.raises(VerlConfigError, match=r"not found: .*nowhere/verl/train.parquet"):
        verl_backend.validate(verl_config.compose(cfg))


def test_dry_run_writes_the_resolved_config_and_launches_nothing(verl_params, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "secret-key-123")
    cfg = verl_params("gspo")
    out = verl_backend.train(cfg, dry_run=True)
    written = Path(out["verl_config"])
    assert written == Path(cfg.paths.train_out) / "verl_config.yaml" and out["kind"] == "rl"
    text = written.read_text()
    assert "${" not in text and "secret-key-123" not in text        # resolved; no secrets
    loaded = OmegaConf.load(written)
    assert loaded.actor_rollout_ref.actor.policy_loss.loss_mode == "gspo"
    assert not Path(cfg.paths.checkpoints).exists() and not (Path(cfg.paths.models) / "policy").exists()


def test_verls_own_entry_point_accepts_the_written_config(verl_params, tmp_path):
    """`main_ppo --cfg job` composes exactly as a launch does, then prints instead of training."""
    composed = verl_config.compose(verl_params("dapo"))
    path = verl_config.write(composed, tmp_path / "verl_config.yaml")
    argv = verl_backend.command(composed, path) + ["--cfg", "job"]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    printed = OmegaConf.create(out.stdout[out.stdout.index("actor_rollout_ref:"):])
    assert printed.algorithm.filter_groups.enable is True
    assert printed.reward.custom_reward_function.path == str(REPO / "verl" / "reward.py")


def test_environment_groups_wandb_and_loads_the_compat_plugin(verl_params, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("VERL_USE_EXTERNAL_MODULES", "other_plugin")
    cfg = verl_params("grpo")
    env = verl_backend.environment(cfg, tmp_path / "m.jsonl")
    assert env["WANDB_RUN_GROUP"] == "exp-verl-test" and env["WANDB_MODE"] == "offline"
    assert env["VERL_USE_EXTERNAL_MODULES"] == "lmforge_verl_compat,other_plugin"
    assert str(REPO / "verl" / "plugins") in env["PYTHONPATH"].split(":")
    assert "wandb" in verl_config.compose(cfg).config.trainer.logger


def test_repo_verl_dir_does_not_shadow_the_installed_package():
    out = subprocess.run([sys.executable, "-c", "import verl, verl.trainer; print(verl.__file__)"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    assert "site-packages" in out.stdout and not (REPO / "verl" / "__init__.py").exists()


@pytest.mark.parametrize("algo", ["grpo", "ppo", "sft"])
def test_cpu_route_composes_verl_switches_and_validates(verl_params, monkeypatch, algo):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg, composed, c = _composed(verl_params, algo, "train.verl.device=cpu", "train.verl.nnodes=2")
    assert c.trainer.device == "cpu"
    if algo == "sft":
        assert c.engine.strategy == "fsdp2" and c.model.override_config.attn_implementation == "sdpa"
    else:
        a = c.actor_rollout_ref
        assert a.actor.strategy == a.ref.strategy == c.critic.strategy == "fsdp2"
        assert a.model.override_config.attn_implementation == "sdpa"
        assert c.critic.model.override_config.attn_implementation == "sdpa"
        assert a.rollout.enable_sleep_mode is False and a.rollout.enforce_eager is True
        assert c.ray_kwargs.ray_init.num_gpus == 2                   # nnodes x n_gpus_per_node
        assert c.ray_kwargs.ray_init.address == "local"
        monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")          # a running cluster: its own
        assert not {"num_gpus", "address"} & set(verl_config.compose(cfg).config.ray_kwargs.ray_init)
    env = verl_backend.environment(cfg, Path("metrics.jsonl"))
    assert env["VERL_USE_EXTERNAL_MODULES"].split(",")[:2] == ["lmforge_verl_compat", "lmforge_verl_cpu"]
    assert env["VERL_PLATFORM"] == "cpu" and env["VLLM_TARGET_DEVICE"] == "cpu"


def test_gpu_route_has_no_cpu_switches(verl_params):
    cfg, composed, c = _composed(verl_params, "grpo")
    assert c.trainer.device == "cuda" and c.actor_rollout_ref.actor.strategy == "fsdp"
    env = verl_backend.environment(cfg, Path("metrics.jsonl"))
    assert "lmforge_verl_cpu" not in env["VERL_USE_EXTERNAL_MODULES"] and "VERL_PLATFORM" not in env


def test_unknown_device_is_an_error(verl_params):
    with pytest.raises(VerlConfigError, match=r"train.verl.device='tpu'.*auto, cuda, cpu"):
        verl_config.compose(verl_params("grpo", "train.verl.device=tpu"))


def test_max_steps_outlasts_epochs(verl_params):
    """max_steps wins over epochs (as on the local executor): verl would stop at the epoch's end."""
    c = verl_config.compose(verl_params("grpo", "train.max_steps=500", "train.epochs=1")).config
    assert c.trainer.total_training_steps == 500 and c.trainer.total_epochs >= 500


def test_ray_workers_get_the_logger_path_and_plugins_but_no_secret(verl_params, monkeypatch):
    """On a running cluster verl's workers inherit each node's environment, not the driver's."""
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = verl_params("grpo", "train.verl.device=cpu")
    composed = verl_config.compose(cfg)
    env = verl_backend.environment(cfg, Path("/ckpt/verl_metrics.jsonl"))
    verl_backend.forward_to_ray_workers(composed, cfg, env)
    fwd = composed.config.ray_kwargs.ray_init.runtime_env.env_vars
    assert fwd.VERL_FILE_LOGGER_PATH == "/ckpt/verl_metrics.jsonl" and fwd.WANDB_MODE == "offline"
    assert fwd.VERL_USE_EXTERNAL_MODULES.startswith("lmforge_verl_compat,lmforge_verl_cpu")
    assert fwd.VERL_PLATFORM == "cpu" and "WANDB_API_KEY" not in fwd
    assert "k" * 40 not in OmegaConf.to_yaml(composed.config)
