"""The project's params as verl's own Hydra config (`train.backend: verl`).

Layers, later wins; each is a list of Hydra overrides on the config verl ships:

    verl's defaults   verl/trainer/config/ppo_trainer.yaml (RL) | sft_trainer_engine.yaml (SFT)
    the preset        verl/presets/<train.algo>.yaml: what only verl needs (DAPO's dynamic
                      sampling, PPO's critic switches); the algorithm itself lives in params
    the device        verl/presets/cpu/<rl|sft>.yaml when train.verl.device resolves to cpu
    the params        `train`, `paths`, `track`, `seed`, mapped below (params/train/grpo.yaml
                      documents the layout: train.algorithm.* -> algorithm.*, ...)
    raw overrides     `train.verl.overrides`: verl's Hydra syntax, for anything not mapped

Hydra composes in strict mode, so a key verl does not have fails here, before launch, naming
the params key or preset file that asked for it (VerlConfigError); verl_backend.validate then
runs verl's own checks on the result.

    python -m stages.train.verl_backend --dry-run       # compose, validate, write; no launch
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "verl" / "presets"
REWARD_FILE = ROOT / "verl" / "reward.py"
VERL_CONFIG = {"rl": "ppo_trainer", "sft": "sft_trainer_engine"}    # in verl.trainer.config
KINDS = {"sft": "sft", "rl": "rl"}                                  # train.trainer -> kind
OPTS = {"device": "auto", "nnodes": 1, "n_gpus_per_node": 1, "rollout": "vllm", "overrides": []}   # train.verl
DEVICES = ("auto", "cuda", "cpu")
ADDED = ("reward.custom_reward_function.reward_kwargs",     # keys verl reads with .get(): not in
         "actor_rollout_ref.model.override_config.", "critic.model.override_config.",   # its yaml
         "model.override_config.", "actor_rollout_ref.rollout.enable_sleep_mode",
         "ray_kwargs.ray_init.num_gpus", "ray_kwargs.ray_init.address")
RAY_CPUS_PER_NODE = 16      # logical CPUs for a local Ray cluster on cpu: verl's actors each ask for one
SCHEDULERS = {"constant": "constant", "constant_with_warmup": "constant", "cosine": "cosine"}
RL_SECTIONS = {"algorithm": "algorithm", "actor": "actor_rollout_ref.actor",   # verl-shaped
               "rollout": "actor_rollout_ref.rollout", "data": "data", "critic": "critic"}
RENAMED = {"critic.lr": "critic.optim.lr"}
# train keys verl has no use for, and why (any other unmapped key is an error, not a silent drop)
IGNORED = {"algo": "preset name", "trainer": "picks the verl trainer", "backend": "this backend",
           "logging_steps": "verl logs every step", "packing": "verl SFT always packs (no padding)",
           "grad_accum": "RL: ppo_mini / ppo_micro batch sizes set accumulation",
           "max_length": "RL: data.max_prompt_length + data.max_response_length"}


class VerlConfigError(ValueError):
    """A params or preset value verl cannot take; the message names the key and its source."""


@dataclass(frozen=True)
class Override:
    key: str                 # verl's dotted key
    value: Any               # plain python value
    source: str              # where it came from, for error messages

    def hydra(self) -> str:
        plus = "+" if self.key.startswith(ADDED) else ""
        return f"{plus}{self.key}={hydra_value(self.value)}"


@dataclass
class Composed:
    kind: str                # "rl" | "sft"
    config: DictConfig       # verl's full config, interpolations intact
    overrides: list[Override]


def _abs(path: str | Path) -> str:
    """verl's Ray workers may not share our working dir: every path goes absolute."""
    return str(Path(path).expanduser().resolve())


def opts(train: Any) -> dict:
    """`train.verl` (cluster shape, rollout engine, raw overrides) over the defaults."""
    from stages.common import params

    given = OmegaConf.to_container(train.verl, resolve=True) if "verl" in train else {}
    try:
        params.check_keys(given, tuple(OPTS), "train.verl")    # keys only: OPTS values are defaults
    except KeyError as e:
        raise VerlConfigError(e.args[0]) from None
    out = {**OPTS, **given}
    if out["device"] not in DEVICES:
        raise VerlConfigError(f"train.verl.device={out['device']!r}; valid: {', '.join(DEVICES)}")
    return out


def device(train: Any) -> str:
    """`train.verl.device`, with auto resolved: cuda when torch sees one, else cpu."""
    chosen = opts(train)["device"]
    if chosen != "auto":
        return chosen
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_overrides(cfg: Any, kind: str) -> list[Override]:
    """train.verl.device=cpu: verl/presets/cpu/<kind>.yaml, and for RL on a Ray cluster this
    process starts (no RAY_ADDRESS), logical GPUs (one per training process: the CPU platform's
    Ray resource is "GPU") and CPUs. A running cluster brings its own (`ray start --num-gpus`)."""
    out = _preset_file(PRESETS / "cpu" / f"{kind}.yaml")
    if kind == "rl" and not os.environ.get("RAY_ADDRESS"):
        o, src = opts(cfg.train), "train.verl.device=cpu (a local Ray cluster)"
        out += [Override("ray_kwargs.ray_init.num_gpus", int(o["nnodes"] * o["n_gpus_per_node"]), src),
                Override("ray_kwargs.ray_init.num_cpus", RAY_CPUS_PER_NODE, src),
                # a new local instance, even where an earlier `ray start` left its address file
                Override("ray_kwargs.ray_init.address", "local", src)]
    return out


# ---------------------------------------------------------------- params -> verl keys
def _common(cfg: Any, model: str, optim: str) -> list[tuple[str, Any, str]]:
    """Keys both trainers share: model, optimiser, schedule, checkpoints, tracking, cluster."""
    from stages.common import tracking

    t, o, steps = cfg.train, opts(cfg.train), int(cfg.train.max_steps)
    if t.lr_scheduler not in SCHEDULERS:
        raise VerlConfigError(f"train.lr_scheduler={t.lr_scheduler!r}: verl has constant and "
                              f"cosine (both with warmup_ratio); valid here: {', '.join(SCHEDULERS)}")
    if str(t.bf16).lower() == "false":
        raise VerlConfigError("train.bf16=false: verl trains fp32 master weights under bf16/fp16 "
                              "mixed precision only; set train.bf16=auto or train.backend=local")
    logger = ["console", "file"] + ([] if tracking.resolve_mode(cfg.track.get("mode")) == "disabled"
                                    else ["wandb"])
    out = [
        (f"{model}.path", _abs(Path(cfg.paths.models) / "base"), "paths.models"),
        (f"{optim}.lr", float(t.lr), "train.lr"),
        (f"{optim}.lr_scheduler_type", SCHEDULERS[t.lr_scheduler], "train.lr_scheduler"),
        (f"{optim}.lr_warmup_steps_ratio", float(t.warmup_ratio), "train.warmup_ratio"),
        (f"{optim}.weight_decay", float(t.weight_decay), "train.weight_decay"),
        (f"{optim}.clip_grad", float(t.max_grad_norm), "train.max_grad_norm"),
        ("trainer.total_training_steps", steps if steps > 0 else None, "train.max_steps"),
        # max_steps > 0 wins over epochs, as on the local executor: verl stops at whichever of
        # total_training_steps and total_epochs comes first, and one step takes >= 1 batch
        ("trainer.total_epochs", int(t.epochs) if steps <= 0 else steps, "train.epochs / max_steps"),
        ("trainer.save_freq", _save_freq(t), "train.save_steps"),
        ("trainer.test_freq", int(t.eval_steps) if t.eval_steps > 0 else steps, "train.eval_steps"),
        ("trainer.default_local_dir", _abs(cfg.paths.checkpoints), "paths.checkpoints"),
        ("trainer.project_name", str(cfg.track.project), "track.project"),
        ("trainer.experiment_name", tracking.experiment_group(), "the DVC experiment / git rev"),
        ("trainer.logger", logger, "track.mode"),
        ("trainer.nnodes", int(o["nnodes"]), "train.verl.nnodes"),
        ("trainer.n_gpus_per_node", int(o["n_gpus_per_node"]), "train.verl.n_gpus_per_node"),
    ]
    if t.peft == "lora":
        out += [(f"{model}.lora_rank", int(t.lora.r), "train.lora.r"),
                (f"{model}.lora_alpha", int(t.lora.alpha), "train.lora.alpha"),
                (f"{model}.target_modules", t.lora.target_modules, "train.lora.target_modules")]
    elif t.peft != "none":
        raise VerlConfigError(f"train.peft={t.peft!r}: valid: lora, none")
    return out


def _save_freq(t: Any) -> int:
    """verl's RL trainer saves only when save_freq > 0, and the policy comes from the last save."""
    if t.save_steps > 0:
        return int(t.save_steps)
    if t.max_steps > 0:
        return int(t.max_steps)
    raise VerlConfigError("train.save_steps <= 0 and train.max_steps=-1: verl would save no "
                          "checkpoint to turn into the policy; set train.save_steps")


def _sft(cfg: Any) -> list[tuple[str, Any, str]]:
    t, fmt = cfg.train, Path(cfg.paths.format) / "sft"
    batch = "train.per_device_batch_size"
    return _common(cfg, "model", "optim") + [
        ("data.train_files", _abs(fmt / "train.parquet"), "paths.format"),
        ("data.val_files", _abs(fmt / "val.parquet"), "paths.format"),
        # the global batch is the local trainer's effective batch, whatever the GPU count
        ("data.train_batch_size", int(t.per_device_batch_size * t.grad_accum), f"{batch} x grad_accum"),
        ("data.micro_batch_size_per_gpu", int(t.per_device_batch_size), batch),
        ("data.max_length", int(t.max_length), "train.max_length"),
        ("trainer.max_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("trainer.seed", int(cfg.seed), "seed"),
    ]


def _rl(cfg: Any) -> list[tuple[str, Any, str]]:
    t, fmt, seed = cfg.train, Path(cfg.paths.format) / "verl", int(cfg.seed)
    actor, rollout, batch = "actor_rollout_ref.actor", "actor_rollout_ref.rollout", "train.per_device_batch_size"
    out = _common(cfg, "actor_rollout_ref.model", f"{actor}.optim") + [
        (f"{actor}.grad_clip", float(t.max_grad_norm), "train.max_grad_norm"),
        ("critic.model.path", _abs(Path(cfg.paths.models) / "base"), "paths.models"),
        ("data.train_files", _abs(fmt / "train.parquet"), "paths.format"),
        ("data.val_files", _abs(fmt / "val.parquet"), "paths.format"),
        ("data.val_max_samples", int(t.get("val_rows", -1)), "train.val_rows"),
        ("data.seed", seed, "seed"), (f"{actor}.data_loader_seed", seed, "seed"),
        (f"{rollout}.seed", seed, "seed"),
        (f"{rollout}.name", str(opts(t)["rollout"]), "train.verl.rollout"),
        (f"{rollout}.tensor_model_parallel_size", 1, "one GPU per rollout replica (raise it "
         "with train.verl.overrides for models that do not fit one GPU)"),
        (f"{rollout}.log_prob_micro_batch_size_per_gpu", int(t.per_device_batch_size), batch),
        ("actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu", int(t.per_device_batch_size), batch),
        ("critic.ppo_micro_batch_size_per_gpu", int(t.per_device_batch_size), batch),
        ("trainer.max_actor_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("trainer.max_critic_ckpt_to_keep", int(t.save_total_limit), "train.save_total_limit"),
        ("reward.custom_reward_function.path", str(REWARD_FILE), "verl/reward.py"),
        ("reward.custom_reward_function.name", "compute_score", "verl/reward.py"),
    ]
    for section, prefix in RL_SECTIONS.items():             # the verl-shaped sub-trees
        for key, value in flatten(_container(t.get(section))).items():
            name = f"{section}.{key}"
            out.append((RENAMED.get(name, f"{prefix}.{key}"), value, f"train.{name}"))
    if t.get("reward"):
        out.append(("reward.custom_reward_function.reward_kwargs.reward", _container(t.reward),
                    "train.reward"))
    else:
        from stages.rewards import default_table

        out.append(("reward.custom_reward_function.reward_kwargs.defaults", default_table(),
                    "eval.benchmarks.<b>.reward / data_sources"))
    return out


MAPPED = {"sft": {"lr", "lr_scheduler", "warmup_ratio", "weight_decay", "max_grad_norm", "max_steps",
                  "epochs", "save_steps", "save_total_limit", "eval_steps", "bf16", "peft", "lora",
                  "verl", "per_device_batch_size", "grad_accum", "max_length"}}
MAPPED["rl"] = MAPPED["sft"] | set(RL_SECTIONS) | {"val_rows", "reward"}
PARAMS = {"sft": _sft, "rl": _rl}


def _container(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _unmapped(train: Any, kind: str) -> None:
    extra = sorted(set(train.keys()) - MAPPED[kind] - set(IGNORED))
    if extra:
        raise VerlConfigError(f"train.{extra[0]} (of {extra}) has no verl mapping: add it to "
                              f"stages/train/verl_config.py, or use train.verl.overrides")


# ---------------------------------------------------------------- composition
def kind_of(train: Any) -> str:
    if train.trainer not in KINDS:
        raise VerlConfigError(f"train.trainer={train.trainer!r} (train={train.algo}) has no verl "
                              f"trainer; verl runs {', '.join(KINDS)}; set train.backend=local")
    return KINDS[train.trainer]


def preset(algo: str) -> list[Override]:
    path = PRESETS / f"{algo}.yaml"
    if not path.exists():
        names = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml")))
        raise VerlConfigError(f"train={algo}: no verl preset verl/presets/{algo}.yaml (presets: "
                              f"{names}); set train.backend=local")
    return _preset_file(path)


def _preset_file(path: Path) -> list[Override]:
    tree = OmegaConf.to_container(OmegaConf.load(path)) or {}
    source = f"verl/presets/{path.relative_to(PRESETS).as_posix()}"
    return [Override(k, v, source) for k, v in flatten(tree).items()]


def overrides(cfg: Any) -> tuple[str, list[Override], list[str]]:
    """(kind, preset + params overrides, raw `train.verl.overrides`), in the order they apply."""
    kind = kind_of(cfg.train)
    _unmapped(cfg.train, kind)
    ours = preset(str(cfg.train.algo))
    if device(cfg.train) == "cpu":
        ours += cpu_overrides(cfg, kind)
    ours += [Override(k, v, f"params {s}") for k, v, s in PARAMS[kind](cfg)]
    return kind, ours, [str(r) for r in opts(cfg.train)["overrides"]]


def compose(cfg: Any) -> Composed:
    """verl's full config for these params; a key verl lacks raises VerlConfigError naming it."""
    from hydra import compose as hydra_compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    import_verl()
    kind, ours, raw = overrides(cfg)
    sources = {o.key: o.source for o in ours}
    sources |= {r.split("=", 1)[0].lstrip("+~"): f"params train.verl.overrides[{i}]"
                for i, r in enumerate(raw)}
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("verl.trainer.config", version_base=None):
            try:
                config = hydra_compose(VERL_CONFIG[kind], overrides=[o.hydra() for o in ours] + raw)
            except HydraException as e:
                raise _explain(e, sources, hydra_compose(VERL_CONFIG[kind]), kind) from None
    finally:
        GlobalHydra.instance().clear()
    return Composed(kind, config, ours)


def import_verl() -> Any:
    """Import verl here, so a failure shows as itself rather than as Hydra's "config module not
    found"; verl/plugins goes on sys.path first because an exported VERL_USE_EXTERNAL_MODULES
    (verl/README.md) makes verl import lmforge_verl_compat at import time."""
    import sys

    plugins = str(ROOT / "verl" / "plugins")
    if plugins not in sys.path:
        sys.path.append(plugins)
    import verl

    return verl


def _explain(e: Exception, sources: dict, base: DictConfig, kind: str) -> VerlConfigError:
    """Hydra says `Could not override 'x.y'`; say which params key or preset asked for it."""
    import verl

    m = re.search(r"override '\+?([^']+)'", str(e)) or re.search(r"[Kk]ey '([^']+)'", f"{e.__cause__}")
    key = m.group(1) if m else "?"
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    near = difflib.get_close_matches(leaf, list(node.keys()), n=3) if isinstance(node, DictConfig) else []
    hint = f"; did you mean {', '.join('.'.join(filter(None, (parent, n))) for n in near)}?" if near else ""
    return VerlConfigError(f"{sources.get(key, 'an override')}: verl {verl.__version__} "
                           f"{VERL_CONFIG[kind]}.yaml has no key {key!r}{hint}\n  ({str(e).strip()})")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and empty dicts stay values."""
    if not isinstance(tree, dict) or (not tree and prefix):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def hydra_value(v: Any) -> str:
    """A python value in Hydra's override grammar. Strings are quoted so paths, commas, quotes
    and `${` stay literal (Hydra reads a backslash as an escape only before a quote, `${` or
    the end of the string, so only those are doubled)."""
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
    raise VerlConfigError(f"cannot pass a {type(v).__name__} ({v!r}) to verl")


def write(composed: Composed, path: str | Path) -> Path:
    """The resolved config: the exact file verl is launched with (written atomically)."""
    from stages.common import io

    io.write_text(OmegaConf.to_yaml(composed.config, resolve=True), path)
    return Path(path)
