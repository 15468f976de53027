"""The report's pieces: score extraction, deltas, DVCLive curves, sample choice, escaping, screenshot."""
from __future__ import annotations

import math

import pytest

from stages.report import evaltable, inputs, markdown
from stages.report.document import Code, Document, Section, Table
from stages.report.inputs import EvalCell
from stages.report.sections import fmt, pick_samples


def test_scores_prefer_nested_blocks_with_their_own_ci():
    m = {"n": 8, "accuracy": 0.5, "ci_low": 0.2, "ci_high": 0.8, "seconds": 3.0,
         "strict": {"accuracy": 0.5, "ci_low": 0.2, "ci_high": 0.8},
         "flexible": {"accuracy": 0.75, "ci_low": 0.4, "ci_high": 0.9}}
    assert evaltable.scores(m) == [("strict", 0.5, 0.2, 0.8), ("flexible", 0.75, 0.4, 0.9)]


def test_scores_top_level_pass_at_k_and_ignored_counts():
    m = {"n": 4, "pass@1": 0.25, "ci_low": 0.05, "ci_high": 0.7, "pass@10": 0.5, "seconds": 9, "n_correct": 1}
    assert evaltable.scores(m) == [("pass@1", 0.25, 0.05, 0.7), ("pass@10", 0.5, None, None)]


def test_comparison_delta_overlap_and_missing_side():
    cells = [EvalCell("base", "gsm8k", {"accuracy": 0.1, "ci_low": 0.0, "ci_high": 0.2, "n": 50}),
             EvalCell("policy", "gsm8k", {"accuracy": 0.6, "ci_low": 0.45, "ci_high": 0.73, "n": 50}),
             EvalCell("base", "math500", {"accuracy": float("nan"), "n": 0}),
             EvalCell("policy", "math500", {"accuracy": 0.2, "n": 5}),
             EvalCell("base", "humaneval", {"pass@1": 0.3, "n": 4})]
    comp = {c["bench"]: c for c in evaltable.comparison(evaltable.flat_rows(cells))}
    assert comp["gsm8k"]["delta"] == pytest.approx(0.5) and comp["gsm8k"]["overlap"] is False
    assert comp["math500"]["delta"] is None                     # NaN on one side: no delta
    assert comp["humaneval"]["policy"] is None and comp["humaneval"]["delta"] is None


def test_curves_follow_dvclive_layout(tmp_path, monkeypatch):
    from dvclive import Live

    monkeypatch.chdir(tmp_path)
    with Live(dir="plots_root", dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for step, (loss, kl, reward) in enumerate([(3.0, 0.0, -1.0), (2.0, 0.1, 0.0), (1.5, 0.2, 0.5)]):
            live.step = step
            live.log_metric("actor/entropy", 1.0)
            live.log_metric("kl", kl)
            live.log_metric("reward/mean", reward)
            live.log_metric("train/loss", loss)
    curves = inputs.curves(tmp_path / "plots_root")
    assert [c.name for c in curves] == ["train/loss", "reward/mean", "kl", "actor/entropy"]
    assert curves[0].steps == [0, 1, 2] and curves[0].values == [3.0, 2.0, 1.5]
    assert inputs.curves(tmp_path / "absent") == []


def test_bad_curve_file_names_the_file(tmp_path):
    bad = tmp_path / "plots" / "metrics" / "loss.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("step\tloss\n0\tnot-a-number\n")
    with pytest.raises(ValueError, match=r"loss.tsv: non-numeric value"):
        inputs.curves(tmp_path / "plots")


def test_pick_samples_mixes_correct_and_wrong():
    rows = [{"correct": c, "i": i} for i, c in enumerate([True, True, True, False, True, False])]
    assert [s["i"] for s in pick_samples(rows, 3)] == [0, 1, 3]
    assert [s["i"] for s in pick_samples(rows, 4)] == [0, 1, 3, 5]
    assert [s["i"] for s in pick_samples(rows[:3], 2)] == [0, 1]                 # no wrong ones
    assert [s["i"] for s in pick_samples([{"correct": False, "i": 9}], 3)] == [9]


def test_markdown_survives_pipes_newlines_and_backticks():
    doc = Document("t", "s", [Section("S", [Table(["a", "b"], [["x | y", "line1\nline2"]]),
                                           Code("```python\nprint(1)\n```")])])
    md = markdown.render(doc)
    assert "| x \\| y | line1<br>line2 |" in md
    assert "````text\n```python" in md and md.rstrip().endswith("````")


def test_fmt_numbers_for_people():
    assert [fmt(None), fmt(float("nan")), fmt(12345), fmt(0.123456), fmt(2e-5), fmt(True)] == \
        ["—", "NaN", "12,345", "0.1235", "2e-05", "True"]
    assert math.isnan(float("nan"))


def test_dedup_artifacts_in_either_shape():
    assert inputs.dedup_report([{"ids": [1, 2]}, {"ids": [3, 4]}]) == {"clusters": 2}
    assert inputs.dedup_report({"clusters": 5, "exact_dropped": 1})["clusters"] == 5
    assert inputs.dedup_report(None) is None
    hits = [{"id": "a", "benchmark": "gsm8k"}, {"id": "b", "benchmark": "math500"}, {"id": "c", "benchmark": "gsm8k"}]
    c = inputs.contamination_report(hits)
    assert c["enabled"] and c["by_benchmark"] == {"gsm8k": 2, "math500": 1}
    assert inputs.contamination_report({"enabled": False, "hits": []})["enabled"] is False
    with pytest.raises(ValueError, match="contamination.json: expected an object or a list"):
        inputs.contamination_report("oops")


def test_params_diff_names_the_field_inside_a_source_list():
    from stages.report.identity import ABSENT, params_diff

    defaults = {"data": {"sources": [{"name": "arith", "rows": 2000}]}, "model": {"architecture": None},
                "train": {"lr": 1e-4}}
    current = {"data": {"sources": [{"name": "arith", "rows": 400}]}, "model": {"architecture": {"hidden_size": 64}},
               "train": {"lr": 1e-4}}
    assert params_diff(current, defaults) == [
        {"key": "data.sources[0].rows", "default": 2000, "value": 400},
        {"key": "model.architecture.hidden_size", "default": ABSENT, "value": 64}]


def test_hf_trainer_curve_names_rank_loss_first_and_bookkeeping_last(tmp_path):
    root = tmp_path / "plots" / "metrics"
    root.mkdir(parents=True)
    for name in ("epoch", "entropy", "eval_loss", "grad_norm", "loss", "num_tokens", "tokens_per_s", "kl"):
        (root / f"{name}.tsv").write_text(f"step\t{name}\n0\t1.0\n1\t0.5\n")
    names = [c.name for c in inputs.curves(tmp_path / "plots")]
    assert names == ["loss", "eval_loss", "kl", "entropy", "grad_norm", "epoch", "num_tokens", "tokens_per_s"]


def test_whitespace_output_is_named_not_shown_as_a_void():
    from stages.report.sections import _squeeze

    assert _squeeze("\n" * 40) == "(empty: 40 whitespace characters)"
    assert _squeeze("a\n\n\n\n\nb\n") == "a\n\nb"


def test_timings_fall_back_to_time_parts():
    from stages.report.collect import _seconds

    assert _seconds({"seconds": 3, "generate_seconds": 9}) == 3.0
    assert _seconds({"generate_seconds": 1.5, "score_seconds": 0.5, "tokens_per_second": 99}) == 2.0
    assert _seconds({"train_runtime_s": 110.7, "steps": 8}) == 110.7
    assert _seconds({"steps": 8}) is None and _seconds(None) is None


def test_a_delta_is_coloured_only_where_the_paired_test_is_significant():
    from stages.report.sections import _delta, _significant

    gain = {"n": 40, "p_value": 0.001, "delta": 0.3}
    loss = {"n": 40, "p_value": 0.01, "delta": -0.3}
    noise = {"n": 32, "p_value": 1.0, "delta": 0.031}
    assert _delta(0.3, _significant(gain, 0.05)).tone == "good"
    assert _delta(-0.3, _significant(loss, 0.05)).tone == "bad"
    assert _delta(0.031, _significant(noise, 0.05)).tone is None
    assert _delta(0.031, _significant(None, 0.05)).tone is None     # no paired items: no test
