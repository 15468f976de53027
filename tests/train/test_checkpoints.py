"""Checkpoints belong to one config: a changed param or input discards them; a checkpoint
cut off mid-write is never resumed from."""
from __future__ import annotations

from stages.train import checkpoints


def _ckpt(root, step, state='{"global_step": 1}'):
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "trainer_state.json").write_text(state)
    return d


def test_same_fingerprint_resumes_from_last_complete(tmp_path):
    data = tmp_path / "in.parquet"
    data.write_bytes(b"rows")
    fp = checkpoints.fingerprint({"train": {"lr": 1}}, [data])
    ck = tmp_path / "ck"
    assert checkpoints.prepare(ck, fp) is None
    _ckpt(ck, 4)
    _ckpt(ck, 8, state='{"global_st')                 # killed while writing its last file
    (ck / "checkpoint-12").mkdir()                    # killed before any state file
    assert checkpoints.prepare(ck, fp).name == "checkpoint-4"


def test_changed_param_or_input_discards_checkpoints(tmp_path):
    data = tmp_path / "in.parquet"
    data.write_bytes(b"rows")
    ck = tmp_path / "ck"
    checkpoints.prepare(ck, checkpoints.fingerprint({"train": {"lr": 1}}, [data]))
    _ckpt(ck, 4)
    assert checkpoints.prepare(ck, checkpoints.fingerprint({"train": {"lr": 2}}, [data])) is None
    assert not (ck / "checkpoint-4").exists()
    _ckpt(ck, 4)
    data.write_bytes(b"other rows")
    assert checkpoints.prepare(ck, checkpoints.fingerprint({"train": {"lr": 2}}, [data])) is None
