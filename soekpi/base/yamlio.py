"""Safe YAML loading that keeps line numbers.

Mappings load as :class:`YamlMap` (a dict that knows the line of each key) and sequences as
:class:`YamlList`. Only plain YAML is accepted: object tags are refused by the safe loader,
duplicate keys and aliases (the billion-laughs bomb) are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from soekpi.base.errors import InputError, Location


class YamlMap(dict[str, Any]):
    """A mapping that remembers where it and each of its keys stand."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The 1-based line of ``key`` (or of the mapping itself when the key is absent)."""
        return self.key_lines.get(key, self.line)


class YamlList(list[Any]):
    """A sequence that remembers where it and each of its items stand."""

    line: int = 0
    item_lines: list[int]


class _Located(yaml.constructor.SafeConstructor):
    """Constructors that build :class:`YamlMap` / :class:`YamlList` with line numbers."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> YamlMap:  # type: ignore[override]
        loader: Any = self
        result = YamlMap()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.MarkedYAMLError(
                    None, None, "mapping keys must be plain scalars", key_node.start_mark
                )
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                raise yaml.MarkedYAMLError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: SequenceNode, deep: bool = False) -> YamlList:
        loader: Any = self
        result = YamlList(loader.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


class _LocatedLoader(_Located, yaml.SafeLoader):
    """The pure-Python loader: exact messages and lines for every problem."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None, None, "aliases (*name) are not allowed in soekpi YAML", event.start_mark
            )
        return super().compose_node(parent, index)


class _AliasFound(yaml.YAMLError):
    pass


class _FastLocatedLoader(_Located, yaml.CSafeLoader):
    """libyaml's parser with the same constructors, ten times faster on a catalogue. Any
    problem (an alias: a node constructed twice) is reported by :class:`_LocatedLoader`."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            raise _AliasFound()
        return super().construct_object(node, deep)


_LOADERS: tuple[Any, ...] = (_LocatedLoader, _FastLocatedLoader)
for _loader in _LOADERS:
    _loader.add_constructor("tag:yaml.org,2002:map", _Located.construct_mapping)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Located.construct_sequence)


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text safely; a syntax problem raises InputError naming ``file:line``."""
    if getattr(yaml, "__with_libyaml__", False):
        try:
            return yaml.load(text, Loader=_FastLocatedLoader)  # a CSafeLoader subclass
        except yaml.YAMLError:
            pass  # the pure-Python loader says what and where
    try:
        return yaml.load(text, Loader=_LocatedLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        if "found character '\\t'" in what or "tab" in what:
            what = "tab characters are not allowed for indentation in YAML; use spaces"
        elif "could not determine a constructor" in what:
            what = f"{what.split('for the tag')[-1].strip()} tags are not allowed (plain YAML only)"
            what = f"unsafe tag {what}"
        raise InputError(f"invalid YAML: {what}", Location(file, line)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", Location(file)) from None


def read_yaml(path: Path, shown_as: str | None = None) -> Any:
    """Read and parse a YAML file; unreadable or non-UTF-8 files raise InputError."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", Location(name)) from None
    except UnicodeDecodeError:
        raise InputError("file is not UTF-8 text", Location(name)) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", Location(name)) from None
    return parse_yaml(text, name)
