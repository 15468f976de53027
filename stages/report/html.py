"""Document -> one self-contained HTML file (inline CSS, figures as base64 PNG, no network)."""
from __future__ import annotations

import base64
import html
import re

from stages.report.document import Cell, Code, Details, Document, Figure, Table, Text, text_of

CSS = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; --accent:#0969da;
        --good:#1a7f37; --good-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif; color:var(--fg); }
header { background:#24292f; color:#fff; padding:28px 40px 20px; }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:0; color:#c9d1d9; }
nav { padding:10px 40px; background:var(--bg); border-bottom:1px solid var(--line);
      position:sticky; top:0; z-index:1; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; font-size:14px; }
main { max-width:1120px; padding:8px 40px 48px; }
section { margin-top:28px; }
h2 { font-size:20px; border-bottom:1px solid var(--line); padding-bottom:6px; }
table { border-collapse:collapse; margin:10px 0 14px; font-size:14px; }
th, td { border:1px solid var(--line); padding:5px 10px; vertical-align:top; }
th { background:var(--bg); text-align:left; }
tr:nth-child(even) td { background:#fbfcfd; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.good { color:var(--good); background:var(--good-bg) !important; font-weight:600; }
td.bad { color:var(--bad); background:var(--bad-bg) !important; font-weight:600; }
td.muted { color:var(--muted); font-style:italic; }
code { background:rgba(175,184,193,.2); padding:1px 5px; border-radius:4px; font-size:90%; }
pre { background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:10px;
      white-space:pre-wrap; word-break:break-word; font-size:13px; max-height:260px; overflow:auto; }
figure { margin:10px 0 18px; }
figure img { max-width:100%; border:1px solid var(--line); border-radius:6px; }
figcaption, p.note { color:var(--muted); font-size:13px; }
details { border:1px solid var(--line); border-radius:6px; padding:6px 12px; margin:8px 0; }
summary { cursor:pointer; font-weight:600; }
"""


def render(doc: Document) -> str:
    nav = "".join(f'<a href="#{s.anchor}">{_esc(s.title)}</a>' for s in doc.sections)
    body = "\n".join(
        f'<section id="{s.anchor}"><h2>{_esc(s.title)}</h2>\n{_blocks(s.blocks)}</section>'
        for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(doc.title)}</title><style>{CSS}</style></head>\n<body>"
            f"<header><h1>{_esc(doc.title)}</h1><p>{_inline(doc.subtitle)}</p></header>"
            f"<nav>{nav}</nav><main>\n{body}\n</main></body></html>\n")


def _blocks(blocks) -> str:
    parts = []
    for b in blocks:
        if isinstance(b, Text):
            parts.append(f'<p class="note">{_inline(b.text)}</p>' if b.note else f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            parts.append(_table(b))
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode("ascii")
            parts.append(f'<figure><img alt="{_esc(b.caption)}" src="data:image/png;base64,{data}">'
                         f"<figcaption>{_esc(b.caption)}</figcaption></figure>")
        elif isinstance(b, Code):
            parts.append(f"<pre>{_esc(b.text)}</pre>")
        elif isinstance(b, Details):
            parts.append(f"<details><summary>{_inline(b.summary)}</summary>{_blocks(b.blocks)}</details>")
    return "\n".join(parts)


def _table(t: Table) -> str:
    numeric = t.numeric or [False] * len(t.headers)
    head = "".join(f"<th>{_esc(h)}</th>" for h in t.headers)
    rows = []
    for row in t.rows:
        tds = []
        for i, c in enumerate(row):
            classes = [x for x in ("num" if i < len(numeric) and numeric[i] else "",
                                   c.tone if isinstance(c, Cell) and c.tone else "") if x]
            cls = f' class="{" ".join(classes)}"' if classes else ""
            tds.append(f"<td{cls}>{_inline(text_of(c))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _inline(text: str) -> str:
    s = _esc(text)
    s = re.sub(r"`(.+?)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
