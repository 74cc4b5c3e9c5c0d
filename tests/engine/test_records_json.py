"""records_json writes exactly the bytes of json.dumps(records, indent=2, ensure_ascii=False)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from soekpi.output import RECORD_KEYS, records_json

scalars = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.text(),
)
texts = st.sampled_from(["G00", "示例集团", 'a"b', "c\\d", "e\nf", "x, y", "%", "\u2028", "\x01"])
records = st.lists(
    st.fixed_dictionaries(
        {
            k: st.one_of(texts, scalars) if k in ("kpi", "entity", "unit") else scalars
            for k in RECORD_KEYS
        }
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(records)
def test_records_json_is_json_dumps_with_indent(rows: list[dict[str, Any]]) -> None:
    assert records_json(rows) == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def test_records_json_of_the_compute_shape() -> None:
    row = {
        "kpi": "cost_income_ratio",
        "entity": "G00",
        "cycle": "FY2026-Q3",
        "value": 83.5,
        "status": "green",
        "green": 85.0,
        "amber": None,
        "unit": "%",
    }
    assert records_json([row]) == (
        "[\n  {\n"
        '    "kpi": "cost_income_ratio",\n'
        '    "entity": "G00",\n'
        '    "cycle": "FY2026-Q3",\n'
        '    "value": 83.5,\n'
        '    "status": "green",\n'
        '    "green": 85.0,\n'
        '    "amber": null,\n'
        '    "unit": "%"\n'
        "  }\n]\n"
    )
    assert records_json([]) == "[]\n"


def test_a_record_with_other_keys_falls_back_to_json_dumps() -> None:
    rows = [{"kpi": "a", "extra": [1, 2]}]
    assert records_json(rows) == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


finite_or_not = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
value_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), texts, st.text()),
        texts,
        finite_or_not,
        finite_or_not,
        finite_or_not,
        st.one_of(st.none(), texts),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(value_rows, st.integers(min_value=1, max_value=7))
def test_result_json_is_records_json_of_to_records(
    rows: list[tuple[Any, ...]], chunk_rows: int
) -> None:
    import polars as pl

    from soekpi.engine import KpiResult
    from soekpi.output import result_json, result_json_chunks, to_records

    values = pl.DataFrame(
        {
            "kpi": [r[0] for r in rows],
            "entity": [r[1] for r in rows],
            "cycle": ["FY2026-Q3"] * len(rows),
            "value": [r[2] for r in rows],
            "status": ["green"] * len(rows),
            "green": [r[3] for r in rows],
            "amber": [r[4] for r in rows],
            "unit": [r[5] for r in rows],
        },
        schema={
            "kpi": pl.String,
            "entity": pl.String,
            "cycle": pl.String,
            "value": pl.Float64,
            "status": pl.String,
            "green": pl.Float64,
            "amber": pl.Float64,
            "unit": pl.String,
        },
    )
    empty = pl.DataFrame()
    result = KpiResult([], values, empty, empty, empty)
    expected = records_json(to_records(result))
    assert result_json(result) == expected
    # written in pieces of a few records (compute streams a large group's JSON): same bytes
    chunks = list(result_json_chunks(result, rows=chunk_rows))
    assert b"".join(chunks).decode() == expected
    if len(rows) > chunk_rows:
        assert len(chunks) >= 2 + -(-len(rows) // chunk_rows)
