"""The clean stage's library: validate rows, then apply the ordered rules of the active profile.

`run` is pure (frames in, frames out). A row is rejected by the first filter that fails on any
of its text fields (`rule` = `<rule>/<reason>`, `detail` names the field and the value); the
rejected record is the row as it came in, before any transform.
"""
from __future__ import annotations

import json

import numpy as np
import polars as pl

from stages.common import rejects
from stages.common.params import check_keys
from stages.data import text
from stages.data.schema import TEXT_FIELDS
from stages.data.rules import RULES

STAGE = "clean"


def profile(cfg: dict, kind: str) -> dict:
    """The rules `data.kind` runs, in order, with their thresholds: every rule of
    `data.clean.rules` with its defaults, updated by what `data.clean.profiles.<kind>` lists
    (`rule: null` there turns it off). A rule registered without defaults, an unknown rule or
    threshold, or a missing threshold fails here, naming the key and the valid ones."""
    defaults, profiles = cfg["rules"], cfg["profiles"]
    if kind not in profiles:
        raise KeyError(f"data.kind={kind!r} has no clean profile; valid: {sorted(profiles)}")
    unlisted = [n for n in RULES.names() if n not in defaults]
    if unlisted:
        raise KeyError(f"data.clean.rules: no default thresholds for rule(s) {unlisted} "
                       f"(params/data/profiles/factory.yaml; `name: {{}}` if it has none)")
    for name, kw in defaults.items():
        keys = RULES.get(name).keys
        check_keys(kw, keys, f"data.clean.rules.{name}")
        missing = [k for k in keys if k not in (kw or {})]
        if missing:
            raise KeyError(f"data.clean.rules.{name}: missing threshold(s) {missing} (null turns one off)")
    changes = profiles[kind] or {}
    check_keys(changes, tuple(defaults), f"data.clean.profiles.{kind}")
    for name, kw in changes.items():
        check_keys(kw, RULES.get(name).keys + ("fields",), f"data.clean.profiles.{kind}.{name}")
    return {name: {**(kw or {}), **(changes.get(name) or {})} for name, kw in defaults.items()
            if not (name in changes and changes[name] is None)}


def repeated_ids(ids: pl.Series) -> np.ndarray:
    """(N,) bool: the id appeared in an earlier row (the first row with an id keeps it)."""
    return (ids.is_duplicated() & ~ids.is_first_distinct()).to_numpy()


def validate(df: pl.DataFrame, repeated: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """Malformed rows: no id, repeated id, no source, no text at all -> (reason per row or None).
    `repeated`: `repeated_ids` of the whole input, when `df` is one chunk of it."""
    has_text = pl.any_horizontal([pl.col(f).fill_null("").str.strip_chars().str.len_chars() > 0
                                  for f in TEXT_FIELDS])
    f = df.select(
        no_id=pl.col("id").fill_null("").str.strip_chars() == "",
        no_source=pl.col("source").fill_null("").str.strip_chars() == "",
        no_text=~has_text).with_columns(
        dup_id=pl.Series(repeated_ids(df["id"]) if repeated is None else repeated, dtype=pl.Boolean))
    reasons = [None] * df.height
    for col, why in (("no_text", "empty_text"), ("no_source", "missing_source"),
                     ("dup_id", "duplicate_id"), ("no_id", "missing_id")):
        for i in f[col].arg_true().to_list():
            reasons[i] = why
    return np.array([r is None for r in reasons], dtype=bool), reasons


def run(df: pl.DataFrame, profile: dict, fields: list[str], repeated: np.ndarray | None = None
        ) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Rows -> (kept rows, rejected rows, {rule: counts of what transforms changed}).
    `df` may be one chunk (in the natural order) of a larger input: see `validate`."""
    df = text.sort_rows(df)
    alive, reasons = validate(df, repeated)
    rule_of = [f"malformed/{r}" if r else None for r in reasons]
    detail_of = [f"{r.replace('_', ' ')}" if r else None for r in reasons]
    work = {f: df[f] for f in fields}
    counts: dict[str, dict] = {}
    for name, kw in profile.items():
        kw = dict(kw)
        rule = RULES.get(name)
        for f in [x for x in kw.pop("fields", fields) if x in work]:   # within data.clean.fields
            idx = np.flatnonzero(alive & work[f].is_not_null().to_numpy())
            if len(idx) == 0:
                continue
            res = rule.fn(work[f].gather(idx), **kw)
            if rule.transform:
                work[f] = work[f].clone().scatter(idx, res.text)   # clone: scatter is in place
                add_counts(counts, {name: res.counts})
                continue
            failed = res.reason.is_not_null().to_numpy()
            for j, why, det in zip(idx[failed], res.reason.filter(failed), res.detail.filter(failed)):
                alive[j] = False
                rule_of[j], detail_of[j] = f"{name}/{why}", f"{f}: {det}"
    cleaned = df.with_columns(**work)
    kept = cleaned.filter(pl.Series(alive))
    gone = np.flatnonzero(~alive)
    bad = df[gone]
    rejected = pl.DataFrame({
        "id": bad["id"], "source": bad["source"], "stage": [STAGE] * len(gone),
        "rule": [rule_of[i] for i in gone], "detail": [detail_of[i] for i in gone],
        "record": [json.dumps(r, ensure_ascii=False) for r in bad.iter_rows(named=True)],
    }, schema=rejects.REJECT_SCHEMA)
    return kept, rejected, counts


def add_counts(total: dict, counts: dict) -> dict:
    """Transform counts of one chunk added into the running total (both {rule: {what: n}})."""
    for rule, c in counts.items():
        t = total.setdefault(rule, {})
        for k, v in c.items():
            t[k] = t.get(k, 0) + v
    return total


def pii_counts(counts: dict) -> dict:
    """The per-kind PII matches from the transform counts (for reports/metrics/clean.json)."""
    return {k: v for k, v in counts.get("pii", {}).items() if not k.endswith("_rows")}
