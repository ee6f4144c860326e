"""The bridge's own server path (bridge.app.BridgeRunner: aiohttp's low-level server, paths
resolved by the bridge) answers exactly as the app served by aiohttp's router does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bridge.app import build_app
from bridge.testing import RunningBridge, load_runtime

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "tests/routes/samples/referral.xml").read_bytes()
XML = {"Content-Type": "text/xml; charset=utf-8"}


async def test_expect_100_continue_is_answered_before_the_body(bridge: RunningBridge) -> None:
    """curl (bodies over 1 KiB) and .NET's HttpWebRequest ask first and wait for 100."""
    reader, writer = await asyncio.open_connection("127.0.0.1", bridge.port)
    writer.write(b"POST /referral/api/SxzzAppServlet HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: text/xml; charset=utf-8\r\nExpect: 100-continue\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(SAMPLE))
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    writer.write(SAMPLE)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    assert b"<result>true</result>" in await reader.readexactly(length)
    writer.close()


async def _answers(url: str, http: aiohttp.ClientSession) -> list[Any]:
    calls: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("POST", "/referral/api/SxzzAppServlet", SAMPLE, XML),
        ("POST", "/referral/api/SxzzAppServlet", b"<referral><orderid>1</orderid></referral>", XML),
        ("GET", "/referral/api/SxzzAppServlet", b"", {}),
        ("POST", "/no/such/path", b"{}", {"Content-Type": "application/json"}),
        ("GET", "/healthz", b"", {}),
        ("POST", "/healthz", b"{}", {"Content-Type": "application/json"}),
        ("GET", "/readyz", b"", {}),
    ]
    out = []
    for method, path, body, headers in calls:
        async with http.request(method, url + path, data=body, headers=headers) as r:
            out.append((method, path, r.status, r.headers.get("Content-Type"), await r.read()))
    return out


async def test_the_same_answers_as_the_app_served_by_aiohttps_router(
        bridge: RunningBridge, referral_sim: Any, http: aiohttp.ClientSession) -> None:
    ours = await _answers(bridge.url, http)
    runtime = load_runtime(ROOT / "routes.yaml", env={"REFERRAL_URL": referral_sim.url})
    runner = web.AppRunner(build_app(runtime), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        theirs = await _answers(f"http://127.0.0.1:{runner.addresses[0][1]}", http)
    finally:
        await runner.cleanup()
    assert [a[:4] for a in ours] == [a[:4] for a in theirs]
    assert [a[2] for a in ours] == [200, 200, 405, 404, 200, 404, 200]   # the servlet's failure: result false, 200
    # bodies differ only by the request ids the errors mention
    assert ours[0][4] == theirs[0][4] and ours[4][4] == theirs[4][4]
