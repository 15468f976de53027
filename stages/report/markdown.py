"""Document -> GitHub-flavoured markdown. Figures are linked as `figures/<name>.png` beside it.

GitHub strips `data:` image URIs, so the markdown links PNG files the stage writes next to it;
the HTML copy embeds the same bytes.
"""
from __future__ import annotations

import re

from stages.report.document import Cell, Code, Details, Document, Figure, Table, Text, text_of

TONE_MARK = {"good": "🟢 ", "bad": "🔴 "}


def render(doc: Document, figure_dir: str = "figures") -> str:
    lines = [f"# {doc.title}", "", doc.subtitle, ""]
    lines += ["**Contents:** " + " · ".join(f"[{s.title}](#{s.anchor})" for s in doc.sections), ""]
    for section in doc.sections:
        lines += [f"## {section.title}", ""]
        lines += _blocks(section.blocks, figure_dir)
    return "\n".join(lines).rstrip() + "\n"


def _blocks(blocks, figure_dir: str) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Text):
            out += [f"_{b.text}_" if b.note else b.text, ""]
        elif isinstance(b, Table):
            out += table(b) + [""]
        elif isinstance(b, Figure):
            out += [f"![{b.caption}]({figure_dir}/{b.name}.png)", "", f"_{b.caption}_", ""]
        elif isinstance(b, Code):
            fence = fence_for(b.text)
            out += [fence + "text", b.text, fence, ""]
        elif isinstance(b, Details):
            out += [f"<details><summary>{_inline_html(b.summary)}</summary>", ""]
            out += _blocks(b.blocks, figure_dir)
            out += ["</details>", ""]
    return out


def table(t: Table) -> list[str]:
    numeric = t.numeric or [False] * len(t.headers)
    head = "| " + " | ".join(escape_cell(h) for h in t.headers) + " |"
    rule = "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"
    rows = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return [head, rule, *rows]


def _cell(c) -> str:
    text = escape_cell(text_of(c))
    if isinstance(c, Cell):
        if c.tone in TONE_MARK:
            return TONE_MARK[c.tone] + text
        if c.tone == "muted":
            return f"_{text}_"
    return text


def escape_cell(text: str) -> str:
    """A table cell is one line, and `|` would end it."""
    return str(text).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def fence_for(text: str) -> str:
    """A code fence longer than any backtick run inside, so model output cannot break out."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _inline_html(text: str) -> str:
    """<summary> is HTML: GitHub does not render markdown inside it."""
    import html

    s = html.escape(text)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)
