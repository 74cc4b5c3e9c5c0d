"""The engine: measures pushed into DuckDB, KPI algebra in Polars, completeness and status.

The public surface (docs/architecture.md "Engine result"); heavy imports happen inside the
functions, so importing this package stays cheap.
"""

from soekpi.engine.compute import (
    Entities,
    KpiResult,
    MeasuresRead,
    compute,
    compute_values,
    kpi_result,
    latest_cycle,
    on_warehouse,
    read_measures,
    resolve,
)

__all__ = [
    "Entities",
    "KpiResult",
    "MeasuresRead",
    "compute",
    "compute_values",
    "kpi_result",
    "latest_cycle",
    "on_warehouse",
    "read_measures",
    "resolve",
]
