"""Shared helpers of the e2e suite: posting, reading replies, metrics, sockets."""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

SAMPLES = Path(__file__).resolve().parent / "samples"
SERVLET = "/referral/api/SxzzAppServlet"
XML_UTF8 = {"Content-Type": "application/xml; charset=utf-8"}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        m = re.search(r"charset=([^;\s]+)", self.content_type, re.I)
        return m.group(1).strip('"') if m else None

    def declared_encoding(self) -> str | None:
        m = re.match(rb"""\s*<\?xml[^>]*encoding=["']([^"']+)["']""", self.body)
        return m.group(1).decode("ascii") if m else None

    def text(self, encoding: str | None = None) -> str:
        return self.body.decode(encoding or _pycodec(self.charset or "utf-8"))

    def xml(self) -> Any:
        """The reply parsed with a safe parser (its own declaration decides the encoding)."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        declared = self.declared_encoding() or ""
        if declared.lower() in ("gbk", "gb2312", "gb18030"):
            # legacy "GB2312" callers send GBK; read every GB label as its superset GB18030
            text = self.body.decode("gb18030")
            return etree.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", text), parser)
        return etree.fromstring(self.body, parser)


def _pycodec(label: str) -> str:
    return "gb18030" if label.lower() in ("gbk", "gb2312", "gb18030") else label


def assert_clean(body: bytes) -> None:
    """No reply ever shows a Python traceback or source frames."""
    text = body.decode("utf-8", "replace") + body.decode("gb18030", "replace")
    assert "Traceback" not in text, body[:2000]
    assert 'File "' not in text, body[:2000]
    assert ".py\", line" not in text, body[:2000]


async def post(http: aiohttp.ClientSession, url: str, data: bytes | str,
               headers: dict[str, str] | None = None) -> Reply:
    if isinstance(data, str):
        data = data.encode("utf-8")
    async with http.post(url, data=data, headers=headers if headers is not None else XML_UTF8) as r:
        body = await r.read()
        reply = Reply(r.status, r.headers.copy(), body)
    assert_clean(reply.body)
    return reply


def children(el: Any) -> dict[str, str]:
    """{local name: text} of an element's children."""
    return {etree.QName(c).localname: (c.text or "") for c in el if isinstance(c.tag, str)}


async def sim_requests(http: aiohttp.ClientSession, sim: Any) -> list[dict[str, Any]]:
    async with http.get(sim.url + "/_sim/requests") as r:
        assert r.status == 200
        return await r.json()


async def sim_fail(http: aiohttp.ClientSession, sim: Any, **spec: int) -> None:
    async with http.post(sim.url + "/_sim/fail", json=spec) as r:
        assert r.status == 200, await r.text()


async def metrics(http: aiohttp.ClientSession, bridge: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics as {(name, labels): value}."""
    async with http.get(bridge.url + "/metrics") as r:
        assert r.status == 200
        text = await r.text()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def metric(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
           **labels: str) -> float:
    """One sample's value; 0.0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConnectionRecorder:
    """A TCP listener on loopback that only counts who connects (for XXE network probes)."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

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
