"""The entity hierarchy from the ``entities`` source: order, depth and subtree closure. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soekpi.base.errors import InputError, UsageError
from soekpi.base.text import did_you_mean


@dataclass(frozen=True)
class Hierarchy:
    """Entity ids in display order (depth-first from the top, children by id) with depths.

    Only ids are held as Python objects (names stay in the entities frame): a group of
    hundreds of thousands of entities took 200 MB as one object per row."""

    order: tuple[str, ...]
    depth: dict[str, int]
    children: dict[str, tuple[str, ...]]
    tops: tuple[str, ...] = ()  # the entities without a parent, by id

    @property
    def ids(self) -> list[str]:
        """Entity ids in display order."""
        return list(self.order)

    @property
    def parent(self) -> dict[str, str]:
        """Each entity below the top → its parent."""
        return {child: p for p, children in self.children.items() for child in children}

    def roots(self, root_entity: str | None) -> list[str]:
        """The entities shown first: ``root_entity``, else every entity at the top, by id."""
        return [root_entity] if root_entity is not None else sorted(self.tops)

    def subtree(self, entity_id: str) -> list[str]:
        """The entity and every entity below it."""
        return _subtree(self.children, entity_id)

    def closure(self, ancestors: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(ancestor, descendant) pairs, including (e, e), for ``ancestors`` (default: all)."""
        wanted = self.order if ancestors is None else ancestors
        return sorted((a, d) for a in wanted for d in self.subtree(a))


def build_hierarchy(
    rows: Iterable[tuple[str, str | None]], root_entity: str | None = None
) -> Hierarchy:
    """Order the (entity_id, parent_id) ``rows`` depth-first from the top; ``root_entity``
    (soekpi.yaml) comes first. An id given twice keeps its last parent.

    A parent that is not an entity makes its child a top entity (the loader rejects such
    rows anyway); a loop of parents is an :class:`InputError`.
    """
    parent_of = dict(rows)
    children: dict[str, list[str]] = {}
    tops: list[str] = []
    for entity_id in sorted(parent_of):
        parent = parent_of[entity_id]
        if parent is not None and parent in parent_of and parent != entity_id:
            children.setdefault(parent, []).append(entity_id)
        else:
            tops.append(entity_id)
    order: list[str] = []
    depth: dict[str, int] = {}

    def visit(entity_id: str, level: int) -> None:
        depth[entity_id] = level
        order.append(entity_id)
        for child in children.get(entity_id, []):
            visit(child, level + 1)

    if root_entity is not None and root_entity not in parent_of:
        raise UsageError(
            f"soekpi.yaml: root_entity '{root_entity}' is not an entity of the hierarchy"
            f"{did_you_mean(root_entity, parent_of)}"
        )
    for top in tops:
        visit(top, 0)
    if len(order) < len(parent_of):
        looped = sorted(set(parent_of) - set(order))
        raise InputError(
            f"entities: the parent_id chain of {', '.join(repr(e) for e in looped[:5])} "
            "loops back on itself; fix parent_id in the entities source"
        )
    if root_entity is not None:
        # The root entity's subtree first, then the rest in their usual order.
        first = set(_subtree(children, root_entity))
        order = [e for e in order if e in first] + [e for e in order if e not in first]
    return Hierarchy(
        order=tuple(order),
        depth=depth,
        children={k: tuple(v) for k, v in children.items()},
        tops=tuple(tops),
    )


def _of_rows(rows: Iterable[Mapping[str, Any]], root_entity: str | None) -> Hierarchy:
    pairs = (
        (str(r["entity_id"]), None if r.get("parent_id") is None else str(r["parent_id"]))
        for r in rows
    )
    return build_hierarchy(pairs, root_entity)


def entity_order(rows: Iterable[Mapping[str, Any]], root_entity: str | None) -> list[str]:
    """The entities a report shows, in display order: ``root_entity``'s subtree when it is
    set, else every entity (depth first from the top, children by id)."""
    hierarchy = _of_rows(rows, root_entity)
    return hierarchy.subtree(root_entity) if root_entity is not None else hierarchy.ids


def root_entities(rows: Iterable[Mapping[str, Any]], root_entity: str | None) -> list[str]:
    """The entities shown first: ``root_entity``, else every entity at the top."""
    return _of_rows(rows, root_entity).roots(root_entity)


def _subtree(children: Mapping[str, Sequence[str]], entity_id: str) -> list[str]:
    found = [entity_id]
    for child in children.get(entity_id, []):
        found.extend(_subtree(children, child))
    return found
