"""The benchmark's baseline: the default catalogue's measures as ONE hand-written DuckDB query.

It computes, for every entity's whole subtree and every cycle given, the measure aggregates
that the default catalogue's KPIs read (windows cycle, ytd and to_date as the KPIs use
them) and writes them as CSV, one row per (entity, cycle) and one column per
``<measure>|<window>``. It imports neither soekpi nor polars: the comparison with
``soekpi compute`` is process against process, start-up included.

The two views of the catalogue (project_month_status, open_incidents_by_month) are user SQL
that soekpi runs as written, so this query runs them as written too (read from the
workspace's catalogue files); everything else is written by hand: aggregate by entity and
month first, pivot the small result, roll it up over a recursive closure of the entity
hierarchy.

Usage: python benchmarks/handsql.py [--memory-limit=X] WAREHOUSE METRICS_DIR OUT.csv
CYCLE=FIRST,LAST,YTD_FIRST... (months as YYYY-MM-01; LAST is the first day of the cycle's
last month). ``--memory-limit``: DuckDB's ``memory_limit`` (spilling to a temporary folder),
to compare with soekpi under the limit it runs its measure queries at.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

#: The exit code when DuckDB runs out of memory (under ``--memory-limit``).
OUT_OF_MEMORY = 3

#: The output columns after entity and cycle: <measure>|<window>.
COLUMNS = (
    "revenue|cycle",
    "digital_revenue|cycle",
    "operating_cost|cycle",
    "digital_investment|cycle",
    "rd_expense|cycle",
    "headcount_avg|cycle",
    "headcount_end|cycle",
    "digital_headcount_end|cycle",
    "training_hours|cycle",
    "new_digital_hires|cycle",
    "systems_total|cycle",
    "systems_on_cloud|cycle",
    "systems_integrated|cycle",
    "data_sharing_interfaces|cycle",
    "critical_assets|cycle",
    "assets_predictive|cycle",
    "operating_hours|cycle",
    "unplanned_downtime_hours|cycle",
    "active_project_budget|ytd",
    "projects_completed|cycle",
    "projects_completed_on_time|cycle",
    "project_budget_started|to_date",
    "project_budget_scaled|to_date",
    "planned_value|to_date",
    "earned_value|to_date",
    "actual_cost|to_date",
    "actual_cost|ytd",
    "active_projects_at_end|cycle",
    "over_budget_projects_at_end|cycle",
    "critical_security_incidents|cycle",
    "resolve_hours_mean|cycle",
    "open_critical_incidents_at_end|cycle",
)

QUERY = """
WITH RECURSIVE closure(ancestor, descendant) AS (
  SELECT entity_id, entity_id FROM entities
  UNION ALL
  SELECT e.parent_id, c.descendant
  FROM closure c JOIN entities e ON e.entity_id = c.ancestor
  WHERE e.parent_id IS NOT NULL
),
windows AS (
  SELECT cycle, first_month::DATE AS first_month, last_month::DATE AS last_month,
         ytd_first::DATE AS ytd_first, (last_month::DATE + INTERVAL 1 MONTH)::DATE AS next_month
  FROM (VALUES {windows}) w(cycle, first_month, last_month, ytd_first)
),
bound AS (SELECT max(next_month) AS next_month FROM windows),
project_month_status AS ({project_month_status}),
open_incidents_by_month AS ({open_incidents_by_month}),

-- financials: sum by entity, cycle and account, then pivot the accounts
fin_e AS (
  SELECT f.entity_id, w.cycle, f.account, sum(f.amount) AS amount
  FROM financials f JOIN windows w ON f.period BETWEEN w.first_month AND w.last_month
  GROUP BY ALL
),
fin AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(amount) FILTER (WHERE account = 'revenue') AS revenue,
    sum(amount) FILTER (WHERE account = 'digital_revenue') AS digital_revenue,
    sum(amount) FILTER (WHERE account = 'operating_cost') AS operating_cost,
    sum(amount) FILTER (WHERE account IN ('digital_capex', 'digital_opex'))
      AS digital_investment,
    sum(amount) FILTER (WHERE account = 'rd_expense') AS rd_expense
  FROM fin_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- workforce: one row per entity and month; stocks per entity, then summed over the subtree
wf_e AS (
  SELECT f.entity_id, w.cycle,
    avg(headcount) AS headcount_avg,
    arg_max(headcount, period) AS headcount_end,
    arg_max(digital_headcount, period) AS digital_headcount_end,
    sum(training_hours) AS training_hours,
    sum(new_digital_hires) AS new_digital_hires
  FROM workforce f JOIN windows w ON f.period BETWEEN w.first_month AND w.last_month
  GROUP BY ALL
),
wf AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(headcount_avg) AS headcount_avg, sum(headcount_end) AS headcount_end,
    sum(digital_headcount_end) AS digital_headcount_end,
    sum(training_hours) AS training_hours, sum(new_digital_hires) AS new_digital_hires
  FROM wf_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- indicators (long form): closing value and sum per entity, cycle and indicator, pivoted
ind_e AS (
  SELECT f.entity_id, w.cycle, f.indicator,
    arg_max(f.value, f.period) AS closing, sum(f.value) AS total
  FROM indicators f JOIN windows w ON f.period BETWEEN w.first_month AND w.last_month
  GROUP BY ALL
),
ind AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(closing) FILTER (WHERE indicator = 'systems_total') AS systems_total,
    sum(closing) FILTER (WHERE indicator = 'systems_on_cloud') AS systems_on_cloud,
    sum(closing) FILTER (WHERE indicator = 'systems_integrated') AS systems_integrated,
    sum(closing) FILTER (WHERE indicator = 'data_sharing_interfaces')
      AS data_sharing_interfaces,
    sum(closing) FILTER (WHERE indicator = 'critical_assets') AS critical_assets,
    sum(closing) FILTER (WHERE indicator = 'assets_predictive') AS assets_predictive,
    sum(total) FILTER (WHERE indicator = 'operating_hours') AS operating_hours,
    sum(total) FILTER (WHERE indicator = 'unplanned_downtime_hours')
      AS unplanned_downtime_hours
  FROM ind_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- projects: budgets and completions, each placed in time by its own date column
proj_e AS (
  SELECT p.entity_id, w.cycle,
    sum(budget) FILTER (WHERE status = 'active') AS active_project_budget,
    count(*) FILTER (WHERE status = 'completed' AND actual_end_date >= w.first_month
                     AND actual_end_date < w.next_month) AS projects_completed,
    count(*) FILTER (WHERE status = 'completed' AND actual_end_date >= w.first_month
                     AND actual_end_date < w.next_month
                     AND actual_end_date <= planned_end_date) AS projects_completed_on_time,
    sum(budget) FILTER (WHERE status <> 'cancelled' AND start_date < w.next_month)
      AS project_budget_started,
    sum(budget) FILTER (WHERE status <> 'cancelled' AND start_date < w.next_month
                        AND stage IN ('scaling', 'embedded')) AS project_budget_scaled
  FROM projects p CROSS JOIN windows w
  GROUP BY ALL
),
proj AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(active_project_budget) AS active_project_budget,
    sum(projects_completed) AS projects_completed,
    sum(projects_completed_on_time) AS projects_completed_on_time,
    sum(project_budget_started) AS project_budget_started,
    sum(project_budget_scaled) AS project_budget_scaled
  FROM proj_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- project_progress: monthly sums per entity, then to date and fiscal year to date
pp_m AS (
  SELECT entity_id, period, sum(planned_value) AS pv, sum(earned_value) AS ev,
         sum(actual_cost) AS ac
  FROM project_progress WHERE period < (SELECT next_month FROM bound)
  GROUP BY ALL
),
pp_e AS (
  SELECT m.entity_id, w.cycle, sum(pv) AS planned_value, sum(ev) AS earned_value,
    sum(ac) AS actual_cost, sum(ac) FILTER (WHERE m.period >= w.ytd_first) AS actual_cost_ytd
  FROM pp_m m JOIN windows w ON m.period < w.next_month
  GROUP BY ALL
),
pp AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(planned_value) AS planned_value, sum(earned_value) AS earned_value,
    sum(actual_cost) AS actual_cost, sum(actual_cost_ytd) AS actual_cost_ytd
  FROM pp_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- the view of projects month by month: closing values per entity
pms_e AS (
  SELECT m.entity_id, w.cycle,
    arg_max(active, month) AS active_projects_at_end,
    arg_max(over_budget, month) AS over_budget_projects_at_end
  FROM (
    SELECT entity_id, month, sum(active_projects) AS active,
           sum(over_budget_projects) AS over_budget
    FROM project_month_status WHERE month < (SELECT next_month FROM bound)
    GROUP BY ALL
  ) m JOIN windows w ON m.month BETWEEN w.first_month AND w.last_month
  GROUP BY ALL
),
pms AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(active_projects_at_end) AS active_projects_at_end,
    sum(over_budget_projects_at_end) AS over_budget_projects_at_end
  FROM pms_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- incidents: critical ones by occurred_at, resolution hours by resolved_at
inc_e AS (
  SELECT i.entity_id, w.cycle,
    count(*) FILTER (WHERE category IN ('cyber', 'data') AND severity >= 3
                     AND occurred_at >= w.first_month AND occurred_at < w.next_month)
      AS critical_security_incidents,
    sum(date_diff('minute', occurred_at, resolved_at) / 60.0)
      FILTER (WHERE resolved_at >= w.first_month AND resolved_at < w.next_month) AS hours,
    count(resolved_at)
      FILTER (WHERE resolved_at >= w.first_month AND resolved_at < w.next_month) AS resolved
  FROM incidents i CROSS JOIN windows w
  GROUP BY ALL
),
inc AS (
  SELECT c.ancestor AS entity, f.cycle,
    sum(critical_security_incidents) AS critical_security_incidents,
    sum(hours) / nullif(sum(resolved), 0) AS resolve_hours_mean
  FROM inc_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

-- the view of open critical incidents month by month: closing values per entity
oi_e AS (
  SELECT o.entity_id, w.cycle, arg_max(open_critical, month) AS open_critical
  FROM open_incidents_by_month o
  JOIN windows w ON o.month BETWEEN w.first_month AND w.last_month
  GROUP BY ALL
),
oi AS (
  SELECT c.ancestor AS entity, f.cycle, sum(open_critical) AS open_critical_incidents_at_end
  FROM oi_e f JOIN closure c ON c.descendant = f.entity_id
  GROUP BY ALL
),

grid AS (
  SELECT e.entity_id AS entity, w.cycle FROM entities e CROSS JOIN windows w
)
SELECT g.entity, g.cycle,
  fin.revenue::DOUBLE, fin.digital_revenue::DOUBLE, fin.operating_cost::DOUBLE,
  fin.digital_investment::DOUBLE, fin.rd_expense::DOUBLE,
  wf.headcount_avg::DOUBLE, wf.headcount_end::DOUBLE, wf.digital_headcount_end::DOUBLE,
  wf.training_hours::DOUBLE, wf.new_digital_hires::DOUBLE,
  ind.systems_total, ind.systems_on_cloud, ind.systems_integrated,
  ind.data_sharing_interfaces, ind.critical_assets, ind.assets_predictive,
  ind.operating_hours, ind.unplanned_downtime_hours,
  proj.active_project_budget::DOUBLE,
  coalesce(proj.projects_completed, 0)::DOUBLE,
  coalesce(proj.projects_completed_on_time, 0)::DOUBLE,
  proj.project_budget_started::DOUBLE, proj.project_budget_scaled::DOUBLE,
  pp.planned_value::DOUBLE, pp.earned_value::DOUBLE, pp.actual_cost::DOUBLE,
  pp.actual_cost_ytd::DOUBLE,
  pms.active_projects_at_end::DOUBLE, pms.over_budget_projects_at_end::DOUBLE,
  coalesce(inc.critical_security_incidents, 0)::DOUBLE, inc.resolve_hours_mean::DOUBLE,
  oi.open_critical_incidents_at_end::DOUBLE
FROM grid g
LEFT JOIN fin USING (entity, cycle)
LEFT JOIN wf USING (entity, cycle)
LEFT JOIN ind USING (entity, cycle)
LEFT JOIN proj USING (entity, cycle)
LEFT JOIN pp USING (entity, cycle)
LEFT JOIN pms USING (entity, cycle)
LEFT JOIN inc USING (entity, cycle)
LEFT JOIN oi USING (entity, cycle)
ORDER BY g.entity, g.cycle
"""


def view_sql(metrics: Path, name: str) -> str:
    """The SQL of the catalogue view ``name`` (user SQL, run as written)."""
    import yaml

    for path in sorted(metrics.glob("*.y*ml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        source = (doc.get("sources") or {}).get(name)
        if source is not None:
            return str(source["sql"]).strip().rstrip(";")
    raise SystemExit(f"handsql: no view '{name}' in {metrics}")


def main(argv: list[str]) -> None:
    """Run the query on the warehouse and write its rows as CSV."""
    import tempfile

    import duckdb

    config: dict[str, str] = {}
    if argv and argv[0].startswith("--memory-limit="):
        config["memory_limit"] = argv[0].split("=", 1)[1]
        config["temp_directory"] = tempfile.mkdtemp(prefix="handsql-")
        argv = argv[1:]
    warehouse, metrics, out, *cycles = argv
    windows = []
    for spec in cycles:
        name, months = spec.split("=")
        first, last, ytd = months.split(",")
        windows.append(f"('{name}', '{first}', '{last}', '{ytd}')")
    sql = QUERY.format(
        windows=", ".join(windows),
        project_month_status=view_sql(Path(metrics), "project_month_status"),
        open_incidents_by_month=view_sql(Path(metrics), "open_incidents_by_month"),
    )
    con = duckdb.connect(warehouse, read_only=True, config=config)
    try:
        rows = con.sql(sql).fetchall()
    except duckdb.OutOfMemoryException as exc:  # under --memory-limit: reported, not a crash
        print(f"handsql: {str(exc).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(OUT_OF_MEMORY) from exc
    finally:
        con.close()
        if "temp_directory" in config:
            import shutil

            shutil.rmtree(config["temp_directory"], ignore_errors=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("entity", "cycle", *COLUMNS))
        writer.writerows(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
