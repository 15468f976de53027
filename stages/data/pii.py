"""PII redaction: e-mail addresses, phone numbers, IP addresses and API-key-like tokens.

Each kind is a regex (Rust regex via polars, so a batch is one pass) and a placeholder; the
counts per kind go to reports/metrics/clean.json. API keys are the known vendor prefixes plus
generic tokens (a run of >= 32 letters and digits, at least one of each); the generic check
needs a digit-and-letter test the Rust engine cannot express in one pattern, so it runs in
Python on the few candidate tokens only.
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl

PATTERNS = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "ip": r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
          r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b",
    "phone": r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.\-])\d{3}[\s.\-]\d{4}\b",
    "api_key": r"\b(?:sk-(?:proj-)?[A-Za-z0-9_\-]{20,}|ghp_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{40,}"
               r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|xox[abprs]-[A-Za-z0-9\-]{10,}"
               r"|hf_[A-Za-z0-9]{30,})",
}
GENERIC_KEY = r"\b[A-Za-z0-9]{32,}\b"   # a 32+ letter-digit run (URL slugs have separators)
PLACEHOLDER = {"email": "<EMAIL>", "ip": "<IP_ADDRESS>", "phone": "<PHONE>", "api_key": "<API_KEY>"}
_GENERIC_RE = re.compile(GENERIC_KEY)


def _is_key(token: str) -> bool:
    return any(c.isdigit() for c in token) and any(c.isalpha() for c in token)


def _generic(text: str | None) -> tuple[str | None, int]:
    if text is None:
        return None, 0
    n = 0

    def sub(m: re.Match) -> str:
        nonlocal n
        if _is_key(m.group(0)):
            n += 1
            return PLACEHOLDER["api_key"]
        return m.group(0)
    return _GENERIC_RE.sub(sub, text), n


def redact(s: pl.Series, kinds, generic_keys: bool):
    """(redacted Series, {kind: matches}, {kind: rows touched}). Order: e-mail first, so the
    digits of an address are not read as a phone number."""
    bad = sorted(set(kinds) - set(PATTERNS))
    if bad:
        raise ValueError(f"data.clean pii.kinds: unknown {bad}; valid: {sorted(PATTERNS)}")
    counts, rows = {k: 0 for k in kinds}, {k: 0 for k in kinds}
    generic = generic_keys and "api_key" in kinds
    any_kind = "|".join([f"(?:{PATTERNS[k]})" for k in kinds] + ([GENERIC_KEY] if generic else []))
    cand = np.flatnonzero(s.str.contains(any_kind).fill_null(False).to_numpy()) if kinds else []
    if len(cand) == 0:          # one pass over all texts; the per-kind passes only where it hit
        return s, counts, rows
    whole, s = s, s.gather(cand)
    for kind in kinds:
        n = s.str.count_matches(PATTERNS[kind]).fill_null(0)
        counts[kind], rows[kind] = int(n.sum()), int((n > 0).sum())
        if counts[kind]:
            s = s.str.replace_all(PATTERNS[kind], PLACEHOLDER[kind])
    if generic:
        hit = s.str.contains(GENERIC_KEY).fill_null(False)
        if hit.any():
            idx = hit.arg_true().to_list()
            fixed = [_generic(s[i]) for i in idx]
            s = s.clone().scatter(idx, [t for t, _ in fixed])
            counts["api_key"] += sum(k for _, k in fixed)
            rows["api_key"] += sum(1 for _, k in fixed if k)
    return whole.clone().scatter(cand, s), counts, rows
