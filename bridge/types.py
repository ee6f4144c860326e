"""The few types every module shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Union

if TYPE_CHECKING:
    from bridge.message import Message

#: A node of the body tree (DESIGN §2): dicts, lists, strings, and JSON scalars.
Tree = Union[dict[str, Any], list[Any], str, int, float, bool, None]

#: A pipeline step: a plain callable on a Message that returns the Message.
Step = Callable[["Message"], "Message"]
