"""Durable delivery: the message journal and queue (`store:`), and the workers that drain it.

The Store interface (bridge.delivery.base) is small on purpose so a distributed backend
(NATS JetStream, PostgreSQL) can implement it; SQLite in WAL mode is the embedded default.
"""

from __future__ import annotations

from pathlib import Path

#: store URL scheme -> (the Python module its backend imports, the extra that installs it);
#: None: nothing beyond the bridge's own dependencies. `bridge check` reads this.
STORE_DRIVERS: dict[str, tuple[str, str] | None] = {
    "sqlite": None,
    "nats": ("nats", "nats"),
    "tls": ("nats", "nats"),
}


def store_driver(url: str) -> tuple[str, str] | None:
    """(module, extra) the store at ``url`` needs, or None."""
    return STORE_DRIVERS.get(url.partition("://")[0])

from bridge.delivery.base import Record, Store
from bridge.delivery.sqlite import SqliteStore


def open_store(url: str, base_dir: Path) -> Store:
    """``sqlite:///rel/path.db`` (relative to the config's directory), ``sqlite:////abs.db``,
    ``sqlite://:memory:`` for throwaway runs; ``nats://host:4222[?stream=BRIDGE&prefix=bridge]``
    for several instances sharing one queue (needs the ``nats`` extra: ``pip install bridge[nats]``)."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if rest in (":memory:", "/:memory:"):
            return SqliteStore(":memory:")
        if not rest.startswith("/"):
            raise ValueError(f"expected sqlite:///relative.db or sqlite:////absolute.db, got {url!r}")
        path = Path(rest[1:]) if rest.startswith("//") else base_dir / rest[1:]
        return SqliteStore(str(path))
    if url.startswith(("nats://", "tls://")):
        from bridge.delivery.nats import NatsStore  # optional dependency: import only when asked

        return NatsStore(url)
    raise ValueError(f"unsupported store {url!r}: use sqlite:///path.db or nats://host:4222")


__all__ = ["Record", "STORE_DRIVERS", "Store", "SqliteStore", "open_store", "store_driver"]
