"""delivery: queued, end to end: ack after commit, retries, dead letters, replay, order by key."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bridge.delivery import SqliteStore
from bridge.testing import running_bridge

from .conftest import Target, queued_config

ROOT = Path(__file__).resolve().parents[2]


async def wait_for(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def statuses(db: Path) -> dict[str, int]:
    store = SqliteStore(str(db))
    await store.open()
    try:
        out: dict[str, int] = {}
        for r in await store.list(limit=10_000):
            out[r.status] = out.get(r.status, 0) + 1
        return out
    finally:
        await store.close()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def post_many(url: str, bodies: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as s:
        async def one(body: dict) -> dict:  # type: ignore[type-arg]
            async with s.post(url, json=body) as r:
                assert r.status == 200, await r.text()
                return await r.json()
        return list(await asyncio.gather(*(one(b) for b in bodies)))


async def test_accepted_while_target_down_then_delivered_once_each(tmp_path: Path, target: Target) -> None:
    db = tmp_path / "q.db"
    config = write(tmp_path, queued_config(str(db), target.url))
    async with running_bridge(config) as bridge:
        replies = await post_many(bridge.url + "/notify", [{"n": i} for i in range(40)])
        assert all(r["ResultCode"] == 0 and len(r["MessageId"]) == 32 for r in replies)
        assert (await statuses(db)).get("delivered", 0) == 0      # nothing reached the target
        await target.start()                                       # the target comes back
        await wait_for(lambda: _count(target, 40))
        await wait_for(lambda: _delivered(db, 40))
        metrics = bridge.runtime.metrics.exposition().decode()
    keys = target.keys()
    assert len(keys) == len(set(keys)) == 40                       # none twice
    assert set(keys) == {r["MessageId"] for r in replies}          # Idempotency-Key = message id
    assert 'bridge_requests_total{outcome="queued",route="notify"} 40.0' in metrics


async def _count(target: Target, n: int) -> bool:
    return len(set(target.keys())) >= n


async def _delivered(db: Path, n: int) -> bool:
    return (await statuses(db)).get("delivered", 0) == n


@pytest.mark.parametrize("mode", ["http500", "business_error"])
async def test_failures_become_dead_letters_and_replay_delivers_them(
        tmp_path: Path, target: Target, mode: str) -> None:
    db = tmp_path / "q.db"
    config = write(tmp_path, queued_config(str(db), target.url, attempts=3))
    target.mode = mode          # a 500, or a 200 whose body says failure: both are not delivered
    await target.start()
    async with running_bridge(config) as bridge:
        await post_many(bridge.url + "/notify", [{"n": i} for i in range(5)])
        await wait_for(lambda: _dead(db, 5))
        assert len(target.received) == 15                          # 3 attempts each
        metrics = bridge.runtime.metrics.exposition().decode()
        assert 'bridge_dead_letters_total{route="notify"} 5.0' in metrics
        assert 'bridge_retries_total{target="his"} 10.0' in metrics
        listed = subprocess.run([sys.executable, "-m", "bridge", "messages", "-c", str(config),
                                 "--status", "dead", "--json"], capture_output=True, text=True, timeout=30)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count('"status": "dead"') == 5
        assert ("down for maintenance" if mode == "http500" else "duplicate order") in listed.stdout
        target.mode = "ok"                                         # the target recovers
        replay = subprocess.run([sys.executable, "-m", "bridge", "replay", "-c", str(config)],
                                capture_output=True, text=True, timeout=30)
        assert replay.returncode == 0 and "5 dead letters re-queued" in replay.stdout
        await wait_for(lambda: _delivered(db, 5))
    assert len(set(target.keys())) == 5


async def _dead(db: Path, n: int) -> bool:
    return (await statuses(db)).get("dead", 0) == n


async def test_ordered_by_keeps_per_key_order_and_others_flow(tmp_path: Path, target: Target) -> None:
    db = tmp_path / "q.db"
    config = write(tmp_path, queued_config(str(db), target.url, ordered=True))
    target.fail_first = {"1": 3}     # the first message of order A fails three times
    await target.start()
    async with running_bridge(config) as bridge:
        async with aiohttp.ClientSession() as s:
            for n, order in [(1, "A"), (2, "A"), (3, "B"), (4, "A"), (5, "B")]:
                async with s.post(bridge.url + "/notify", json={"n": n, "order_id": order}) as r:
                    assert r.status == 200
        await wait_for(lambda: _delivered(db, 5))
    delivered = [r["body"]["n"] for r in target.received if r["ok"]]
    a = [n for n in delivered if n in (1, 2, 4)]
    assert a == [1, 2, 4]                                          # per-key order kept
    assert delivered.index(3) < delivered.index(1)                 # B was not blocked behind A


async def test_queued_route_without_a_store_is_a_503_not_a_lost_message(tmp_path: Path) -> None:
    from bridge.exchange import Incoming, bytes_reader, exchange
    from bridge.testing import load_runtime

    config = write(tmp_path, queued_config(str(tmp_path / "q.db"), "http://127.0.0.1:9"))
    runtime = load_runtime(config)
    out = await exchange(runtime, runtime.paths["/notify"],
                         Incoming("/notify", {"Content-Type": "application/json"}, bytes_reader(b'{"n": 1}')))
    assert out.status == 503 and b"store" in out.body


async def test_every_delivery_attempt_is_one_log_line(tmp_path: Path, target: Target) -> None:
    """A redelivery shows in the log, not only in `bridge messages`: one `delivery_attempt` line
    per try with message id, attempt, outcome and upstream status, through the request lines'
    processors (the error text a target sent is masked like any other field)."""
    import orjson

    from bridge.testing import free_port

    config = write(tmp_path, queued_config(str(tmp_path / "q.db"), target.url, attempts=3,
                                           listen=f"127.0.0.1:{free_port()}"))
    await target.start()
    target.fail_first = {"1": 1}                   # the first try of message n=1 gets a 503
    log_path = tmp_path / "bridge.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "-c", str(config)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        port = config.read_text().split('listen: "127.0.0.1:')[1].split('"')[0]
        async with aiohttp.ClientSession() as s:
            async def up() -> bool:
                try:
                    async with s.get(f"http://127.0.0.1:{port}/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return proc.poll() is not None
            await wait_for(up)
            assert proc.poll() is None, log_path.read_text()
            async with s.post(f"http://127.0.0.1:{port}/notify", json={"n": 1},
                              headers={"X-Request-ID": "req-attempts-1"}) as r:
                assert r.status == 200
                message_id = (await r.json())["MessageId"]

        def attempts() -> list[dict]:  # type: ignore[type-arg]
            lines = [orjson.loads(x) for x in log_path.read_bytes().splitlines() if x.startswith(b"{")]
            return [x for x in lines if x.get("event") == "delivery_attempt"]

        async def both() -> bool:
            return len(attempts()) >= 2
        await wait_for(both)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    first, second = attempts()[:2]
    assert first["message_id"] == second["message_id"] == message_id
    assert (first["attempt"], first["outcome"], first["upstream_status"]) == (1, "retry", 503)
    assert (second["attempt"], second["outcome"], second["upstream_status"]) == (2, "delivered", 200)
    assert first["route"] == "notify" and "busy" in first["error"]
    assert first["request_id"] == "req-attempts-1"
    assert isinstance(second["duration_ms"], float)
