"""Within max_body, costly to parse: every one is converted, forwarded and answered in linear
time. (lxml's ``attrib.items()`` looks each value up by name: 200k attributes on one element
took minutes of event-loop time before bridge.codecs.xmltree walked them once instead.)"""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import orjson
import pytest
from lxml import etree

from bridge.testing import RunningBridge, running_bridge
from tests.hostile.checks import send
from tests.hostile.conftest import CONFIGS, Echo

BODIES = {
    "200k attributes on one element": b"<r " + b" ".join(b'a%d="%d"' % (i, i) for i in range(200_000)) + b"/>",
    "200k siblings": b"<r>" + b"<x>1</x>" * 200_000 + b"</r>",
    "a 4 MB attribute value": b'<r a="' + b"x" * 4_000_000 + b'"><b>1</b></r>',
    "200k distinct children": b"<r>" + b"".join(b"<c%d>1</c%d>" % (i, i) for i in range(200_000)) + b"</r>",
}


@pytest.fixture
async def large(echo: Echo) -> AsyncIterator[RunningBridge]:
    async with running_bridge(CONFIGS / "large.yaml", env={"ECHO_URL": echo.url}) as bridge:
        yield bridge


@pytest.mark.parametrize("name", list(BODIES))
async def test_costly_bodies_are_answered(name: str, large: RunningBridge, echo: Echo,
                                          http: aiohttp.ClientSession) -> None:
    body = BODIES[name]
    assert len(body) < 8 * 1024 * 1024
    reply = await send(http, large.url + "/large", body, {"Content-Type": "text/xml"})
    assert reply.status == 200, reply.body[:300]
    sent = echo.received[-1]
    if name.startswith("200k attributes"):
        assert len(sent) == 200_000 and sent["@a199999"] == "199999"
    elif name == "200k siblings":
        assert len(sent["x"]) == 200_000
    elif name.startswith("a 4 MB"):
        assert len(sent["@a"]) == 4_000_000 and sent["b"] == "1"
    else:
        assert len(sent) == 200_000
    root = etree.fromstring(reply.body)
    assert (etree.QName(root).localname, root.findtext("received")) == ("r", "true")
    async with http.get(large.url + "/healthz") as r:
        assert r.status == 200


async def test_a_json_caller_cannot_make_xml_encoding_quadratic(large: RunningBridge, echo: Echo,
                                                                http: aiohttp.ClientSession) -> None:
    """200k '@' keys would make lxml's attribute building quadratic (minutes of event loop):
    the encoder caps attributes per element and answers 422 at once; the bridge stays healthy."""
    body = orjson.dumps({"item": {f"@a{i}": "x" for i in range(200_000)}})
    async with http.post(large.url + "/large/json", data=body,
                         headers={"Content-Type": "application/json"}) as r:
        assert r.status == 422
        reply = await r.json()
    assert reply["error"]["code"] == "too_many_attributes"
    async with http.get(large.url + "/healthz") as r:
        assert r.status == 200
