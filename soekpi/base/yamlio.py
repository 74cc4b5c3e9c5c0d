"""Safe YAML loading that keeps line numbers.

Mappings load as :class:`YamlMap` (a dict that knows the line of each key) and sequences as
:class:`YamlList`. Only plain YAML is accepted: object tags are refused by the safe loader,
duplicate keys and aliases (the billion-laughs bomb) are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text safely; a syntax problem raises InputError naming ``file:line``."""
    import yaml  # PyYAML is imported on first use: ``soekpi --help`` stays fast

    from soekpi.base._yamlloaders import FastLocatedLoader, LocatedLoader

    if getattr(yaml, "__with_libyaml__", False):
        try:
            return yaml.load(text, Loader=FastLocatedLoader)  # a CSafeLoader subclass
        except yaml.YAMLError:
            pass  # the pure-Python loader says what and where
    try:
        return yaml.load(text, Loader=LocatedLoader)  # a SafeLoader subclass
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
