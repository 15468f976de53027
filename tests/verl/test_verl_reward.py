"""verl/reward.py, loaded and called the way verl 0.9.1 does it, scores real GSM8K and
MATH-500 completions exactly as the project's reward registry does."""
from __future__ import annotations


import pytest

from stages import rewards
from stages.train import verl_config
from verl_helpers import REPO, samples, batch


def _verl_scores(config, data) -> list[float]:
    """verl's path: legacy-key migration, a RewardLoopWorker (the class verl's reward loop
    runs as a Ray actor) loading verl/reward.py by path, its reward manager's score list."""
    from verl.experimental.reward_loop import RewardLoopWorker, migrate_legacy_reward_impl

    worker = RewardLoopWorker(migrate_legacy_reward_impl(config))
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))   # its own loop
    return [o["reward_score"] for o in outputs]


@pytest.fixture
def rows(datasets_dir):
    return samples(datasets_dir, n_each=6)


def test_reward_entry_file_matches_the_registry(verl_params, rows):
    from transformers import AutoTokenizer

    composed = verl_config.compose(verl_params("grpo"))
    tok = AutoTokenizer.from_pretrained(composed.config.actor_rollout_ref.model.path)
    data, local = batch(tok, rows, [str(i) for i in range(len(rows))])
    got = _verl_scores(composed.config, data)
    want = [rewards.compute_score(r["data_source"], r["response"], r["ground_truth"]) for r in rows]
    assert got == want
    assert local["texts"] == [r["response"] for r in rows]   # verl decoded what the registry scored
    assert sorted(set(want)) == [0.0, 1.0] and sum(want) == len(rows) / 2   # right / wrong pairs


def test_weighted_reward_spec_reaches_verl_through_reward_kwargs(verl_params, rows):
    from transformers import AutoTokenizer

    spec = [{"name": "gsm8k_flexible", "weight": 1.0}, {"name": "format", "weight": 0.5}]
    cfg = verl_params("grpo", "train.reward=[{name:gsm8k_flexible,weight:1.0},{name:format,weight:0.5}]")
    composed = verl_config.compose(cfg)
    assert composed.config.reward.custom_reward_function.reward_kwargs.reward == spec
    gsm = [r for r in rows if r["data_source"] == "gsm8k"]
    tok = AutoTokenizer.from_pretrained(composed.config.actor_rollout_ref.model.path)
    data, _ = batch(tok, gsm, [str(i) for i in range(len(gsm))])
    got = _verl_scores(composed.config, data)
    fn = rewards.weighted(spec)
    assert got == pytest.approx([fn(r["response"], r["ground_truth"], {}) for r in gsm])


def test_entry_file_loads_by_path_from_outside_the_repo(tmp_path):
    """verl's loader on a fresh interpreter elsewhere: the file makes the repo importable itself."""
    import subprocess
    import sys

    code = ("from verl.utils.import_utils import load_extern_object as L\n"
            f"f = L(module_path={str(REPO / 'verl' / 'reward.py')!r}, object_name='compute_score')\n"
            "print(f('gsm8k', 'so #### 42', '42'), f('gsm8k', '#### 41', '42'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["1.0", "0.0"]
