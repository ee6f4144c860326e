"""Bridges on a NATS store: dead letters and replay from the CLI, config refusals, and the
issue's test: two instances on one stream, one SIGKILLed mid-delivery, nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from bridge.delivery.nats import NatsStore
from bridge.testing import running_bridge
from tests.delivery.conftest import Target, free_port, queued_config
from .conftest import settled_depth

ROOT = Path(__file__).resolve().parents[2]


def nats_config(store_url: str, target_url: str, *, attempts: int = 50, concurrency: int = 100,
                ordered: bool = False) -> str:
    text = queued_config("unused.db", target_url, attempts=attempts, ordered=ordered)
    text = text.replace("store: sqlite:///unused.db", f'store: "{store_url}"')
    return text.replace("    timeout: 1s\n", f"    timeout: 2s\n    concurrency: {concurrency}\n")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


async def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def post_many(url: str, bodies: list[dict], limit: int = 20) -> list[str]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as s:
        async def one(body: dict) -> str:  # type: ignore[type-arg]
            async with s.post(url, json=body) as r:
                assert r.status == 200, await r.text()
                return str((await r.json())["MessageId"])
        return list(await asyncio.gather(*(one(b) for b in bodies)))


async def test_dead_letters_listed_and_replayed_from_the_cli(tmp_path: Path, target: Target,
                                                            store_url: str) -> None:
    config = write(tmp_path, nats_config(store_url, target.url, attempts=3))
    target.mode = "http500"
    await target.start()
    async with running_bridge(config) as bridge:
        ids = await post_many(bridge.url + "/notify", [{"n": i} for i in range(5)])
        listed: list[dict] = []  # type: ignore[type-arg]

        async def all_dead() -> bool:
            nonlocal listed
            done = await asyncio.to_thread(cli, "messages", "-c", str(config), "--status", "dead", "--json")
            assert done.returncode == 0, done.stderr
            listed = orjson.loads(done.stdout)
            return len(listed) == 5
        await wait_for(all_dead, timeout=30)
        assert {row["id"] for row in listed} == set(ids)
        assert all(row["attempts"] == 3 and "down for maintenance" in row["last_error"] for row in listed)
        assert len(target.received) == 15                                # 3 attempts each
        metrics = bridge.runtime.metrics.exposition().decode()
        assert 'bridge_dead_letters_total{route="notify"} 5.0' in metrics

        target.mode = "ok"
        replay = await asyncio.to_thread(cli, "replay", "-c", str(config))
        assert replay.returncode == 0 and "5 dead letters re-queued" in replay.stdout, replay.stderr

        async def delivered() -> bool:
            return len(set(target.keys())) == 5
        await wait_for(delivered)
    assert set(target.keys()) == set(ids)                                # same Idempotency-Key
    shown = await asyncio.to_thread(cli, "messages", "-c", str(config), "--status", "delivered", "--json")
    assert {row["id"] for row in orjson.loads(shown.stdout)} == set(ids)


async def test_a_request_over_max_payload_is_refused_not_lost(tmp_path: Path, target: Target,
                                                             store_url: str) -> None:
    text = nats_config(store_url, target.url).replace("drain_timeout: 2s}", "drain_timeout: 2s, max_body: 4MiB}")
    config = write(tmp_path, text)
    async with running_bridge(config) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/notify", json={"n": 1, "pad": "a" * 1_200_000}) as r:
            assert r.status == 413
            assert "max_payload" in (await r.json())["error"]["message"]
        async with s.post(bridge.url + "/notify", json={"n": 2}) as r:      # small ones still go
            assert r.status == 200
        store = NatsStore(store_url)
        await store.open()
        try:
            assert await settled_depth(store, {"notify": 1}) == {"notify": 1}
        finally:
            await store.close()


async def test_ordered_by_is_refused_with_a_nats_store(tmp_path: Path, store_url: str) -> None:
    config = write(tmp_path, nats_config(store_url, "http://127.0.0.1:9", ordered=True))
    done = cli("check", "-c", str(config))
    assert done.returncode == 1
    assert "ordered_by is honoured only by the sqlite store" in done.stdout + done.stderr


@dataclass
class SlowTarget:
    """Answers every request after ``delay``: deliveries stay in flight long enough to kill an
    instance in the middle. Records every Idempotency-Key it answered 200 to."""

    port: int
    delay: float = 0.15
    keys: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(self.delay)
        self.keys.append(request.headers.get("Idempotency-Key", ""))
        return web.json_response({"head": {"code": 1, "msg": "ok"}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()


def start_bridge(config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return subprocess.Popen([sys.executable, "-m", "bridge", "serve", "-c", str(config),
                             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "bridge exited"
            try:
                async with s.get(url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bridge did not become ready")


N = 300
CONCURRENCY = 8   # per instance: at most this many deliveries of one instance are at the target


async def test_two_instances_one_queue_sigkill_loses_nothing(tmp_path: Path, store_url: str) -> None:
    target = SlowTarget(free_port())
    await target.start()
    config = write(tmp_path, nats_config(store_url, f"http://127.0.0.1:{target.port}",
                                         attempts=10_000, concurrency=CONCURRENCY))
    ports = [free_port(), free_port()]
    procs = [start_bridge(config, p) for p in ports]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        await asyncio.gather(*(wait_ready(u, p) for u, p in zip(urls, procs)))
        halves = [[{"n": i} for i in range(N) if i % 2 == k] for k in (0, 1)]
        accepted = await asyncio.gather(*(post_many(u + "/notify", h) for u, h in zip(urls, halves)))
        ids = set(accepted[0]) | set(accepted[1])
        assert len(ids) == N                                          # every message accepted

        async def delivering() -> bool:
            return len(target.keys) >= N // 10
        await wait_for(delivering)
        before_kill = len(set(target.keys))
        procs[0].send_signal(signal.SIGKILL)                          # mid-delivery, no goodbye
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
        assert before_kill < N, "all delivered before the kill: nothing was in flight"

        async def all_delivered() -> bool:
            return len(set(target.keys)) >= N
        await wait_for(all_delivered, timeout=120)
        await asyncio.sleep(0.5)                                      # late duplicates, if any
        keys = target.keys
        duplicates = len(keys) - len(set(keys))
        print(f"\n{N} accepted, {before_kill} delivered before SIGKILL, {duplicates} duplicate(s)")
        assert set(keys) == ids                                       # none lost, nothing foreign
        # a duplicate is a message instance 0 had at the target (or answered but not yet acked)
        # when it died: bounded by its delivery concurrency, a little slack for unflushed acks
        assert duplicates <= 2 * CONCURRENCY

        store = NatsStore(store_url)
        await store.open()
        try:
            assert await settled_depth(store, {}) == {}                          # the queue is empty
        finally:
            await store.close()
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        if target.runner is not None:
            await target.runner.cleanup()

