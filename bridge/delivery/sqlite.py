"""The embedded store: one SQLite file in WAL mode, accessed from one dedicated thread.

WAL with synchronous=NORMAL makes every commit durable against a crash of the process (the
case that matters for "accepted means delivered": SIGKILL, OOM, a bad deploy), while keeping a
commit well under a millisecond. All access goes through a single worker thread, so the event
loop never blocks on disk and SQLite never sees concurrent writers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import orjson

from bridge.delivery.base import Record

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    route        TEXT NOT NULL,
    target       TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    headers      BLOB NOT NULL,
    body         BLOB NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      REAL NOT NULL DEFAULT 0,
    ordered_key  TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    last_error   TEXT,
    reply_status INTEGER
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_at);
CREATE INDEX IF NOT EXISTS messages_key ON messages (ordered_key, status, seq);
CREATE INDEX IF NOT EXISTS messages_route ON messages (route, status);
"""

_COLUMNS = ("seq, id, route, target, method, path, headers, body, status, attempts, next_at, "
            "ordered_key, created_at, updated_at, last_error, reply_status")


def _record(row: tuple[Any, ...]) -> Record:
    (seq, id_, route, target, method, path, headers, body, status, attempts, next_at, key,
     created, updated, error, reply_status) = row
    return Record(id=id_, route=route, target=target, method=method, path=path,
                  headers=orjson.loads(headers), body=bytes(body), status=status, attempts=attempts,
                  next_at=next_at, ordered_key=key, created_at=created, updated_at=updated,
                  last_error=error, reply_status=reply_status, seq=seq)


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-store")

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._db is not None, "store used before open()"
        with self._db:  # one transaction per call: commit, or roll back on error
            return fn(self._db)

    async def open(self) -> None:
        def connect() -> None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            # IMMEDIATE: a claim's select-then-update holds the write lock from its start, so
            # several processes (serve --workers N) never claim the same message twice
            db.isolation_level = "IMMEDIATE"
            self._db = db
        await asyncio.get_running_loop().run_in_executor(self._pool, connect)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._pool, db.close)
        self._pool.shutdown(wait=True)

    async def ping(self) -> bool:
        try:
            return await self._run(lambda db: db.execute("SELECT 1").fetchone() == (1,))
        except Exception:
            return False

    async def enqueue(self, record: Record) -> None:
        now = time.time()
        record.created_at = record.updated_at = now

        def insert(db: sqlite3.Connection) -> None:
            cur = db.execute(
                "INSERT INTO messages (id, route, target, method, path, headers, body, status, "
                "attempts, next_at, ordered_key, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
                (record.id, record.route, record.target, record.method, record.path,
                 orjson.dumps(record.headers), record.body, record.next_at, record.ordered_key,
                 now, now))
            record.seq = cur.lastrowid or 0
        await self._run(insert)

    async def claim(self, limit: int, now: float) -> list[Record]:
        def take(db: sqlite3.Connection) -> list[Record]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM messages m WHERE status = 'pending' AND next_at <= ? "
                "AND (ordered_key IS NULL OR seq = (SELECT MIN(seq) FROM messages o "
                "     WHERE o.ordered_key = m.ordered_key AND o.status IN ('pending', 'inflight'))) "
                "ORDER BY next_at, seq LIMIT ?", (now, limit)).fetchall()
            if rows:
                db.executemany("UPDATE messages SET status = 'inflight', updated_at = ? WHERE seq = ?",
                               [(now, r[0]) for r in rows])
            return [_record(r) for r in rows]
        records = await self._run(take)
        for r in records:
            r.status = "inflight"
        return records

    async def _finish(self, id: str, status: str, error: str | None, next_at: float,
                      reply_status: int | None, count_attempt: bool = True) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE messages SET status = ?, attempts = attempts + ?, last_error = ?, next_at = ?, "
            "reply_status = ?, updated_at = ? WHERE id = ?",
            (status, 1 if count_attempt else 0, error, next_at, reply_status, time.time(), id)))

    async def delivered(self, id: str, reply_status: int | None) -> None:
        await self._finish(id, "delivered", None, 0.0, reply_status)

    async def retry(self, id: str, error: str, next_at: float, reply_status: int | None) -> None:
        await self._finish(id, "pending", error, next_at, reply_status)

    async def dead(self, id: str, error: str, reply_status: int | None) -> None:
        await self._finish(id, "dead", error, 0.0, reply_status)

    async def recover(self) -> int:
        return await self._run(lambda db: db.execute(
            "UPDATE messages SET status = 'pending', updated_at = ? WHERE status = 'inflight'",
            (time.time(),)).rowcount)

    async def replay(self, *, ids: list[str] | None = None, route: str | None = None) -> int:
        where, args = "status = 'dead'", [time.time()]
        if ids:
            where += f" AND id IN ({','.join('?' * len(ids))})"
            args += ids  # type: ignore[arg-type]
        if route:
            where += " AND route = ?"
            args.append(route)  # type: ignore[arg-type]
        return await self._run(lambda db: db.execute(
            f"UPDATE messages SET status = 'pending', attempts = 0, next_at = 0, updated_at = ? "
            f"WHERE {where}", args).rowcount)

    async def list(self, *, status: str | None = None, route: str | None = None,
                   limit: int = 100) -> list[Record]:
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        if route:
            where.append("route = ?")
            args.append(route)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._run(lambda db: db.execute(
            f"SELECT {_COLUMNS} FROM messages {clause} ORDER BY seq LIMIT ?", (*args, limit)).fetchall())
        return [_record(r) for r in rows]

    async def get(self, id: str) -> Record | None:
        row = await self._run(lambda db: db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id = ?", (id,)).fetchone())
        return _record(row) if row else None

    async def depth(self) -> dict[str, int]:
        rows = await self._run(lambda db: db.execute(
            "SELECT route, COUNT(*) FROM messages WHERE status IN ('pending', 'inflight') "
            "GROUP BY route").fetchall())
        return {route: n for route, n in rows}
