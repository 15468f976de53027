"""Curves -> DVCLive .tsv -> the report's reader, for every metric name a backend logs."""
from __future__ import annotations

from stages.report import inputs
from stages.train.curves import Curves


def test_verl_metric_names_become_readable_curves(tmp_path):
    """verl logs `timing_s/step`: a leaf named like DVCLive's own `step` column must not shadow it."""
    curves = Curves(tmp_path / "plots")
    for step in (1, 2, 3):
        curves.log({"timing_s/step": 4.0 + step, "critic/score/mean": step / 10, "timestamp": 1.0,
                    "note": "text is not a curve"}, step=step)
    curves.close()
    read = {c.name: c for c in inputs.curves(tmp_path / "plots")}
    assert set(read) == {"timing_s/step_total", "critic/score/mean", "timestamp_total"}
    assert read["timing_s/step_total"].steps == [1.0, 2.0, 3.0]
    assert read["timing_s/step_total"].values == [5.0, 6.0, 7.0]
    assert curves.series("timing_s/step_total") == [5.0, 6.0, 7.0]
