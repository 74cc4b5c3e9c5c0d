"""The demo workspace's outputs, pinned byte for byte.

Refactoring must not change what users and their scripts read: every file of the demo's
report run (English and Chinese) and ``compute --format json|csv``. The SHA-256s below were
taken before the architecture change (issue 16) with ``SOEKPI_TODAY=2026-11-20`` and
``SOURCE_DATE_EPOCH=1790000000``. A change that is meant to alter an output updates the
pin on purpose, in the same commit, and says why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soekpi.cli import app

ENV = {"SOEKPI_TODAY": "2026-11-20", "SOURCE_DATE_EPOCH": "1790000000"}

PINNED_RUN = {
    "kpis.csv": "b64bcd61a08cfdcac822db4f29fbe02eaf59bb015a3158388281318602b09c32",
    "kpis.json": "31220be8a67ffc31e17a4bb9156b551a8be2afd027602d89af108c6f6d7bc024",
    "manifest.json": "5ad23b6c2d9d936bc95f09ca9772897a9407157d780dc4b7c943fa78986f8249",
    "report.html": "0d8803efb5b0444799ce6d0cc8848d73e6cf3a277082f53ca3e60b4d23f51c07",
    "report.md": "e5eb65baeedfba4606510c28d43bb24f3615a2a082126e4ab16db30a03512088",
}
PINNED_ZH = {
    "kpis.csv": PINNED_RUN["kpis.csv"],
    "kpis.json": PINNED_RUN["kpis.json"],
    "manifest.json": "63b6eaeaa666f6c47b91c74768dd9d2f3aa05a215c6854b5f1b89c5f07639477",
    "report.html": "aaf370d411509c5c7f5f0b0e566132ba31eccfafc88ba4c211415db98577151e",
    "report.md": "70afc59496c31bb586327a6e4ed9aa7d2ed68649054c107564a00fe3cb5a2370",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pinned")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        result = CliRunner().invoke(app, ["init", str(root / "ws"), "--demo"])
    assert result.exit_code == 0, result.output
    return root / "ws"


def _soekpi(ws: Path, *args: str) -> bytes:
    result = CliRunner().invoke(app, ["-w", str(ws), *args], env=ENV)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


@pytest.mark.parametrize(("lang", "pinned"), [("en", PINNED_RUN), ("zh-CN", PINNED_ZH)])
def test_report_run_is_byte_identical(
    demo: Path, tmp_path: Path, lang: str, pinned: dict[str, str]
) -> None:
    out = tmp_path / "out"
    shown = _soekpi(demo, "report", "--cycle", "latest", "--lang", lang, "--out", str(out))
    run = Path(shown.decode().strip())
    assert run == out / "FY2026-Q3"
    assert {p.name: _sha(p.read_bytes()) for p in sorted(run.iterdir())} == pinned


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_compute_is_byte_identical(demo: Path, fmt: str) -> None:
    text = _soekpi(demo, "compute", "--cycle", "latest", "--format", fmt)
    assert _sha(text) == PINNED_RUN[f"kpis.{fmt}"]
