"""``soekpi --help`` and ``--version`` stay fast: no heavy library is imported for them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from soekpi import __version__

HEAVY = ("polars", "duckdb", "jinja2", "sqlglot", "pyarrow", "yaml")

PROBE = """
import sys
from soekpi.cli import main
sys.argv = ["soekpi", *{args!r}]
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print("HEAVY:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["check", "--help"], ["kpis", "--help"]]
)
def test_no_heavy_import(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.splitlines()[-1] == "HEAVY:"


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "soekpi", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"soekpi {__version__}\n"
