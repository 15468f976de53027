"""Clean rules take their thresholds from data.clean.rules; a profile lists only what it changes;
every data section's keys are the keys the code reads."""
from __future__ import annotations

import pytest

from stages.data import clean, quality
from stages.data.rules import RULES


def _cfg(factory, profiles) -> dict:
    return {**factory["clean"], "profiles": profiles}


def test_a_rule_a_profile_does_not_list_runs_with_its_defaults(factory, profiles):
    rules = factory["clean"]["rules"]
    assert sorted(rules) == RULES.names()                          # every registered rule has defaults
    web = clean.profile(_cfg(factory, profiles), "web")
    assert list(web) == list(rules) and web == rules               # web is the defaults, in their order
    instruct = clean.profile(_cfg(factory, profiles), "instruct")
    assert instruct["pii"] == rules["pii"]                          # not listed: defaults
    assert instruct["length"] == {**rules["length"], "max_chars": 20000, "min_words": 1, "max_words": 4000}
    assert instruct["gopher_quality"]["max_bullet_lines_ratio"] == rules["gopher_quality"]["max_bullet_lines_ratio"]
    assert instruct["gopher_quality"]["fields"] == ["prompt"]


def test_a_profile_turns_a_rule_off_with_null(factory):
    got = clean.profile(_cfg(factory, {"x": {"strip_html": None, "length": {"max_chars": 10}}}), "x")
    assert "strip_html" not in got and got["length"]["max_chars"] == 10
    assert len(got) == len(factory["clean"]["rules"]) - 1


def test_a_rule_without_defaults_in_params_is_an_error(factory):
    rules = {k: v for k, v in factory["clean"]["rules"].items() if k != "strip_html"}
    with pytest.raises(KeyError, match=r"data.clean.rules: no default thresholds for rule\(s\) \['strip_html'\]"):
        clean.profile({"rules": rules, "profiles": {"web": {}}}, "web")


def test_unknown_rules_and_thresholds_name_the_nearest_key(factory):
    with pytest.raises(KeyError, match=r"data.clean.profiles.web.lenght: unknown key \(did you mean 'length'\?\)"):
        clean.profile(_cfg(factory, {"web": {"lenght": {"max_chars": 3}}}), "web")
    with pytest.raises(KeyError, match=r"data.clean.profiles.web.length.max_char: unknown key \(did you mean 'max_chars'"):
        clean.profile(_cfg(factory, {"web": {"length": {"max_char": 3}}}), "web")
    rules = {**factory["clean"]["rules"], "length": {"min_chars": 1, "max_chars": 9, "min_words": None}}
    with pytest.raises(KeyError, match=r"data.clean.rules.length: missing threshold\(s\) \['max_words'\]"):
        clean.profile({"rules": rules, "profiles": {"web": {}}}, "web")
    with pytest.raises(KeyError, match="data.kind='code' has no clean profile; valid: .*instruct"):
        clean.profile(_cfg(factory, {"web": {}, "instruct": {}}), "code")


def test_data_quality_keys_are_the_keys_params_declare(factory):
    """data.quality is checked against quality.KEYS (a typo stops the stage naming the nearest
    key: tests/common/test_stagerun.py); KEYS and params must name the same keys."""
    assert sorted(quality.KEYS) == sorted(factory["quality"])
