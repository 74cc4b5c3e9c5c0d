"""benchmarks/bench.py runs end to end at a tiny scale and soekpi agrees with the hand SQL.

No timing is asserted: only that the benchmark works, that (a) compute and (c) the
hand-written DuckDB query give the same KPI values, and that the report's kpis.json is
byte-identical to compute's output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_and_soekpi_agrees_with_the_hand_sql(tmp_path: Path) -> None:
    out = tmp_path / "latest.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench.py"),
            "--scale",
            "0.25",
            "--runs",
            "1",
            "--seed",
            "7",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    agreement = results["agreement"]
    assert agreement["ok"] is True
    assert agreement["mismatches"] == 0
    assert agreement["report_kpis_json_equals_compute"] is True
    # every entity of the demo at scale 0.25 (the head, six subsidiaries, one unit under
    # each: 13) and every simple and ratio KPI of the default catalogue (26 less two growth
    # KPIs and the composite: 23)
    assert results["rows"]["entities"] == 13
    assert agreement["entities"] == 13
    assert agreement["values_compared"] == 13 * 23
    assert set(results["processes"]) == {"a", "b", "c", "cl", "c8", "d"}
    assert results["same_limit"]["memory_limit"] == "500MB"
    assert agreement["hand_limited_equals_hand"] is True
    assert "under the same DuckDB memory_limit (500MB): (a)/(cl)" in proc.stdout
    assert results["help_heavy_imports"] == []
    assert (tmp_path / "cache" / "7-0.25" / "soekpi.yaml").exists()
    assert "agreement: 299 values of 23 KPIs compared, 0 mismatches" in proc.stdout
