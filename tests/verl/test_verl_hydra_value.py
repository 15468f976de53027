"""Every params value reaches verl through Hydra's override grammar: what Hydra parses back
from `hydra_value(v)` must be `v` itself (paths with commas, quotes, backslashes, `${`...)."""
from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stages.train.verl_config import flatten, hydra_value

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
scalars = st.none() | st.booleans() | st.integers(-10**9, 10**9) | text | \
    st.floats(allow_nan=False, allow_infinity=False, width=64)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), inner, max_size=3), max_leaves=8)


def _parse(v):
    """As compose does: Hydra parses the override, OmegaConf stores it and resolves it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    parsed = OverridesParser.create().parse_override(f"key={hydra_value(v)}").value()
    cfg = OmegaConf.create({"key": None})
    OmegaConf.update(cfg, "key", parsed, merge=False)
    return OmegaConf.to_container(cfg, resolve=True)["key"]


@settings(max_examples=300, deadline=None)
@given(values)
@example("/data/a b,c=d/train.parquet")
@example("it's \\'quoted\\' ${not.an.interpolation} \\${x} end\\")
@example(["console", "file", "wandb"])
@example({"reward": [{"name": "gsm8k", "weight": 1.0}, {"name": "length", "weight": -0.1}]})
@example(1e-06)
@example("null")
@example("1.5")
def test_hydra_reads_back_what_we_wrote(v):
    assert _parse(v) == v


def test_flatten_keeps_lists_and_empty_dicts_as_values():
    tree = {"a": {"b": 1, "c": [1, {"d": 2}], "e": {}}, "f": None}
    assert flatten(tree) == {"a.b": 1, "a.c": [1, {"d": 2}], "a.e": {}, "f": None}
