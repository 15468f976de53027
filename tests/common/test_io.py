"""Atomic outputs: nothing half-written survives a failure; a killed run's temp is swept."""
from __future__ import annotations

import pytest

from stages.common import io


def test_failed_write_leaves_previous_output_intact(tmp_path):
    out = tmp_path / "out"
    with io.atomic_path(out, is_dir=True) as tmp:
        (tmp / "a.txt").write_text("complete")
    with pytest.raises(RuntimeError):
        with io.atomic_path(out, is_dir=True) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash mid-write")
    assert (out / "a.txt").read_text() == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_temp_from_a_killed_run_is_removed(tmp_path):
    stale = tmp_path / ".m.json.abc123.tmp"
    stale.mkdir()
    (stale / "m.json").write_text("{")
    io.write_json({"a": 1}, tmp_path / "m.json")
    assert io.read_json(tmp_path / "m.json") == {"a": 1}
    assert not stale.exists()


def test_parquet_bytes_are_deterministic(tmp_path):
    import polars as pl

    df = pl.DataFrame({"id": ["a", "b"], "x": ["1", None]})
    io.write_parquet(df, tmp_path / "a.parquet")
    io.write_parquet(df, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    (tmp_path / "c.parquet").write_bytes((tmp_path / "a.parquet").read_bytes()[:40])
    with pytest.raises(ValueError, match=r"c\.parquet: unreadable parquet"):
        io.read_parquet(tmp_path / "c.parquet")
