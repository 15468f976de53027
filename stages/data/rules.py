"""Clean rules: each takes one text column (a polars Series) and its keyword thresholds.

A transform returns the rewritten text (and counts of what it changed); a filter returns a
per-row reason (null = keep) and detail. Every threshold is a keyword-only argument, without a
default, where None turns that check off. A new rule is one function with
`@rule("name", transform=...)` and one line of default thresholds in `data.clean.rules`
(params/data/profiles/factory.yaml), which also gives the order rules run in; every profile then
runs it (params/data/profiles/clean.yaml lists only what a profile changes).
"""
from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from stages.common.registry import Registry
from stages.data import gopher, pii, text
from stages.data.batch import first_fail
from stages.data.tokens import token_counts


@dataclass
class Result:
    text: pl.Series | None = None          # transforms: the new text
    reason: pl.Series | None = None        # filters: null where kept, else a short reason
    detail: pl.Series | None = None        # filters: measured value and limit
    counts: dict = field(default_factory=dict)   # transforms: what changed (e.g. PII per kind)


@dataclass
class Rule:
    fn: Callable[..., Result]
    transform: bool

    @property
    def keys(self) -> tuple[str, ...]:
        """Its thresholds: the keyword-only arguments (params must give every one)."""
        return tuple(n for n, p in inspect.signature(self.fn).parameters.items() if p.kind == p.KEYWORD_ONLY)


RULES: Registry[Rule] = Registry("clean rule", "data.clean.rules")


def rule(name: str, transform: bool):
    def deco(fn):
        RULES.register(name)(Rule(fn, transform))
        return fn
    return deco


def _changed(old: pl.Series, new: pl.Series) -> int:
    return int((old.fill_null("") != new.fill_null("")).sum())


@rule("fix_encoding", transform=True)
def fix_encoding(s: pl.Series, *, normalization: str | None) -> Result:
    """Repair mojibake with ftfy (only texts with non-ASCII bytes can hold any), then Unicode
    normal form (NFKC folds compatibility characters: full-width digits, ligatures)."""
    new = s
    odd = np.flatnonzero(~text.ascii_mask(s) & s.is_not_null().to_numpy())
    if len(odd):
        import ftfy

        new = s.clone().scatter(odd, [ftfy.fix_text(s[int(i)], normalization=None) for i in odd])
        if normalization:   # ASCII is in every normal form: only the other texts can change
            odd = np.flatnonzero(~text.ascii_mask(new) & new.is_not_null().to_numpy())
            if len(odd):
                new = new.scatter(odd, new.gather(odd).str.normalize(normalization))
    return Result(text=new, counts={"rows_changed": _changed(s, new)})


@rule("strip_control", transform=True)
def strip_control(s: pl.Series) -> Result:
    """Drop control and zero-width characters; CRLF/CR become LF; tabs stay."""
    new = (s.str.replace_all("\r\n", "\n", literal=True).str.replace_all("\r", "\n", literal=True)
           .str.replace_all(r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\u200B-\u200D\u2060\uFEFF]", ""))
    return Result(text=new, counts={"rows_changed": _changed(s, new)})


HTML_TAGS = ("a|abbr|b|blockquote|body|br|center|code|div|em|font|h[1-6]|head|hr|html|i|img|li|meta"
             "|ol|p|pre|small|span|strong|sub|sup|table|tbody|td|th|thead|title|tr|u|ul")

HTML_ATTRS = r"""(?:\s+[\w:.\-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))*"""   # name=value only


@rule("strip_html", transform=True)
def strip_html(s: pl.Series) -> Result:
    """Remove script/style blocks, comments and known HTML tags (a named allowlist, so `a<b` in
    maths or code survives; attributes must have values, so `a<b and c>d` is not a tag), then
    unescape entities (`&amp;` -> `&`). Only texts with a `<` or `&` can change: the patterns
    run on those alone."""
    some = np.flatnonzero((s.str.contains("<", literal=True) | s.str.contains("&", literal=True))
                          .fill_null(False).to_numpy())
    if len(some) == 0:
        return Result(text=s, counts={"rows_changed": 0})
    sub = s.gather(some)
    new = (sub.str.replace_all(r"(?is)<(script|style)\b.*?</(script|style)>", "")
           .str.replace_all(r"(?s)<!--.*?-->", "")
           .str.replace_all(rf"(?i)</?(?:{HTML_TAGS}){HTML_ATTRS}\s*/?>", " "))
    has_entity = new.str.contains(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);").fill_null(False)
    if has_entity.any():
        idx = has_entity.arg_true().to_list()
        new = new.clone().scatter(idx, [html.unescape(new[i]) for i in idx])
    return Result(text=s.clone().scatter(some, new), counts={"rows_changed": _changed(sub, new)})


@rule("collapse_whitespace", transform=True)
def collapse_whitespace(s: pl.Series, *, max_newlines: int) -> Result:
    """Runs of spaces/tabs -> one space, no trailing spaces on a line, at most `max_newlines`
    consecutive newlines, no leading/trailing whitespace."""
    other = r"\t\u00A0\u2000-\u200A\u3000"   # blanks besides " "; a lone " " is left as it is
    new = (s.str.replace_all(rf"[ {other}]{{2,}}|[{other}]", " ")
           .str.replace_all(r" \n ?|\n ", "\n")
           .str.replace_all(r"\n{%d,}" % (max_newlines + 1), "\n" * max_newlines)
           .str.strip_chars())
    return Result(text=new, counts={"rows_changed": _changed(s, new)})


@rule("pii", transform=True)
def pii_redact(s: pl.Series, *, kinds: list[str], generic_keys: bool) -> Result:
    new, counts, rows = pii.redact(s, tuple(kinds), generic_keys)
    return Result(text=new, counts={**{f"{k}": v for k, v in counts.items()},
                                    **{f"{k}_rows": v for k, v in rows.items()}})


def _bounds(value: pl.Expr, lo, hi, name: str, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    checks = []
    if lo is not None:
        checks.append((f"too_few_{name}", value < lo, value, lo))
    if hi is not None:
        checks.append((f"too_many_{name}", value > hi, value, hi))
    return first_fail([(n, f.fill_null(False), v.cast(pl.Float64), l) for n, f, v, l in checks], frame)


@rule("length", transform=False)
def length(s: pl.Series, *, min_chars, max_chars, min_words, max_words) -> Result:
    """Bounds on characters and on whitespace-separated words."""
    f = pl.DataFrame({"t": s})
    if min_words is not None or max_words is not None:
        f = f.with_columns(runs=token_counts(s)["runs"])   # `\S+` runs
    r1, d1 = _bounds(pl.col("t").str.len_chars(), min_chars, max_chars, "chars", f)
    r2, d2 = _bounds(pl.col("runs"), min_words, max_words, "words", f)
    return Result(reason=r1.fill_null(r2), detail=d1.fill_null(d2))


@rule("replacement_chars", transform=False)
def replacement_chars(s: pl.Series, *, max_count: int | None) -> Result:
    """U+FFFD marks bytes that were not valid UTF-8 when the source was decoded."""
    f = pl.DataFrame({"n": s.str.count_matches("\ufffd", literal=True)})
    reason, detail = first_fail(
        [] if max_count is None else
        [("invalid_utf8", (pl.col("n") > max_count).fill_null(False), pl.col("n").cast(pl.Float64), max_count)], f)
    return Result(reason=reason, detail=detail)


@rule("gopher_quality", transform=False)
def gopher_quality(s: pl.Series, *, min_doc_words, max_doc_words, min_avg_word_length, max_avg_word_length,
                   max_symbol_word_ratio, max_bullet_lines_ratio, max_ellipsis_lines_ratio,
                   min_alpha_words_ratio, min_stop_words) -> Result:
    thresholds = {k: v for k, v in locals().items() if k != "s"}   # the keyword arguments above
    reason, detail = gopher.quality(s, **thresholds)
    return Result(reason=reason, detail=detail)


@rule("gopher_repetition", transform=False)
def gopher_repetition(s: pl.Series, *, dup_line_frac, dup_para_frac, dup_line_char_frac, dup_para_char_frac,
                      top_n_grams, dup_n_grams) -> Result:
    """`top_n_grams` / `dup_n_grams` come from params as {n: fraction} maps (fraction null: off)."""
    top = tuple((int(n), float(f)) for n, f in (top_n_grams or {}).items() if f is not None)
    dup = tuple((int(n), float(f)) for n, f in (dup_n_grams or {}).items() if f is not None)
    reason, detail = gopher.repetition(s, top_n_grams=top, dup_n_grams=dup, dup_line_frac=dup_line_frac,
                                       dup_para_frac=dup_para_frac, dup_line_char_frac=dup_line_char_frac,
                                       dup_para_char_frac=dup_para_char_frac)
    return Result(reason=reason, detail=detail)
