"""Fixtures of the hostile-input suite: real servers on loopback, nothing of ours mocked.

- ``shipped_shared``: the shipped routes.yaml against the simulators behind the three paths under
  attack (referral servlet XML, /ws/hospital SOAP, /exam/tcm/api JSON), each on an ephemeral port.
- ``limited``: ``configs/limits.yaml`` (tiny max_body, max_depth and read_timeout) against ``echo``.
- ``http``: one client session per test.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from bridge.sim import close_sims, load_builtin_sims, start_sims
from bridge.testing import RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / "configs"
SIMS = {"referral": "REFERRAL_URL", "palm_his": "PALM_HIS_URL", "exam_pascal": "EXAM_TCM_URL"}


@dataclass
class Shipped:
    bridge: RunningBridge
    sims: dict[str, Any]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # a bound, not a threshold: a request the bridge cannot answer within it is a hang
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def _shipped() -> AsyncIterator[Shipped]:
    load_builtin_sims()
    sims = await start_sims(list(SIMS), ports={name: 0 for name in SIMS})
    try:
        by_name = {s.name: s for s in sims}
        env = {var: by_name[name].url for name, var in SIMS.items()}
        async with running_bridge(ROOT / "routes.yaml", env=env) as bridge:
            yield Shipped(bridge, by_name)
    finally:
        await close_sims(sims)


#: Shared by a module's tests (its tests and fixtures run on the module's loop): the corpus
#: asserts deltas and a healthy process after each case, so sharing hides nothing.
shipped_shared = pytest_asyncio.fixture(_shipped, scope="module", loop_scope="module")


class Echo:
    """A JSON target answering ``{"head": {"code": 1}, "data": <what it received>}``."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.received.append(body)
        return web.Response(body=orjson.dumps({"head": {"code": 1, "msg": "ok"}, "data": body}),
                            content_type="application/json")

    async def __aenter__(self) -> "Echo":
        app = web.Application(client_max_size=64 * 1024 * 1024)   # large.yaml forwards megabytes
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with Echo() as target:
        yield target


@pytest.fixture
async def limited(echo: Echo) -> AsyncIterator[RunningBridge]:
    async with running_bridge(CONFIGS / "limits.yaml", env={"ECHO_URL": echo.url}) as bridge:
        yield bridge


class ConnectionRecorder:
    """A loopback TCP listener that only counts who connects (the XXE network probe)."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> "ConnectionRecorder":
        self.server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def listener() -> AsyncIterator[ConnectionRecorder]:
    async with ConnectionRecorder() as rec:
        yield rec
