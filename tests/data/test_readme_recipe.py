"""The README's bring-your-own-data recipe, taken verbatim from README.md, runs through `dvc repro`
of the data stages in a temp copy of the repo (default profile; the tiny model so `quality`'s
model dependency builds in seconds)."""
from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_workspace import COPY_IGNORE, REPO, sh  # noqa: E402

pytestmark = pytest.mark.slow


def readme_recipe() -> tuple[str, str]:
    """(path the README says to save it under, the yaml block that follows)."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"saving this as `(params/data/[\w-]+\.yaml)`.*?```yaml\n(.*?)```", text, re.S)
    assert m, "README.md lost its data recipe (`saving this as `params/data/<name>.yaml`` + a yaml block)"
    return m.group(1), m.group(2)


def problems() -> list[dict]:
    """Reworded maths word problems with the user's own ids: 30 distinct, 3 exact copies,
    3 light rewrites of earlier ones."""
    items = ["Tom has {a} apples and buys {b} more at the market on Sunday morning. How many apples does Tom have now?",
             "A baker made {a} loaves of bread in the morning and {b} loaves in the afternoon. How many loaves did the baker make in total?",
             "Sara reads {a} pages of her book on Monday and {b} pages on Tuesday evening. How many pages has Sara read altogether?"]
    rows = []
    for k in range(30):
        a, b = 3 + 7 * k, 11 + 5 * k
        q = items[k % 3].format(a=a, b=b) + f" (Exercise {k} of chapter {k // 3}.)"
        rows.append({"id": f"u{k}", "question": q, "answer": f"{a} + {b} = {a + b}\n#### {a + b}"})
    rows += [dict(rows[i], id=f"copy{i}") for i in (1, 4, 7)]
    for i in (2, 5, 8):
        rows.append(dict(rows[i], id=f"reword{i}", question=rows[i]["question"].replace("How many", "In all, how many")))
    return rows


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("recipe") / "repo"
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    rel, snippet = readme_recipe()
    (dest / rel).write_text(snippet)
    src = yaml.safe_load(snippet)["sources"][0]
    (dest / src["path"]).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(dest / src["path"], "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in problems())
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "config", "user.email", "t@t"],
                ["git", "config", "user.name", "t"]):
        sh(cmd, dest)
    sh([sys.executable, "-m", "stages.common.compose", f"data={Path(rel).stem}", "model=tiny-random"], dest)
    sh("git add -A && git commit -qm init", dest)
    res = sh(["dvc", "repro", "format"], dest, WANDB_MODE="disabled")
    (dest / "repro.log").write_text(res.stdout + res.stderr)
    return dest


def test_recipe_is_only_what_differs_from_the_factory():
    _, snippet = readme_recipe()
    cfg = yaml.safe_load(snippet)
    assert "defaults" not in cfg and "on_bad_row" not in cfg and "dedup" not in cfg


def test_readme_recipe_runs_the_data_stages(ws):
    metrics = {s: json.loads((ws / f"reports/metrics/{s}.json").read_text())
               for s in ("ingest", "clean", "dedup", "quality", "format")}
    assert metrics["ingest"]["rows_in"] == 36 and metrics["ingest"]["rows_kept"] == 36
    assert metrics["dedup"]["exact_dropped"] == 3          # the three verbatim copies
    assert metrics["dedup"]["near_dropped"] == 3           # the three rewrites
    for stage, m in metrics.items():
        assert m["rows_in"] == m["rows_kept"] + m["rows_rejected"], stage
        assert m["seconds"] >= 0, stage
    sft = pl.read_parquet(ws / "data/format/sft/train.parquet")
    rl = pl.concat([pl.read_parquet(ws / f"data/format/rl/{s}.parquet") for s in ("train", "val")])
    assert sft.height > 20 and rl.height == metrics["format"]["rows_kept"]
    assert set(rl["ground_truth"]) <= {str(3 + 7 * k + 11 + 5 * k) for k in range(30)}


def test_recipe_clusters_name_the_users_ids(ws):
    clusters = pl.read_parquet(ws / "data/dedup/clusters.parquet")
    dup = clusters.filter(pl.col("kind") != "representative")
    assert (dup["similarity"] >= 0.5).all()
    assert sorted(dup["source_id"]) == ["copy1", "copy4", "copy7", "reword2", "reword5", "reword8"]
    by_member = dict(zip(dup["source_id"], dup["kind"]))
    assert by_member["copy1"] == "exact" and by_member["reword2"] == "near"
    rep_of = {r["source_id"]: r["cluster_id"] for r in clusters.iter_rows(named=True)}
    assert rep_of["reword5"] == rep_of["u5"] and rep_of["copy4"] == rep_of["u4"]


def test_metrics_carry_a_few_rejected_rows_per_rule_for_the_report(ws):
    from stages.report.sections import rejected_examples

    m = json.loads((ws / "reports/metrics/dedup.json").read_text())
    ex = m["rejected_examples"]
    assert set(ex) == {"exact_duplicate", "near_duplicate"} and all(1 <= len(v) <= 3 for v in ex.values())
    near = ex["near_duplicate"][0]
    assert near["detail"].startswith("near duplicate of mydata:") and "In all, how many" in near["text"]
    table = rejected_examples({"dedup": m})[0].blocks[0]
    assert [r[1] for r in table.rows].count("near_duplicate") == len(ex["near_duplicate"])
