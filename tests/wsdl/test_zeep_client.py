"""A real SOAP client generated from the bridge's own ``?wsdl`` calls the bridge and gets answers.

zeep (sync, requests-based) runs in a worker thread so the loopback bridge and the echo target
keep serving on the test's event loop. Everything is real: HTTP, WSDL parsing, SOAP envelopes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
import requests
import zeep
import zeep.exceptions
from aiohttp import web
from lxml import etree

from bridge.testing import RunningBridge, running_bridge

CONFIG = Path(__file__).resolve().parent / "configs" / "hospital.yaml"
PATH = "/ws/hospital"


class Echo:
    """A JSON target on loopback answering ``{"head": {"code": 1}, "data": <request>}``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.reject = False
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.requests.append((request.path, body))
        head = {"code": -1, "msg": "号源已被占用"} if self.reject else {"code": 1, "msg": "ok"}
        return web.Response(body=orjson.dumps({"head": head, "data": body}),
                            content_type="application/json")

    async def __aenter__(self) -> "Echo":
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with Echo() as target:
        yield target


@pytest.fixture
async def bridge(echo: Echo) -> AsyncIterator[RunningBridge]:
    async with running_bridge(CONFIG, env={"ECHO_URL": echo.url}) as b:
        yield b


def make_client(wsdl_url: str) -> zeep.Client:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy from the environment
    transport = zeep.Transport(session=session, timeout=10, operation_timeout=10)
    return zeep.Client(wsdl_url, transport=transport)


def inner(reply: Any) -> dict[str, str]:
    assert isinstance(reply, str), reply
    root = etree.fromstring(reply.encode("utf-8"))
    assert root.tag == "Response"
    return {c.tag: c.text or "" for c in root}


async def test_generated_client_calls_both_param_operations(bridge: RunningBridge, echo: Echo) -> None:
    client = await asyncio.to_thread(make_client, bridge.url + PATH + "?wsdl")
    assert {"confirmRegistration", "cancelRegistration", "queryStatus"} <= set(
        client.service._binding._operations)

    reply = await asyncio.to_thread(
        client.service.confirmRegistration,
        xml="<Request><TransactionId>T-100</TransactionId><PatientName>张三</PatientName></Request>")
    assert inner(reply) == {"ResultCode": "0", "ResultDesc": "号源锁定成功",
                            "TransactionId": "T-100", "Operation": "confirm"}
    reply = await asyncio.to_thread(
        client.service.cancelRegistration, xml="<Request><TransactionId>T-101</TransactionId></Request>")
    assert inner(reply) == {"ResultCode": "0", "TransactionId": "T-101", "Operation": "cancel"}
    assert echo.requests == [("/echo/confirm", {"TransactionId": "T-100", "PatientName": "张三"}),
                             ("/echo/cancel", {"TransactionId": "T-101"})]


async def test_generated_client_over_soap12_binding(bridge: RunningBridge, echo: Echo) -> None:
    client = await asyncio.to_thread(make_client, bridge.url + PATH + "?wsdl")
    service = client.bind("HospitalService", "HospitalSoap12")
    reply = await asyncio.to_thread(
        service.confirmRegistration, xml="<Request><TransactionId>T-12</TransactionId></Request>")
    assert inner(reply)["TransactionId"] == "T-12"
    assert echo.requests == [("/echo/confirm", {"TransactionId": "T-12"})]


async def test_generated_client_operation_without_param(bridge: RunningBridge, echo: Echo) -> None:
    """xs:any content: the client sends arbitrary children, the reply's children come back."""
    client = await asyncio.to_thread(make_client, bridge.url + PATH + "?wsdl")
    order = etree.Element("orderId")
    order.text = "O-7"
    reply = await asyncio.to_thread(client.service.queryStatus, _value_1=[order])
    values = {etree.QName(el).localname: el.text for el in reply}
    assert values == {"status": "booked", "orderId": "O-7"}
    assert echo.requests == [("/echo/status", {"orderId": "O-7"})]


async def test_business_error_reaches_the_client_as_a_fault(bridge: RunningBridge, echo: Echo) -> None:
    echo.reject = True
    client = await asyncio.to_thread(make_client, bridge.url + PATH + "?wsdl")
    with pytest.raises(zeep.exceptions.Fault) as info:
        await asyncio.to_thread(client.service.confirmRegistration,
                                xml="<Request><TransactionId>T-9</TransactionId></Request>")
    assert info.value.message == "号源已被占用"
    assert info.value.code.endswith("Server")


async def test_wsdl_address_is_the_one_the_client_called(bridge: RunningBridge) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(bridge.url + PATH + "?WSDL") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
            direct = etree.fromstring(await r.read())
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "his.example.org:8443"}
        async with http.get(bridge.url + PATH + "?wsdl", headers=headers) as r:
            assert r.status == 200
            proxied = etree.fromstring(await r.read())
    ns = {"wsdl": "http://schemas.xmlsoap.org/wsdl/"}
    assert set(direct.xpath("//wsdl:port/*/@location", namespaces=ns)) == {bridge.url + PATH}
    assert set(proxied.xpath("//wsdl:port/*/@location", namespaces=ns)) == {
        "https://his.example.org:8443" + PATH}


async def test_no_wsdl_on_a_non_soap_path(bridge: RunningBridge) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(bridge.url + "/plain?wsdl") as r:
            assert r.status == 404
            body = await r.json()
        async with http.get(bridge.url + "/nowhere?wsdl") as r:
            assert r.status == 404
    assert body["error"]["code"] == "no_wsdl"
    assert "/plain" in body["error"]["message"] and "not soap" in body["error"]["message"]
