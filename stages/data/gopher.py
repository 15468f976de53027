"""Gopher quality and repetition rules (Rae et al. 2021, table A1), as datatrove implements them,
evaluated on a whole batch at once.

Words are `\\w+` runs and punctuation runs (`TOKEN`), close to NLTK's word_tokenize that datatrove
uses for English. Token counts of ASCII texts come from one byte scan of the batch (`scan`), of
other texts from polars regexes; line and paragraph statistics from polars string kernels (only
for texts that have a newline); n-gram statistics from the vectorised hashes of `ngrams`, grouped
by sorting one 64-bit key per n-gram. The one sequential statistic (datatrove's greedy `find_all_duplicate`, which
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

from stages.data import ngrams, scan, text

TOKEN = r"\w+|[^\w\s]+"
TOKEN_RE = re.compile(TOKEN)
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
SEP = "\ue000"   # private-use character: a split marker no real text contains


def _first_fail(checks: list[tuple[str, pl.Expr, pl.Expr, float | None]], df: pl.DataFrame):
    """checks: (reason, failed expr, value expr, limit) in order; the first failing one wins.
    The detail text is formatted only for the rows that fail (most rows pass)."""
    reason = pl.Series("reason", [None] * df.height, dtype=pl.Utf8)
    detail = pl.Series("detail", [None] * df.height, dtype=pl.Utf8)
    if not checks or df.height == 0:
        return reason, detail
    failed = df.select([f.alias(str(i)) for i, (_, f, _, _) in enumerate(checks)]).to_numpy()
    hit = failed.any(axis=1)
    first = failed.argmax(axis=1)
    for i, (name, _, value, limit) in enumerate(checks):
        rows = np.flatnonzero(hit & (first == i))
        if len(rows):
            text_ = df[rows].select(pl.format("{} {} (limit {})", pl.lit(name), value.round(3),
                                              pl.lit(str(limit)))).to_series()
            reason.scatter(rows, name)
            detail.scatter(rows, text_)
    return reason, detail


ROWS_PER_PASS = 20000   # texts judged at once: bounds the byte-scan and n-gram arrays


def _non_null(s: pl.Series, judge):
    """judge(texts without nulls) -> (reason, detail), ROWS_PER_PASS texts at a time; a null
    text passes (nothing to judge)."""
    if len(s) > ROWS_PER_PASS:
        parts = [_non_null(s.slice(lo, ROWS_PER_PASS), judge) for lo in range(0, len(s), ROWS_PER_PASS)]
        return pl.concat([r for r, _ in parts]), pl.concat([d for _, d in parts])
    ok = s.is_not_null().to_numpy()
    if ok.all():
        return judge(s)
    reason = pl.Series("reason", [None] * len(s), dtype=pl.Utf8)
    detail = pl.Series("detail", [None] * len(s), dtype=pl.Utf8)
    if ok.any():
        r, d = judge(s.filter(pl.Series(ok)))
        idx = np.flatnonzero(ok)
        reason.scatter(idx, r)
        detail.scatter(idx, d)
    return reason, detail


def _by_subset(s: pl.Series, mask: np.ndarray, fast, slow) -> pl.DataFrame:
    """fast(s[mask]) and slow(s[~mask]), frames with the same columns, back in row order."""
    if mask.all():
        return fast(s)
    if not mask.any():
        return slow(s)
    idx = np.arange(len(s))
    a = fast(s.filter(pl.Series(mask))).with_columns(_i=pl.Series(idx[mask]))
    b = slow(s.filter(pl.Series(~mask))).with_columns(_i=pl.Series(idx[~mask]))
    return pl.concat([a, b], how="vertical_relaxed").sort("_i").drop("_i")


def _scan_counts(s: pl.Series) -> pl.DataFrame:
    if len(s) > ROWS_PER_PASS:
        return pl.concat([_scan_counts(s.slice(lo, ROWS_PER_PASS)) for lo in range(0, len(s), ROWS_PER_PASS)])
    t = scan.tokens(s)
    return pl.DataFrame({"tokens": t.counts, "words": t.per_text(t.word),
                         "word_chars": t.per_text(np.where(t.word, t.end - t.start, 0)),
                         "alpha": t.per_text(t.alpha), "runs": t.per_text(t.after_space)})


def _regex_counts(s: pl.Series) -> pl.DataFrame:
    t = pl.col("t")
    return s.to_frame("t").select(
        tokens=t.str.count_matches(TOKEN), words=t.str.count_matches(r"\w+"),
        word_chars=t.str.count_matches(r"\w"), alpha=t.str.count_matches(r"\w*\p{L}\w*"),
        runs=t.str.count_matches(r"\S+")).cast(pl.Int64)


def token_counts(s: pl.Series) -> pl.DataFrame:
    """Per text: tokens (`TOKEN` matches), words (`\\w+`), word_chars (`\\w`), alpha (`\\w+`
    with a letter) and runs (`\\S+`); byte scan for ASCII texts, regexes for the others."""
    return _by_subset(s, text.ascii_mask(s), _scan_counts, _regex_counts)


def _one_line(s: pl.Series) -> pl.DataFrame:
    t = pl.col("t")
    head, tail = t.str.strip_chars_start(), t.str.strip_chars_end()
    return s.to_frame("t").select(
        n_lines=pl.lit(1, pl.Int64),
        bullets=(head.str.starts_with("•") | head.str.starts_with("-")).cast(pl.Int64),
        end_ellipsis=(tail.str.ends_with("...") | tail.str.ends_with("…")).cast(pl.Int64))


def _lines(s: pl.Series) -> pl.DataFrame:
    lines, el = pl.col("t").str.split("\n"), pl.element()
    return s.to_frame("t").select(
        n_lines=lines.list.len(),
        bullets=lines.list.eval(el.str.strip_chars_start().str.starts_with("•")
                                | el.str.strip_chars_start().str.starts_with("-")).list.sum(),
        end_ellipsis=lines.list.eval(el.str.strip_chars_end().str.ends_with("...")
                                     | el.str.strip_chars_end().str.ends_with("…")).list.sum())


def line_counts(s: pl.Series) -> pl.DataFrame:
    """Per text: lines, lines starting with a bullet, lines ending with an ellipsis."""
    one = ~s.str.contains("\n", literal=True).fill_null(True).to_numpy()
    return _by_subset(s, one, _one_line, _lines)


def quality(s: pl.Series, min_doc_words=50, max_doc_words=100000, min_avg_word_length=3,
            max_avg_word_length=10, max_symbol_word_ratio=0.1, max_bullet_lines_ratio=0.9,
            max_ellipsis_lines_ratio=0.3, min_alpha_words_ratio=0.8, min_stop_words=2,
            stop_words=STOP_WORDS):
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
            extra["stops"] = (pl.sum_horizontal([t.str.contains(rf"\b{re.escape(w)}\b") for w in stop_words])
                              if stop_words else pl.lit(0))
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
        return _first_fail([(n, fail().fill_null(False), v().cast(pl.Float64), lim)
                            for n, fail, v, lim in checks if lim is not None], f)
    return _non_null(s, judge)


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


def _token_table(s: pl.Series):
    """Token hashes (T,), token char lengths (T,), doc index (T,), tokens per text (D,) of
    non-null texts: a byte scan when every text is ASCII, else `str.extract_all(TOKEN)`."""
    if len(s) and text.ascii_mask(s).all():
        t = scan.tokens(s)
        return t.hashes(), (t.end - t.start).astype(np.int64), t.doc(), t.counts
    lists = s.str.extract_all(TOKEN)
    counts = lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = lists.explode().drop_nulls()
    h = flat.hash(seed=0).to_numpy().astype(np.uint64) if flat.len() else np.zeros(0, np.uint64)
    ln = flat.str.len_chars().to_numpy().astype(np.int64) if flat.len() else np.zeros(0, np.int64)
    return h, ln, np.repeat(np.arange(len(counts), dtype=np.int64), counts), counts


def _doc_hash_order(doc: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Indices sorting (doc, hash) pairs, equal pairs in their original order. One 64-bit key
    (doc in the high bits, the hash's top bits below) sorts fast; if two different hashes of a
    text share a key the exact (slower) two-key sort is used instead."""
    bits = np.uint64(max(1, int(doc.max()).bit_length()))
    key = (doc.astype(np.uint64) << (np.uint64(64) - bits)) | (h >> bits)
    order = np.argsort(key, kind="stable")
    k, hh = key[order], h[order]
    if np.any((k[1:] == k[:-1]) & (hh[1:] != hh[:-1])):
        order = np.lexsort((h, doc))
    return order


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
    order = _doc_hash_order(g.doc, g.hashes)
    d, k = g.doc[order], g.hashes[order]
    first = np.flatnonzero(np.r_[True, (d[1:] != d[:-1]) | (k[1:] != k[:-1])])   # one per distinct gram
    count = np.diff(np.r_[first, len(order)])
    rdoc, rpos, rlen = d[first], g.pos[order[first]], glen[order[first]]   # first = earliest position
    dstart = np.flatnonzero(np.r_[True, rdoc[1:] != rdoc[:-1]])
    per = np.diff(np.r_[dstart, len(rdoc)])
    top = count == np.repeat(np.maximum.reduceat(count, dstart), per)      # grams with the top count
    pos = np.where(top, rpos, np.iinfo(np.int64).max)
    pick = top & (rpos == np.repeat(np.minimum.reduceat(pos, dstart), per))   # the earliest of them
    out[rdoc[pick]] = count[pick] * rlen[pick]
    return out


def repeats_5gram(h, doc, counts, n_docs: int) -> np.ndarray:
    """Which texts may repeat a 5-gram (the only ones whose dup-n-gram fractions can be > 0):
    never misses one; a text flagged by a clash of truncated hashes simply counts 0 later."""
    full = ngrams.rolling(h, 5)
    within = doc[4:] == doc[:len(full)]      # windows inside one text
    gram, gdoc = full[within], doc[:len(full)][within]
    out = np.zeros(n_docs, bool)
    if len(gram):
        bits = np.uint64(max(1, int(gdoc[-1]).bit_length()))
        key = np.sort((gdoc.view(np.uint64) << (np.uint64(64) - bits)) | (gram >> bits))
        same = key[1:] == key[:-1]
        out[(key[1:][same] >> (np.uint64(64) - bits)).astype(np.int64)] = True
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


def _ngram_values(s: pl.Series, top_n_grams, dup_n_grams) -> dict[str, np.ndarray]:
    """Top n-gram chars and greedy duplicate n-gram chars per text (not yet divided)."""
    out = {}
    if not (top_n_grams or dup_n_grams) or len(s) == 0:
        return out
    if top_n_grams:
        h, ln, doc, counts = _token_table(s)
        for n, _ in top_n_grams:
            out[f"top_{n}"] = top_ngram_chars(h, ln, doc, counts, n, len(s))
        repeats = repeats_5gram(h, doc, counts, len(s)) if dup_n_grams else None
    elif dup_n_grams:
        repeats = _repeats(s)
    for n, _ in (dup_n_grams or ()):
        out[f"dup_{n}"] = np.zeros(len(s))
    for i in np.flatnonzero(repeats) if dup_n_grams else ():
        words = TOKEN_RE.findall(s[int(i)])
        for n, _ in dup_n_grams:
            out[f"dup_{n}"][i] = find_all_duplicate(words, n)
    return out


def _repeats(s: pl.Series) -> np.ndarray:
    """`repeats_5gram` of texts, hashing token strings only where it may matter: a text that
    repeats a 5-gram of tokens repeats a 5-gram of cheap token features (length, first and last
    byte) too, so ASCII texts without the latter are cleared by the byte scan alone."""
    if not text.ascii_mask(s).all():
        h, _, doc, counts = _token_table(s)
        return repeats_5gram(h, doc, counts, len(s))
    t = scan.tokens(s)
    out = repeats_5gram(t.features(), t.doc(), t.counts, len(s))
    maybe = np.flatnonzero(out)
    if len(maybe):
        counts = t.counts[maybe]
        doc = np.repeat(np.arange(len(maybe), dtype=np.int64), counts)
        out[maybe] = repeats_5gram(t.hashes(t.of_texts(maybe)), doc, counts, len(maybe))
    return out


def repetition(s: pl.Series, dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2,
               dup_para_char_frac=0.2, top_n_grams=((2, 0.2), (3, 0.18), (4, 0.16)),
               dup_n_grams=((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))):
    """datatrove GopherRepetitionFilter; every threshold None = off."""
    def judge(s: pl.Series):
        one = ~s.str.contains("\n", literal=True).to_numpy()
        f = pl.concat([s.to_frame("t").select(L=pl.max_horizontal(pl.col("t").str.len_chars(), 1)),
                       _by_subset(s, one, _one_piece, _piece_stats)], how="horizontal")
        values = {}
        asc = text.ascii_mask(s)
        for part in (asc, ~asc):   # the byte scan serves ASCII texts; regexes the rest
            if part.any():
                idx = np.flatnonzero(part)
                sub = s if len(idx) == len(s) else s.gather(idx)
                for k, v in _ngram_values(sub, top_n_grams, dup_n_grams).items():
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
        return _first_fail(checks, f)
    return _non_null(s, judge)


def reference_repetition_values(text: str, n: int) -> tuple[int, int]:
    """Plain-Python (top n-gram chars, greedy dup chars) of one text: the oracle tests compare to."""
    words = TOKEN_RE.findall(text)
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    top = 0
    if grams:
        gram, count = Counter(grams).most_common(1)[0]
        top = len(gram) * count
    return top, find_all_duplicate(words, n)
