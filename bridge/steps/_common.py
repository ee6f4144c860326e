"""Small pure helpers shared by the built-in steps (config types, value walking, messages)."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Iterable

from pydantic import AfterValidator

from bridge.message import Message
from bridge.paths import MISSING, Path


def _check_path(text: str) -> str:
    Path(text)  # raises ValueError("invalid path ...") -> a pydantic error at the step's location
    return text


#: A dotted path written in a step config, checked when routes.yaml loads.
PathText = Annotated[str, AfterValidator(_check_path)]

def is_empty(value: Any) -> bool:
    """Missing, null, or the empty string an empty XML element decodes to."""
    return value is MISSING or value is None or (isinstance(value, str) and value == "")


def each_scalar(fn: Callable[[Any], Any], *, skip_dicts: bool = True) -> Callable[[Any], Any]:
    """Lift a scalar function so that a list of scalars at a path is handled item by item.

    Dicts are left alone by default: a value step applies to leaves, never to a subtree by
    accident. A step that must judge every value (``coerce``) passes dicts to ``fn`` instead.
    """

    def apply(value: Any) -> Any:
        if value.__class__ is str:       # the common case first
            return fn(value)
        if isinstance(value, list):
            return [apply(v) for v in value]
        if skip_dicts and isinstance(value, dict):
            return value
        return fn(value)

    return apply


def name_list(names: Iterable[str], limit: int = 20) -> str:
    """``a, b, c`` with a cap, so one bad 5000-item list does not produce a 5000-name message."""
    items = list(dict.fromkeys(names))
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def as_list(value: Any) -> Any:
    """Accept ``x`` where ``[x]`` is meant (a single path in YAML)."""
    return [value] if isinstance(value, str) else value


KeyTrie = dict[str, "KeyTrie | None"]


def key_trie(paths: Iterable[str]) -> KeyTrie:
    """``["a.b", "c"]`` -> ``{"a": {"b": None}, "c": None}``; ``None`` marks the end of a path."""
    trie: KeyTrie = {}
    for text in paths:
        node = trie
        parts = text.split(".")
        for i, part in enumerate(parts):
            if i == len(parts) - 1:
                node[part] = None
            else:
                child = node.get(part, MISSING)
                if child is None:  # a shorter path already covers this subtree
                    break
                if child is MISSING:
                    child = node[part] = {}
                node = child
    return trie


class UpdateFields:
    """A value step: apply a compiled function at each of its paths (list items one by one).

    The shape of `date`, `map_values`, `coerce`, `encrypt` and `decrypt`: only the function
    differs, built once when the config loads."""

    __slots__ = ("fields",)

    def __init__(self, fields: list[tuple[Path, Callable[[Any], Any]]]) -> None:
        self.fields = fields

    def __call__(self, msg: Message) -> Message:
        for path, fn in self.fields:
            path.update(msg.body, fn)
        return msg
