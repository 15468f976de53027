"""Loaded by verl itself in every process that imports it (driver, Ray workers), through
verl's plugin hook: VERL_USE_EXTERNAL_MODULES=lmforge_verl_compat with verl/plugins on
PYTHONPATH (stages/train/verl_backend.py sets both; on a cluster, export them before
`ray start`, see verl/README.md).

It bridges one gap between verl 0.9.1 and the trl this project trains with: when trl is
installed, verl's model loader (verl/models/transformers/monkey_patch.py) imports
`AutoModelForCausalLMWithValueHead` from `trl.experimental.ppo`, then from `trl`, and fails
if neither has it; trl >= 1.13 removed it from both. verl only re-binds the class's
`state_dict` there, and only builds one when a critic model has no token-classification head.
So when trl lacks it, this registers a stand-in class under `trl.experimental.ppo` that
refuses to be built, with the reason. Nothing is done when trl still ships the class.

And one gap in verl itself: its critic loader (`verl.utils.model.load_valuehead_model`) asks
transformers for flash_attention_2 whatever `critic.model.override_config.attn_implementation`
says, so PPO's critic cannot load where flash-attn is absent (any CPU host; GPU boxes without
it). Here the critic's token-classification model loads with the attention its config names
(verl put override_config's choice there), as the actor's does; flash_attention_2 when unset.
"""
from __future__ import annotations

import sys
import types
import warnings


def _value_head_stand_in() -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # trl warns on any trl.experimental import
            import trl.experimental.ppo  # noqa: F401
        return
    except ImportError:
        pass
    try:
        from trl import AutoModelForCausalLMWithValueHead  # noqa: F401
        return
    except ImportError:
        pass
    except Exception:  # trl absent or broken: verl then skips the import itself
        return

    class AutoModelForCausalLMWithValueHead:
        """Stand-in for the class trl >= 1.13 removed (see the module docstring)."""

        @classmethod
        def from_pretrained(cls, *args, **kwargs):
            raise RuntimeError(
                "the critic model has no token-classification head, and verl's fallback needs "
                "trl's AutoModelForCausalLMWithValueHead, which trl >= 1.13 removed; use a base "
                "model with a *ForTokenClassification class (Llama, Qwen2, ...) or trl <= 1.12")

    module = types.ModuleType("trl.experimental.ppo")
    module.AutoModelForCausalLMWithValueHead = AutoModelForCausalLMWithValueHead
    sys.modules["trl.experimental.ppo"] = module


def _critic_attention_from_config() -> None:
    from verl.utils import model as verl_model

    original = verl_model.load_valuehead_model
    if getattr(original, "_lmforge", False):
        return

    def load_valuehead_model(local_path, torch_dtype, model_config, trust_remote_code):
        from transformers import AutoModelForTokenClassification

        attn = getattr(model_config, "_attn_implementation", None) or "flash_attention_2"
        if attn == "flash_attention_2":
            return original(local_path, torch_dtype, model_config, trust_remote_code)
        return AutoModelForTokenClassification.from_pretrained(
            pretrained_model_name_or_path=local_path, torch_dtype=torch_dtype, config=model_config,
            attn_implementation=attn, trust_remote_code=trust_remote_code)

    load_valuehead_model._lmforge = True
    verl_model.load_valuehead_model = load_valuehead_model


_value_head_stand_in()
_critic_attention_from_config()
