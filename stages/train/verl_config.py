"""The project's params as verl's own Hydra config (`train.backend: verl`).

Layers, later wins, every one a Hydra override of the config verl ships:

    verl's defaults     verl/trainer/config/ppo_trainer.yaml (RL) | sft_trainer_engine.yaml (SFT)
    the preset          verl/presets/<train.algo>.yaml: what makes the algorithm (estimator, KL...)
    the params          `train`, `paths`, `track`, `seed` mapped by PARAMS below
    raw overrides       `train.verl.overrides`: verl Hydra syntax, for anything not mapped

Hydra composes in strict mode, so a key verl does not have fails here, before launch, with the
preset file or the params key that produced it (`VerlConfigError`); `validate` then runs
verl's own checks (batch-size divisibility, its config dataclasses) on the result.

    python -m stages.train.verl_backend --dry-run       # compose, validate, write; no launch
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from stages.common import io

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "verl" / "presets"
REWARD_FILE = ROOT / "verl" / "reward.py"
VERL_DEFAULTS = {"rl": "ppo_trainer", "sft": "sft_trainer_engine"}   # in verl.trainer.config
KINDS = {"sft": "sft", "rl": "rl"}                                   # train.trainer -> kind
VERL_DEFAULTS_OPTS = {"nnodes": 1, "n_gpus_per_node": 1, "rollout": "vllm", "overrides": []}


class VerlConfigError(ValueError):
    """A params / preset value verl cannot take; the message names the key and its source."""


@dataclass(frozen=True)
class Override:
    key: str                 # verl's dotted key
    value: Any               # a plain python value
    source: str              # where it came from, for error messages
    add: bool = False        # verl reads it with .get() but its yaml does not declare it

    def hydra(self) -> str:
        return f"{'+' if self.add else ''}{self.key}={hydra_value(self.value)}"


@dataclass
class Composed:
    kind: str                # "rl" | "sft"
    config: DictConfig       # verl's full config, interpolations intact
    overrides: list[Override]


# ---------------------------------------------------------------- params -> verl keys
def _abs(path: str | Path) -> str:
    """verl's Ray workers may not share our working dir: every path goes absolute."""
    return str(Path(path).expanduser().resolve())


def _opts(train: Any) -> dict:
    """`train.verl` (cluster shape, rollout engine, raw overrides), with defaults."""
    given = OmegaConf.to_container(train.verl, resolve=True) if "verl" in train else {}
    unknown = set(given) - set(VERL_DEFAULTS_OPTS)
    if unknown:
        raise VerlConfigError(f"train.verl: unknown key(s) {sorted(unknown)}; valid: "
                              f"{sorted(VERL_DEFAULTS_OPTS)}")
    return {**VERL_DEFAULTS_OPTS, **given}


def _common(cfg: Any, kind: str, prefix: str, optim: str) -> list[tuple[str, Any, str]]:
    """Keys both trainers share: model, optimiser, schedule, checkpoints, tracking, cluster."""
    from stages.common import tracking

    t, opts = cfg.train, _opts(cfg.train)
    steps = int(t.max_steps)
    mode = tracking.resolve_mode(cfg.track.get("mode"))
    out = [
        (f"{prefix}.path", _abs(Path(cfg.paths.models) / "base"), "paths.models"),
        (f"{optim}.lr", float(t.lr), "train.lr"),
        (f"{optim}.lr_scheduler_type", str(t.lr_scheduler), "train.lr_scheduler"),
        (f"{optim}.lr_warmup_steps_ratio", float(t.warmup_ratio), "train.warmup_ratio"),
        (f"{optim}.weight_decay", float(t.weight_decay), "train.weight_decay"),
        (f"{optim}.clip_grad", float(t.max_grad_norm), "train.max_grad_norm"),
        ("trainer.total_training_steps", steps if steps > 0 else None, "train.max_steps"),
        ("trainer.total_epochs", int(t.epochs), "train.epochs"),
        ("trainer.save_freq", _save_freq(t), "train.save_steps"),
        ("trainer.test_freq", int(t.eval_steps) if t.eval_steps > 0 else max(steps, -1),
         "train.eval_steps"),
        ("trainer.default_local_dir", _abs(cfg.paths.checkpoints), "paths.checkpoints"),
        ("trainer.project_name", str(cfg.track.project), "track.project"),
        ("trainer.experiment_name", tracking.experiment_group(), "DVC experiment / git rev"),
        ("trainer.logger", ["console", "file"] + (["wandb"] if mode != "disabled" else []),
         "track.mode"),
        ("trainer.nnodes", int(opts["nnodes"]), "train.verl.nnodes"),
        ("trainer.n_gpus_per_node", int(opts["n_gpus_per_node"]), "train.verl.n_gpus_per_node"),
    ]
    if str(t.bf16).lower() == "false":
        raise VerlConfigError("train.bf16=false: verl trains fp32 master weights under bf16/fp16 "
                              "mixed precision only; set train.bf16=auto (or use backend=local)")
    if t.peft == "lora":
        out += [(f"{prefix}.lora_rank", int(t.lora.r), "train.lora.r"),
                (f"{prefix}.lora_alpha", int(t.lora.alpha), "train.lora.alpha"),
                (f"{prefix}.target_modules", t.lora.target_modules, "train.lora.target_modules")]
    elif t.peft != "none":
        raise VerlConfigError(f"train.peft={t.peft!r}: valid: lora, none")
    return out


def _save_freq(t: Any) -> int:
    """verl's RL trainer saves only when save_freq > 0, and the policy comes from the last save."""
    if t.save_steps > 0:
        return int(t.save_steps)
    if t.max_steps > 0:
        return int(t.max_steps)
    raise VerlConfigError("train.save_steps <= 0 with train.max_steps=-1: verl would save no "
                          "checkpoint to convert into the policy; set train.save_steps")


def _sft(cfg: Any) -> list[tuple[str, Any, str]]:
    t, fmt = cfg.train, Path(cfg.paths.format) / "sft"
    return _common(cfg, "sft", "model", "optim") + [
        ("data.train_files", _abs(fmt / "train.parquet"), "paths.format"),
        ("data.val_files", _abs(fmt / "val.parquet"), "paths.format"),
        # global batch = the local trainer's effective batch, whatever the GPU count
        ("data.train_batch_size", int(t.per_device_batch_size * t.grad_accum),
         "train.per_device_batch_size x train.grad_accum"),
        ("data.micro_batch_size_per_gpu", int(t.per_device_batch_size), "train.per_device_batch_size"),
        ("data.max_length", int(t.max_length), "train.max_length"),
        ("trainer.max_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("trainer.seed", int(cfg.seed), "seed"),
    ]


def _rl(cfg: Any) -> list[tuple[str, Any, str]]:
    t, fmt, opts = cfg.train, Path(cfg.paths.format) / "verl", _opts(cfg.train)
    actor, rollout = "actor_rollout_ref.actor", "actor_rollout_ref.rollout"
    out = _common(cfg, "rl", "actor_rollout_ref.model", f"{actor}.optim") + [
        ("critic.model.path", _abs(Path(cfg.paths.models) / "base"), "paths.models"),
        ("data.train_files", _abs(fmt / "train.parquet"), "paths.format"),
        ("data.val_files", _abs(fmt / "val.parquet"), "paths.format"),
        ("data.seed", int(cfg.seed), "seed"),
        (f"{actor}.data_loader_seed", int(cfg.seed), "seed"),
        (f"{rollout}.seed", int(cfg.seed), "seed"),
        (f"{rollout}.name", str(opts["rollout"]), "train.verl.rollout"),
        (f"{actor}.ppo_micro_batch_size_per_gpu", int(t.per_device_batch_size),
         "train.per_device_batch_size"),
        (f"{rollout}.log_prob_micro_batch_size_per_gpu", int(t.per_device_batch_size),
         "train.per_device_batch_size"),
        ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", int(t.per_device_batch_size),
         "train.per_device_batch_size"),
        ("critic.ppo_micro_batch_size_per_gpu", int(t.per_device_batch_size),
         "train.per_device_batch_size"),
        ("trainer.max_actor_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("trainer.max_critic_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("reward.custom_reward_function.path", str(REWARD_FILE), "verl/reward.py"),
        ("reward.custom_reward_function.name", "compute_score", "verl/reward.py"),
    ]
    return out + _rl_sections(t)


# verl-shaped params sections: `train.<section>.<key>` -> `<verl prefix>.<key>`
RL_SECTIONS = {"algorithm": "algorithm", "actor": "actor_rollout_ref.actor",
               "rollout": "actor_rollout_ref.rollout", "critic": "critic", "data": "data"}


def _rl_sections(t: Any) -> list[tuple[str, Any, str]]:
    out = []
    for section, prefix in RL_SECTIONS.items():
        if section in t:
            for key, value in flatten(OmegaConf.to_container(t[section], resolve=True)).items():
                out.append((f"{prefix}.{key}", value, f"train.{section}.{key}"))
    if "reward" in t and t.reward:
        spec = OmegaConf.to_container(t.reward, resolve=True)
        out.append(("reward.custom_reward_function.reward_kwargs", {"reward": spec}, "train.reward"))
    return out


PARAMS: dict[str, Callable[[Any], list]] = {"sft": _sft, "rl": _rl}
ADDED_KEYS = {"reward.custom_reward_function.reward_kwargs"}   # read by verl via .get()


# ---------------------------------------------------------------- composition
def kind_of(train: Any) -> str:
    if train.trainer not in KINDS:
        raise VerlConfigError(f"train.trainer={train.trainer!r} (train.algo={train.algo!r}) has no "
                              f"verl trainer; verl runs: {', '.join(KINDS)}; or set train.backend=local")
    return KINDS[train.trainer]


def preset_path(algo: str) -> Path:
    path = PRESETS / f"{algo}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise VerlConfigError(f"train.algo={algo!r}: no verl preset {path.relative_to(ROOT)}; "
                              f"presets: {', '.join(names)}; or set train.backend=local")
    return path


def overrides(cfg: Any) -> tuple[str, list[Override], list[str]]:
    """(kind, preset + params overrides, raw user overrides), in the order they apply."""
    kind = kind_of(cfg.train)
    preset = preset_path(str(cfg.train.algo))
    out = [Override(k, v, str(preset.relative_to(ROOT)))
           for k, v in flatten(OmegaConf.to_container(OmegaConf.load(preset))).items()]
    out += [Override(k, v, f"params {src}", add=k in ADDED_KEYS) for k, v, src in PARAMS[kind](cfg)]
    return kind, out, [str(o) for o in _opts(cfg.train)["overrides"]]


def compose(cfg: Any) -> Composed:
    """verl's config for these params; a key verl lacks raises VerlConfigError naming it."""
    from hydra import compose as hydra_compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    kind, ours, raw = overrides(cfg)
    sources = {o.key: o.source for o in ours}
    sources.update({r.split("=", 1)[0].lstrip("+~"): f"params train.verl.overrides[{i}]"
                    for i, r in enumerate(raw)})
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("verl.trainer.config", version_base=None):
            base = hydra_compose(VERL_DEFAULTS[kind])
            try:
                config = hydra_compose(VERL_DEFAULTS[kind], overrides=[o.hydra() for o in ours] + raw)
            except HydraException as e:
                raise _explain(e, sources, base, kind) from None
    finally:
        GlobalHydra.instance().clear()
    return Composed(kind, config, ours)


def _explain(e: Exception, sources: dict, base: DictConfig, kind: str) -> VerlConfigError:
    """Hydra says `Could not override 'x.y'`; say which params key or preset asked for it."""
    import verl

    text = f"{e} {e.__cause__ or ''}"
    m = re.search(r"override '\+?([^']+)'", text) or re.search(r"[Kk]ey '([^']+)'", text)
    key = m.group(1) if m else "?"
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    near = difflib.get_close_matches(leaf, list(node.keys()), n=3) if isinstance(node, DictConfig) else []
    hint = f"; did you mean {', '.join(f'{parent}.{n}'.lstrip('.') for n in near)}?" if near else ""
    return VerlConfigError(f"{sources.get(key, 'an override')}: verl {verl.__version__} "
                           f"{VERL_DEFAULTS[kind]} has no key {key!r}{hint}\n  ({str(e).strip()})")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and empty dicts stay values."""
    if not isinstance(tree, dict) or (not tree and prefix):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def hydra_value(v: Any) -> str:
    """A python value in Hydra's override grammar; strings quoted so paths, commas, quotes and
    `${` stay literal (backslashes doubled only before a quote, `${` or the end, as Hydra reads)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        s = re.sub(r"(\\+)(?='|\$\{|$)", lambda m: m.group(1) * 2, v)
        return "'" + s.replace("'", "\\'").replace("${", "\\${") + "'"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(hydra_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{hydra_value(x)}" for k, x in v.items()) + "}"
    raise VerlConfigError(f"cannot pass {type(v).__name__} {v!r} to verl")


# ---------------------------------------------------------------- validation and output
GROUP_ESTIMATORS = {"grpo", "grpo_vectorized", "grpo_passk", "rloo", "rloo_vectorized", "opo",
                    "gpg", "reinforce_plus_plus_baseline", "gdpo"}   # baseline from the group


def validate(composed: Composed, check_files: bool = True) -> None:
    """verl's own checks, run here so a bad value fails before Ray starts (not minutes later).
    `check_files` also checks that the model and data exist and loads the model's config."""
    cfg = composed.config
    missing = [k for k in OmegaConf.missing_keys(cfg) if not k.startswith("reward.reward_model")]
    if missing:
        raise VerlConfigError(f"verl needs a value for {', '.join(sorted(missing))}")
    if check_files:
        files = [cfg.data.train_files, cfg.data.val_files, cfg.model.path if composed.kind == "sft"
                 else cfg.actor_rollout_ref.model.path]
        absent = [f for f in files if f and not Path(f).exists()]
        if absent:
            raise VerlConfigError(f"not found: {', '.join(absent)} (run `dvc repro format model`)")
    try:
        (_check_rl if composed.kind == "rl" else _check_sft)(cfg, check_files)
    except (AssertionError, ValueError, TypeError, KeyError) as e:
        if isinstance(e, VerlConfigError):
            raise
        raise VerlConfigError(f"verl rejects the composed config: {type(e).__name__}: {e}") from e


def _check_rl(cfg: DictConfig, check_files: bool) -> None:
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    est = cfg.algorithm.adv_estimator
    _registered("algorithm.adv_estimator", est, core_algos.ADV_ESTIMATOR_REGISTRY)
    loss = cfg.actor_rollout_ref.actor.policy_loss.loss_mode
    _registered("actor_rollout_ref.actor.policy_loss.loss_mode", loss, core_algos.POLICY_LOSS_REGISTRY)
    n = cfg.actor_rollout_ref.rollout.n
    if est in GROUP_ESTIMATORS and n < 2:
        raise VerlConfigError(f"algorithm.adv_estimator={est} takes its baseline from the other "
                              f"completions of a prompt: set train.rollout.n >= 2 (got {n})")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # verl warns when it disables the critic
        critic = need_critic(cfg)
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=critic)
    for key in ("algorithm", "actor_rollout_ref.rollout", "reward"):
        omega_conf_to_dataclass(OmegaConf.select(cfg, key))
    if check_files:
        omega_conf_to_dataclass(cfg.actor_rollout_ref.model)     # reads the model's config


def _check_sft(cfg: DictConfig, check_files: bool) -> None:
    from verl.utils.config import omega_conf_to_dataclass

    for key in ("engine", "optim", "checkpoint"):
        omega_conf_to_dataclass(cfg[key])
    gpus = cfg.trainer.nnodes * cfg.trainer.n_gpus_per_node
    if cfg.data.train_batch_size % gpus:
        raise VerlConfigError(f"data.train_batch_size={cfg.data.train_batch_size} (train."
                              f"per_device_batch_size x train.grad_accum) must divide by the "
                              f"{gpus} GPUs (train.verl.nnodes x n_gpus_per_node)")
    if check_files:
        omega_conf_to_dataclass(cfg.model)


def _registered(key: str, name: str, registry: dict) -> None:
    if name not in registry:
        raise VerlConfigError(f"{key}={name!r} is not registered in verl core_algos; valid: "
                              f"{', '.join(sorted(registry))}")


def write(composed: Composed, path: str | Path) -> Path:
    """The resolved config: the exact file verl is launched with (written atomically)."""
    path = Path(path)
    io.write_text(OmegaConf.to_yaml(composed.config, resolve=True), path)
    return path
