"""train.peft=lora: the adapter trains, and the saved policy is a plain merged HF model."""
from __future__ import annotations

import pytest
import torch

from conftest import run_in_process


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


@pytest.mark.parametrize("algo, extra", [
    ("sft", ["train.max_steps=3", "train.eval_steps=0", "train.lr=1e-2"]),
    ("grpo", ["train.max_steps=2", "train.lr=1e-2", "train.val_rows=2", "train.data.max_response_length=6",
              "train.data.train_batch_size=4", "train.actor.ppo_mini_batch_size=4", "train.rollout.n=2",
              "train.reward=[{name: length, max_chars: 200}]"]),   # varied rewards: non-zero advantages
])
def test_lora_policy_is_merged_and_changed(tmp_path, tiny_model_dir, algo, extra):
    import train_toy
    from transformers import AutoModelForCausalLM

    fmt = train_toy.write_format_dir(tmp_path / "format", n_train=16, n_val=4)
    run_in_process(algo if algo == "sft" else "rl", [f"train={algo}", "train.peft=lora", "train.save_steps=100",
                                                     *extra], fmt, tiny_model_dir, tmp_path / "out")
    policy = tmp_path / "out" / "policy"
    assert not (policy / "adapter_config.json").exists()
    AutoModelForCausalLM.from_pretrained(policy)                   # loads like the base
    base, new = _weights(tiny_model_dir), _weights(policy)
    assert set(base) == set(new)                                   # no lora_A / lora_B left over
    changed = [k for k in base if not torch.equal(base[k], new[k])]
    assert any("proj" in k for k in changed), changed               # the LoRA targets moved
    assert "model.embed_tokens.weight" not in changed               # nothing else did
