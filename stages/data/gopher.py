"""Gopher quality and repetition rules (Rae et al. 2021, table A1), as datatrove implements them,
evaluated on a whole batch at once.

Words are `\\w+` runs and punctuation runs (`TOKEN`), close to NLTK's word_tokenize that datatrove
uses for English. Counts come from polars string kernels; n-gram statistics from the vectorised
hashes of `ngrams`. The one sequential statistic (datatrove's greedy `find_all_duplicate`, which
skips n words after each repeat) runs in Python only for texts that repeat a 5-gram at all: a
text with no repeated 5-gram has no repeated n-gram for any n >= 5, so its value is 0.

Each function returns (reason, detail) Series: reason is null where the text passes, else the
datatrove reason name (e.g. `top_2_gram`); detail gives the measured value and the limit.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import polars as pl

from stages.data import ngrams

TOKEN = r"\w+|[^\w\s]+"
TOKEN_RE = re.compile(TOKEN)
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
SEP = "\ue000"   # private-use character: a split marker no real text contains


def _first_fail(checks: list[tuple[str, pl.Expr, pl.Expr, float | None]], df: pl.DataFrame):
    """checks: (reason, failed expr, value expr, limit) in order; the first failing one wins."""
    reason, detail = pl.lit(None, pl.Utf8), pl.lit(None, pl.Utf8)
    for name, failed, value, limit in reversed(checks):
        reason = pl.when(failed).then(pl.lit(name)).otherwise(reason)
        detail = pl.when(failed).then(pl.format("{} {} (limit {})", pl.lit(name), value.round(3),
                                                pl.lit(str(limit)))).otherwise(detail)
    out = df.select(reason.alias("reason"), detail.alias("detail"))
    return out["reason"], out["detail"]


def quality(s: pl.Series, min_doc_words=50, max_doc_words=100000, min_avg_word_length=3,
            max_avg_word_length=10, max_symbol_word_ratio=0.1, max_bullet_lines_ratio=0.9,
            max_ellipsis_lines_ratio=0.3, min_alpha_words_ratio=0.8, min_stop_words=2,
            stop_words=STOP_WORDS):
    """datatrove GopherQualityFilter; every threshold None = off."""
    t = pl.col("t")
    lines = t.str.split("\n")
    el = pl.element()
    f = pl.DataFrame({"t": s}).with_columns(
        tokens=t.str.count_matches(TOKEN), words=t.str.count_matches(r"\w+"),
        word_chars=t.str.count_matches(r"\w"), alpha=t.str.count_matches(r"\w*\p{L}\w*"),
        hashes=t.str.count_matches("#", literal=True),
        ellipsis=t.str.count_matches("...", literal=True) + t.str.count_matches("…", literal=True),
        n_lines=lines.list.len(),
        bullets=lines.list.eval(el.str.strip_chars_start().str.starts_with("•")
                                | el.str.strip_chars_start().str.starts_with("-")).list.sum(),
        end_ellipsis=lines.list.eval(el.str.strip_chars_end().str.ends_with("...")
                                     | el.str.strip_chars_end().str.ends_with("…")).list.sum(),
        stops=pl.sum_horizontal([t.str.contains(rf"\b{re.escape(w)}\b") for w in stop_words])
        if stop_words else pl.lit(0),
    ).with_columns(avg=pl.col("word_chars") / pl.col("words"),
                   ntok=pl.max_horizontal(pl.col("tokens"), 1))
    c = pl.col
    checks = [
        ("short_doc", c("words") < (min_doc_words or 0), c("words"), min_doc_words),
        ("long_doc", c("words") > (max_doc_words or 0), c("words"), max_doc_words),
        ("below_avg_word_length", c("avg") < (min_avg_word_length or 0), c("avg"), min_avg_word_length),
        ("above_avg_word_length", c("avg") > (max_avg_word_length or 0), c("avg"), max_avg_word_length),
        ("too_many_hashes", c("hashes") / c("ntok") > (max_symbol_word_ratio or 0), c("hashes") / c("ntok"),
         max_symbol_word_ratio),
        ("too_many_ellipsis", c("ellipsis") / c("ntok") > (max_symbol_word_ratio or 0),
         c("ellipsis") / c("ntok"), max_symbol_word_ratio),
        ("too_many_bullets", c("bullets") / c("n_lines") > (max_bullet_lines_ratio or 0),
         c("bullets") / c("n_lines"), max_bullet_lines_ratio),
        ("too_many_end_ellipsis", c("end_ellipsis") / c("n_lines") > (max_ellipsis_lines_ratio or 0),
         c("end_ellipsis") / c("n_lines"), max_ellipsis_lines_ratio),
        ("below_alpha_threshold", c("alpha") / c("ntok") < (min_alpha_words_ratio or 0),
         c("alpha") / c("ntok"), min_alpha_words_ratio),
        ("not_enough_stop_words", c("stops") < (min_stop_words or 0), c("stops"), min_stop_words),
    ]
    checks = [(n, fail.fill_null(False), v.cast(pl.Float64), lim) for n, fail, v, lim in checks if lim is not None]
    return _first_fail(checks, f)


def _dup_stats(t: pl.Expr, pattern: str, strip: bool):
    """(pieces, duplicated pieces, chars in duplicated pieces) of a text split on `pattern`."""
    base = t.str.strip_chars() if strip else t
    parts = base.str.replace_all(pattern, SEP).str.split(SEP)
    first = pl.element().is_first_distinct()
    dups = parts.list.eval((~first).cast(pl.Int64)).list.sum()
    chars = parts.list.eval(pl.when(first).then(0).otherwise(pl.element().str.len_chars())).list.sum()
    return parts.list.len(), dups, chars


def _token_table(s: pl.Series):
    """Token hashes (T,), token char lengths (T,), doc index (T,), tokens per text (D,)."""
    lists = s.str.extract_all(TOKEN)
    counts = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls()
    h = flat.hash(seed=0).to_numpy().astype(np.uint64) if flat.len() else np.zeros(0, np.uint64)
    ln = flat.str.len_chars().to_numpy().astype(np.int64) if flat.len() else np.zeros(0, np.int64)
    return h, ln, np.repeat(np.arange(len(counts), dtype=np.int64), counts), counts


def top_ngram_chars(h, ln, doc, counts, n: int, n_docs: int) -> np.ndarray:
    """datatrove find_top_duplicate per text: chars of " ".join(top n-gram) x its count
    (ties: the n-gram seen first); 0 for texts with fewer than n tokens."""
    g = ngrams.ngrams(h, doc, counts, n, short=False)
    out = np.zeros(n_docs)
    if len(g.hashes) == 0:
        return out
    cum = np.concatenate([[0], np.cumsum(ln)])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    glen = cum[starts[g.doc] + g.pos + n] - cum[starts[g.doc] + g.pos] + (n - 1)
    t = pl.DataFrame({"d": g.doc, "k": g.hashes, "p": g.pos, "l": glen})
    top = (t.group_by("d", "k").agg(c=pl.len(), p=pl.col("p").min(), l=pl.col("l").first())
           .sort(["d", "c", "p"], descending=[False, True, False])
           .group_by("d", maintain_order=True).first())
    out[top["d"].to_numpy()] = (top["c"] * top["l"]).to_numpy()
    return out


def repeats_5gram(h, doc, counts, n_docs: int) -> np.ndarray:
    """Which texts repeat any 5-gram (the only ones whose dup-n-gram fractions can be > 0)."""
    g = ngrams.ngrams(h, doc, counts, 5, short=False)
    out = np.zeros(n_docs, bool)
    if len(g.hashes):
        key = pl.DataFrame({"d": g.doc, "k": g.hashes})
        rep = ~key.is_unique().to_numpy()
        out[g.doc[rep]] = True
    return out


def find_all_duplicate(words: list[str], n: int) -> int:
    """datatrove's greedy count of characters in repeated n-grams (a repeat skips n words)."""
    unique, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx:idx + n])
        if gram in unique:
            repeated += len(gram)
            idx += n
        else:
            unique.add(gram)
            idx += 1
    return repeated


def repetition(s: pl.Series, dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2,
               dup_para_char_frac=0.2, top_n_grams=((2, 0.2), (3, 0.18), (4, 0.16)),
               dup_n_grams=((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))):
    """datatrove GopherRepetitionFilter; every threshold None = off."""
    t = pl.col("t")
    paras, para_dups, para_chars = _dup_stats(t, r"\n{2,}", strip=True)
    lines, line_dups, line_chars = _dup_stats(t, r"\n+", strip=False)
    f = pl.DataFrame({"t": s}).with_columns(
        L=pl.max_horizontal(t.str.len_chars(), 1), paras=paras, para_dups=para_dups,
        para_chars=para_chars, lines=lines, line_dups=line_dups, line_chars=line_chars)
    h, ln, doc, counts = _token_table(s)
    extra = {}
    for n, _ in (top_n_grams or ()):
        extra[f"top_{n}"] = top_ngram_chars(h, ln, doc, counts, n, len(s)) / f["L"].to_numpy()
    if dup_n_grams:
        flagged = np.flatnonzero(repeats_5gram(h, doc, counts, len(s)))
        for n, _ in dup_n_grams:
            extra[f"dup_{n}"] = np.zeros(len(s))
        for i in flagged:
            words = TOKEN_RE.findall(s[int(i)])
            for n, _ in dup_n_grams:
                extra[f"dup_{n}"][i] = find_all_duplicate(words, n) / max(len(s[int(i)]), 1)
    f = f.with_columns(**{k: pl.Series(v) for k, v in extra.items()})
    c = pl.col
    checks = [
        ("dup_para_frac", c("para_dups") / c("paras") > (dup_para_frac or 0), c("para_dups") / c("paras"),
         dup_para_frac),
        ("dup_para_char_frac", c("para_chars") / c("L") > (dup_para_char_frac or 0),
         c("para_chars") / c("L"), dup_para_char_frac),
        ("dup_line_frac", c("line_dups") / c("lines") > (dup_line_frac or 0), c("line_dups") / c("lines"),
         dup_line_frac),
        ("dup_line_char_frac", c("line_chars") / c("L") > (dup_line_char_frac or 0),
         c("line_chars") / c("L"), dup_line_char_frac),
    ]
    checks += [(f"top_{n}_gram", c(f"top_{n}") > frac, c(f"top_{n}"), frac) for n, frac in (top_n_grams or ())]
    checks += [(f"duplicated_{n}_n_grams", c(f"dup_{n}") > frac, c(f"dup_{n}"), frac)
               for n, frac in (dup_n_grams or ())]
    checks = [(n, fail.fill_null(False), v.cast(pl.Float64), lim) for n, fail, v, lim in checks if lim is not None]
    return _first_fail(checks, f)


def reference_repetition_values(text: str, n: int) -> tuple[int, int]:
    """Plain-Python (top n-gram chars, greedy dup chars) of one text: the oracle tests compare to."""
    words = TOKEN_RE.findall(text)
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    top = 0
    if grams:
        gram, count = Counter(grams).most_common(1)[0]
        top = len(gram) * count
    return top, find_all_duplicate(words, n)
