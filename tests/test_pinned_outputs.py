"""The demo workspace's outputs, pinned byte for byte.

Refactoring must not change what users and their scripts read: every file of the demo's
report run (English and Chinese) and ``compute --format json|csv``. The SHA-256s below were
taken before the architecture change (issue 16) with ``SOEKPI_TODAY=2026-11-20`` and
``SOURCE_DATE_EPOCH=1790000000``. A change that is meant to alter an output updates the
pin on purpose, in the same commit, and says why.

Issue 17 (a run records exactly what it read): the run gains ``definitions.json``; the
manifest gains ``as_of_load``, lists definitions.json, and hashes each source over the
rows of the months the run read (the report's provenance section shows those hashes, so
report.html and report.md change there and nowhere else: with whole-table hashes they are
the bytes pinned before). kpis.json, kpis.csv and ``compute`` are unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from soekpi.cli import app

ENV = {"SOEKPI_TODAY": "2026-11-20", "SOURCE_DATE_EPOCH": "1790000000"}

PINNED_RUN = {
    "definitions.json": "f0baef3a6408e450150655c7504c75fc11e45a570b6832100a329497eba83921",
    "kpis.csv": "b64bcd61a08cfdcac822db4f29fbe02eaf59bb015a3158388281318602b09c32",
    "kpis.json": "31220be8a67ffc31e17a4bb9156b551a8be2afd027602d89af108c6f6d7bc024",
    "manifest.json": "a729ea6198c8668d0c110e4c6ba02753b09bc30365c68803ecfb160c3ea6e34b",
    "report.html": "d51470925ce201a2bc0652110d881549425e5d702e8e60eae0f78b7670a0ec61",
    "report.md": "12e3c33a17a43480daa0b53ac60b25b9054ba56af8644f701b56bdcee301e9d9",
}
PINNED_ZH = {
    "definitions.json": PINNED_RUN["definitions.json"],
    "kpis.csv": PINNED_RUN["kpis.csv"],
    "kpis.json": PINNED_RUN["kpis.json"],
    "manifest.json": "c16963f25aa7f0911c30ab8af6a05fea7dc4cb378779371c5fb1bbcfa438d541",
    "report.html": "c324699855a5bbad4366eb7856220a60fc49155cebb8d9985420f0d15095beb3",
    "report.md": "fe68cd6ece5a0d6c524fb155716a9067a819ed735a6f50cfd954bb2f173d4c04",
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
