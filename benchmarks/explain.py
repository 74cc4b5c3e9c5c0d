"""Profile helper: time each source query of the measure plan (parse vs run) on a workspace.

Usage: .venv/bin/python benchmarks/explain.py WORKSPACE [CYCLE] [--dump DIR] [--analyze SOURCE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    """Print, per source, the SQL size and the time to parse and to run its query."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("cycle", nargs="?", default="latest")
    parser.add_argument("--dump", type=Path, help="write each source's SQL to DIR/<source>.sql")
    parser.add_argument("--analyze", help="print EXPLAIN ANALYZE of this source's query")
    args = parser.parse_args()

    import polars as pl

    from soekpi.catalogue import load_catalogue
    from soekpi.engine import resolve
    from soekpi.engine.compute import _needed_cycles
    from soekpi.engine.hierarchy import build_hierarchy
    from soekpi.engine.measures import read_entities
    from soekpi.engine.plan import Window, closure_sql, plan_measures, window_of
    from soekpi.warehouse.sandbox import sandbox
    from soekpi.workspace import read_workspace

    ws = read_workspace(args.workspace.resolve())
    catalogue = load_catalogue(ws)
    cycle = resolve(ws, catalogue, args.cycle)
    kpi_ids = catalogue.kpi_closure(sorted(catalogue.kpis))
    cycles = _needed_cycles(catalogue, kpi_ids, [cycle])
    windows: dict[str, set[Window]] = {}
    monthly: dict[str, set[Window]] = {}
    for kpi_id in kpi_ids:
        kpi = catalogue.kpis[kpi_id]
        wins = {window_of(kpi.window, c, ws.fiscal) for c in cycles}
        for m in kpi.measure_inputs:
            windows.setdefault(m, set()).update(wins)
            source = catalogue.sources[catalogue.measures[m].source]
            if source.cadence == "monthly" and source.time_column:
                monthly.setdefault(source.id, set()).update(wins)
    with sandbox(ws) as con:
        t0 = time.perf_counter()
        rows = read_entities(con, catalogue)
        hierarchy = build_hierarchy(
            rows.select("entity_id", "parent_id").iter_rows(), ws.root_entity
        )
        closure = hierarchy.closure()
        t1 = time.perf_counter()
        depth = max(hierarchy.depth.values(), default=0)
        query = closure_sql(catalogue.sources["entities"], depth)
        plan = plan_measures(catalogue, windows, query, sorted(monthly))
        t2 = time.perf_counter()
        print(f"hierarchy+closure {t1 - t0:.2f}s ({len(closure)} pairs), plan {t2 - t1:.2f}s")
        for query in plan:
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                (args.dump / f"{query.source}.sql").write_text(query.sql)
            a = time.perf_counter()
            rel = con.sql(query.sql)
            b = time.perf_counter()
            frame = pl.DataFrame(rel)
            c = time.perf_counter()
            print(
                f"{query.source:28} {len(query.sql) / 1e6:6.2f} MB sql  parse {b - a:6.2f}s  "
                f"run {c - b:6.2f}s  rows {frame.height}"
            )
            if args.analyze == query.source:
                print(con.sql("EXPLAIN ANALYZE " + query.sql).fetchall()[0][1])


if __name__ == "__main__":
    main()
