"""Never lose a message: N accepted, the bridge SIGKILLed, restarted, the target back: all N
delivered, none twice (by Idempotency-Key). Also SIGTERM: exit 0 after draining."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from .conftest import Target, free_port, queued_config

ROOT = Path(__file__).resolve().parents[2]
N = 1000


def start_bridge(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    return subprocess.Popen([sys.executable, "-m", "bridge", "serve", "-c", str(config)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
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


async def test_sigkill_loses_nothing(tmp_path: Path, target: Target) -> None:
    port = free_port()
    config = tmp_path / "routes.yaml"
    text = queued_config(str(tmp_path / "q.db"), target.url, attempts=10_000,
                         listen=f"127.0.0.1:{port}")
    config.write_text(text.replace("backoff: 20ms, max_backoff: 200ms", "backoff: 100ms, max_backoff: 1s"),
                      encoding="utf-8")
    url = f"http://127.0.0.1:{port}"
    proc = start_bridge(config)
    try:
        await wait_healthy(url, proc)
        ids: list[str] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as s:
            async def one(i: int) -> str:
                async with s.post(url + "/notify", json={"n": i}) as r:
                    assert r.status == 200, await r.text()
                    return str((await r.json())["MessageId"])
            ids = list(await asyncio.gather(*(one(i) for i in range(N))))
        proc.send_signal(signal.SIGKILL)                     # no goodbye, no flush
        assert proc.wait(timeout=10) == -signal.SIGKILL
        assert target.received == []                          # nothing was delivered yet

        proc = start_bridge(config)                            # restart; then the target comes up
        await wait_healthy(url, proc)
        await target.start()
        deadline = time.monotonic() + 90
        while len(set(target.keys())) < N and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        keys = target.keys()
        assert len(set(keys)) == N, f"{len(set(keys))} of {N} delivered"
        assert len(keys) == N                                  # none twice
        assert set(keys) == set(ids)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0                      # graceful: exit 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
