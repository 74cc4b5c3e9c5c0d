"""soekpi against a hand-written DuckDB query, on one demo warehouse (issue 7).

``make bench`` (``BENCH_ARGS="--scale 1200 --runs 3"``) builds — or reuses, from
benchmarks/cache/<seed>-<scale>/ — the demo group at the given scale, then times whole
processes, each run in turn:

- (a) ``soekpi compute --cycle <latest> --format json`` (every entity and KPI),
- (c) ``benchmarks/handsql.py``: the same measure aggregates for the cycles (a) needs,
- (cl) the same hand query under the DuckDB memory limit soekpi runs its measure
  queries at (``MEASURE_MEMORY_LIMIT``): not a target, the like-for-like comparison,
- (b) ``soekpi report --cycle <latest> --force --out <tmp>``,
- (c8) handsql.py for the cycles the report needs (eight trailing quarters and the
  quarters a year before them, for growth),
- (d) ``soekpi --help``,

checks that (a) and (c) agree on every simple and ratio KPI of every entity, prints the
medians, the ratios (a)/(c) and (b)/(c8) against their targets and the peak RSS of each
process, and writes it all to benchmarks/results/latest.json (or ``--json``).
Exit 0 when (a) and (c) agree, 1 when they do not.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
SOEKPI = [str(BIN / "python"), "-m", "soekpi"]

#: The targets of issue 7 (on a 2-core machine).
TARGETS = {
    "compute_over_hand": 1.25,
    "report_over_hand8": 1.5,
    "compute_rss_mb_at_50m": 1024.0,
    "help_seconds": 0.35,
}
TREND_CYCLES = 8
#: Ledger rows from which the RSS target ("at 50 million rows") is checked.
FIFTY_MILLION = 45_000_000


@dataclass
class Sample:
    """One process: wall seconds, CPU seconds (user + system) and peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float


def run(cmd: list[str], stdout: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run ``cmd`` to completion and measure it with wait4 (its own rusage, not a sum)."""
    sample = run_tolerating(cmd, None, stdout, env)
    assert sample is not None
    return sample


def run_tolerating(
    cmd: list[str],
    tolerate: int | None,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
) -> Sample | None:
    """:func:`run`, but None when ``cmd`` exits ``tolerate``; any other failure ends the
    benchmark."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    if proc.returncode != 0 and proc.returncode == tolerate:
        return None
    if proc.returncode != 0:
        raise SystemExit(
            f"bench: {' '.join(cmd)} exited {proc.returncode}:\n{err.decode(errors='replace')}"
        )
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def summary(samples: list[Sample]) -> dict[str, Any]:
    """Median and range of wall time, median CPU time, peak RSS."""
    walls = [s.wall for s in samples]
    return {
        "runs": len(samples),
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_min_s": round(min(walls), 3),
        "wall_max_s": round(max(walls), 3),
        "cpu_median_s": round(statistics.median(s.cpu for s in samples), 3),
        "peak_rss_mb": round(max(s.rss_mb for s in samples), 1),
    }


def ensure_demo(cache: Path, seed: int, scale: float) -> tuple[Path, Sample | None]:
    """The cached demo workspace for (seed, scale), built when missing."""
    ws = cache / f"{seed}-{scale:g}"
    if (ws / "soekpi.yaml").exists():
        # the data is the demo's; the catalogue is the checkout's, so a change to metrics/
        # is measured without rebuilding the warehouse
        for old in (ws / "metrics").glob("*.y*ml"):
            old.unlink()
        for new in sorted((ROOT / "metrics").glob("*.y*ml")):
            shutil.copyfile(new, ws / "metrics" / new.name)
        return ws, None
    cache.mkdir(parents=True, exist_ok=True)
    print(f"building the demo at scale {scale:g} (seed {seed}) in {ws} …", file=sys.stderr)
    built = run([*SOEKPI, "init", str(ws), "--demo", "--seed", str(seed), "--scale", f"{scale}"])
    return ws, built


def table_rows(ws: Path) -> dict[str, int]:
    """Rows per table of the demo warehouse."""
    import duckdb

    from soekpi.warehouse.demo import DEMO_TABLES

    con = duckdb.connect(str(ws / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return {t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in DEMO_TABLES}
    finally:
        con.close()


def cycle_specs(ws: Path, latest: str, trailing: int) -> tuple[list[str], list[str]]:
    """handsql.py arguments for the cycles compute needs for ``latest`` and for the
    ``trailing`` quarters up to it (each with the quarter a year before, for growth)."""
    from soekpi.base.calendar import parse_cycle
    from soekpi.workspace import read_workspace

    fiscal = read_workspace(ws).fiscal

    def spec(name: str) -> str:
        c = parse_cycle(name)
        months = c.months(fiscal)
        ytd: date = c.fiscal_year_cycle().start(fiscal)
        return f"{c.name}={months[0]},{months[-1]},{ytd.replace(day=1)}"

    cycle = parse_cycle(latest)

    def needed(cycles: list[Any]) -> list[str]:
        names = {c.name for c in cycles} | {c.same_cycle_last_year().name for c in cycles}
        return [spec(n) for n in sorted(names)]

    return needed([cycle]), needed(list(cycle.trailing(trailing)))


def same_measures(left: Path, right: Path) -> bool:
    """Two handsql.py outputs hold the same rows and, within 1e-9, the same numbers (its
    DOUBLE sums may differ in the last bits from run to run)."""
    with (
        open(left, newline="", encoding="utf-8") as a,
        open(right, newline="", encoding="utf-8") as b,
    ):
        rows_a, rows_b = list(csv.reader(a)), list(csv.reader(b))
    if len(rows_a) != len(rows_b) or rows_a[:1] != rows_b[:1]:  # the header
        return False
    for row_a, row_b in zip(rows_a[1:], rows_b[1:], strict=True):
        if row_a[:2] != row_b[:2] or len(row_a) != len(row_b):
            return False
        for x, y in zip(row_a[2:], row_b[2:], strict=True):
            if x != y and (
                "" in (x, y) or not math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)
            ):
                return False
    return True


def agreement(catalogue_dir: Path, ws: Path, compute_json: Path, hand_csv: Path) -> dict[str, Any]:
    """Every simple and ratio KPI of (a), recomputed from (c)'s measures, for every entity."""
    from soekpi.catalogue import load_catalogue
    from soekpi.workspace import read_workspace

    catalogue = load_catalogue(read_workspace(ws))
    hand: dict[tuple[str, str], dict[str, float | None]] = {}
    with open(hand_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            hand[(row["entity"], row["cycle"])] = {
                k: (float(v) if v != "" else None)
                for k, v in row.items()
                if k not in ("entity", "cycle")
            }
    records = json.loads(compute_json.read_text(encoding="utf-8"))
    compared = 0
    mismatches: list[str] = []
    kpis_checked: set[str] = set()
    for record in records:
        kpi = catalogue.kpis[record["kpi"]]
        measures = hand.get((record["entity"], record["cycle"]))
        if measures is None or kpi.type not in ("simple", "ratio"):
            continue
        if kpi.type == "simple":
            value = measures.get(f"{kpi.measure}|{kpi.window}")
            expected = None if value is None else value * float(kpi.scale)
        else:
            num = measures.get(f"{kpi.numerator}|{kpi.window}")
            den = measures.get(f"{kpi.denominator}|{kpi.window}")
            expected = None if num is None or not den else num / den * float(kpi.scale)
        got = record["value"]
        compared += 1
        kpis_checked.add(kpi.id)
        same = (got is None and expected is None) or (
            got is not None
            and expected is not None
            and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
        )
        if not same:
            mismatches.append(f"{record['entity']} {record['kpi']}: soekpi {got}, hand {expected}")
    return {
        "values_compared": compared,
        "kpis_compared": sorted(kpis_checked),
        "entities": len({e for e, _ in hand}),
        "mismatches": len(mismatches),
        "first_mismatches": mismatches[:10],
        "ok": compared > 0 and not mismatches,
    }


def help_imports() -> list[str]:
    """Heavy modules imported by ``soekpi --help`` (should be none)."""
    proc = subprocess.run(
        [str(BIN / "python"), "-X", "importtime", "-m", "soekpi", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    heavy = ("polars", "duckdb", "jinja2", "pyarrow", "yaml")
    found = set()
    for line in proc.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.split(".")[0] in heavy:
            found.add(name.split(".")[0])
    return sorted(found)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import duckdb
    import polars

    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the demo, time (a) (b) (c) (cl) (c8) (d), check, print, write JSON."""
    from handsql import OUT_OF_MEMORY

    from soekpi.engine.compute import MEASURE_MEMORY_LIMIT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1200.0, help="demo scale (1200 ≈ 10 M)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every process")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", type=Path, default=HERE / "cache", help="demo cache folder")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--no-report", action="store_true", help="skip (b) and (c8)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    ws, built = ensure_demo(args.cache.resolve(), args.seed, args.scale)
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SOEKPI_WORKSPACE", None)
    latest = subprocess.run(
        [*SOEKPI, "-w", str(ws), "cycles", "--latest"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    one, eight = cycle_specs(ws, latest, TREND_CYCLES)
    warehouse = str(ws / "data" / "warehouse.duckdb")
    metrics = str(ws / "metrics")
    hand = [str(BIN / "python"), str(HERE / "handsql.py"), warehouse, metrics]
    limited = [*hand[:2], f"--memory-limit={MEASURE_MEMORY_LIMIT}", *hand[2:]]
    samples: dict[str, list[Sample]] = {k: [] for k in ("a", "b", "c", "cl", "c8", "d")}
    out_of_memory = 0  # runs of (cl) that DuckDB could not fit in the limit
    with tempfile.TemporaryDirectory(prefix="soekpi-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs} …", file=sys.stderr)
            samples["a"].append(
                run(
                    [*SOEKPI, "-w", str(ws), "compute", "--cycle", latest, "--format", "json"],
                    stdout=tmp / "compute.json",
                    env=env,
                )
            )
            samples["c"].append(run([*hand, str(tmp / "hand.csv"), *one], env=env))
            hand_limited = run_tolerating(
                [*limited, str(tmp / "hand_limited.csv"), *one], OUT_OF_MEMORY, env=env
            )
            if hand_limited is None:
                out_of_memory += 1
            else:
                samples["cl"].append(hand_limited)
            if not args.no_report:
                cmd = [*SOEKPI, "-w", str(ws), "report", "--cycle", latest, "--force"]
                samples["b"].append(run([*cmd, "--out", str(tmp / "out")], env=env))
                samples["c8"].append(run([*hand, str(tmp / "hand8.csv"), *eight], env=env))
            samples["d"].append(run([*SOEKPI, "--help"], env=env))
        agree = agreement(ws / "metrics", ws, tmp / "compute.json", tmp / "hand.csv")
        limited_csv = tmp / "hand_limited.csv"
        agree["hand_limited_equals_hand"] = (
            same_measures(limited_csv, tmp / "hand.csv") if limited_csv.exists() else None
        )
        if not args.no_report:
            report_json = tmp / "out" / latest / "kpis.json"
            agree["report_kpis_json_equals_compute"] = (
                report_json.read_bytes() == (tmp / "compute.json").read_bytes()
            )
            shutil.rmtree(tmp / "out", ignore_errors=True)

    rows = table_rows(ws)
    results: dict[str, Any] = {
        "scale": args.scale,
        "seed": args.seed,
        "cycle": latest,
        "rows": rows,
        "machine": machine(),
        "demo_build": None if built is None else summary([built]),
        "processes": {k: summary(v) for k, v in samples.items() if v},
        "agreement": agree,
        "help_heavy_imports": help_imports(),
    }
    procs = results["processes"]
    ratios = {"compute_over_hand": procs["a"]["wall_median_s"] / procs["c"]["wall_median_s"]}
    cpu_ratios = {"compute_over_hand": procs["a"]["cpu_median_s"] / procs["c"]["cpu_median_s"]}
    if "b" in procs:
        ratios["report_over_hand8"] = procs["b"]["wall_median_s"] / procs["c8"]["wall_median_s"]
        cpu_ratios["report_over_hand8"] = procs["b"]["cpu_median_s"] / procs["c8"]["cpu_median_s"]
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    limited = procs.get("cl")
    results["same_limit"] = {
        "memory_limit": MEASURE_MEMORY_LIMIT,
        "out_of_memory_runs": out_of_memory,
        "compute_over_hand": (
            round(procs["a"]["wall_median_s"] / limited["wall_median_s"], 3) if limited else None
        ),
        "compute_rss_minus_hand_mb": (
            round(procs["a"]["peak_rss_mb"] - limited["peak_rss_mb"], 1) if limited else None
        ),
    }
    results["cpu_ratios"] = {k: round(v, 3) for k, v in cpu_ratios.items()}
    results["targets"] = TARGETS
    met = {k: v <= TARGETS[k] for k, v in ratios.items()}
    met["help_seconds"] = procs["d"]["wall_median_s"] <= TARGETS["help_seconds"]
    met["help_imports_nothing_heavy"] = not results["help_heavy_imports"]
    if rows["financials"] >= FIFTY_MILLION:  # the memory target is set at 50 M rows
        met["compute_rss_mb_at_50m"] = procs["a"]["peak_rss_mb"] < TARGETS["compute_rss_mb_at_50m"]
    results["met"] = met

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(report_text(results))
    return 0 if agree["ok"] else 1


def report_text(results: dict[str, Any]) -> str:
    """The figures as a few plain lines."""
    rows = results["rows"]
    lines = [
        f"scale {results['scale']:g}: {rows['entities']:,} entities, "
        f"{rows['financials']:,} ledger rows, {rows['project_progress']:,} progress rows; "
        f"cycle {results['cycle']}",
        "process                        wall median (min–max)   cpu     peak RSS",
    ]
    names = {
        "a": "(a) compute --format json",
        "c": "(c) hand SQL, compute cycles",
        "cl": f"(cl) (c) at {results['same_limit']['memory_limit']}",
        "b": "(b) report",
        "c8": "(c8) hand SQL, report cycles",
        "d": "(d) soekpi --help",
    }
    for key, name in names.items():
        p = results["processes"].get(key)
        if p:
            lines.append(
                f"{name:30} {p['wall_median_s']:7.2f} s ({p['wall_min_s']:.2f}–"
                f"{p['wall_max_s']:.2f})  {p['cpu_median_s']:6.2f} s  {p['peak_rss_mb']:7.0f} MB"
            )
    for key, value in results["ratios"].items():
        ok = "ok" if results["met"][key] else "MISSED"
        lines.append(
            f"{key}: {value:.2f} (target ≤ {results['targets'][key]}; "
            f"cpu {results['cpu_ratios'][key]:.2f}) {ok}"
        )
    same = results["same_limit"]
    found = []
    if same["compute_over_hand"] is not None:
        more = same["compute_rss_minus_hand_mb"]
        found.append(
            f"(a)/(cl) {same['compute_over_hand']:.2f}, (a) peaks {abs(more):.0f} MB "
            f"{'above' if more > 0 else 'below'} (cl)"
        )
    if same["out_of_memory_runs"]:
        found.append(f"(cl) ran out of memory in {same['out_of_memory_runs']} run(s)")
    lines.append(
        f"under the same DuckDB memory_limit ({same['memory_limit']}): " + "; ".join(found)
    )
    if "compute_rss_mb_at_50m" in results["met"]:
        ok = "ok" if results["met"]["compute_rss_mb_at_50m"] else "MISSED"
        lines.append(
            f"peak RSS of (a): {results['processes']['a']['peak_rss_mb']:.0f} MB (target < "
            f"{results['targets']['compute_rss_mb_at_50m']:.0f} MB at 50 M rows) {ok}"
        )
    help_ok = "ok" if results["met"]["help_seconds"] else "MISSED"
    heavy = ", ".join(results["help_heavy_imports"]) or "nothing heavy"
    lines.append(
        f"--help: {results['processes']['d']['wall_median_s']:.2f} s {help_ok}; imports {heavy}"
    )
    agree = results["agreement"]
    lines.append(
        f"agreement: {agree['values_compared']:,} values of {len(agree['kpis_compared'])} KPIs "
        f"compared, {agree['mismatches']} mismatches"
        + ("" if agree["ok"] else " — FAILED: " + "; ".join(agree["first_mismatches"][:3]))
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
