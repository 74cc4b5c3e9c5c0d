"""Property: a ratio KPI of a parent is the ratio of its subtree's sums (SPEC §3.3), never an
average of its children's ratios, and null when the denominator sums to 0 or has no rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import hostile_workspace
from hypothesis import given, settings
from hypothesis import strategies as st

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue import load_catalogue
from soekpi.engine import compute
from soekpi.warehouse.connection import open_warehouse
from soekpi.workspace import read_workspace

pytestmark = pytest.mark.reliability

SUBTREE = {"G": ("G", "A", "B"), "A": ("A",), "B": ("B",)}
MONTHS = (date(2024, 12, 1), date(2025, 1, 1), date(2025, 3, 1), date(2025, 4, 1))
IN_Q1 = (date(2025, 1, 1), date(2025, 3, 1))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_workspace(tmp_path_factory.mktemp("ratio") / "ws")


rows = st.dictionaries(
    st.tuples(
        st.sampled_from(["G", "A", "B"]),
        st.sampled_from(MONTHS),
        st.sampled_from(["revenue", "cost"]),
    ),
    st.integers(min_value=-(10**6), max_value=10**6),
    max_size=20,
)


@settings(max_examples=25, deadline=None)
@given(ledger=rows)
def test_a_ratio_is_the_ratio_of_the_subtree_sums(
    ws: Path, ledger: dict[tuple[str, date, str], int]
) -> None:
    workspace = read_workspace(ws)
    catalogue = load_catalogue(workspace)
    with open_warehouse(workspace, write=True) as con:
        con.execute("delete from ledger")
        for (entity, month, account), cents in sorted(ledger.items()):
            con.execute(
                "insert into ledger (entity_id, period, account, amount, note) "
                "values (?, ?, ?, ?, null)",
                [entity, month, account, Decimal(cents) / 100],
            )
    result = compute(workspace, catalogue, [parse_cycle("FY2025-Q1")], kpis=["margin"])
    got = {r["entity"]: r["value"] for r in result.values.to_dicts()}

    for entity, subtree in SUBTREE.items():

        def total(account: str, subtree: tuple[str, ...] = subtree) -> int | None:
            cents = [
                v for (e, m, a), v in ledger.items() if e in subtree and a == account and m in IN_Q1
            ]
            return sum(cents) if cents else None

        cost, revenue = total("cost"), total("revenue")
        if cost is None or not revenue:
            assert got[entity] is None
        else:
            assert got[entity] == pytest.approx(cost / revenue * 100, rel=1e-9)
