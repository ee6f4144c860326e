"""Sync routes: circuit breaker, retries only for idempotent calls, bulkhead, timeouts."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bridge.testing import running_bridge


class Flaky:
    def __init__(self) -> None:
        self.status = 500
        self.hits = 0
        self.delay = 0.0
        self.concurrent = self.peak = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        self.concurrent += 1
        self.peak = max(self.peak, self.concurrent)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.json_response({"head": {"code": 1 if self.status == 200 else -1, "msg": "m"}},
                                     status=self.status)
        finally:
            self.concurrent -= 1


@pytest.fixture
async def flaky() -> AsyncIterator[Flaky]:
    f = Flaky()
    app = web.Application()
    app.router.add_post("/{tail:.*}", f.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    f.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield f
    await runner.cleanup()


def config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(f"""
        version: 1
        targets:
          fragile: {{url: "{url}", timeout: 300ms, breaker: {{failures: 3, cooldown: 400ms}}}}
          retried: {{url: "{url}", timeout: 2s, retry: {{attempts: 3, backoff: 10ms}}}}
          narrow: {{url: "{url}", timeout: 5s, concurrency: 2}}
        routes:
          - name: guarded
            inbound: {{path: /guarded, format: xml}}
            outbound: {{target: fragile}}
          - name: lookup
            inbound: {{path: /lookup, format: json}}
            outbound: {{target: retried, idempotent: true}}
          - name: book
            inbound: {{path: /book, format: json}}
            outbound: {{target: retried}}
          - name: bulk
            inbound: {{path: /bulk, format: json}}
            outbound: {{target: narrow}}
        """), encoding="utf-8")
    return path


async def post(s: aiohttp.ClientSession, url: str, xml: bool = False) -> tuple[int, str]:
    kwargs: dict[str, Any] = ({"data": b"<r><a>1</a></r>", "headers": {"Content-Type": "text/xml"}}
                              if xml else {"json": {"a": 1}})
    async with s.post(url, **kwargs) as r:
        return r.status, await r.text()


def gauge(bridge: Any, name: str) -> str:
    return next(l for l in bridge.runtime.metrics.exposition().decode().splitlines() if l.startswith(name))


async def test_breaker_opens_answers_503_without_the_target_and_closes_after_a_good_probe(
        tmp_path: Path, flaky: Flaky) -> None:
    async with running_bridge(config(tmp_path, flaky.url)) as bridge, aiohttp.ClientSession() as s:
        for _ in range(3):
            assert (await post(s, bridge.url + "/guarded", xml=True))[0] == 502
        assert flaky.hits == 3
        status, body = await post(s, bridge.url + "/guarded", xml=True)
        assert status == 503 and "<code>breaker_open</code>" in body     # in the caller's dialect
        assert flaky.hits == 3                                           # the target was spared
        assert gauge(bridge, 'bridge_breaker_open{target="fragile"}').endswith(" 1.0")
        await asyncio.sleep(0.45)                                         # cooldown over
        flaky.status = 200
        assert (await post(s, bridge.url + "/guarded", xml=True))[0] == 200   # the probe
        assert gauge(bridge, 'bridge_breaker_open{target="fragile"}').endswith(" 0.0")
        assert (await post(s, bridge.url + "/guarded", xml=True))[0] == 200


async def test_a_failed_probe_reopens(tmp_path: Path, flaky: Flaky) -> None:
    async with running_bridge(config(tmp_path, flaky.url)) as bridge, aiohttp.ClientSession() as s:
        for _ in range(3):
            await post(s, bridge.url + "/guarded", xml=True)
        await asyncio.sleep(0.45)
        assert (await post(s, bridge.url + "/guarded", xml=True))[0] == 502   # probe fails
        assert (await post(s, bridge.url + "/guarded", xml=True))[0] == 503   # open again
        assert flaky.hits == 4


async def test_retries_only_for_idempotent_routes(tmp_path: Path, flaky: Flaky) -> None:
    async with running_bridge(config(tmp_path, flaky.url)) as bridge, aiohttp.ClientSession() as s:
        assert (await post(s, bridge.url + "/lookup"))[0] == 502
        assert flaky.hits == 3                                          # attempts counts every try
        assert gauge(bridge, 'bridge_retries_total{target="retried"}').endswith(" 2.0")
        assert (await post(s, bridge.url + "/book"))[0] == 502
        assert flaky.hits == 4                                          # not idempotent: one try


async def test_timeout_is_504_and_the_bulkhead_caps_concurrency(tmp_path: Path, flaky: Flaky) -> None:
    flaky.status, flaky.delay = 200, 0.5
    async with running_bridge(config(tmp_path, flaky.url)) as bridge, aiohttp.ClientSession() as s:
        status, body = await post(s, bridge.url + "/guarded", xml=True)
        assert status == 504 and "upstream_timeout" in body
        await asyncio.sleep(0.4)            # the abandoned call finishes at the target
        flaky.delay, flaky.peak = 0.1, 0
        results = await asyncio.gather(*(post(s, bridge.url + "/bulk") for _ in range(8)))
        assert [r[0] for r in results] == [200] * 8
        assert flaky.peak <= 2                                          # concurrency: 2
