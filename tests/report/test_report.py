"""The report stage on a fixture workspace: every section present, with the fixture's numbers."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from report_fixtures import CURVES, EVAL, FUNNEL, TRAIN, WINRATE, render_report

SECTIONS = ["Summary", "Run identity", "Params", "Data", "Training", "Evaluation", "Preference win rate",
            "Sample outputs", "Timings"]


def run_report(root: Path) -> dict[str, Path]:
    render_report(root)
    return outputs(root)


def outputs(root: Path) -> dict[str, Path]:
    return {"md": root / "reports/report.md", "html": root / "reports/report.html",
            "table": root / "reports/eval_table.json", "figures": root / "reports/figures"}


def section(md: str, title: str) -> str:
    """The markdown between `## title` and the next `## `."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.S | re.M)
    assert m, f"section {title!r} missing"
    return m.group(1)


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table in `text` as rows of cells (header first, rule line dropped)."""
    out, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            out.append(current)
            current = []
    return out


@pytest.fixture
def rendered(rendered_workspace):
    paths = outputs(rendered_workspace)
    return rendered_workspace, paths, paths["md"].read_text(encoding="utf-8")


def test_every_section_in_order(rendered):
    _, _, md = rendered
    positions = [md.index(f"\n## {t}\n") for t in SECTIONS]
    assert positions == sorted(positions)
    assert "not run" not in md.replace("contamination", "")  # every input was present


def test_summary_lines(rendered):
    _, _, md = rendered
    body = section(md, "Summary")
    assert "gsm8k strict **0.500** (+0.375 vs base, paired p=0.25)" in body
    assert "humaneval pass@1 **0.000** (-0.250 vs base, paired p=1)" in body
    assert "Training: `train/loss` 2.5 → 1.2 over 6 logged steps." in body
    assert "Data: 400 rows in, 368 kept after ingest, clean, dedup, quality, format." in body


def test_identity_names_params_hash_and_lock_outs(rendered):
    root, _, md = rendered
    params = yaml.safe_load((root / "params.yaml").read_text())
    expected = hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]
    ident, lock = tables(section(md, "Run identity"))
    assert ["params hash", f"`{expected}`"] in ident
    assert ["model", "`models/base`", "`0123456789ab`", "5.1 MiB", "6"] in lock
    assert not any("reports/metrics" in row[1] for row in lock)      # metrics files are not data


def test_params_shows_what_differs_from_defaults(rendered):
    _, _, md = rendered
    [rows] = tables(section(md, "Params"))
    assert rows[1:] == [["`train.algo`", "`sft`", "`dpo`"], ["`train.beta`", "_(absent)_", "`0.1`"],
                        ["`train.lr`", "`2e-05`", "`5e-07`"], ["`train.max_steps`", "`100`", "`6`"]]


def test_data_funnel_counts_per_stage_and_rule(rendered):
    _, _, md = rendered
    body = section(md, "Data")
    rows, pairs, hits = tables(body)
    for row, (stage, (rows_in, rules)) in zip(rows[1:], FUNNEL.items()):
        rejected = sum(rules.values())
        assert row[:4] == [stage, str(rows_in), str(rows_in - rejected), str(rejected)]
        for rule, n in rules.items():
            assert f"{rule}: {n}" in row[4]
    assert ("Dedup clusters: **4** · 13 rows in clusters; dropped 3 exact and 6 near duplicates · "
            "cluster sizes 2: 2, 3: 1, 4: 1") in body
    assert "Contamination hits (benchmark overlap): **2** (gsm8k: 2) · 13-gram match" in body
    assert pairs[1][:3] == ["near", "0.84", "`arithmetic:7`"]
    assert [r[0] for r in hits[1:]] == ["`arithmetic:5`", "`arithmetic:6`"]
    assert "](figures/funnel.png)" in body


def test_training_curves_and_final_metrics(rendered):
    _, _, md = rendered
    final, curves = tables(section(md, "Training"))
    assert ["`final_loss`", "1.2"] in final and ["`seconds`", "95.25"] in final
    names = [r[0] for r in curves[1:]]
    assert names[0] == "train/loss" and set(names) == set(CURVES)
    loss = curves[1]
    assert loss[1:4] == [str(len(CURVES["train/loss"])), "2.5", "1.2"]


def expected_score(model: str, bench: str, metric: str) -> tuple[float, float, float]:
    m = EVAL[(model, bench)]
    block, key = (m[metric], "accuracy") if isinstance(m.get(metric), dict) else (m, metric)
    return block[key], block["ci_low"], block["ci_high"]


def test_eval_table_base_vs_policy_with_deltas(rendered):
    root, paths, md = rendered
    rows = tables(section(md, "Evaluation"))[0]
    got = {(r[0], r[1]): r for r in rows[1:]}
    assert set(got) == {("gsm8k", "strict"), ("gsm8k", "flexible"), ("math500", "accuracy"),
                        ("humaneval", "pass@1")}
    for (bench, metric), row in got.items():
        (b, b_lo, b_hi), (p, p_lo, p_hi) = (expected_score(m, bench, metric) for m in ("base", "policy"))
        assert row[2] == f"{b:.3f} [{b_lo:.3f}, {b_hi:.3f}]"
        assert row[3] == f"{p:.3f} [{p_lo:.3f}, {p_hi:.3f}]"
        assert row[4].endswith(f"{p - b:+.3f}")
        assert row[7] == str(EVAL[("policy", bench)]["n"])
    # no delta here is significant (p >= 0.25), so none is coloured as a gain or a loss
    assert got[("gsm8k", "strict")][4] == "+0.375" and got[("humaneval", "pass@1")][4] == "-0.250"
    assert rows[0][5:7] == ["paired Δ [95% CI]", "paired p"]
    # The fixture's items are nested (item i right iff i < n_correct), so every discordant pair
    # is a gain for the better model: McNemar p = 2 * 0.5^(gained + lost), capped at 1.
    assert got[("gsm8k", "strict")][6] == "0.25 (McNemar +3/−0, n=8)"          # 2 * 1/8
    assert got[("gsm8k", "flexible")][6] == "0.25 (McNemar +3/−0, n=8)"        # flexible: 2 -> 5 of 8
    assert got[("math500", "accuracy")][6] == "0.5 (McNemar +2/−0, n=6)"       # 2 * 1/4
    assert got[("humaneval", "pass@1")][6] == "1 (McNemar +0/−1, n=4)"
    lo, hi = (float(x) for x in got[("gsm8k", "strict")][5].strip("[]").split(","))
    assert lo < 0 < 0.375 < hi                                     # not significant: the CI holds 0
    flat = json.loads(paths["table"].read_text())
    assert len(flat) == 8
    assert {"cell", "model", "bench", "metric", "value", "ci_low", "ci_high"} <= set(flat[0])
    assert {(r["model"], r["bench"], r["metric"], r["value"]) for r in flat} >= {
        ("policy", "gsm8k", "flexible", 0.625), ("base", "humaneval", "pass@1", 0.25)}


def test_eval_breakdown_by_subject_and_level(rendered):
    _, _, md = rendered
    body = section(md, "Evaluation")
    assert "math500 by subject (3 groups)" in body and "math500 by level (3 groups)" in body
    by_subject = tables(body)[1]
    assert by_subject[0] == ["subject", "base", "policy", "Δ", "n"]
    assert by_subject[1] == ["Algebra", "0.333", "1.000", "+0.667", "3"]     # no test per group: no colour
    assert by_subject[3] == ["Number Theory", "0.000", "0.000", "+0.000", "1"]


def test_samples_show_correct_and_wrong(rendered):
    _, _, md = rendered
    body = section(md, "Sample outputs")
    assert "policy · gsm8k — 4 of 8 correct; 3 shown" in body
    assert "base · humaneval — 1 of 4 correct; 3 shown" in body
    policy = body.split("policy · gsm8k")[1].split("</details>")[0]
    assert policy.count("✅ correct") == 2 and policy.count("❌ wrong") == 1
    assert "PROMPT:\nQ0: what is 0 + 0?\n" in policy and "Be brief" not in body   # the question, not the system turn


def test_timings_total_is_the_sum(rendered):
    _, _, md = rendered
    [rows] = tables(section(md, "Timings"))
    total = sum(1.5 for _ in FUNNEL) + TRAIN["seconds"] + sum(m["generate_seconds"] + m["score_seconds"]
                                                               for m in EVAL.values()) + WINRATE["seconds"]
    assert rows[-1] == ["**total (recorded)**", f"**{total:,.1f}**"]
    assert ["model", "_not recorded_"] in rows and ["eval policy-gsm8k", "10.5"] in rows
    assert ["winrate", "42.5"] in rows


def test_win_rate_section_and_summary_line(rendered):
    """6 won, 1 tied, 1 lost of 8: 6.5/8; the sign test leaves the tie out: 2 * P(X >= 6 | 7, 1/2)."""
    _, _, md = rendered
    lo, hi = WINRATE["ci_low"], WINRATE["ci_high"]
    assert WINRATE["win_rate"] == 0.8125 and WINRATE["p_value"] == pytest.approx(16 / 128)
    assert (f"Win rate vs base (reward model judge): **0.812** [{lo:.3f}, {hi:.3f}], sign test p=0.125, "
            "n=8.") in section(md, "Summary")
    body = section(md, "Preference win rate")
    [rows] = tables(body)
    assert rows[1] == [f"0.812 [{lo:.3f}, {hi:.3f}]", "6 / 1 / 1", "0.125", "0.625", "8", "`/models/rm`"]
    assert "3 of 8 judged pairs" in body and body.count("**policy won**") == 2 and "**base won**" in body
    assert "POLICY:\nPolicy answer 7\n\nBASE:\nbase 7" in body


def test_skipped_win_rate_says_why(report_workspace):
    reason = "no reward model (eval.winrate.rm is null); no preference data (x.parquet has 0 rows)"
    (report_workspace / "reports/metrics/winrate.json").write_text(json.dumps({"skipped": True, "reason": reason}))
    md = run_report(report_workspace)["md"].read_text()
    assert f"Win rate: no preference data/RM ({reason})." in section(md, "Summary")
    assert f"Skipped: {reason}." in section(md, "Preference win rate")


def test_figures_written_and_html_self_contained(rendered):
    _, paths, md = rendered
    pngs = sorted(p.name for p in paths["figures"].iterdir())
    assert pngs == ["eval.png", "funnel.png", "training.png"]
    for p in paths["figures"].iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
        assert f"](figures/{p.name})" in md
    html = paths["html"].read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 3
    assert not re.search(r'(src|href)="(https?:)?//', html)        # nothing fetched from the network
    for title in SECTIONS:
        assert f">{title}</h2>" in html
    assert "+0.375" in html and 'class="num good"' not in html     # nothing significant to colour


def test_empty_workspace_says_not_run(tmp_path):
    """Only params.yaml: every section renders and says what did not run."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({
        "seed": 0, "track": {"mode": "disabled"}, "report": {"samples_per_cell": 2, "title": "t", "alpha": 0.05},
        "paths": {"metrics": "reports/metrics", "plots": "reports/plots", "eval": "data/eval",
                  "dedup": "data/dedup", "report": "reports"}}))
    paths = run_report(tmp_path)
    md = paths["md"].read_text()
    for title in SECTIONS:
        section(md, title)
    assert "no params/config.yaml" in section(md, "Params")
    assert section(md, "Data").count("_not run_") == len(FUNNEL)
    for title in ("Training", "Evaluation", "Preference win rate", "Sample outputs"):
        assert "not run" in section(md, title)
    assert json.loads(paths["table"].read_text()) == []
    assert not list(paths["figures"].iterdir())


def test_unparseable_metrics_name_the_file(report_workspace):
    bad = report_workspace / "reports/metrics/clean.json"
    bad.write_text('{"rows_in": 3,,}')
    with pytest.raises(ValueError, match=r"reports/metrics/clean.json: invalid JSON at line 1"):
        run_report(report_workspace)
