"""Random and malformed rows go through clean without a traceback, and every row is counted."""
from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stages.common.rejects import funnel
from stages.data.schema import ROW_SCHEMA
from stages.data import clean

cell = st.one_of(st.none(), st.text(max_size=200),
                 st.sampled_from(["", "   ", "\ufffd", "<p>x</p>", "#### 5", "a@b.co", "\n\nHuman: hi\n\nAssistant:"]))
row = st.fixed_dictionaries({c: cell for c in ROW_SCHEMA})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, max_size=25), st.sampled_from(["web", "instruct", "dialogue"]))
def test_clean_never_crashes_and_conserves(profiles, factory, rows, kind):
    df = pl.DataFrame(rows, schema=ROW_SCHEMA)
    kept, rejected, _ = clean.run(df, clean.profile({**factory["clean"], "profiles": profiles}, kind),
                                  ["prompt", "response", "chosen", "rejected"])
    m = funnel(df.height, kept, rejected)
    assert m["rows_in"] == len(rows)
    assert set(kept["id"].drop_nulls()).isdisjoint(set(rejected["id"].drop_nulls())) or \
        df["id"].is_duplicated().any()
