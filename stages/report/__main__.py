"""Report stage: every metric, curve and sample of one run in reports/report.{md,html}.

    python -m stages.report          # dvc repro report; dvc exp run -S report.samples_per_cell=5

Lives in `__main__.py` because `stages/report/` is the package; a sibling `stages/report.py`
would be shadowed by it. Its own metrics and resolved params go to ${paths.report}/
report_metrics.json and report_config.json: not into ${paths.metrics}, which it reads whole.
"""
from __future__ import annotations

from stages.common import cli, stagerun
from stages.report import collect, evaltable, render, sections

# `report:` keys: what main() below reads, and the merge gate (stages/report/gate.py)
KEYS = {"samples_per_cell": None, "title": None, "alpha": None, "gate": ("metric", "min_delta")}
METRICS_FILE, CONFIG_FILE = "report_metrics.json", "report_config.json"


def main() -> None:
    with stagerun.stage("report", {"report": KEYS}, out="report", config_file=CONFIG_FILE,
                        metrics=f"report/{METRICS_FILE}") as st:
        opts = st.params["report"]
        inputs = collect.gather(collect.Paths.from_params(st.cfg.paths))
        doc = sections.build(inputs, opts["title"], opts["samples_per_cell"], float(opts["alpha"]))
        rows = evaltable.flat_rows(inputs.eval_cells)
        out = render.write(doc, st.path("report"), rows)
        st.metrics = {"eval_rows": len(rows), "curves": len(inputs.curves), "sections": len(doc.sections)}
    print(f"report: wrote {out['md']}, {out['html']} ({len(rows)} eval rows, {len(inputs.curves)} curves)")


if __name__ == "__main__":
    cli.run(main, "report")
