"""The engine: measures pushed into DuckDB, KPI algebra in Polars, completeness and status.

The public surface (docs/architecture.md "Engine result"); heavy imports happen inside the
functions, so importing this package stays cheap.
"""

from soekpi.engine.compute import (
    RECORD_KEYS,
    KpiResult,
    compute,
    compute_cycle,
    compute_cycle_values,
    compute_values,
    latest_cycle,
    records_csv,
    records_json,
    resolve,
    result_json,
    result_json_chunks,
    to_records,
    values_csv_chunks,
    values_json_chunks,
)

__all__ = [
    "RECORD_KEYS",
    "KpiResult",
    "compute",
    "compute_cycle",
    "compute_cycle_values",
    "compute_values",
    "latest_cycle",
    "records_csv",
    "records_json",
    "resolve",
    "result_json",
    "result_json_chunks",
    "to_records",
    "values_csv_chunks",
    "values_json_chunks",
]
