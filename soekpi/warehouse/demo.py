"""The deterministic synthetic demo group behind ``soekpi init DIR --demo``.

A state-owned enterprise group in three levels: the group head ``G00``, six sector
subsidiaries ``S01``..``S06`` and business units ``U0101``… under them (about 40 entities at
scale 1; ``--scale s`` gives round(40 × s) entities and as many more projects). Thirty-six
months of monthly returns end with the last month of the fiscal quarter before today, so
``latest`` is that quarter. Only business units file returns; the levels above are their sums.

Everything is set-based SQL in DuckDB. Pseudo-randomness is a hash of the seed and the
row's keys (``hash(hash(seed, entity_id, period, 'rev')) / 2⁶⁴``), so the same seed and
scale give the same table contents whatever the thread count, and a different seed gives
different data.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from soekpi.base.calendar import FiscalSettings, previous_quarter, today
from soekpi.base.errors import UsageError

if TYPE_CHECKING:
    from soekpi.workspace import Workspace

ProgressFn = Callable[[float, float | None, str | None], None]

DEMO_TABLES = (
    "entities",
    "financials",
    "workforce",
    "indicators",
    "projects",
    "project_progress",
    "incidents",
)
MONTHS = 36
ENTITIES_PER_SCALE = 40
MAX_SCALE = 10_000.0
_HASH_MAX = "18446744073709551615.0"
_TEMP_TABLES = (
    "_demo_units",
    "_demo_gaps",
    "_demo_sectors",
    "_demo_months",
    "_demo_panel",
    "_demo_projects",
)

# id, sector, English name, Chinese name, region, share of the business units
_SUBSIDIARIES = (
    ("S01", "energy", "Example Power Holdings", "示例电力控股有限公司", "Beijing", 8),
    ("S02", "finance", "Example Group Finance Co.", "示例集团财务有限公司", "Shanghai", 5),
    ("S03", "telecom", "Example Digital Communications", "示例数字通信有限公司", "Guangdong", 5),
    (
        "S04",
        "manufacturing",
        "Example Equipment Manufacturing",
        "示例装备制造有限公司",
        "Liaoning",
        6,
    ),
    ("S05", "transport", "Example Logistics and Transport", "示例物流运输有限公司", "Hubei", 5),
    ("S06", "other", "Example Property and Services", "示例置业服务有限公司", "Sichuan", 4),
)
_BUSINESSES = {
    "energy": (
        ("Power Generation", "发电"),
        ("Grid Services", "电网服务"),
        ("Renewables", "新能源"),
        ("Coal Chemicals", "煤化工"),
        ("Oil and Gas", "油气"),
    ),
    "finance": (
        ("Treasury Services", "资金结算"),
        ("Leasing", "融资租赁"),
        ("Insurance Brokerage", "保险经纪"),
        ("Asset Management", "资产管理"),
        ("Supply-Chain Finance", "供应链金融"),
    ),
    "telecom": (
        ("Mobile Networks", "移动网络"),
        ("Data Centres", "数据中心"),
        ("Cloud Services", "云服务"),
        ("Broadband", "宽带"),
        ("IoT Solutions", "物联网"),
    ),
    "manufacturing": (
        ("Heavy Equipment", "重型装备"),
        ("Turbines", "汽轮机"),
        ("Electrical Equipment", "电气设备"),
        ("Smart Meters", "智能电表"),
        ("Steel Structures", "钢结构"),
    ),
    "transport": (
        ("Rail Freight", "铁路货运"),
        ("Port Operations", "港口运营"),
        ("Shipping", "航运"),
        ("Road Logistics", "公路物流"),
        ("Warehousing", "仓储"),
    ),
    "other": (
        ("Property Management", "物业管理"),
        ("Hotels", "酒店"),
        ("Engineering Consulting", "工程咨询"),
        ("Training Centre", "培训中心"),
        ("Healthcare", "医疗健康"),
    ),
}
# 31 provinces: a prime, so (a + k·b) mod 31 visits every province once per subsidiary
_PROVINCES = (
    ("Beijing", "北京"),
    ("Tianjin", "天津"),
    ("Hebei", "河北"),
    ("Shanxi", "山西"),
    ("Inner Mongolia", "内蒙古"),
    ("Liaoning", "辽宁"),
    ("Jilin", "吉林"),
    ("Heilongjiang", "黑龙江"),
    ("Shanghai", "上海"),
    ("Jiangsu", "江苏"),
    ("Zhejiang", "浙江"),
    ("Anhui", "安徽"),
    ("Fujian", "福建"),
    ("Jiangxi", "江西"),
    ("Shandong", "山东"),
    ("Henan", "河南"),
    ("Hubei", "湖北"),
    ("Hunan", "湖南"),
    ("Guangdong", "广东"),
    ("Guangxi", "广西"),
    ("Hainan", "海南"),
    ("Chongqing", "重庆"),
    ("Sichuan", "四川"),
    ("Guizhou", "贵州"),
    ("Yunnan", "云南"),
    ("Tibet", "西藏"),
    ("Shaanxi", "陕西"),
    ("Gansu", "甘肃"),
    ("Qinghai", "青海"),
    ("Ningxia", "宁夏"),
    ("Xinjiang", "新疆"),
)
# Per sector: monthly revenue of a mid-sized unit (CNY), revenue per employee per month,
# digital revenue share at the start and its rise over three years, cost/income ratio,
# R&D intensity, critical assets of a mid-sized unit, incident rate per slot, and the
# cumulative shares of incident categories cyber / data / outage (the rest is safety).
_SECTOR_COLUMNS = (
    "sector",
    "rev_base",
    "rev_per_head",
    "dig0",
    "dig_up",
    "cost_ratio",
    "rd_int",
    "assets_base",
    "inc_rate",
    "c_cyber",
    "c_data",
    "c_outage",
    "dig_staff",
)
_SECTORS = (
    ("energy", 120e6, 160e3, 0.02, 0.04, 0.86, 0.012, 1500, 0.09, 0.20, 0.30, 0.65, 0.00),
    ("finance", 60e6, 250e3, 0.12, 0.08, 0.62, 0.004, 40, 0.08, 0.45, 0.75, 0.95, 0.05),
    ("telecom", 80e6, 120e3, 0.18, 0.10, 0.80, 0.030, 600, 0.10, 0.45, 0.70, 0.95, 0.08),
    ("manufacturing", 45e6, 90e3, 0.05, 0.07, 0.90, 0.025, 900, 0.09, 0.20, 0.30, 0.65, 0.01),
    ("transport", 50e6, 80e3, 0.04, 0.05, 0.88, 0.008, 700, 0.08, 0.20, 0.30, 0.65, 0.01),
    ("other", 15e6, 60e3, 0.06, 0.03, 0.92, 0.005, 80, 0.05, 0.30, 0.50, 0.80, 0.02),
)
_ACCOUNTS = (
    "revenue",
    "digital_revenue",
    "operating_cost",
    "digital_capex",
    "digital_opex",
    "rd_expense",
)
_INDICATORS = (
    "systems_total",
    "systems_on_cloud",
    "systems_integrated",
    "data_sharing_interfaces",
    "critical_assets",
    "assets_predictive",
    "operating_hours",
    "unplanned_downtime_hours",
)
# category, cumulative share, typical budget (CNY), two project names
_CATEGORIES = (
    ("cloud", 0.20, 8e6, "Cloud migration", "Private cloud platform"),
    ("data_platform", 0.38, 12e6, "Enterprise data lake", "Data middle platform"),
    ("ai_analytics", 0.55, 5e6, "AI demand forecasting", "Computer-vision inspection"),
    ("automation", 0.72, 6e6, "RPA in shared services", "Smart plant automation"),
    ("cybersecurity", 0.84, 4e6, "Zero-trust network", "Security operations centre"),
    ("talent", 0.92, 1.5e6, "Digital skills academy", "Data literacy programme"),
    ("other", 1.00, 3e6, "Digital procurement portal", "E-office rollout"),
)


def build_demo(
    ws: Workspace,
    seed: int = 42,
    scale: float = 1.0,
    progress: ProgressFn | None = None,
) -> dict[str, int]:
    """Fill the (empty) warehouse of ``ws`` with the demo group; return rows per table.

    Creates the tables from the catalogue's contracts first when they do not exist. The data
    ends with the last month of the fiscal quarter before today (``SOEKPI_TODAY`` honoured).
    Raises UsageError for a scale outside (0, 10000] or a warehouse that already holds data.
    """
    from soekpi.catalogue import load_catalogue
    from soekpi.warehouse.connection import open_warehouse
    from soekpi.warehouse.schema import ensure_schema

    check_demo_options(seed, scale)
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=True) as con:
        ensure_schema(con, catalogue)
        return fill_demo(con, ws.fiscal, seed=seed, scale=scale, progress=progress)


def check_demo_options(seed: int, scale: float) -> None:
    """Raise UsageError unless ``seed`` is a 64-bit integer and 0 < ``scale`` ≤ 10000."""
    if not -(2**63) <= seed < 2**63:
        raise UsageError(f"--seed: {seed} is not a 64-bit integer")
    if not (math.isfinite(scale) and 0 < scale <= MAX_SCALE):
        raise UsageError(
            f"--scale: must be a number above 0 and at most {MAX_SCALE:g}, not {scale:g}"
        )


def demo_months(fiscal: FiscalSettings, on: date | None = None) -> tuple[date, date]:
    """First and last month (first days) of the demo data: 36 months ending with the last
    month of the fiscal quarter before ``on`` (default: today)."""
    last = previous_quarter(fiscal, on or today()).months(fiscal)[-1]
    index = last.year * 12 + last.month - 1 - (MONTHS - 1)
    return date(index // 12, index % 12 + 1, 1), last


def unit_counts(scale: float) -> list[int]:
    """Business units per subsidiary S01..S06: round(40 × scale) entities in all, less the
    group head and the six subsidiaries, shared by weight (largest remainder), at least one."""
    units = max(len(_SUBSIDIARIES), round(ENTITIES_PER_SCALE * scale) - 1 - len(_SUBSIDIARIES))
    weights = [s[5] for s in _SUBSIDIARIES]
    shares = [units * w / sum(weights) for w in weights]
    counts = [max(1, math.floor(s)) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - math.floor(shares[i])), i))
    for i in order[: max(0, units - sum(counts))]:
        counts[i] += 1
    return counts


def projects_factor(scale: float) -> float:
    """How many more projects a business unit runs at large scales: 1 up to scale 100,
    rising linearly to 2.3 at scale 1200 and staying there, so that at benchmark sizes
    ``project_progress`` is about as large as ``financials`` (~10 M rows each at 1200)."""
    return 1.0 + 1.3 * min(1.0, max(0.0, (scale - 100.0) / 1100.0))


def fill_demo(
    con: Any,
    fiscal: FiscalSettings,
    seed: int = 42,
    scale: float = 1.0,
    progress: ProgressFn | None = None,
) -> dict[str, int]:
    """Insert the demo group into the contract tables of an open DuckDB connection.

    The tables must exist (``ensure_schema``) and be empty. Runs in one transaction: on
    failure nothing is inserted. Each table is one load in the ledger (mode ``demo``, its
    rows carry the load's id), and its fingerprint sums go to ``_fingerprints``, in that
    transaction. Returns rows per table.
    """
    from soekpi.warehouse.hashing import record_fingerprints
    from soekpi.warehouse.ledger import last_load_id

    check_demo_options(seed, scale)
    for table in DEMO_TABLES:
        ((rows,),) = con.execute(f"SELECT count(*) FROM {table}").fetchall()
        if rows:
            raise UsageError(
                f"the warehouse already holds rows in '{table}'; the demo fills only an empty "
                "warehouse (create a new one with 'soekpi init DIR --demo')"
            )
    first, last = demo_months(fiscal)
    steps = _steps(_Gen(seed, first, last, unit_counts(scale), projects_factor(scale)))
    total = float(len(steps))
    first_load = last_load_id(con) + 1
    con.execute("BEGIN TRANSACTION")
    try:
        for done, (label, statements) in enumerate(steps, start=1):
            with _as_load(con, label, first_load + done - 1):
                for sql in statements:
                    con.execute(sql)
            if progress is not None:
                progress(float(done), total, f"demo: {label}")
        for table in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        record_fingerprints(con, DEMO_TABLES)  # committed with the rows (warehouse/hashing.py)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    counts: dict[str, int] = {}
    for table in DEMO_TABLES:
        ((rows,),) = con.execute(f"SELECT count(*) FROM {table}").fetchall()
        counts[table] = int(rows)
    return counts


@contextlib.contextmanager
def _as_load(con: Any, table: str, load_id: int) -> Iterator[None]:
    """The rows inserted into ``table`` inside are load ``load_id``: their ``_load_id``
    defaults to it meanwhile, and the ledger records the load when they are in."""
    from soekpi.warehouse.connection import current_user
    from soekpi.warehouse.ledger import LOAD_COLUMN
    from soekpi.warehouse.schema import ensure_load_column, existing_tables

    ensure_load_column(con, table)
    con.execute(f"ALTER TABLE {table} ALTER COLUMN {LOAD_COLUMN} SET DEFAULT {int(load_id)}")
    yield
    con.execute(f"ALTER TABLE {table} ALTER COLUMN {LOAD_COLUMN} DROP DEFAULT")
    ((rows,),) = con.execute(f"SELECT count(*) FROM {table}").fetchall()
    if "_loads" in existing_tables(con):
        con.execute(
            "INSERT INTO _loads VALUES (?, ?, 'demo', ?, ?, 0, 0, '', now()::TIMESTAMP, ?)",
            [load_id, table, rows, rows, current_user()],
        )


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _values(rows: Any) -> str:
    def literal(v: Any) -> str:
        return _text(v) if isinstance(v, str) else repr(v)

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


class _Gen:
    """What the SQL of every step needs: the seed, the months, the units per subsidiary."""

    def __init__(
        self, seed: int, first: date, last: date, counts: list[int], projects: float = 1.0
    ) -> None:
        self.seed = seed
        self.projects = projects
        self.first = f"DATE '{first.isoformat()}'"
        next_month = date(last.year + last.month // 12, last.month % 12 + 1, 1)
        self.as_of_end = f"TIMESTAMP '{next_month.isoformat()} 00:00:00'"
        self.counts = counts
        self.width = max(2, len(str(max(counts))))
        units = sum(counts)
        self.gaps = min(3, max(1, units // 10))

    def u(self, *parts: str) -> str:
        """A uniform number in [0, 1] from the seed and the given SQL expressions.

        DuckDB combines the hashes of several arguments by XOR, so hash(k, 'a') and
        hash(k, 'b') are strongly correlated; hashing the combined value again mixes it.
        """
        return f"(hash(hash({self.seed}::BIGINT, {', '.join(parts)})) / {_HASH_MAX})"

    def month(self, t: str) -> str:
        """The first day of month number ``t`` (0 = the first month of the data)."""
        return f"({self.first} + to_months({t}))::DATE"


def _steps(g: _Gen) -> list[tuple[str, list[str]]]:
    last_t = MONTHS - 1
    return [
        ("entities", _entities(g)),
        ("financials", [_panel(g), _financials(g, last_t)]),
        ("workforce", [_workforce(last_t)]),
        ("indicators", [_indicators(last_t)]),
        ("projects", [_projects_temp(g, last_t), _projects()]),
        ("project_progress", [_progress(g)]),
        ("incidents", [_incidents(g)]),
    ]


def _entities(g: _Gen) -> list[str]:
    """The group head, the subsidiaries and the business units, and the temp tables the
    later steps share (units, gaps, sector parameters, months)."""
    return [
        _group_head(),
        _subsidiary_rows(),
        _units(g),
        _gaps(g),
        _unit_rows(),
        _sectors(),
        _months(g),
    ]


def _group_head() -> str:
    """The group head ``G00``."""
    return (
        "INSERT INTO entities BY NAME SELECT 'G00' AS entity_id, 'Example Energy Group' AS name, "
        "'中国示例能源集团' AS name_zh, NULL::VARCHAR AS parent_id, 'energy' AS sector, "
        "'Beijing' AS region"
    )


def _subsidiary_rows() -> str:
    """The six sector subsidiaries under the group head."""
    return (
        "INSERT INTO entities BY NAME SELECT entity_id, name, name_zh, 'G00' AS parent_id, "
        "sector, region FROM (VALUES "
        + _values(s[:5] for s in _SUBSIDIARIES)
        + ") s(entity_id, sector, name, name_zh, region)"
    )


def _units(g: _Gen) -> str:
    """``_demo_units``: the business units with their names, size, growth and first month."""
    u = g.u
    subs = [(sid, sector, n) for (sid, sector, *_), n in zip(_SUBSIDIARIES, g.counts, strict=True)]
    businesses = [
        (sector, i, en, zh)
        for sector, names in _BUSINESSES.items()
        for i, (en, zh) in enumerate(names)
    ]
    provinces = [(i, en, zh) for i, (en, zh) in enumerate(_PROVINCES)]
    n_prov = len(_PROVINCES)
    return f"""
CREATE TEMP TABLE _demo_units AS
WITH subs AS (
  SELECT sub_id, sector, unnest(range(1, n + 1)) AS k,
         floor({u("sub_id", "'pa'")} * {n_prov})::INT AS pa,
         1 + floor({u("sub_id", "'pb'")} * {n_prov - 1})::INT AS pb
  FROM (VALUES {_values(subs)}) s(sub_id, sector, n)
), named AS (
  SELECT 'U' || substr(sub_id, 2) || lpad(k::VARCHAR, {g.width}, '0') AS entity_id,
         sub_id, sector, k, (pa + k * pb) % {n_prov} AS p_idx
  FROM subs
)
SELECT n.entity_id, n.sub_id, n.sector, n.k,
       p.en || ' ' || b.en || CASE WHEN n.k > {n_prov}
         THEN ' ' || ((n.k - 1) // {n_prov} + 1)::VARCHAR ELSE '' END AS name,
       '示例' || p.zh || b.zh || CASE WHEN n.k > {n_prov}
         THEN ((n.k - 1) // {n_prov} + 1)::VARCHAR ELSE '' END || '公司' AS name_zh,
       p.en AS region,
       0.4 + 1.2 * {u("n.entity_id", "'size'")} AS size,
       -0.03 + 0.13 * {u("n.entity_id", "'growth'")} AS growth,
       -- a few units joined the group later and file from their first month onward
       CASE WHEN {u("n.entity_id", "'late'")} < 0.06
            THEN 6 + floor({u("n.entity_id", "'late_t'")} * 18)::INT ELSE 0 END AS first_t
FROM named n
JOIN (VALUES {_values(provinces)}) p(p_idx, en, zh) USING (p_idx)
JOIN (VALUES {_values(businesses)}) b(sector, b_idx, en, zh)
  ON b.sector = n.sector AND b.b_idx = floor({u("n.entity_id", "'biz'")} * 5)::INT
"""


def _gaps(g: _Gen) -> str:
    """``_demo_gaps``: the units whose latest monthly returns are missing."""
    # The first misses all three returns, the others financials and workforce (their KPIs
    # turn 'incomplete').
    return f"""
CREATE TEMP TABLE _demo_gaps AS
SELECT entity_id, CASE WHEN rank = 1 THEN 2 ELSE 1 END AS gap
FROM (SELECT entity_id, row_number() OVER (ORDER BY {g.u("entity_id", "'gap'")}, entity_id) AS rank
      FROM _demo_units WHERE first_t = 0)
WHERE rank <= {g.gaps}
"""


def _unit_rows() -> str:
    """The business units as entities under their subsidiaries."""
    return (
        "INSERT INTO entities BY NAME SELECT entity_id, name, name_zh, sub_id AS parent_id, "
        "sector, region FROM _demo_units"
    )


def _sectors() -> str:
    """``_demo_sectors``: each sector's parameters."""
    return (
        f"CREATE TEMP TABLE _demo_sectors AS SELECT * FROM (VALUES {_values(_SECTORS)}) "
        f"s({', '.join(_SECTOR_COLUMNS)})"
    )


def _months(g: _Gen) -> str:
    """``_demo_months``: month number ``t`` and its first day, for every month of the data."""
    return (
        f"CREATE TEMP TABLE _demo_months AS SELECT t::INT AS t, {g.month('t')} AS period "
        f"FROM range({MONTHS}) r(t)"
    )


def _panel(g: _Gen) -> str:
    """One row per business unit and month with every monthly figure, wide."""
    u = g.u
    e, p = "u.entity_id", "m.period"
    return f"""
CREATE TEMP TABLE _demo_panel AS
SELECT u.entity_id, u.sector, coalesce(gp.gap, 0) AS gap, m.t, m.period,
  m.t / {MONTHS - 1}.0 AS x,
  month(m.period) AS cal_month,
  day(last_day(m.period)) AS days,
  s.inc_rate, s.c_cyber, s.c_data, s.c_outage,
  -- revenue grows per unit, with seasonality: a Spring Festival dip and a year-end peak
  u.size * s.rev_base * pow(1 + u.growth, m.t / 12.0)
    * (1 + 0.07 * sin(2 * pi() * (cal_month - 3) / 12.0)
       + CASE cal_month WHEN 12 THEN 0.12 WHEN 2 THEN -0.08 ELSE 0 END)
    * (0.94 + 0.12 * {u(e, p, "'rev'")}) AS revenue,
  -- digital shares rise unevenly: some units barely move, others double
  revenue * greatest(0.0, s.dig0 * (0.6 + 0.8 * {u(e, "'dig0'")})
                     + s.dig_up * (0.2 + 1.6 * {u(e, "'digup'")}) * x)
    * (0.9 + 0.2 * {u(e, p, "'drev'")}) AS digital_revenue,
  revenue * (s.cost_ratio + 0.08 * ({u(e, "'cost'")} - 0.5) - 0.03 * x * {u(e, "'eff'")})
    * (0.97 + 0.06 * {u(e, p, "'cost'")}) AS operating_cost,
  revenue * (0.008 + 0.012 * {u(e, "'capex'")}) * (1 + 0.8 * x * {u(e, "'capex_up'")})
    * CASE WHEN {u(e, p, "'lump'")} < 0.15 THEN 2.5
           ELSE 0.75 + 0.3 * {u(e, p, "'capex'")} END AS digital_capex,
  revenue * (0.005 + 0.01 * {u(e, "'opex'")}) * (1 + 0.4 * x)
    * (0.9 + 0.2 * {u(e, p, "'opex'")}) AS digital_opex,
  revenue * s.rd_int * (0.6 + 0.8 * {u(e, "'rd'")}) * (1 + 0.3 * x)
    * (0.85 + 0.3 * {u(e, p, "'rd'")}) * CASE cal_month WHEN 12 THEN 1.5 ELSE 1 END
    AS rd_expense,
  round(u.size * s.rev_base / s.rev_per_head
        * (1 + (-0.02 + 0.04 * {u(e, "'hcg'")}) * m.t / 12.0)
        * (0.99 + 0.02 * {u(e, p, "'hc'")}))::INTEGER AS headcount,
  round(headcount * (0.02 + 0.06 * {u(e, "'dh0'")} + s.dig_staff
                     + 0.05 * x * {u(e, "'dhup'")}))::INTEGER AS digital_headcount,
  round(headcount * (1.5 + 3 * {u(e, "'train'")}) * (0.8 + 0.4 * {u(e, p, "'train'")})
        * CASE cal_month WHEN 2 THEN 0.5 WHEN 8 THEN 0.7 ELSE 1 END, 1) AS training_hours,
  floor(digital_headcount * (0.005 + 0.03 * {u(e, p, "'hire'")})
        * CASE cal_month WHEN 7 THEN 2.5 ELSE 1 END)::INTEGER AS new_digital_hires,
  round((15 + 90 * {u(e, "'sys'")}) * (1 + 0.15 * x)) AS systems_total,
  round(systems_total * least(0.95, 0.05 + 0.25 * {u(e, "'cloud0'")}
                                    + 0.6 * {u(e, "'cloudup'")} * x)) AS systems_on_cloud,
  round(systems_total * least(0.95, 0.10 + 0.30 * {u(e, "'integ0'")}
                                    + 0.5 * {u(e, "'integup'")} * x)) AS systems_integrated,
  round((3 + 40 * {u(e, "'dsi0'")}) * (1 + 3 * {u(e, "'dsiup'")} * x))
    AS data_sharing_interfaces,
  round(s.assets_base * u.size * (0.5 + {u(e, "'assets'")})) AS critical_assets,
  round(critical_assets * least(0.9, 0.02 + 0.15 * {u(e, "'pm0'")}
                                     + 0.5 * {u(e, "'pmup'")} * x)) AS assets_predictive,
  round(critical_assets * days * 24 * (0.88 + 0.08 * {u(e, p, "'avail'")}), 1)
    AS operating_hours,
  round(operating_hours * (0.004 + 0.02 * {u(e, "'dt'")})
        * (1 - 0.8 * assets_predictive / greatest(critical_assets, 1)) * (1 - 0.1 * x)
        * CASE WHEN {u(e, p, "'outage'")} < 0.05 THEN 4 ELSE 0.6 + 0.8 * {u(e, p, "'dt'")} END,
        1) AS unplanned_downtime_hours
FROM _demo_units u
JOIN _demo_sectors s USING (sector)
JOIN _demo_months m ON m.t >= u.first_t
LEFT JOIN _demo_gaps gp USING (entity_id)
"""


def _case(column: str, names: tuple[str, ...]) -> str:
    return "CASE " + column + " " + " ".join(f"WHEN '{n}' THEN {n}" for n in names) + " END"


def _financials(g: _Gen, last_t: int) -> str:
    return f"""
INSERT INTO financials BY NAME
SELECT p.entity_id, p.period, a.account,
       round({_case("a.account", _ACCOUNTS)}, 2)::DECIMAL(18,2) AS amount
FROM _demo_panel p CROSS JOIN (VALUES {_values((a,) for a in _ACCOUNTS)}) a(account)
WHERE NOT (p.gap > 0 AND p.t = {last_t})
"""


def _workforce(last_t: int) -> str:
    return f"""
INSERT INTO workforce BY NAME
SELECT entity_id, period, headcount, digital_headcount, training_hours, new_digital_hires
FROM _demo_panel WHERE NOT (gap > 0 AND t = {last_t})
"""


def _indicators(last_t: int) -> str:
    return f"""
INSERT INTO indicators BY NAME
SELECT p.entity_id, p.period, i.indicator,
       ({_case("i.indicator", _INDICATORS)})::DOUBLE AS value
FROM _demo_panel p CROSS JOIN (VALUES {_values((i,) for i in _INDICATORS)}) i(indicator)
WHERE NOT (p.gap = 2 AND p.t = {last_t})
"""


def _projects_temp(g: _Gen, last_t: int) -> str:
    """Projects with their plan and what happened: some slip, some overrun, a few are
    cancelled; those starting after the last month are still planned."""
    u = g.u
    horizon = MONTHS + 6
    category, base, name = _category_case(), _budget_case(), _name_case(g)
    return f"""
CREATE TEMP TABLE _demo_projects AS
WITH counted AS (
  SELECT entity_id, size, first_t,
         unnest(range(1, {_project_count(g)})) AS k
  FROM _demo_units
), keyed AS (
  SELECT *, 'P' || substr(entity_id, 2) || '-' || lpad(k::VARCHAR, 2, '0') AS project_id
  FROM counted
)
SELECT project_id, entity_id,
  {u("project_id", "'cat'")} AS c,
  {category} AS category,
  first_t + floor({u("project_id", "'start'")} * ({horizon} - first_t))::INT AS start_t,
  {name} || ', phase ' || (1 + floor({u("project_id", "'phase'")} * 3)::INT)::VARCHAR AS name,
  0.65 - 0.4 * start_t / {horizon - 1}.0 AS pilot_share,
  CASE WHEN {u("project_id", "'stage'")} < pilot_share THEN 'pilot'
       WHEN {u("project_id", "'stage'")} < pilot_share + (1 - pilot_share) * 0.6 THEN 'scaling'
       ELSE 'embedded' END AS stage,
  4 + floor({u("project_id", "'dur'")} * 21)::INT AS planned_dur,
  CASE WHEN {u("project_id", "'slip'")} < 0.45 THEN 0
       ELSE ceil(planned_dur * (0.1 + 0.5 * {u("project_id", "'slipby'")}))::INT END AS slip,
  planned_dur + slip AS actual_dur,
  CASE WHEN {u("project_id", "'overrun'")} < 0.25
       THEN 1.2 + 0.8 * {u("project_id", "'overby'")}
       ELSE 0.85 + 0.15 * {u("project_id", "'eff'")} END AS cost_factor,
  CASE WHEN {u("project_id", "'cancel'")} < 0.05
       THEN ceil(actual_dur * (0.2 + 0.4 * {u("project_id", "'cancelat'")}))::INT END
    AS cancel_after,
  CASE WHEN start_t > {last_t} THEN 'planned'
       WHEN cancel_after IS NOT NULL AND start_t + cancel_after - 1 <= {last_t} THEN 'cancelled'
       WHEN start_t + actual_dur - 1 <= {last_t} THEN 'completed'
       ELSE 'active' END AS status,
  CASE status WHEN 'planned' THEN NULL
              WHEN 'cancelled' THEN start_t + cancel_after - 1
              WHEN 'completed' THEN start_t + actual_dur - 1
              ELSE {last_t} END AS end_t,
  {g.month("start_t")} + floor({u("project_id", "'day'")} * 20)::INT AS start_date,
  last_day({g.month("start_t + planned_dur - 1")}) AS planned_end_date,
  -- when the work stopped: delivered (completed) or abandoned (cancelled)
  CASE WHEN status IN ('completed', 'cancelled')
       THEN last_day({g.month("end_t")}) - floor({u("project_id", "'endday'")} * 10)::INT
  END AS actual_end_date,
  round({base} * (0.5 + size) * (0.3 + 1.4 * {u("project_id", "'budget'")}) / 1000) * 1000
    AS budget
FROM keyed
"""


def _category_case() -> str:
    """A project's category from its draw ``c``, by the categories' cumulative shares."""
    return (
        "CASE "
        + " ".join(f"WHEN c < {share} THEN '{cat}'" for cat, share, *_ in _CATEGORIES[:-1])
        + f" ELSE '{_CATEGORIES[-1][0]}' END"
    )


def _budget_case() -> str:
    """A project's base budget by its category."""
    return (
        "CASE category "
        + " ".join(f"WHEN '{cat}' THEN {budget!r}" for cat, _, budget, *_ in _CATEGORIES)
        + " END"
    )


def _name_case(g: _Gen) -> str:
    """A project's name: one of its category's two names, drawn per project."""
    pick = g.u("project_id", "'name'")
    return (
        "CASE category "
        + " ".join(
            f"WHEN '{cat}' THEN CASE WHEN {pick} < 0.5 THEN {_text(a)} ELSE {_text(b)} END"
            for cat, _, _, a, b in _CATEGORIES
        )
        + " END"
    )


def _project_count(g: _Gen) -> str:
    """The end (excluded) of a unit's project numbers: 3..15 projects per unit
    (× projects_factor at large scales)."""
    draw = g.u("entity_id", "'nproj'")
    if g.projects != 1.0:
        return f"1 + floor((3 + floor({draw} * 13)) * {g.projects!r})::INT"
    return f"4 + floor({draw} * 13)::INT"


def _projects() -> str:
    return """
INSERT INTO projects BY NAME
SELECT project_id, entity_id, name, category, stage, status, start_date, planned_end_date,
       actual_end_date, budget::DECIMAL(18,2) AS budget
FROM _demo_projects
"""


def _progress(g: _Gen) -> str:
    """Monthly earned value: the plan spreads the budget over the planned months, the work
    over the actual ones; actual cost follows earned value times the project's cost factor."""
    u = g.u
    return f"""
INSERT INTO project_progress BY NAME
SELECT project_id, entity_id, period, planned_value, earned_value, actual_cost FROM (
SELECT project_id, entity_id, {g.month("t")} AS period,
  round(CASE WHEN t - start_t < planned_dur THEN budget / planned_dur ELSE 0 END, 2)
    ::DECIMAL(18,2) AS planned_value,
  budget / actual_dur * (0.85 + 0.3 * {u("project_id", "t", "'ev'")}) AS ev,
  round(ev, 2)::DECIMAL(18,2) AS earned_value,
  round(ev * cost_factor * (0.92 + 0.16 * {u("project_id", "t", "'ac'")}), 2)::DECIMAL(18,2)
    AS actual_cost
FROM (SELECT *, unnest(range(start_t, end_t + 1)) AS t
      FROM _demo_projects WHERE end_t IS NOT NULL))
"""


def _incidents(g: _Gen) -> str:
    """Up to three incidents per unit and month; severity 4 is rare; an incident still open
    at the end of the data, or never resolved, has no resolved_at."""
    u = g.u
    key = ("entity_id", "period", "slot")
    return f"""
INSERT INTO incidents BY NAME
SELECT incident_id, entity_id, occurred_at, category, severity, resolved_at FROM (
SELECT 'INC-' || entity_id || '-' || strftime(period, '%Y%m') || '-' || slot::VARCHAR
         AS incident_id,
  entity_id,
  period::TIMESTAMP + to_seconds(floor({u(*key, "'when'")} * days * 86400)::BIGINT)
    AS occurred_at,
  {u(*key, "'cat'")} AS c,
  CASE WHEN c < c_cyber THEN 'cyber' WHEN c < c_data THEN 'data'
       WHEN c < c_outage THEN 'outage' ELSE 'safety' END AS category,
  {u(*key, "'sev'")} AS sv,
  CASE WHEN sv < 0.5 THEN 1 WHEN sv < 0.8 THEN 2 WHEN sv < 0.965 THEN 3 ELSE 4 END AS severity,
  CASE severity WHEN 1 THEN pow(24, {u(*key, "'fix'")})
                WHEN 2 THEN 2 * pow(36, {u(*key, "'fix'")})
                WHEN 3 THEN 4 * pow(60, {u(*key, "'fix'")})
                ELSE 6 * pow(80, {u(*key, "'fix'")}) END AS hours,
  occurred_at + to_seconds(floor(hours * 3600)::BIGINT) AS fixed_at,
  CASE WHEN {u(*key, "'open'")} >= 0.03 AND fixed_at < {g.as_of_end} THEN fixed_at END
    AS resolved_at
FROM (SELECT p.*, r.slot FROM _demo_panel p CROSS JOIN range(3) r(slot))
WHERE {u(*key, "'inc'")} < inc_rate)
"""
