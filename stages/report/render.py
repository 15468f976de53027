"""Write the rendered report: markdown + its figure PNGs, self-contained HTML, the eval table.

Each file is written atomically; the figure folder is replaced whole, so a figure dropped from
the report does not linger beside the markdown that no longer links it.
"""
from __future__ import annotations

from pathlib import Path

from stages.common import io
from stages.report import html, markdown
from stages.report.document import Document

FIGURE_DIR = "figures"


def write(doc: Document, out_dir: Path, eval_rows: list[dict]) -> dict[str, Path]:
    out_dir = Path(out_dir)
    paths = {"md": out_dir / "report.md", "html": out_dir / "report.html",
             "figures": out_dir / FIGURE_DIR, "eval_table": out_dir / "eval_table.json"}
    with io.atomic_path(paths["figures"], is_dir=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        for fig in doc.figures():
            (tmp / f"{fig.name}.png").write_bytes(fig.png)
    io.write_text(markdown.render(doc, FIGURE_DIR), paths["md"])
    io.write_text(html.render(doc), paths["html"])
    io.write_json(eval_rows, paths["eval_table"])
    return paths
