"""kpis.csv of a run: result_csv writes exactly the bytes of records_csv(to_records(...))."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

texts = st.sampled_from(
    ["G00", "示例集团", 'a"b', "c\\d", "e\nf", "g\rh", "x, y", "%", "", " ", "\u2028", "\x01"]
)
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
rows = st.lists(
    st.tuples(
        st.one_of(st.none(), texts, st.text()), texts, floats, floats, floats, st.none() | texts
    ),
    max_size=20,
)


def _result(records: list[tuple[Any, ...]]) -> Any:
    import polars as pl

    from soekpi.engine import KpiResult

    values = pl.DataFrame(
        {
            "kpi": [r[0] for r in records],
            "entity": [r[1] for r in records],
            "cycle": ["FY2026-Q3"] * len(records),
            "value": [r[2] for r in records],
            "status": ["green"] * len(records),
            "green": [r[3] for r in records],
            "amber": [r[4] for r in records],
            "unit": [r[5] for r in records],
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
    return KpiResult([], values, empty, empty, empty)


@settings(max_examples=200, deadline=None)
@given(rows, st.integers(min_value=1, max_value=5))
def test_result_csv_is_records_csv_of_to_records(
    records: list[tuple[Any, ...]], chunk_rows: int
) -> None:
    from soekpi.output import records_csv, result_csv, result_csv_chunks, to_records

    result = _result(records)
    expected = records_csv(to_records(result))
    assert result_csv(result) == expected
    # a run writes kpis.csv piece by piece: the same bytes
    assert b"".join(result_csv_chunks(result, rows=chunk_rows)).decode() == expected


def test_result_csv_text() -> None:
    from soekpi.output import result_csv

    result = _result(
        [("cir", "G00", 83.5, 1e-05, None, "x, y"), ("cir", "G01", None, 1e16, 2.0, "")]
    )
    assert result_csv(result) == (
        "kpi,entity,cycle,value,status,green,amber,unit\n"
        'cir,G00,FY2026-Q3,83.5,green,1e-05,,"x, y"\n'
        "cir,G01,FY2026-Q3,,green,1e+16,2.0,\n"
    )
