"""Materialise the base model as a plain HF dir.   dvc exp run -S model=qwen2.5-0.5b

Writes ${paths.models}/base (+ lmforge_config.json: the params that made it) and
${paths.metrics}/model.json.
"""
from __future__ import annotations

from stages.common import cli, stagerun
from stages.models import materialise

# `model:` keys the model sources read (stages/models/sources.py); values live in params/model/.
KEYS = {"name": None, "source": None, "tokenizer_source": None, "revision": None, "eos_token": None,
        "pad_token": None, "dtype": None, "architecture": None}   # architecture: HF config kwargs


def main() -> None:
    with stagerun.stage("model", {"model": KEYS, "seed": None}, out="models/base",
                        config_file=stagerun.MODEL_CONFIG_FILE) as st:
        model_cfg = {**st.params["model"], "seed": st.params["seed"]}
        st.metrics = materialise(model_cfg, st.path("models/base"))
    print(f"model: wrote {st.path('models/base')} ({st.metrics['parameters']:,} parameters, "
          f"source {model_cfg['source']})")


if __name__ == "__main__":
    cli.run(main, "model")
