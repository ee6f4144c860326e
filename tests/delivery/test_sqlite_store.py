"""The SQLite store: durable commits, claiming, per-key order, recovery and replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bridge.delivery import Record, SqliteStore, open_store


def rec(i: int, key: str | None = None, route: str = "r") -> Record:
    return Record(id=f"m{i}", route=route, target="t", method="POST", path="/x",
                  headers={"Content-Type": "application/json"}, body=b'{"n": %d}' % i, ordered_key=key)


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStore(str(tmp_path / "q.db"))
    await s.open()
    yield s
    await s.close()


async def test_enqueue_claim_deliver(store: SqliteStore) -> None:
    for i in range(3):
        await store.enqueue(rec(i))
    claimed = await store.claim(10, time.time())
    assert [r.id for r in claimed] == ["m0", "m1", "m2"]
    assert claimed[0].body == b'{"n": 0}' and claimed[0].headers["Content-Type"] == "application/json"
    assert await store.claim(10, time.time()) == []          # in flight: not claimed twice
    await store.delivered("m0", 200)
    await store.retry("m1", "boom", time.time() + 3600, 503)
    await store.dead("m2", "gave up", 500)
    got = {r.id: r for r in await store.list()}
    assert got["m0"].status == "delivered" and got["m0"].attempts == 1
    assert got["m1"].status == "pending" and got["m1"].last_error == "boom" and got["m1"].reply_status == 503
    assert got["m2"].status == "dead"
    assert await store.claim(10, time.time()) == []          # m1 is not due yet
    assert await store.depth() == {"r": 1}


async def test_ordered_key_keeps_order_per_key_only(store: SqliteStore) -> None:
    await store.enqueue(rec(1, key="order-A"))
    await store.enqueue(rec(2, key="order-A"))
    await store.enqueue(rec(3, key="order-B"))
    await store.enqueue(rec(4))
    first = [r.id for r in await store.claim(10, time.time())]
    assert first == ["m1", "m3", "m4"]                        # m2 waits for m1, others flow
    await store.retry("m1", "target down", time.time() - 1, None)
    again = [r.id for r in await store.claim(10, time.time())]
    assert again == ["m1"]                                    # still m1 before m2
    await store.delivered("m1", 200)
    assert [r.id for r in await store.claim(10, time.time())] == ["m2"]


async def test_recover_and_replay(store: SqliteStore) -> None:
    for i in range(4):
        await store.enqueue(rec(i, route="a" if i < 2 else "b"))
    await store.claim(2, time.time())
    assert await store.recover() == 2
    assert len(await store.claim(10, time.time())) == 4
    for i in range(4):
        await store.dead(f"m{i}", "x", None)
    assert await store.replay(route="a") == 2
    assert await store.replay(ids=["m3"]) == 1
    statuses = {r.id: (r.status, r.attempts) for r in await store.list()}
    assert statuses == {"m0": ("pending", 0), "m1": ("pending", 0), "m2": ("dead", 1), "m3": ("pending", 0)}
    assert await store.replay() == 1


def test_open_store_urls(tmp_path: Path) -> None:
    assert open_store("sqlite:///var/b.db", tmp_path).path == str(tmp_path / "var" / "b.db")  # type: ignore[attr-defined]
    assert open_store("sqlite:////abs/b.db", tmp_path).path == "/abs/b.db"  # type: ignore[attr-defined]
    with pytest.raises(ValueError):
        open_store("redis://x", tmp_path)


def test_commit_survives_sigkill(tmp_path: Path) -> None:
    """What enqueue() returned for is on disk even if the process dies the next instant."""
    db = tmp_path / "kill.db"
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        from bridge.delivery import Record, SqliteStore
        async def main():
            s = SqliteStore({str(db)!r})
            await s.open()
            for i in range(200):
                await s.enqueue(Record(id=f"k{{i}}", route="r", target="t", method="POST",
                                       path="/", headers={{}}, body=b"x"))
            print("enqueued", flush=True)
            await asyncio.sleep(30)
        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "enqueued"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    import asyncio

    async def count() -> int:
        s = SqliteStore(str(db))
        await s.open()
        try:
            return len(await s.list(limit=1000))
        finally:
            await s.close()
    assert asyncio.run(count()) == 200
