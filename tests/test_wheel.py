"""The wheel works on its own, without the checkout (issue 16).

The wheel is built from the repository with the backend of the dev environment (hatchling,
in the ``test`` extra: no build isolation, no index, no network) and installed into a fresh
venv, whose commands run from a folder outside the repository. That venv borrows polars,
duckdb and the rest from the dev environment through a ``.pth`` line naming its
site-packages, instead of downloading them again: a folder added by a ``.pth`` file does not
get its own ``.pth`` files read, so the dev environment's editable soekpi stays out of it,
which the test checks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
ENV_DROP = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")

WHERE = """\
import json, sysconfig, soekpi
from soekpi.base.resources import default_catalogue_dir, templates_dir
print(json.dumps({"package": soekpi.__file__, "metrics": str(default_catalogue_dir()),
                  "reports": str(templates_dir()), "site": sysconfig.get_paths()["purelib"]}))
"""


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ENV_DROP}
    env.update(SOEKPI_TODAY="2026-11-20", PIP_DISABLE_PIP_VERSION_CHECK="1", NO_COLOR="1")
    return env


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args} exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _outside(path: Path) -> bool:
    return not path.resolve().is_relative_to(REPO)


def _need_hatchling() -> None:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is missing: it comes with the 'test' extra (make venv)")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from the repository; the work folder is its parent."""
    root = tmp_path_factory.mktemp("wheel")
    assert _outside(root), f"the temporary folder {root} is inside the repository"
    _need_hatchling()
    pip = (sys.executable, "-m", "pip")
    wheel = ("wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index")
    _run(*pip, *wheel, "-w", root / "dist", REPO, cwd=root)
    wheels = list((root / "dist").glob("soekpi-*.whl"))
    assert len(wheels) == 1, wheels
    env = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", env, cwd=root)
    python = env / "bin" / "python"
    _run(*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheels[0], cwd=root)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run(python, "-c", purelib, cwd=root).strip())
    paths = sysconfig.get_paths()
    dev_sites = dict.fromkeys((paths["purelib"], paths["platlib"]))
    (site / "zz_dev_dependencies.pth").write_text("".join(f"{p}\n" for p in dev_sites))
    return env


def test_soekpi_is_imported_from_the_fresh_venv(venv: Path) -> None:
    where = json.loads(_run(venv / "bin" / "python", "-c", WHERE, cwd=venv.parent))
    site = Path(where["site"]).resolve()
    assert site.is_relative_to(venv.resolve())
    for key in ("package", "metrics", "reports"):
        assert Path(where[key]).resolve().is_relative_to(site), (key, where)
        assert _outside(Path(where[key])), (key, where)


def test_the_wheel_carries_the_catalogue_and_the_templates(venv: Path) -> None:
    (package,) = venv.glob("lib/python*/site-packages/soekpi")
    for name, pattern in (("metrics", "*.yaml"), ("reports", "*.j2")):
        installed = sorted(p.name for p in (package / "_data" / name).glob(pattern))
        assert installed, f"no {pattern} under {package / '_data' / name}"
        assert installed == sorted(p.name for p in (REPO / name).glob(pattern))
    assert (package / "py.typed").is_file()
    assert sorted(p.name for p in (package / "report" / "i18n").glob("*.yaml")) == [
        "en.yaml",
        "zh-CN.yaml",
    ]


def test_the_installed_cli_writes_and_verifies_a_report(venv: Path) -> None:
    soekpi, work = venv / "bin" / "soekpi", venv.parent
    _run(soekpi, "init", "ws", "--demo", cwd=work)
    run = Path(_run(soekpi, "-w", "ws", "report", "--cycle", "latest", cwd=work).strip())
    run = run if run.is_absolute() else work / run
    assert (run / "report.html").is_file() and (run / "report.md").is_file()
    _run(soekpi, "-w", "ws", "verify", run, cwd=work)


def test_the_sdist_carries_the_package_and_the_top_level_folders(tmp_path: Path) -> None:
    _need_hatchling()
    build = "import sys, hatchling.build as b; print(b.build_sdist(sys.argv[1]))"
    name = _run(sys.executable, "-c", build, tmp_path, cwd=REPO).strip().splitlines()[-1]
    with tarfile.open(tmp_path / name) as sdist:
        members = {member.split("/", 1)[1] for member in sdist.getnames() if "/" in member}
    for required in ("pyproject.toml", "soekpi/__init__.py", "soekpi/py.typed"):
        assert required in members
    for name in ("metrics", "reports"):
        assert {f"{name}/{p.name}" for p in (REPO / name).iterdir()} <= members
    assert not any(member.startswith(".hypothesis/") for member in members)
