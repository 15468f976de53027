"""The fast paths give exactly what the plain definitions give: the byte scan of ASCII texts vs
polars regexes, the one-regex normal form and whitespace collapse vs their original patterns,
sort-based n-gram grouping (including its exact fallback) vs hand-computed values."""
from __future__ import annotations

import random

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.data import gopher, repeats, scan, text, tokens
from stages.data.rules import RULES

PIECES = ["the", "a1", "1a", "_x", "x_", "12", "__", "3_b", "...", "-", "#", "\n", " ", "\t", "\x0b", "\x0c",
          "\r", "\x1c", "\x00", "\x7f", "ab.cd", "U.S.", "don't", "  - item", "....", "x" * 30]


def _ascii_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    every = [chr(i) for i in range(128)]
    out = ["".join(rng.choice(every) for _ in range(rng.randrange(0, 40))) for _ in range(n)]
    out += ["".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 30))) for _ in range(n)]
    return out + ["", " ", "a", ".", "\n\n"]


def test_byte_scan_counts_equal_regex_counts():
    s = pl.Series(_ascii_texts(1500))
    fast = tokens.scan_counts(s)
    slow = tokens.regex_counts(s)
    assert fast.columns == slow.columns
    for c in fast.columns:
        assert fast[c].to_list() == slow[c].to_list(), c
    assert fast["tokens"].sum() > 10000 and fast["alpha"].sum() > 1000


def test_byte_scan_tokens_hash_like_extract_all():
    s = pl.Series(_ascii_texts(500, seed=1))
    t = scan.tokens(s)
    flat = s.str.extract_all(tokens.TOKEN).explode().drop_nulls()
    assert t.hashes().tolist() == flat.hash(seed=0).to_list()
    assert (t.end - t.start).tolist() == flat.str.len_chars().to_list()


def test_token_counts_mixed_batch_keeps_row_order():
    texts = ["plain words here", "naïve café", None, "x, y; z", "日本語 テキスト", ""]
    got = tokens.token_counts(pl.Series(texts, dtype=pl.Utf8))
    want = tokens.regex_counts(pl.Series(texts, dtype=pl.Utf8))
    assert got.to_dicts() == want.to_dicts()


unicode_text = st.text(alphabet=st.sampled_from(list("aZ9_ .,;-\t\n\r\u00a0\u2003\u3000ÉéßİﬁＴ１²½日本😀\u0301\u200b'\"")),
                       max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.lists(unicode_text, min_size=1, max_size=20))
def test_normal_form_equals_its_two_regex_definition(texts):
    s = pl.Series(texts, dtype=pl.Utf8)
    want = s.to_frame("t").select(pl.col("t").str.normalize("NFKC").str.to_lowercase()
                                  .str.replace_all(r"[^\p{L}\p{N}\s]", " ").str.replace_all(r"\s+", " ")
                                  .str.strip_chars()).to_series()
    assert text.normalise(s).to_list() == want.to_list()
    assert s.to_frame("t").select(text.normalised(pl.col("t"))).to_series().to_list() == want.to_list()


@settings(max_examples=200, deadline=None)
@given(st.lists(unicode_text, min_size=1, max_size=20))
def test_collapse_whitespace_equals_its_original_patterns(texts):
    s = pl.Series(texts, dtype=pl.Utf8)
    want = (s.str.replace_all(r"[ \t\u00A0\u2000-\u200A\u3000]+", " ").str.replace_all(r" ?\n ?", "\n")
            .str.replace_all(r"\n{3,}", "\n\n").str.strip_chars())
    assert RULES.get("collapse_whitespace").fn(s, max_newlines=2).text.to_list() == want.to_list()


def test_fix_encoding_normalises_only_what_nfkc_changes():
    s = pl.Series(["ascii only", "ﬁve Ｔ１", None, "cafÃ©"], dtype=pl.Utf8)
    got = RULES.get("fix_encoding").fn(s, normalization="NFKC").text
    assert got.to_list() == ["ascii only", "five T1", None, "café"]


def test_top_ngram_grouping_falls_back_to_exact_sort_on_truncated_key_clashes():
    """Hashes that differ only in their lowest bit share the sort key's truncated hash: the
    exact two-key order must still count each gram separately."""
    h = np.array([2, 3, 2, 3, 3, 8], np.uint64)          # text 0: a b a b b; text 1: one token
    doc = np.array([0, 0, 0, 0, 0, 1])
    counts = np.array([5, 1])
    ln = np.array([1, 2, 1, 2, 2, 4])
    top1 = repeats.top_ngram_chars(h, ln, doc, counts, 1, 2)
    assert top1.tolist() == [3 * 2, 4]                   # "b" x3 (2 chars each); text 1: its token
    top2 = repeats.top_ngram_chars(h, ln, doc, counts, 2, 2)
    assert top2.tolist() == [2 * (1 + 2 + 1), 0]         # "a b" x2, seen before "b a" x1 and "b b" x1


def test_repeat_prefilter_clears_lookalike_tokens_and_keeps_real_loops():
    """Token features (length, first and last byte) repeat in the look-alike text but the tokens
    do not: the exact second pass clears it; a real loop stays flagged and is rejected."""
    lookalike = "cat dog pig hen fox and then cot dig pug hun fix at last"
    loop = " ".join(["we sell the best shoes"] * 8)
    s = pl.Series([lookalike, loop, "plain words that never repeat at all here"])
    t = scan.tokens(s)
    assert repeats.repeats_5gram(t.features(), t.doc(), t.counts, len(s)).tolist() == [True, True, False]
    assert repeats.repeats_5gram_of(s).tolist() == [False, True, False]
    reason, _ = gopher.repetition(s, top_n_grams=(), dup_n_grams=((5, 0.15), (10, 0.1)), dup_line_frac=None,
                                  dup_para_frac=None, dup_line_char_frac=None, dup_para_char_frac=None)
    assert reason.to_list() == [None, "duplicated_5_n_grams", None]


def test_token_hashes_of_some_texts_equal_a_scan_of_those_texts():
    s = pl.Series(_ascii_texts(200, seed=2))
    t = scan.tokens(s)
    some = np.array([0, 3, 4, 150, 399, len(s) - 1])
    assert t.hashes(t.of_texts(some)).tolist() == scan._tokens(s.gather(some)).hashes().tolist()
