"""The code reads top to bottom: no function of soekpi/ is longer than 60 lines unless a
comment right above its ``def`` says why (``# long: <reason>``)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "soekpi"
LIMIT = 60


def long_functions(root: Path = PACKAGE, limit: int = LIMIT) -> list[str]:
    """``file:line name (N lines)`` of every function over ``limit`` lines without a reason."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            above = lines[first - 2].strip() if first >= 2 else ""
            if length > limit and not above.startswith("# long:"):
                where = path.relative_to(root.parent)
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_sixty_lines_without_a_reason() -> None:
    assert long_functions() == []


def test_the_check_finds_a_long_function_and_accepts_a_reason(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    (tmp_path / "a.py").write_text(f"def too_long():\n{body}", encoding="utf-8")
    (tmp_path / "b.py").write_text(f"# long: one table\ndef explained():\n{body}", "utf-8")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/a.py:1 too_long ({LIMIT + 1} lines)"]
