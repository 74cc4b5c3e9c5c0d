"""The PyYAML loaders behind :mod:`soekpi.base.yamlio` (imported on first use, so that
``soekpi --help`` does not import PyYAML): safe constructors that build located mappings
and sequences, aliases refused."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from soekpi.base.yamlio import YamlList, YamlMap


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


class LocatedLoader(_Located, yaml.SafeLoader):
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


class FastLocatedLoader(_Located, yaml.CSafeLoader):
    """libyaml's parser with the same constructors, ten times faster on a catalogue. Any
    problem (an alias: a node constructed twice) is reported by :class:`LocatedLoader`."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:
            raise _AliasFound()
        return super().construct_object(node, deep)


_LOADERS: tuple[Any, ...] = (LocatedLoader, FastLocatedLoader)
for _loader in _LOADERS:
    _loader.add_constructor("tag:yaml.org,2002:map", _Located.construct_mapping)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Located.construct_sequence)
