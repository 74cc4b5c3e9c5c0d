"""The status grid of a large group: whole levels from the top, at most GRID_LIMIT rows."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
from report_hand import hand_data, hand_result

from soekpi.report.render import GRID_LIMIT, build_context, grid_scope, render_markdown


def test_grid_scope_keeps_whole_levels_that_fit() -> None:
    order = ["G", "S1", "U1", "U2", "S2", "U3"]
    depth = {"G": 0, "S1": 1, "S2": 1, "U1": 2, "U2": 2, "U3": 2}
    assert grid_scope(order, depth, limit=6) == order
    # the units (3) no longer fit after the top (1) and the subsidiaries (2)
    assert grid_scope(order, depth, limit=5) == ["G", "S1", "S2"]
    assert grid_scope(order, depth, limit=2) == ["G"]
    # the top level is shown even when it alone is over the limit
    assert grid_scope(["A", "B", "C"], {"A": 0, "B": 0, "C": 0}, limit=2) == ["A", "B", "C"]
    assert grid_scope([], {}) == []


def _big_group(units: int) -> pl.DataFrame:
    """G with children E1 and E2 (the hand data's entities) and ``units`` units under E1."""
    ids = ["G", "E1", "E2", *(f"U{i:04d}" for i in range(units))]
    return pl.DataFrame(
        {
            "entity_id": ids,
            "name": ids,
            "name_zh": [None] * len(ids),
            "parent_id": [None, "G", "G", *(["E1"] * units)],
            "depth": [0, 1, 1, *([2] * units)],
        },
        schema={
            "entity_id": pl.String,
            "name": pl.String,
            "name_zh": pl.String,
            "parent_id": pl.String,
            "depth": pl.Int64,
        },
    )


def test_a_group_too_large_for_the_grid_shows_its_top_levels_and_says_so() -> None:
    units = 1000  # 1 + 2 + 1,000 rows do not fit in GRID_LIMIT
    assert units > GRID_LIMIT
    data = hand_data(result=replace(hand_result(), hierarchy=_big_group(units)))
    context = build_context(data)
    assert [r.entity.id for r in context.grid] == ["G", "E1", "E2"]
    md = render_markdown(context)
    # 3 + 1,000 = 1,003 entities, written with a thousands separator like other numbers
    assert (
        "The grid shows the top 2 levels of the hierarchy (3 of 1,003 entities); "
        "soekpi compute --format csv lists every entity." in md
    )
    assert "| U0000 |" not in md
    zh = build_context(
        hand_data("zh-CN", result=replace(hand_result(), hierarchy=_big_group(units)))
    )
    assert "状态表仅列出层级前 2 级（共 1,003 个主体中的 3 个）" in render_markdown(zh)


def test_a_group_that_fits_shows_every_entity_without_a_note() -> None:
    units = GRID_LIMIT - 3  # exactly GRID_LIMIT rows
    context = build_context(hand_data(result=replace(hand_result(), hierarchy=_big_group(units))))
    assert len(context.grid) == GRID_LIMIT
    assert "The grid shows the top" not in render_markdown(context)
