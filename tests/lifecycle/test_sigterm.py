"""SIGTERM under load: requests in flight complete, new ones are told 503, exit code 0."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import Echo, config_text


async def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path: Path, echo: Echo, serve: Any) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(config_text(echo.url, ["a"]), encoding="utf-8")
    bridge = serve(config)
    await bridge.ready()
    echo.delay = 0.5
    async with aiohttp.ClientSession() as s:
        async def one(i: int) -> int:
            async with s.post(bridge.url + "/a", json={"i": i}) as r:
                await r.read()
                return r.status
        inflight = [asyncio.create_task(one(i)) for i in range(20)]
        deadline = time.monotonic() + 10
        while echo.received < 20:                      # all 20 are at the target now
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        bridge.proc.send_signal(signal.SIGTERM)
        statuses = await asyncio.gather(*inflight)
    assert statuses == [200] * 20
    assert await asyncio.to_thread(bridge.proc.wait, 20) == 0
    events = [json.loads(line)["event"] for line in bridge.log.read_text().splitlines()
              if line.startswith("{")]
    assert "draining" in events and events[-1] == "stopped"
