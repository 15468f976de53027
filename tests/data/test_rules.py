"""Each clean rule on real-looking text: what it changes, what it rejects, and why."""
from __future__ import annotations

import polars as pl
import pytest

from gopher_oracle import reference_repetition_values
from rowframes import rule_defaults

from stages.data import pii, repeats, tokens
from stages.data.rules import RULES


DEFAULTS = rule_defaults()


def apply(name: str, texts: list[str | None], **kw):
    """The rule with its default thresholds from params, `kw` changing some."""
    return RULES.get(name).fn(pl.Series(texts, dtype=pl.Utf8), **{**DEFAULTS[name], **kw})


def test_fix_encoding_repairs_mojibake_and_folds_compatibility_chars():
    r = apply("fix_encoding", ["The cafÃ© serves crÃ¨me brÃ»lÃ©e.", "Ｔｏｔａｌ：１２ apples", "plain ascii"])
    assert r.text.to_list() == ["The café serves crème brûlée.", "Total:12 apples", "plain ascii"]
    assert r.counts["rows_changed"] == 2


def test_strip_control_drops_invisible_chars_and_normalises_newlines():
    r = apply("strip_control", ["Tom has\u200b 5\x07 apples.\r\nHe eats 2.\rNow 3.", "tab\tkept"])
    assert r.text.to_list() == ["Tom has 5 apples.\nHe eats 2.\nNow 3.", "tab\tkept"]


def test_strip_html_removes_tags_but_keeps_maths_and_calculator_marks():
    r = apply("strip_html", [
        "<p class='promo'>Buy <b>3</b> packs &amp; save!<br/></p><script>var x = 1;</script><!-- ad -->",
        "She makes 9 * 2 = $<<9*2=18>>18 if a<b and c>d.",
    ])
    assert " ".join(r.text[0].split()) == "Buy 3 packs & save!"
    assert r.text[1] == "She makes 9 * 2 = $<<9*2=18>>18 if a<b and c>d."


def test_collapse_whitespace():
    r = apply("collapse_whitespace", ["  Janet  sells \t 16 eggs. \n\n\n\nShe eats 3.  "])
    assert r.text[0] == "Janet sells 16 eggs.\n\nShe eats 3."


def test_pii_redacts_each_kind_and_counts_it():
    text = ("Mail kathy.bates@gmail.com or call (512) 555-0202 / +1 917-444-6321. Server 192.168.1.20, "
            "key sk-proj-abcdefghijklmnopqrstuvwx12 and token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.")
    r = apply("pii", [text, "The answer is 16 - 3 - 4 = 9 eggs; version 1.2.3 released."])
    assert r.text[0] == ("Mail <EMAIL> or call <PHONE> / <PHONE>. Server <IP_ADDRESS>, key <API_KEY> "
                         "and token <API_KEY>.")
    assert r.text[1] == "The answer is 16 - 3 - 4 = 9 eggs; version 1.2.3 released."
    assert (r.counts["email"], r.counts["phone"], r.counts["ip"], r.counts["api_key"]) == (1, 2, 1, 2)


def test_pii_leaves_url_slugs_alone():
    slug = "see huffpost.com/entry/how-to-lose-weight-in-a-week_n_5bd8ebce4b018d8e93f37c21 today"
    new, counts, _ = pii.redact(pl.Series([slug]), DEFAULTS["pii"]["kinds"], generic_keys=True)
    assert new[0] == slug and counts["api_key"] == 0


def test_length_bounds_name_the_violated_bound():
    r = apply("length", ["one two three", "x", "a " * 50], min_chars=2, min_words=2, max_words=20)
    assert r.reason.to_list() == [None, "too_few_chars", "too_many_words"]
    assert "limit 20" in r.detail[2]


def test_replacement_chars_flag_undecodable_text():
    r = apply("replacement_chars", ["bad \ufffd\ufffd bytes", "fine"], max_count=0)
    assert r.reason.to_list() == ["invalid_utf8", None]


WEB = ("The history of the city goes back to the Roman period, when a small fort was built on the "
       "hill above the river. Over the following centuries the settlement grew into a market town "
       "with a church, a bridge and a busy harbour, and by the eighteenth century it had become one "
       "of the most important ports in the region, trading wool, grain and timber with the continent.")


def test_gopher_quality_passes_prose_and_names_each_failure():
    texts = [WEB, "Buy now!", "# " * 60 + WEB, "\n".join(f"- Remember to water the tomatoes and peppers before breakfast, day {i}" for i in range(12)),
             " ".join(["1234 5678 9012"] * 40) + " the and"]
    r = apply("gopher_quality", texts)
    reason, detail = r.reason, r.detail
    assert reason.to_list() == [None, "short_doc", "too_many_hashes", "too_many_bullets", "below_alpha_threshold"]
    assert detail[1].startswith("short_doc 2.0")


def test_gopher_quality_stop_words_are_distinct_words():
    text = " ".join(["alpha beta gamma delta epsilon the"] * 12)  # one stop word, many times
    reason = apply("gopher_quality", [text], min_doc_words=10).reason
    assert reason[0] == "not_enough_stop_words"


def test_gopher_repetition_flags_repeated_lines_and_ngrams():
    looped = " ".join(["I am a bot and I like to repeat myself a lot"] * 10)
    lines = "\n".join(["Click here to subscribe"] * 5 + ["Real content line number %d here" % i for i in range(3)])
    reason = apply("gopher_repetition", [WEB, looped, lines]).reason
    assert reason[0] is None
    assert reason[1] in {"top_2_gram", "top_3_gram", "top_4_gram"} or reason[1].startswith("duplicated_")
    assert reason[2] == "dup_line_frac"


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 10])
def test_vectorised_repetition_values_equal_the_plain_python_port(n, gsm8k_train, hh_rows):
    """top n-gram and greedy duplicate-n-gram values per text match datatrove's loops."""
    texts = [r["answer"] for r in gsm8k_train[:150]] + [r["chosen"] for r in hh_rows[:150]]
    texts += [" ".join(["the cat sat on the mat"] * 6), "too short"]
    ascii_only = [t for t in texts if t.isascii()]
    assert len(ascii_only) < len(texts)
    for batch in (texts, ascii_only):   # regex tokens (some text is not ASCII) and the byte scan
        s = pl.Series(batch)
        h, ln, doc, counts = tokens.token_table(s)
        top = repeats.top_ngram_chars(h, ln, doc, counts, n, len(s))
        flagged = repeats.repeats_5gram(h, doc, counts, len(s))
        for i, t in enumerate(batch):
            ref_top, ref_dup = reference_repetition_values(t, n)
            assert top[i] == ref_top, (i, t[:80])
            if n >= 5 and ref_dup > 0:
                assert flagged[i], (i, t[:80])   # the prefilter never skips a text with repeats


def test_unknown_rule_lists_valid_ones():
    with pytest.raises(KeyError, match="valid: .*gopher_quality"):
        RULES.get("gopher_qualty")
