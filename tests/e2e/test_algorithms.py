"""Every training algorithm through `dvc exp run -S train=<algo>` in the smoke profile: the
experiment runs the train stage on the cached smoke data and leaves a loadable policy.
(Learning itself is asserted per algorithm in tests/train.)"""
from __future__ import annotations

from pathlib import Path

import pytest
from e2e_workspace import copy_workspace, sh
from policy_checks import assert_loadable_policy, metrics

pytestmark = pytest.mark.slow

OFFLINE = ["sft", "dpo", "kto", "orpo", "rm"]
ONLINE = ["grpo", "ppo", "rloo", "reinforce_pp", "remax"]
SHORT = ["train.max_steps=4", "train.save_steps=2"]     # not the smoke baseline's 8: train reruns
SHORT_RL = ["train.max_steps=2", "train.save_steps=2", "train.data.max_response_length=16",
            "train.val_rows=4"]          # the smoke profile's RL, shortened to CI time


@pytest.fixture(scope="module")
def exp_repo(smoke_build, tmp_path_factory) -> Path:
    """A copy of the reproduced smoke repo (its DVC cache too), so experiments start cached."""
    return copy_workspace(smoke_build, tmp_path_factory.mktemp("algos") / "repo")


@pytest.mark.parametrize("algo", OFFLINE + ONLINE)
def test_dvc_exp_run_trains_each_algorithm_into_a_loadable_policy(exp_repo, algo):


    extra = SHORT_RL if algo in ONLINE else SHORT
    sets = [a for s in ["profile=smoke", f"train={algo}", *extra] for a in ("-S", s)]
    out = sh(["dvc", "exp", "run", "-n", f"algo-{algo}", *sets, "train"], exp_repo).stdout
    assert "Running stage 'train'" in out and "Running stage 'format'" not in out   # data cached
    assert metrics(exp_repo)["algo"] == algo
    assert_loadable_policy(exp_repo)               # loads, generates, names the same algo
    exps = sh(["dvc", "exp", "ls", "--name-only"], exp_repo).stdout.split()
    assert f"algo-{algo}" in exps
