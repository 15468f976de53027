"""Ingest sources -> canonical rows (docs/architecture.md). One reader per source kind.

A reader yields `(index, record_or_None, raw_text, problem)`: a record it could parse, or the raw
line and the reason it could not, so malformed input becomes a quarantined row, never a crash.
"""
from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from stages.common.registry import Registry
from stages.data.generators import GENERATORS

CANONICAL = ("prompt", "response", "chosen", "rejected", "ground_truth")
READERS: Registry[Callable[[dict], Iterator[tuple]]] = Registry("source kind", "data.sources[].kind")


class SourceError(ValueError):
    """A whole-source problem (missing file, unreadable schema, bad mapping): stops the stage."""


@dataclass
class Ingested:
    rows: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    rows_in: int = 0


def _open_bytes(path: Path) -> bytes:
    if not path.exists():
        raise SourceError(f"{path}: source file not found")
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _format_of(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    fmt = suffixes[-1].lstrip(".") if suffixes else ""
    if fmt not in ("jsonl", "json", "parquet", "csv"):
        raise SourceError(f"{path}: unsupported file type {fmt!r}; use jsonl, json, parquet or csv (optionally .gz)")
    return fmt


def _read_path(path: Path) -> Iterator[tuple]:
    fmt = _format_of(path)
    data = _open_bytes(path)
    if fmt == "jsonl":
        yield from _jsonl_records(data)
    elif fmt == "json":
        try:
            records = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SourceError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(records, list):
            raise SourceError(f"{path}: a .json source must hold a list of records")
        for i, rec in enumerate(records):
            yield i + 1, rec, None, None
    else:
        yield from _table_records(path, data, fmt)


def _jsonl_records(data: bytes) -> Iterator[tuple]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for lineno, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield lineno, None, raw.decode("utf-8", "replace")[:2000], ("invalid_utf8", str(e))
            continue
        if not text.strip():
            yield lineno, None, text, ("empty_line", "blank line")
            continue
        try:
            yield lineno, json.loads(text), text, None
        except json.JSONDecodeError as e:
            yield lineno, None, text[:2000], ("bad_json", f"{e.msg} at column {e.colno}")


def _table_records(path: Path, data: bytes, fmt: str) -> Iterator[tuple]:
    import io as _io

    import polars as pl

    try:
        df = pl.read_parquet(_io.BytesIO(data)) if fmt == "parquet" else \
            pl.read_csv(_io.BytesIO(data), infer_schema=False)
    except Exception as e:
        raise SourceError(f"{path}: unreadable {fmt} ({type(e).__name__}: {e})") from None
    for i, rec in enumerate(df.iter_rows(named=True)):
        yield i + 1, rec, None, None


@READERS.register("file")
def read_file(src: dict) -> Iterator[tuple]:
    return _read_path(Path(src["path"]))


@READERS.register("package")
def read_package(src: dict) -> Iterator[tuple]:
    from stages.common.packages import resolve_package_file

    try:
        path = resolve_package_file(src["path"])
    except FileNotFoundError as e:
        raise SourceError(str(e)) from None
    return _read_path(path)


@READERS.register("hf")
def read_hf(src: dict) -> Iterator[tuple]:
    import datasets

    try:
        ds = datasets.load_dataset(src["path"], name=src.get("config"), split=src.get("split", "train"),
                                   revision=src.get("revision"), data_dir=src.get("data_dir"))
    except Exception as e:
        raise SourceError(f"hf:{src['path']}: could not load ({type(e).__name__}: {e})") from None
    for i, rec in enumerate(ds):
        yield i + 1, rec, None, None


@READERS.register("generator")
def read_generator(src: dict) -> Iterator[tuple]:
    gen = GENERATORS.get(src["generator"])
    for i, rec in enumerate(gen(rows=int(src["rows"]), seed=int(src["seed"]))):
        yield i + 1, rec, None, None
