"""Properties of the engine: roll-ups add up over the hierarchy; status is monotonic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from golden_workspace import ENTITIES, MEASURES, SOURCES
from hypothesis import given, settings
from hypothesis import strategies as st

from soekpi.base.calendar import FiscalSettings, parse_cycle
from soekpi.catalogue.model import Catalogue
from soekpi.catalogue.validate import load_catalogue_files
from soekpi.engine.hierarchy import build_hierarchy
from soekpi.engine.kpis import status_expr
from soekpi.engine.measures import evaluate_measures
from soekpi.engine.plan import plan_measures, window_of
from soekpi.warehouse.schema import ensure_schema

FISCAL = FiscalSettings(start_month=4)
Q1 = parse_cycle("FY2026-Q1")  # April–June 2025
MONTHS = [date(2025, m, 1) for m in (3, 4, 5, 6, 7)]  # March and July fall outside Q1
HIERARCHY = build_hierarchy([(e, p) for e, _, _, p in ENTITIES])
CHILDREN = {e: [c for c, _, _, p in ENTITIES if p == e] for e, *_ in ENTITIES}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    folder = Path(tmp_path_factory.mktemp("catalogue"))
    (folder / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    (folder / "measures.yaml").write_text(MEASURES, encoding="utf-8")
    return load_catalogue_files([folder / "sources.yaml", folder / "measures.yaml"])


ledger_rows = st.lists(
    st.tuples(
        st.sampled_from([e for e, *_ in ENTITIES]),
        st.sampled_from(MONTHS),
        st.sampled_from(["revenue", "cost"]),
        st.integers(min_value=-(10**6), max_value=10**6),
    ),
    max_size=40,
)


@settings(max_examples=30, deadline=None)
@given(rows=ledger_rows)
def test_a_parents_sum_is_its_own_rows_plus_its_childrens(
    catalogue: Catalogue, rows: list[tuple[str, date, str, int]]
) -> None:
    con = duckdb.connect()
    ensure_schema(con, catalogue)
    for e, m, a, v in rows:
        con.execute("insert into ledger values (?, ?, ?, ?)", (e, m, a, Decimal(v) / 100))
    window = window_of("cycle", Q1, FISCAL)
    plan = plan_measures(catalogue, {"revenue": [window]}, HIERARCHY.closure())
    values = evaluate_measures(con, catalogue, plan).values
    got = dict(values.select("entity", "m|revenue|cycle").iter_rows())

    def own(entity: str) -> int | None:
        amounts = [
            v for e, m, a, v in rows
            if e == entity and a == "revenue" and window.first_month <= m <= window.last_month
        ]  # fmt: skip
        return sum(amounts) if amounts else None

    for entity, *_ in ENTITIES:
        parts = [own(entity)] + [
            None if got[c] is None else round(got[c] * 100) for c in CHILDREN[entity]
        ]
        present = [p for p in parts if p is not None]
        expected = sum(present) / 100 if present else None
        assert got[entity] == expected


RANK = {"red": 0, "amber": 1, "green": 2}


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=2, max_size=20),
    limits=st.tuples(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9)),
    direction=st.sampled_from(["higher_is_better", "lower_is_better"]),
)
def test_status_is_monotonic_in_the_value(
    values: list[float], limits: tuple[float, float], direction: str
) -> None:
    low, high = sorted(limits)
    green, amber = (high, low) if direction == "higher_is_better" else (low, high)
    frame = pl.DataFrame({"v": sorted(values)})
    statuses = frame.select(
        status_expr(pl.col("v"), pl.lit(False), pl.lit(green), pl.lit(amber), direction)
    ).to_series()
    ranks = [RANK[s] for s in statuses]
    if direction == "lower_is_better":
        ranks.reverse()
    assert ranks == sorted(ranks)


def test_measure_values_long_shape(catalogue: Catalogue) -> None:
    con = duckdb.connect()
    ensure_schema(con, catalogue)
    con.execute("insert into ledger values ('U11', date '2025-04-01', 'revenue', 2.5)")
    con.execute("insert into ledger values ('U12', date '2025-05-01', 'revenue', 4)")
    window = window_of("cycle", Q1, FISCAL)
    plan = plan_measures(catalogue, {"revenue": [window]}, HIERARCHY.closure(["S1", "U21"]))
    long = evaluate_measures(con, catalogue, plan).long()
    assert long.rows() == [
        ("revenue", "S1", "FY2026-Q1", "cycle", 2.5 + 4),
        ("revenue", "U21", "FY2026-Q1", "cycle", None),
    ]
