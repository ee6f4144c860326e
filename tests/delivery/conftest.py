"""A recording target for delivery tests, startable on a port chosen before it exists."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import pytest
from aiohttp import web


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    """Answers 200 {"head": {"code": 1}} by default; `mode` switches to failing answers."""

    port: int
    mode: str = "ok"                       # ok | http500 | business_error
    fail_first: dict[str, int] = field(default_factory=dict)   # body "n" -> failures left
    received: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self) -> list[str]:
        return [r["key"] for r in self.received if r["status"] == 200 and r["ok"]]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        entry = {"key": request.headers.get("Idempotency-Key"), "body": body, "status": 200, "ok": True}
        self.received.append(entry)
        n = str(body.get("n"))
        if self.fail_first.get(n, 0) > 0:
            self.fail_first[n] -= 1
            entry.update(status=503, ok=False)
            return web.json_response({"head": {"code": -1, "msg": "busy"}}, status=503)
        if self.mode == "http500":
            entry.update(status=500, ok=False)
            return web.json_response({"head": {"code": -1, "msg": "down for maintenance"}}, status=500)
        if self.mode == "business_error":
            entry["ok"] = False
            return web.json_response({"head": {"code": -1, "msg": "duplicate order"}})
        return web.json_response({"head": {"code": 1, "msg": "ok"}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    t = Target(free_port())
    yield t
    await t.stop()


def queued_config(db: str, target_url: str, *, attempts: int = 50, ordered: bool = False,
                  listen: str = "127.0.0.1:0") -> str:
    return f"""
version: 1
server: {{listen: "{listen}", drain_timeout: 2s}}
store: sqlite:///{db}
targets:
  his:
    url: {target_url}
    timeout: 1s
    retry: {{attempts: {attempts}, backoff: 20ms, max_backoff: 200ms}}
routes:
  - name: notify
    inbound: {{path: /notify, format: json}}
    outbound:
      target: his
      path: /notice
      delivery: queued
      success: {{path: head.code, gt: 0, message: head.msg}}
      {"ordered_by: order_id" if ordered else ""}
    reply:
      pipeline:
        - template: {{ResultCode: 0, ErrorMsg: "", MessageId: "{{message_id}}"}}
"""
