"""The store interface: a journal of messages that is also a durable, ordered-where-asked queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

STATUSES = ("pending", "inflight", "delivered", "dead")


@dataclass(slots=True)
class Record:
    """One queued message: the request exactly as it will be sent, and its delivery history."""

    id: str
    route: str
    target: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: str = "pending"
    attempts: int = 0
    next_at: float = 0.0
    ordered_key: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    last_error: str | None = None
    reply_status: int | None = None
    seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What an operator sees: everything but the body bytes."""
        return {"id": self.id, "route": self.route, "target": self.target, "status": self.status,
                "attempts": self.attempts, "next_at": self.next_at, "ordered_key": self.ordered_key,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "last_error": self.last_error, "reply_status": self.reply_status,
                "method": self.method, "path": self.path, "size": len(self.body)}


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """Reachable and usable (for /readyz)."""

    async def enqueue(self, record: Record) -> None:
        """Durably commit a new pending message (the caller is acknowledged only after this)."""

    async def claim(self, limit: int, now: float) -> list[Record]:
        """Mark up to ``limit`` due pending messages in flight and return them. Where messages
        share an ``ordered_key``, only the oldest undelivered one of that key is ever claimable."""

    async def delivered(self, id: str, reply_status: int | None) -> None: ...

    async def retry(self, id: str, error: str, next_at: float, reply_status: int | None) -> None: ...

    async def dead(self, id: str, error: str, reply_status: int | None) -> None: ...

    async def recover(self) -> int:
        """After a restart: every in-flight message becomes pending again; returns how many."""

    async def replay(self, *, ids: list[str] | None = None, route: str | None = None) -> int:
        """Dead letters (all, of a route, or by id) become pending again with attempts reset."""

    async def list(self, *, status: str | None = None, route: str | None = None,
                   limit: int = 100) -> list[Record]: ...

    async def get(self, id: str) -> Record | None: ...

    async def depth(self) -> dict[str, int]:
        """Undelivered (pending + in flight) messages per route."""
