"""A real `bridge serve` subprocess and an echo target with an optional delay."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Echo:
    def __init__(self) -> None:
        self.delay = 0.0
        self.received = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.received += 1
        body = await request.json()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"head": {"code": 1}, "data": body})


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    e = Echo()
    app = web.Application()
    app.router.add_post("/{tail:.*}", e.handle)
    e.runner = web.AppRunner(app)
    await e.runner.setup()
    await web.TCPSite(e.runner, "127.0.0.1", 0).start()
    e.url = f"http://127.0.0.1:{e.runner.addresses[0][1]}"
    yield e
    await e.runner.cleanup()


class Served:
    def __init__(self, config: Path, port: int, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        self.url = f"http://127.0.0.1:{port}"
        self.log = config.parent / "bridge.log"
        self._out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "-c", str(config), "--listen",
             f"127.0.0.1:{port}", *extra], cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    async def ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, self.log.read_text()
                try:
                    async with s.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("bridge not ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Served] = []

    def start(config: Path, *extra: str) -> Served:
        s = Served(config, free_port(), *extra)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def config_text(target_url: str, routes: list[str], *, broken: bool = False) -> str:
    body = "\n".join(f"""
  - name: {name}
    inbound: {{path: /{name}, format: json}}
    outbound: {{target: t, path: /{name}, success: {{path: head.code, gt: 0}}}}""" for name in routes)
    return f"""
version: 1
server: {{drain_timeout: 10s}}
targets:
  t: {{url: "{target_url}", timeout: 5s}}
routes:{body}
""" + ("  - name: broken\n    inbound: {path: /x, format: nope}\n" if broken else "")
