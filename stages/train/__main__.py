"""The train stage: python -m stages.train      (dvc exp run -S train=grpo)

(The stage module is stages/train/__main__.py: a `stages/train.py` would be shadowed by
this package.)

Reads params `train` (+ `seed`, `paths`, `track`); writes ${paths.models}/policy (with
lmforge_config.json: the params that made it), checkpoints in ${paths.checkpoints} (resumed
after a crash), ${paths.metrics}/train.json and DVCLive curves in ${paths.plots}/train. The
algorithm lives in stages/train/algos/, the executor in stages/train/backends.py. An unknown
`train.*` key (for the chosen trainer and backend: backends.keys) fails before any work.
"""
from __future__ import annotations

from stages.common import cli, stagerun


def main() -> None:
    from stages.train import checkpoints
    from stages.train.backends import BACKENDS, keys
    from stages.train.curves import Curves

    with stagerun.stage("train", {"train": keys, "seed": None}, out="models/policy",
                        config_file=stagerun.MODEL_CONFIG_FILE) as st:
        t = st.params["train"]
        backend = BACKENDS.get(t["backend"])
        curves = Curves(st.path("plots/train"), run=st.tracker)
        metrics = backend(st.cfg, curves)
        curves.close()
        checkpoints.finish(st.path("checkpoints"))
        st.metrics = {"algo": t["algo"], "trainer": t["trainer"], "backend": t["backend"], **metrics}


if __name__ == "__main__":
    cli.run(main, "train")
