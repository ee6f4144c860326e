"""Test doubles that ship with the package: run a bridge on loopback against real simulators.

    async with running_bridge("routes.yaml", env={"REFERRAL_URL": sim.url}) as bridge:
        async with aiohttp.ClientSession() as s:
            await s.post(bridge.url + "/referral/api/SxzzAppServlet", data=xml)
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

from aiohttp import web

from bridge.app import BridgeRunner, build_app
from bridge.config import load
from bridge.listen import ListenSite
from bridge.observability.metrics import Metrics
from bridge.runtime import Runtime, compile_runtime


class CannedTarget:
    """A target that answers every call with one JSON document and records what it was sent;
    for step examples and unit tests of steps that call targets (`call`)."""

    def __init__(self, name: str, reply: object, status: int = 200) -> None:
        from types import SimpleNamespace

        self.name, self.reply, self.status = name, reply, status
        self.cfg = SimpleNamespace(headers={}, timeout=5.0)
        self.calls: list[tuple[str, str, bytes, dict[str, str]]] = []

    async def call(self, method: str, path: str, body: bytes, headers: dict[str, str], *,
                   idempotent: bool) -> object:
        import orjson

        from bridge.connectors.http import HttpReply

        self.calls.append((method, path, body, headers))
        return HttpReply(self.status, "application/json", "utf-8", orjson.dumps(self.reply), 0.0)


@contextlib.asynccontextmanager
async def serving(handler: Any) -> AsyncIterator[str]:
    """A stand-in target on a loopback port answering every POST with ``handler``; yields its URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_runtime(config: str | Path, env: Mapping[str, str] | None = None) -> Runtime:
    """Load and compile a config; ``env`` overrides the process environment for ``${VAR}``."""
    merged = {**os.environ, **(env or {})}
    return compile_runtime(load(config, merged), Metrics())


@dataclass
class RunningBridge:
    url: str
    port: int
    app: web.Application
    runtime: Runtime


@contextlib.asynccontextmanager
async def running_bridge(config: str | Path, env: Mapping[str, str] | None = None,
                         host: str = "127.0.0.1") -> AsyncIterator[RunningBridge]:
    """A real bridge on an ephemeral loopback port, torn down on exit."""
    runtime = load_runtime(config, env)
    app = build_app(runtime)
    runner = BridgeRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2)
    await runner.setup()
    site = ListenSite(runner, host, 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield RunningBridge(f"http://{host}:{port}", port, app, runtime)
    finally:
        await runner.cleanup()
