"""End-to-end fixtures: real servers on loopback, real HTTP, nothing of ours mocked.

- ``referral_sim``: the referral simulator (``bridge.sim``) on an ephemeral port, log cleared.
- ``bridge``: the shipped ``routes.yaml`` running against ``referral_sim``.
- ``run_bridge``: ``async with run_bridge("soap.yaml", env={...}) as b`` runs a config from
  ``tests/e2e/configs/`` (a bare name) or any path.
- ``echo``: a tiny JSON target answering ``{"head": {"code": 1}, "data": <what it received>}``,
  recording every request and able to fail on demand.
- ``http``: one aiohttp ClientSession per test.

Helpers (``post``, ``metric``, ``closed_port``...) live in ``tests/e2e/helpers.py``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping

import aiohttp
import orjson
import pytest
from aiohttp import web

from bridge.sim import close_sims, load_builtin_sims, start_sims
from bridge.testing import RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "routes.yaml"
CONFIGS = Path(__file__).resolve().parent / "configs"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


@pytest.fixture
async def referral_sim(http: aiohttp.ClientSession) -> AsyncIterator[Any]:
    load_builtin_sims()
    sims = await start_sims(["referral"], ports={"referral": 0})
    sim = sims[0]
    try:
        async with http.delete(sim.url + "/_sim/requests") as r:
            assert r.status == 200
        async with http.delete(sim.url + "/_sim/fail") as r:
            assert r.status == 200
        yield sim
    finally:
        await close_sims(sims)


@pytest.fixture
async def bridge(referral_sim: Any) -> AsyncIterator[RunningBridge]:
    async with running_bridge(SHIPPED, env={"REFERRAL_URL": referral_sim.url}) as b:
        yield b


@pytest.fixture
def run_bridge() -> Callable[..., contextlib.AbstractAsyncContextManager[RunningBridge]]:
    def factory(config: str | Path, env: Mapping[str, str] | None = None
                ) -> contextlib.AbstractAsyncContextManager[RunningBridge]:
        path = Path(config)
        if not path.is_absolute() and not path.exists():
            path = CONFIGS / path
        return running_bridge(path, env=dict(env or {}))
    return factory


class EchoTarget:
    """A real JSON server on loopback that answers with what it received."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_status: int | None = None
        self.fail_times = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    def fail(self, status: int, times: int = 1) -> None:
        self.fail_status, self.fail_times = status, times

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.requests.append({"path": request.path, "headers": dict(request.headers),
                              "content_type": request.content_type, "json": body})
        if self.fail_times > 0:
            self.fail_times -= 1
            return web.json_response({"head": {"code": -1, "msg": "echo failure"}},
                                     status=self.fail_status or 500)
        return web.Response(body=orjson.dumps({"head": {"code": 1, "msg": "ok"}, "data": body}),
                            content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def echo() -> AsyncIterator[EchoTarget]:
    target = EchoTarget()
    await target.start()
    try:
        yield target
    finally:
        await target.close()
