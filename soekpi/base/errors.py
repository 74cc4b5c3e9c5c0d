"""Errors raised by the core and the exit codes of SPEC §5.

The core raises these and never exits; ``cli.py`` maps them to exit codes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of SPEC §5."""

    OK = 0
    FINDINGS = 1  # completed with findings: rejected rows, --fail-on hit, differences, mismatch
    USAGE = 2  # usage or input error, nothing written
    RUNTIME = 3  # failure at run time (warehouse locked, disk full), nothing written


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file: ``file:line`` (line is 1-based, or None when unknown)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Problem:
    """One located finding, e.g. a catalogue mistake: ``file:line: message``."""

    location: Location | None
    message: str

    def __str__(self) -> str:
        return self.message if self.location is None else f"{self.location}: {self.message}"


class SoekpiError(Exception):
    """Base of every error soekpi reports to its user."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    @property
    def problems(self) -> list[Problem]:
        """The located messages to show, one per line."""
        return [Problem(self.location, self.message)]

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class UsageError(SoekpiError):
    """Bad arguments: an unknown cycle form, an entity that does not exist …"""


class InputError(SoekpiError):
    """Bad input: unreadable or malformed files, bad YAML, a broken workspace."""


class CatalogueError(InputError):
    """One or more catalogue problems, all reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the catalogue")
        self._problems = sorted(problems, key=_problem_order)

    @property
    def problems(self) -> list[Problem]:
        return self._problems


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    where = problem.location or Location("")
    return (where.file, where.line or 0, problem.message)


class ClosedCycleError(InputError):
    """A load touches the periods of a closed cycle."""


class RuntimeFailure(SoekpiError):
    """Failure at run time (disk full, killed dependency …): nothing was written."""

    exit_code = ExitCode.RUNTIME


class WarehouseLocked(RuntimeFailure):
    """Another process holds the warehouse for writing."""


class WarehouseOutOfMemory(RuntimeFailure):
    """A query needed more memory than the warehouse's memory limit allows."""
