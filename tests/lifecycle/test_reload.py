"""SIGHUP and --watch reload routes.yaml atomically: zero failed requests, invalid files ignored."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import Echo, config_text


async def load_until(url: str, stop: asyncio.Event, results: list[int]) -> None:
    """A bounded load: at most 5000 requests, 8 at a time, until ``stop`` is set."""
    async with aiohttp.ClientSession() as s:
        async def worker() -> None:
            for i in range(625):
                if stop.is_set():
                    return
                async with s.post(url, json={"i": i}) as r:
                    await r.read()
                    results.append(r.status)
        await asyncio.gather(*(worker() for _ in range(8)))


async def status(url: str, body: Any = None) -> int:
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=body or {"x": 1}) as r:
            return r.status


async def wait_status(url: str, want: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await status(url) == want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered {want}")


async def metric(url: str, line_start: str) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/metrics") as r:
            text = await r.text()
    return next((line for line in text.splitlines() if line.startswith(line_start)), "")


async def test_sighup_swaps_routes_under_load_and_ignores_an_invalid_file(
        tmp_path: Path, echo: Echo, serve: Any) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(config_text(echo.url, ["a"]), encoding="utf-8")
    bridge = serve(config)
    await bridge.ready()
    assert await status(bridge.url + "/b") == 404

    stop, results = asyncio.Event(), []
    load = asyncio.create_task(load_until(bridge.url + "/a", stop, results))
    await asyncio.sleep(0.3)
    config.write_text(config_text(echo.url, ["a", "b"]), encoding="utf-8")
    bridge.proc.send_signal(signal.SIGHUP)
    await wait_status(bridge.url + "/b", 200)                 # the new route is live
    config.write_text(config_text(echo.url, ["a"], broken=True), encoding="utf-8")
    bridge.proc.send_signal(signal.SIGHUP)                    # invalid: old routes keep serving
    deadline = time.monotonic() + 10
    while not (await metric(bridge.url, 'bridge_config_reloads_total{result="error"}')).endswith(" 1.0"):
        assert time.monotonic() < deadline, "the failed reload was not counted"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    stop.set()
    await load
    assert len(results) > 50 and set(results) == {200}, {s: results.count(s) for s in set(results)}
    assert await status(bridge.url + "/b") == 200             # still the last good config
    assert (await metric(bridge.url, 'bridge_config_reloads_total{result="ok"}')).endswith(" 1.0")
    assert "reload_failed" in bridge.log.read_text() and "format" in bridge.log.read_text()


async def test_watch_reloads_on_change(tmp_path: Path, echo: Echo, serve: Any) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(config_text(echo.url, ["a"]), encoding="utf-8")
    bridge = serve(config, "--watch")
    await bridge.ready()
    assert await status(bridge.url + "/c") == 404
    config.write_text(config_text(echo.url, ["a", "c"]), encoding="utf-8")
    await wait_status(bridge.url + "/c", 200)
