"""The expression language of derived KPIs (SPEC §3.3), parsed safely — never ``eval``.

Grammar: numbers, KPI ids, ``+ - * /``, unary minus, parentheses and the functions
``abs(x)``, ``min(a, b, …)``, ``max(a, b, …)``, ``coalesce(a, b, …)``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

FUNCTIONS = ("abs", "min", "max", "coalesce")


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: Formula


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * /
    left: Formula
    right: Formula


@dataclass(frozen=True)
class Call:
    func: str  # one of FUNCTIONS
    args: tuple[Formula, ...]


Formula = Num | Ref | Neg | BinOp | Call

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class FormulaError(ValueError):
    """The text is not an expression of the derived-KPI language."""


def parse_formula(text: str) -> Formula:
    """Parse ``text`` into a :data:`Formula`; anything outside the grammar raises FormulaError."""
    if len(text) > 2000:
        raise FormulaError("expression is too long (2000 characters at most)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"syntax error in expression {text!r}: {exc.msg}") from None
    return _convert(tree.body, text)


def _convert(node: ast.AST, text: str) -> Formula:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return Num(float(node.value))
    if isinstance(node, ast.Name):
        return Ref(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _convert(node.operand, text)
        return Neg(inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return BinOp(_OPS[type(node.op)], _convert(node.left, text), _convert(node.right, text))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name not in FUNCTIONS:
            raise FormulaError(
                f"unknown function '{name}' in expression {text!r} "
                f"(allowed: {', '.join(FUNCTIONS)})"
            )
        if name == "abs" and len(node.args) != 1:
            raise FormulaError(f"abs() takes one argument in expression {text!r}")
        if name != "abs" and len(node.args) < 2:
            raise FormulaError(f"{name}() takes two or more arguments in expression {text!r}")
        return Call(name, tuple(_convert(a, text) for a in node.args))
    snippet = ast.get_source_segment(text.strip(), node) or type(node).__name__
    raise FormulaError(
        f"'{snippet}' is not allowed in expression {text!r} "
        "(use KPI ids, numbers, + - * /, parentheses, abs, min, max, coalesce)"
    )


def referenced_names(text: str) -> list[str]:
    """The KPI ids an expression reads, in order of first use; [] when it does not parse."""
    try:
        formula = parse_formula(text)
    except FormulaError:
        return []
    names: dict[str, None] = {}

    def walk(f: Formula) -> None:
        if isinstance(f, Ref):
            names[f.name] = None
        elif isinstance(f, Neg):
            walk(f.operand)
        elif isinstance(f, BinOp):
            walk(f.left)
            walk(f.right)
        elif isinstance(f, Call):
            for a in f.args:
                walk(a)

    walk(formula)
    return list(names)
