"""Gopher quality and repetition filters (Rae et al. 2021, table A1), as datatrove implements
them, evaluated on a whole batch at once. The statistics come from `tokens` (token and line
counts) and `repeats` (n-gram repetition); `batch` runs the checks.

Each filter returns (reason, detail) Series: reason is null where the text passes, else the
datatrove reason name (e.g. `top_2_gram`); detail gives the measured value and the limit.
Every threshold is a keyword argument where None turns that check off; the values come from
params (`data.clean.rules`).
"""
from __future__ import annotations

import re

import numpy as np
import polars as pl

from stages.data import text
from stages.data.batch import by_subset, first_fail, non_null
from stages.data.repeats import ngram_values
from stages.data.tokens import line_counts, token_counts

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
SEP = "\ue000"   # private-use character: a split marker no real text contains


def quality(s: pl.Series, *, min_doc_words, max_doc_words, min_avg_word_length, max_avg_word_length,
            max_symbol_word_ratio, max_bullet_lines_ratio, max_ellipsis_lines_ratio, min_alpha_words_ratio,
            min_stop_words):
    """datatrove GopherQualityFilter; every threshold None = off (and its counts not taken)."""
    def judge(s: pl.Series):
        t = pl.col("t")
        cols = [s.to_frame("t"), token_counts(s)]
        if max_bullet_lines_ratio is not None or max_ellipsis_lines_ratio is not None:
            cols.append(line_counts(s))
        f = pl.concat(cols, how="horizontal")
        extra = {}
        if max_symbol_word_ratio is not None:
            extra["hashes"] = t.str.count_matches("#", literal=True)
            extra["ellipsis"] = t.str.count_matches("...", literal=True) + t.str.count_matches("…", literal=True)
        if min_stop_words is not None:
            extra["stops"] = pl.sum_horizontal([t.str.contains(rf"\b{re.escape(w)}\b") for w in STOP_WORDS])
        f = f.with_columns(**extra).with_columns(avg=pl.col("word_chars") / pl.col("words"),
                                                 ntok=pl.max_horizontal(pl.col("tokens"), 1))
        c = pl.col
        checks = [
            ("short_doc", lambda: c("words") < (min_doc_words or 0), lambda: c("words"), min_doc_words),
            ("long_doc", lambda: c("words") > (max_doc_words or 0), lambda: c("words"), max_doc_words),
            ("below_avg_word_length", lambda: c("avg") < (min_avg_word_length or 0), lambda: c("avg"),
             min_avg_word_length),
            ("above_avg_word_length", lambda: c("avg") > (max_avg_word_length or 0), lambda: c("avg"),
             max_avg_word_length),
            ("too_many_hashes", lambda: c("hashes") / c("ntok") > (max_symbol_word_ratio or 0),
             lambda: c("hashes") / c("ntok"), max_symbol_word_ratio),
            ("too_many_ellipsis", lambda: c("ellipsis") / c("ntok") > (max_symbol_word_ratio or 0),
             lambda: c("ellipsis") / c("ntok"), max_symbol_word_ratio),
            ("too_many_bullets", lambda: c("bullets") / c("n_lines") > (max_bullet_lines_ratio or 0),
             lambda: c("bullets") / c("n_lines"), max_bullet_lines_ratio),
            ("too_many_end_ellipsis", lambda: c("end_ellipsis") / c("n_lines") > (max_ellipsis_lines_ratio or 0),
             lambda: c("end_ellipsis") / c("n_lines"), max_ellipsis_lines_ratio),
            ("below_alpha_threshold", lambda: c("alpha") / c("ntok") < (min_alpha_words_ratio or 0),
             lambda: c("alpha") / c("ntok"), min_alpha_words_ratio),
            ("not_enough_stop_words", lambda: c("stops") < (min_stop_words or 0), lambda: c("stops"),
             min_stop_words),
        ]
        return first_fail([(n, fail().fill_null(False), v().cast(pl.Float64), lim)
                            for n, fail, v, lim in checks if lim is not None], f)
    return non_null(s, judge)


def _dup_stats(t: pl.Expr, pattern: str, strip: bool):
    """(pieces, duplicated pieces, chars in duplicated pieces) of a text split on `pattern`."""
    base = t.str.strip_chars() if strip else t
    parts = base.str.replace_all(pattern, SEP).str.split(SEP)
    first = pl.element().is_first_distinct()
    dups = parts.list.eval((~first).cast(pl.Int64)).list.sum()
    chars = parts.list.eval(pl.when(first).then(0).otherwise(pl.element().str.len_chars())).list.sum()
    return parts.list.len(), dups, chars


def _piece_stats(s: pl.Series) -> pl.DataFrame:
    t = pl.col("t")
    paras, para_dups, para_chars = _dup_stats(t, r"\n{2,}", strip=True)
    lines, line_dups, line_chars = _dup_stats(t, r"\n+", strip=False)
    return s.to_frame("t").select(paras=paras, para_dups=para_dups, para_chars=para_chars,
                                  lines=lines, line_dups=line_dups, line_chars=line_chars)


def _one_piece(s: pl.Series) -> pl.DataFrame:
    """A text without a newline is one line and one paragraph, never repeated."""
    one, zero = pl.lit(1, pl.Int64), pl.lit(0, pl.Int64)
    return s.to_frame("t").with_columns(paras=one, para_dups=zero, para_chars=zero,
                                        lines=one, line_dups=zero, line_chars=zero).drop("t")


def repetition(s: pl.Series, *, dup_line_frac, dup_para_frac, dup_line_char_frac, dup_para_char_frac,
               top_n_grams, dup_n_grams):
    """datatrove GopherRepetitionFilter; every threshold None = off."""
    def judge(s: pl.Series):
        one = ~s.str.contains("\n", literal=True).to_numpy()
        f = pl.concat([s.to_frame("t").select(L=pl.max_horizontal(pl.col("t").str.len_chars(), 1)),
                       by_subset(s, one, _one_piece, _piece_stats)], how="horizontal")
        values = {}
        asc = text.ascii_mask(s)
        for part in (asc, ~asc):   # the byte scan serves ASCII texts; regexes the rest
            if part.any():
                idx = np.flatnonzero(part)
                sub = s if len(idx) == len(s) else s.gather(idx)
                for k, v in ngram_values(sub, top_n_grams, dup_n_grams).items():
                    values.setdefault(k, np.zeros(len(s)))[idx] = v
        L = f["L"].to_numpy()
        f = f.with_columns(**{k: pl.Series(v / L) for k, v in values.items()})
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
        return first_fail(checks, f)
    return non_null(s, judge)
