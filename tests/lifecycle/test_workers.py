"""serve --workers N: one port, N processes, metrics aggregated; SIGTERM stops them all with 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from .conftest import ROOT, Echo, config_text, free_port


async def test_two_workers_share_the_port_and_aggregate_metrics(tmp_path: Path, echo: Echo) -> None:
    config = tmp_path / "routes.yaml"
    config.write_text(config_text(echo.url, ["a"]), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "PROMETHEUS_"))}
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "-c", str(config), "--listen",
                             f"127.0.0.1:{port}", "--workers", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
            while True:
                try:
                    async with s.get(url + "/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)                    # let the second worker bind too
            for i in range(30):                         # new connections spread over workers
                async with s.post(url + "/a", json={"i": i}) as r:
                    assert r.status == 200
            async with s.get(url + "/metrics") as r:
                text = await r.text()
        line = next(l for l in text.splitlines()
                    if l.startswith('bridge_requests_total{outcome="ok",route="a"}'))
        assert float(line.rsplit(" ", 1)[1]) == 30.0   # whichever worker answers sees all 30
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()
        listening = [l for l in out.decode().splitlines() if '"event":"listening"' in l]
        assert len(listening) == 2                      # two processes served the port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
