"""The benchmark's correctness check, run in the suite: the bridge and the two pure-aiohttp peers
answer the same request with the same data, against a real loopback upstream (bench/upstream.py,
aiohttp, not nginx, so nothing beyond the product's dependencies is needed). No timing here."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

import pytest
from aiohttp import web

from bench import upstream
from bench.check import check_all
from bench.peers import aiohttp_handwritten, aiohttp_passthrough
from bench.workloads import all_workloads, normalise
from bridge.testing import running_bridge

WORKLOADS = all_workloads()


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("name", sorted(WORKLOADS))
async def test_peers_answer_like_the_bridge(name: str) -> None:
    w = WORKLOADS[name]
    async with serve(upstream.build()) as up, \
            serve(aiohttp_handwritten.build(up)) as handwritten, \
            serve(aiohttp_passthrough.build(up)) as passthrough, \
            running_bridge(w.bridge_config, env={"REFERRAL_URL": up, "UPSTREAM_URL": up}) as bridge:
        checks = await check_all({"bridge": (bridge.url, False), "handwritten": (handwritten, False),
                                  "passthrough": (passthrough, True)}, w, recording_upstream=up)
    assert [c.peer for c in checks] == ["bridge", "handwritten", "passthrough"]
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


async def test_check_catches_a_peer_that_answers_differently() -> None:
    """The comparison is not vacuous: a peer replying with other data fails the check."""
    w = WORKLOADS["w1"]

    async def wrong(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=b"<referral><result>false</result></referral>", content_type="application/xml")

    liar = web.Application()
    liar.router.add_post(w.path, wrong)
    async with serve(upstream.build()) as up, serve(liar) as liar_url, \
            running_bridge(w.bridge_config, env={"REFERRAL_URL": up}) as bridge:
        checks = await check_all({"bridge": (bridge.url, False), "liar": (liar_url, False)}, w,
                                 recording_upstream=up)
    assert checks[0].ok and not checks[1].ok
    assert "differs" in checks[1].detail


def test_w1_reply_is_the_seed_answer() -> None:
    """The reference the peers are held to is the seed's own reply shape."""
    tree = normalise("xml", b'<?xml version="1.0"?><referral><parm>referralCode=R&amp;type=zy</parm>'
                            b"<result>true</result></referral>")
    assert tree == {"referral": {"parm": "referralCode=R&type=zy", "result": "true"}}


def test_profile_summary_sums_self_time_by_package(tmp_path) -> None:
    """bench --profile's table: self time of the leaf frame, summed per package or bridge module."""
    from bench.run import hot_spots, package_of

    assert package_of("exchange (bridge/exchange.py:91)") == "bridge/exchange"
    assert package_of("ClientSession._request (aiohttp/client.py)") == "aiohttp"
    collapsed = tmp_path / "x.collapsed"
    collapsed.write_text("run (asyncio/runners.py:1);exchange (bridge/exchange.py:91) 30\n"
                         "run (asyncio/runners.py:1);_request (aiohttp/client.py:2) 50\n"
                         "run (asyncio/runners.py:1);parse (bridge/codecs/xmltree.py:3) 20\n")
    text = hot_spots(collapsed, "bridge, w1")
    assert "(100 samples)" in text
    assert "|  50.0% | `aiohttp` |" in text and "|  30.0% | `bridge/exchange` |" in text
    assert "|  20.0% | `parse (bridge/codecs/xmltree.py)` |" in text      # line numbers folded
