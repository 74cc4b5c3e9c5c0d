"""The catalogue's YAML is read by libyaml when it is there and by the pure-Python loader
otherwise (and for every problem): both give the same values, lines and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from soekpi.base import _yamlloaders
from soekpi.base.errors import InputError
from soekpi.base.yamlio import YamlList, YamlMap, parse_yaml

ROOT = Path(__file__).resolve().parents[2]


def _with_lines(value: Any) -> Any:
    """``value`` with the line of every mapping, key and item spelled out."""
    if isinstance(value, YamlMap):
        return (
            "map",
            value.line,
            {k: (value.line_of(k), _with_lines(v)) for k, v in value.items()},
        )
    if isinstance(value, YamlList):
        return ("list", value.line, value.item_lines, [_with_lines(v) for v in value])
    return value


@pytest.mark.parametrize("path", sorted((ROOT / "metrics").glob("*.yaml")), ids=lambda p: p.name)
def test_libyaml_and_python_read_the_default_catalogue_alike(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = yaml.load(text, Loader=_yamlloaders.FastLocatedLoader)
    slow = yaml.load(text, Loader=_yamlloaders.LocatedLoader)
    assert _with_lines(fast) == _with_lines(slow)
    assert _with_lines(parse_yaml(text, path.name)) == _with_lines(slow)


def test_lines_of_keys_and_items() -> None:
    text = "a: 1\nb:\n  - x\n  - y: 2\n    z: 3\n"
    doc = parse_yaml(text, "t.yaml")
    assert (doc.line_of("a"), doc.line_of("b")) == (1, 2)
    assert doc["b"].item_lines == [3, 4]
    assert doc["b"][1].line_of("z") == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "base: &b {x: 1}\nother: *b\n",
            "t.yaml:2: invalid YAML: aliases (*name) are not allowed in soekpi YAML",
        ),
        ("a: 1\nb: 2\na: 3\n", "t.yaml:3: invalid YAML: duplicate key 'a'"),
        (
            "a:\n\t- 1\n",
            "t.yaml:2: invalid YAML: tab characters are not allowed for indentation in YAML; "
            "use spaces",
        ),
    ],
)
def test_problems_are_reported_by_the_python_loader(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "t.yaml")
    assert str(caught.value) == message
