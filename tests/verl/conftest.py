"""Fixtures for the verl backend tests: a workspace (tiny model as models/base, verl and sft
parquet built from real GSM8K rows) and the project's params composed for it, the way
`dvc exp run -S train=<algo>` composes them."""
from __future__ import annotations

from pathlib import Path

import pytest

from verl_helpers import REPO, gsm8k_rows


@pytest.fixture(scope="session")
def verl_workspace(tmp_path_factory, tiny_model_dir, datasets_dir) -> Path:
    """models/base (the tiny model), data/format/{verl,sft}/{train,val}.parquet."""
    import polars as pl

    root = tmp_path_factory.mktemp("verl_ws")
    (root / "models").mkdir()
    (root / "models" / "base").symlink_to(tiny_model_dir)
    rows = gsm8k_rows(datasets_dir, 40)
    verl_rows = [{"data_source": "gsm8k", "prompt": [{"role": "user", "content": r["question"]}],
                  "ability": "math", "reward_model": {"style": "rule", "ground_truth": r["gold"]},
                  "extra_info": {"split": "train", "index": i, "id": r["id"]}} for i, r in enumerate(rows)]
    sft_rows = [{"id": r["id"], "messages": [{"role": "user", "content": r["question"][:120]},
                                             {"role": "assistant", "content": f"#### {r['gold']}"}]}
                for r in rows]
    for kind, data in (("verl", verl_rows), ("sft", sft_rows)):
        out = root / "data" / "format" / kind
        out.mkdir(parents=True)
        pl.DataFrame(data[:32]).write_parquet(out / "train.parquet")
        pl.DataFrame(data[32:]).write_parquet(out / "val.parquet")
    return root


@pytest.fixture
def verl_params(verl_workspace, tmp_path, monkeypatch):
    """make(algo, *hydra_overrides) -> the read-only params a stage gets for
    `-S train=<algo> -S profile=smoke` (train.verl.device=cuda unless overridden): data from
    the workspace, models/base the tiny model, models/policy, checkpoints and train_out in
    tmp_path."""
    from stages.common import params
    from stages.common.compose import compose

    monkeypatch.setenv("DVC_EXP_NAME", "exp-verl-test")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "base").symlink_to(verl_workspace / "models" / "base")

    def make(algo: str, *overrides: str):
        paths = ["train.verl.device=cuda",     # the mapping as on a GPU box; tests that want the
                                                #   CPU route pass train.verl.device=cpu after it
                 f"paths.models={tmp_path / 'models'}",
                 f"paths.format={verl_workspace / 'data' / 'format'}",
                 f"paths.checkpoints={tmp_path / 'checkpoints'}",
                 f"paths.train_out={tmp_path / 'train_out'}", f"track.dir={tmp_path / 'wandb'}"]
        out = tmp_path / f"params-{algo}.yaml"
        compose([f"train={algo}", "profile=smoke", *paths, *overrides], output=out,
                config_dir=REPO / "params")
        return params.load(out)

    return make
