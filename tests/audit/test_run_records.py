"""A run records exactly what it read, and ``verify`` rebuilds it (issue 17, items 2 and 3).

The story of the issue on the demo, then the manifest on the audit tests' tiny workspace
(audit_data.py: entities G ← A, B; a monthly ledger; the fiscal year is the calendar year).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from audit_data import ENTITIES, Q1_LEDGER
from helpers import Invoke, load_csvs, query, run, write

from soekpi.catalogue.definitions import catalogue_from_definitions
from soekpi.catalogue.validate import load_catalogue
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.workspace import read_workspace

EPOCH = {"SOURCE_DATE_EPOCH": "1790000000"}


def _manifest(run_folder: Path) -> dict[str, Any]:
    return json.loads((run_folder / "manifest.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------- story 1, on the demo


def test_a_later_quarter_changes_neither_answer_a_restatement_only_the_current_one(
    demo_root: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "demo"
    shutil.copytree(demo_root, ws)
    code, out, err = run(ws, "report", "--cycle", "FY2026-Q2", env=EPOCH)
    assert code == 0, err
    folder = Path(out.strip())
    as_of = _manifest(folder)["as_of_load"]
    assert as_of == query(ws, "select max(load_id) from _loads")[0][0]

    # a later quarter's ledger (the demo's data end in 2026-09): FY2026-Q4 touches no month
    # the run read (its cycle, year to date, trend and year-ago cycles end in 2026-06)
    october = "entity_id,period,account,amount\nU0101,2026-10-01,revenue,1000.00\n"
    code, _, err = run(ws, "load", "financials", write(tmp_path / "oct.csv", october))
    assert code == 0, err
    code, out, err = run(ws, "verify", folder)
    assert code == 0, out + err
    assert out.splitlines()[0].endswith(
        f"rebuilt as of load {as_of} with its own definitions: reproducible"
    )
    assert out.splitlines()[1] == (
        f"still current: 1 load(s) after load {as_of}, none changed the rows the run read or its "
        "values"
    )
    code, out, err = run(ws, "verify", folder, "--current")
    assert code == 0, out + err
    assert "against today's data and catalogue: still current" in out

    # a restatement of May 2026, inside the run's cycle: U0101's revenue + 50,000,000
    rows = query(
        ws,
        "select account, amount from financials where entity_id = 'U0101' "
        "and period = '2026-05-01' order by account",
    )
    may = "entity_id,period,account,amount\n" + "".join(
        f"U0101,2026-05-01,{account},{amount + (50_000_000 if account == 'revenue' else 0)}\n"
        for account, amount in rows
    )
    code, _, err = run(
        ws, "load", "financials", write(tmp_path / "may.csv", may), "--mode", "replace"
    )
    assert code == 0, err
    restatement = query(ws, "select max(load_id) from _loads")[0][0]

    code, out, err = run(ws, "verify", folder, "--format", "json")
    assert code == 0, out + err  # as of its load the run is what it was
    doc = json.loads(out)
    assert doc["reproducible"] is True and doc["outputs"] == []
    assert doc["current"]["current"] is False
    assert [t["load"] for t in doc["current"]["touched"]] == [restatement]

    code, out, err = run(ws, "verify", folder, "--current", "--format", "json")
    assert code == 1, out + err
    doc = json.loads(out)
    assert doc["current"]["restated"] is True and doc["current"]["redefined"] is False
    [touched] = doc["current"]["touched"]
    assert (touched["load"], touched["source"], touched["mode"]) == (
        restatement,
        "financials",
        "replace",
    )
    assert touched["restated_months"] == ["2026-05"]
    revenue = next(
        r for r in doc["diff"]["rows"] if (r["entity"], r["kpi"]) == ("U0101", "revenue")
    )
    assert revenue["absolute_change"] == 50_000_000
    code, out, _ = run(ws, "verify", folder, "--current")
    assert "restated since load" in out.splitlines()[0]
    assert f"load {restatement} (financials, replace, restated 2026-05" in out


# ------------------------------------------------------- the manifest, on a tiny workspace


def _report(soekpi: Invoke, out: Path, *more: str) -> Path:
    result = soekpi("report", "--cycle", "FY2026-Q1", "--out", str(out), *more)
    assert result.exit_code == 0, result.output
    return out / "FY2026-Q1"


def _ledger(*rows: str) -> str:
    return "entity_id,period,account,amount\n" + "".join(f"{r}\n" for r in rows)


def test_the_manifest_hashes_the_months_the_run_read(
    workspace: Path, soekpi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775000000")
    loads = [("entities", "entities.csv", ENTITIES), ("financials", "q1.csv", Q1_LEDGER)]
    load_csvs(workspace, loads, tmp_path)
    first = _report(soekpi, tmp_path / "first")
    manifest = _manifest(first)
    assert manifest["as_of_load"] == 2  # entities were load 1, the ledger load 2
    sources = manifest["sources"]
    # the ledger's 12 rows (2 units × 2 accounts × 3 months) lie in the months read
    assert sources["financials"]["rows"] == 12 and isinstance(sources["financials"]["rows"], int)
    assert sources["entities"]["rows"] == 3
    # entities, read whole, hash as the whole table does; the ledger over its months does not
    with open_warehouse(read_workspace(workspace), write=False) as con:
        whole = source_fingerprints(con, load_catalogue(read_workspace(workspace)))
    assert sources["entities"] == whole["entities"]
    assert sources["financials"]["sha256"] != whole["financials"]["sha256"]
    assert "definitions.json" in manifest["files"]

    def sources_now(name: str) -> dict[str, Any]:
        return _manifest(_report(soekpi, tmp_path / name))["sources"]

    # April 2026 (FY2026-Q2) and March 2024 lie outside the months FY2026-Q1 reads (its
    # trend starts at FY2024-Q2, April 2024): the hash does not move
    for name, row in (("april", "A,2026-04-01,revenue,5.00"), ("old", "A,2024-03-01,cost,1.00")):
        result = soekpi("load", "financials", write(tmp_path / f"{name}.csv", _ledger(row)))
        assert result.exit_code == 0, result.output
        assert sources_now(name)["financials"] == sources["financials"]
    # June 2025 (FY2025-Q2, a trend cycle) does: one row more
    result = soekpi(
        "load", "financials", write(tmp_path / "june.csv", _ledger("A,2025-06-01,cost,1.00"))
    )
    assert result.exit_code == 0, result.output
    june = sources_now("june")["financials"]
    assert june["rows"] == 13 and june["sha256"] != sources["financials"]["sha256"]

    # as of load 2 the run is the first one again, byte for byte
    again = _report(soekpi, tmp_path / "again", "--as-of", "2")
    for path in sorted(first.iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name

    # an unknown load: exit 2 naming the last one, nothing written
    result = soekpi(
        "report", "--cycle", "FY2026-Q1", "--out", str(tmp_path / "none"), "--as-of", "99"
    )
    assert result.exit_code == 2
    assert "--as-of: load 99 does not exist; the last load is 5" in result.stderr
    assert not (tmp_path / "none").exists()


def test_definitions_json_is_the_catalogue_the_run_used(published: Path, workspace: Path) -> None:
    doc = json.loads((published / "definitions.json").read_text(encoding="utf-8"))
    catalogue, fiscal = catalogue_from_definitions(doc)
    manifest = _manifest(published)
    assert {k: catalogue.kpi_hash(k) for k in catalogue.kpis} == {
        k: v["sha256"] for k, v in manifest["kpis"].items()
    }
    assert (fiscal.start_month, fiscal.label) == (1, "end")
    assert catalogue.kpis == load_catalogue(read_workspace(workspace)).kpis


def test_a_tampered_file_fails_verify_naming_it(published: Path, soekpi: Invoke) -> None:
    definitions = published / "definitions.json"
    # total_revenue's green threshold 1000 → 600: B's revenue 600 turns from amber to green
    definitions.write_text(
        definitions.read_text(encoding="utf-8").replace('"green": 1000.0', '"green": 600.0'),
        encoding="utf-8",
    )
    result = soekpi("verify", published)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("NOT reproducible")
    assert any(
        line.startswith("definitions.json: altered since the run was written") for line in lines
    )
    assert any(line.startswith("kpis.json: differs from the rebuild") for line in lines)


def test_a_run_without_as_of_load_is_verified_as_before(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    # the manifest a run of the previous version wrote: whole-table hashes, no as_of_load,
    # no definitions.json
    manifest = _manifest(published)
    ws = read_workspace(workspace)
    with open_warehouse(ws, write=False) as con:
        manifest["sources"] = source_fingerprints(con, load_catalogue(ws))
    del manifest["as_of_load"], manifest["files"]["definitions.json"]
    (published / "definitions.json").unlink()
    (published / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    result = soekpi("verify", published)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"verify {published} (FY2026-Q1) against a recomputation from the current warehouse and "
        "catalogue: reproducible\n"
    )


def test_a_broken_definitions_json_is_a_located_error(published: Path, soekpi: Invoke) -> None:
    (published / "definitions.json").write_text('{"fiscal_year": ', encoding="utf-8")
    result = soekpi("verify", published)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {published}/definitions.json:1: not a run file: invalid JSON "
        "(Expecting value, column 17)\n"
    )
