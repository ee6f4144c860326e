"""Dotted paths into the body tree (``WorkInfo.Record.WorkId``), compiled once.

A list met on the way is traversed, so an operation applies to every item. A purely numeric
part indexes a list (``items.0.name``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

MISSING: Any = object()


class Path:
    __slots__ = ("text", "parts", "top")

    def __init__(self, text: str) -> None:
        if not text or any(p == "" for p in text.split(".")):
            raise ValueError(f"invalid path {text!r}")
        self.text = text
        self.parts: tuple[str, ...] = tuple(text.split("."))
        #: a top-level key (``birth_date``): on a dict body, one lookup, no walk
        self.top: str | None = text if len(self.parts) == 1 and not text.isdigit() else None

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def parents(self, tree: Any, create: bool = False) -> Iterator[dict[str, Any]]:
        """Every dict that holds (or, with ``create``, should hold) the last part."""
        yield from _parents(tree, self.parts[:-1], create)

    @property
    def key(self) -> str:
        return self.parts[-1]

    def get(self, tree: Any, default: Any = MISSING) -> Any:
        """The value at the path; through lists, the list of values found (flattened one level)."""
        return _get(tree, self.parts, default)

    def exists(self, tree: Any) -> bool:
        return self.get(tree) is not MISSING

    def values(self, tree: Any) -> Iterator[Any]:
        """Every value found at the path (each list item separately where lists are met)."""
        key = self.key
        for parent in self.parents(tree):
            if key in parent:
                yield parent[key]

    def set(self, tree: Any, value: Any) -> None:
        """Set the value, creating missing dicts on the way; in lists, on every item."""
        key = self.key
        lists = self._indexed(tree)
        for items in lists:
            items[int(key)] = value
        if lists:
            return
        for parent in self.parents(tree, create=True):
            parent[key] = value

    def update(self, tree: Any, fn: Callable[[Any], Any]) -> None:
        """Replace each value present at the path by ``fn(value)``."""
        top = self.top
        if top is not None and tree.__class__ is dict:
            if top in tree:
                tree[top] = fn(tree[top])
            return
        key = self.key
        lists = self._indexed(tree)
        for items in lists:
            items[int(key)] = fn(items[int(key)])
        if lists:
            return
        for parent in self.parents(tree):
            if key in parent:
                parent[key] = fn(parent[key])

    def delete(self, tree: Any) -> None:
        key = self.key
        lists = self._indexed(tree)
        for items in lists:
            del items[int(key)]
        if lists:
            return
        for parent in self.parents(tree):
            parent.pop(key, None)

    def _indexed(self, tree: Any) -> list[list[Any]]:
        """For a path ending in an index (``items.0``): the lists that hold that index."""
        if not self.key.isdigit():
            return []
        idx = int(self.key)
        return [node for node in _nodes(tree, self.parts[:-1])
                if isinstance(node, list) and idx < len(node)]


def _nodes(node: Any, parts: tuple[str, ...]) -> Iterator[Any]:
    """Every node at ``parts`` (lists met on the way traversed; a final list yielded whole)."""
    if not parts:
        yield node
    elif isinstance(node, list):
        if parts[0].isdigit():
            if int(parts[0]) < len(node):
                yield from _nodes(node[int(parts[0])], parts[1:])
        else:
            for item in node:
                yield from _nodes(item, parts)
    elif isinstance(node, dict) and parts[0] in node:
        yield from _nodes(node[parts[0]], parts[1:])


def _parents(node: Any, parts: tuple[str, ...], create: bool) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        if parts and parts[0].isdigit():   # `items.0.name`: that item only
            idx = int(parts[0])
            if idx < len(node):
                yield from _parents(node[idx], parts[1:], create)
            return
        for item in node:
            yield from _parents(item, parts, create)
        return
    if not isinstance(node, dict):
        return
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    child = node.get(head, MISSING)
    if child is MISSING or child is None or child == "":
        if not create:
            return
        child = node[head] = {}
    yield from _parents(child, rest, create)


def _get(node: Any, parts: tuple[str, ...], default: Any) -> Any:
    for i, part in enumerate(parts):
        if isinstance(node, dict):
            node = node.get(part, MISSING)
            if node is MISSING:
                return default
        elif isinstance(node, list):
            if part.isdigit():
                idx = int(part)
                if idx >= len(node):
                    return default
                node = node[idx]
            else:
                found = []
                for item in node:
                    v = _get(item, parts[i:], MISSING)
                    if v is MISSING:
                        continue
                    if isinstance(v, list):
                        found.extend(v)
                    else:
                        found.append(v)
                return found if found else default
        else:
            return default
    return node
