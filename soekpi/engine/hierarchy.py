"""The entity hierarchy from the ``entities`` source: order, depth and subtree closure. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from soekpi.errors import InputError, UsageError


@dataclass(frozen=True)
class Entity:
    """One row of the ``entities`` source."""

    entity_id: str
    name: str
    name_zh: str | None
    parent_id: str | None


@dataclass(frozen=True)
class Hierarchy:
    """Entities in display order (depth-first from the top, children by id) with depths."""

    entities: tuple[Entity, ...]
    depth: dict[str, int]
    children: dict[str, tuple[str, ...]]

    @property
    def ids(self) -> list[str]:
        """Entity ids in display order."""
        return [e.entity_id for e in self.entities]

    def subtree(self, entity_id: str) -> list[str]:
        """The entity and every entity below it."""
        found = [entity_id]
        for child in self.children.get(entity_id, ()):
            found.extend(self.subtree(child))
        return found

    def closure(self, ancestors: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(ancestor, descendant) pairs, including (e, e), for ``ancestors`` (default: all)."""
        wanted = self.ids if ancestors is None else ancestors
        return sorted((a, d) for a in wanted for d in self.subtree(a))


def build_hierarchy(rows: Sequence[Entity], root_entity: str | None = None) -> Hierarchy:
    """Order ``rows`` depth-first from the top; ``root_entity`` (soekpi.yaml) comes first.

    A parent that is not an entity makes its child a top entity (the loader rejects such
    rows anyway); a loop of parents is an :class:`InputError`.
    """
    by_id = {r.entity_id: r for r in rows}
    children: dict[str, list[str]] = {}
    tops: list[str] = []
    for row in sorted(rows, key=lambda r: r.entity_id):
        if row.parent_id is not None and row.parent_id in by_id and row.parent_id != row.entity_id:
            children.setdefault(row.parent_id, []).append(row.entity_id)
        else:
            tops.append(row.entity_id)
    order: list[str] = []
    depth: dict[str, int] = {}

    def visit(entity_id: str, level: int) -> None:
        depth[entity_id] = level
        order.append(entity_id)
        for child in children.get(entity_id, []):
            visit(child, level + 1)

    if root_entity is not None and root_entity not in by_id:
        raise UsageError(
            f"root_entity '{root_entity}' in soekpi.yaml is not an entity"
            f"{did_you_mean(root_entity, by_id)}"
        )
    for top in tops:
        visit(top, 0)
    if len(order) < len(by_id):
        looped = sorted(set(by_id) - set(order))
        raise InputError(
            f"entities: the parent_id chain of {', '.join(repr(e) for e in looped[:5])} "
            "loops back on itself; fix parent_id in the entities source"
        )
    if root_entity is not None:
        # The root entity's subtree first, then the rest in their usual order.
        first = set(_subtree(children, root_entity))
        order = [e for e in order if e in first] + [e for e in order if e not in first]
    return Hierarchy(
        entities=tuple(by_id[e] for e in order),
        depth=depth,
        children={k: tuple(v) for k, v in children.items()},
    )


def _subtree(children: dict[str, list[str]], entity_id: str) -> list[str]:
    found = [entity_id]
    for child in children.get(entity_id, []):
        found.extend(_subtree(children, child))
    return found


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
