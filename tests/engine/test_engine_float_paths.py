"""KPI arithmetic gives the same bits whether a divisor is a literal or a column.

Polars divides by a broadcast literal (a threshold, a weight) as a multiplication by its
reciprocal but by a column exactly; a report (eight cycles, thresholds varying by fiscal
year: a column) and `verify` (one cycle: a literal) then disagreed in the last bits of a
composite index at 48,000 entities.
"""

from __future__ import annotations

import polars as pl

from soekpi.engine.kpis import score_expr


def test_scores_are_the_same_bits_with_a_literal_or_a_column_threshold() -> None:
    values = [1.0 + i * 0.37 for i in range(5000)]
    green = 6.6  # 6.0 × 1.1: a value whose reciprocal is inexact
    frame = pl.DataFrame({"v": values, "g": [green] * len(values)})
    for direction in ("higher_is_better", "lower_is_better"):
        literal = frame.select(score_expr(pl.col("v"), pl.lit(green), direction).alias("s"))
        column = frame.select(score_expr(pl.col("v"), pl.col("g"), direction).alias("s"))
        assert literal["s"].to_list() == column["s"].to_list(), direction
    # and the scores are right: 100 × value / green capped at 100 (higher is better)
    first = frame.head(1).select(score_expr(pl.col("v"), pl.lit(green), "higher_is_better"))
    assert abs(first.item() - 100 * 1.0 / 6.6) < 1e-12
