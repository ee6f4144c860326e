"""Message: the one object a pipeline step sees."""

from __future__ import annotations

from typing import Any, Mapping

from bridge.types import Tree


class Message:
    """A body tree plus what steps may need around it.

    - ``body``: the current tree (DESIGN §2); steps replace or mutate it.
    - ``headers``: the caller's request headers (read-only by convention).
    - ``meta``: ``request_id``, ``route``, ``now``, ``root``, ``charset``, ``operation``, ...
    - ``request``: the caller's decoded request body, kept for reply and error templates.
    - ``error``: the error tree (``message``, ``status``, ``code``) while the errors template runs.
    - ``secrets``: the ``secrets:`` section; steps read keys from here, never from the body.
    """

    __slots__ = ("body", "headers", "meta", "request", "error", "secrets")

    def __init__(self, body: Tree, *, headers: Mapping[str, str] | None = None,
                 meta: dict[str, Any] | None = None, request: Tree = None,
                 error: dict[str, Any] | None = None,
                 secrets: Mapping[str, str] | None = None) -> None:
        self.body = body
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.meta: dict[str, Any] = meta if meta is not None else {}
        self.request = request
        self.error = error
        self.secrets: Mapping[str, str] = secrets if secrets is not None else {}

    def namespaces(self) -> dict[str, Any]:
        """What `{...}` placeholders can read."""
        return {"body": self.body, "request": self.request, "error": self.error or {},
                "meta": self.meta, "secrets": self.secrets}

    def __repr__(self) -> str:  # secrets deliberately left out
        return f"Message(route={self.meta.get('route')!r}, body={self.body!r})"
