"""The few types every module shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from bridge.message import Message

#: A node of the body tree (DESIGN §2): dicts, lists, strings, and JSON scalars.
Tree = Union[dict[str, Any], list[Any], str, int, float, bool, None]

#: A pipeline step: a plain callable on a Message that returns the Message.
Step = Callable[["Message"], "Message"]


class KeyMap(dict):  # type: ignore[type-arg]
    """Old key -> new key, looked up as a dict: a key seen before costs one lookup in C.

    What a `rename` or `case` step does to every key of a tree, handed to a decoder so it
    renames while it builds (bridge.runtime). A key not in the map is worked out by ``miss``
    and remembered, up to ``limit`` keys (keys come from callers: memory stays bounded).
    """

    __slots__ = ("miss", "limit")

    def __init__(self, known: dict[str, str], miss: Callable[[str], str], limit: int = 10_000) -> None:
        super().__init__(known)
        self.miss, self.limit = miss, limit

    def __missing__(self, key: str) -> str:
        new = self.miss(key)
        if len(self) < self.limit:
            self[key] = new
        return new
