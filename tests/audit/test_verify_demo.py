"""`soekpi verify` of a freshly published demo report: the auditor's first check must pass.

A report computes eight trailing cycles for its trend charts while `verify` recomputes only
the run's cycle; both must give exactly the same numbers (this failed once on a composite
index that differed in its last bit).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from soekpi.cli import app


def test_a_demo_report_verifies_as_reproducible(demo_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    workspace = tmp_path / "demo"
    shutil.copytree(demo_root, workspace)  # built (and checked) by the demo_root fixture
    result = runner.invoke(app, ["-w", str(workspace), "report", "--cycle", "latest"])
    assert result.exit_code in (0, 1), result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    assert (run / "manifest.json").is_file()

    result = runner.invoke(app, ["-w", str(workspace), "verify", str(run)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(": reproducible")
