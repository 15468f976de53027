"""A tiny document model: sections of paragraphs, tables, figures, code and collapsibles.

The report is built once as this tree and rendered twice (GitHub markdown, self-contained
HTML), so the two files can never disagree about a number.
Inline markup in text is limited to `code` and **bold**, which both renderers understand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass
class Cell:
    """A table cell with an optional tone: `good`/`bad` colour deltas, `muted` greys "not run"."""
    text: str
    tone: str | None = None


@dataclass
class Text:
    text: str
    note: bool = False          # a side remark (rendered smaller / in italics)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Union[str, Cell]]]
    numeric: list[bool] | None = None   # right-align these columns


@dataclass
class Figure:
    name: str                   # file stem for the markdown copy: figures/<name>.png
    png: bytes
    caption: str


@dataclass
class Code:
    text: str


@dataclass
class Details:
    summary: str
    blocks: list["Block"]


Block = Union[Text, Table, Figure, Code, Details]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.title.lower()).strip("-")


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]

    def figures(self) -> list[Figure]:
        out: list[Figure] = []

        def walk(blocks: list[Block]) -> None:
            for b in blocks:
                if isinstance(b, Figure):
                    out.append(b)
                elif isinstance(b, Details):
                    walk(b.blocks)
        for s in self.sections:
            walk(s.blocks)
        return out


def text_of(cell: Union[str, Cell]) -> str:
    return cell.text if isinstance(cell, Cell) else cell
