"""A caller that sends its headers and then stalls gets 408 in its dialect; the bridge stays healthy."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import aiohttp

from bridge.testing import running_bridge

CONFIG = """
version: 1
server: {read_timeout: 300ms}
targets: {t: {url: "http://127.0.0.1:9"}}
routes:
  - name: slow.xml
    inbound: {path: /slow, format: xml}
    outbound: {target: t}
"""


async def test_stalled_body_gets_408_and_the_process_stays_healthy(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    async with running_bridge(path) as bridge:
        reader, writer = await asyncio.open_connection("127.0.0.1", bridge.port)
        writer.write(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                     b"Content-Length: 100\r\n\r\n<r>")          # promises 100 bytes, sends 3
        await writer.drain()
        head = await asyncio.wait_for(reader.read(4096), timeout=5)
        writer.close()
        assert head.startswith(b"HTTP/1.1 408"), head
        assert b"<code>read_timeout</code>" in head
        async with aiohttp.ClientSession() as s:
            async with s.get(bridge.url + "/healthz") as r:
                assert r.status == 200
        metrics = bridge.runtime.metrics.exposition().decode()
        assert 'bridge_requests_total{outcome="bad_request",route="unmatched"} 1.0' in metrics
