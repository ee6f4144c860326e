"""DESIGN §6: failures in the vendor's business shape. `errors.fault: false` answers a SOAP caller
with a normal response carrying the template (seed 001 (b): `<Response><ResultCode>1</ResultCode>
<ErrorMsg>…`), `errors.status` sets the HTTP status, the target's own reply is `error.upstream`,
and a SOAP reply echoes the namespace the caller used."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from lxml import etree

from bridge.errors import ConfigError
from bridge.testing import load_runtime, running_bridge, serving

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"

CONFIG = """
version: 1
targets:
  his: {{url: "{url}", timeout: 2s}}
routes:
  - name: lock
    inbound:
      path: /ws
      format: soap
      match: {{operation: confirmRegistration}}
      soap: {{namespace: "http://hospital.example/ws", param: xml, reply_param: return}}
    outbound:
      target: his
      path: /registerPre
      format: json
      success: {{path: head.code, gt: 0, message: head.msg}}
    reply:
      pipeline:
        - template: {{ResultCode: 0, WorkFlowId: "{{data.order_id}}"}}
      root: Response
    errors:
      root: Response
      fault: false
      template: {{ResultCode: 1, ErrorMsg: "{{error.message}}", HisCode: "{{error.upstream.head.code}}"}}
  - name: lock.json
    inbound: {{path: /json, format: json}}
    outbound:
      target: his
      path: /registerPre
      format: json
      success: {{path: head.code, gt: 0, message: head.msg}}
    errors:
      status: 200
      template: {{result: "false", message: "{{error.message}}", his: "{{error.upstream.head.msg}}"}}
"""


def envelope(ns: str = "http://hospital.example/ws") -> bytes:
    inner = "<Request><TransactionId>T1</TransactionId><WorkId>W1</WorkId></Request>"
    return (f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><h:confirmRegistration xmlns:h="{ns}">'
            f"<xml>{inner.replace('<', '&lt;').replace('>', '&gt;')}</xml>"
            f"</h:confirmRegistration></soap:Body></soap:Envelope>").encode()


@pytest.fixture
async def his() -> AsyncIterator[dict[str, object]]:
    """A palm-hospital HIS (seed 003 shape): head.code > 0 success; `mode` picks the answer."""
    state: dict[str, object] = {"mode": "ok"}

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        if state["mode"] == "refuse":
            return web.json_response({"head": {"code": -1, "msg": "号源已满"}})
        if state["mode"] == "down":
            return web.json_response({"head": {"code": -9, "msg": "维护中"}}, status=503)
        return web.json_response({"head": {"code": 1, "msg": "ok"}, "data": {"order_id": "O-1"}})

    async with serving(handle) as url:
        state["url"] = url
        yield state


def returned(body: bytes) -> etree._Element:
    env = etree.fromstring(body)
    (ret,) = env.iter("return")
    return etree.fromstring(ret.text.encode())


async def test_soap_business_failure_is_a_normal_response_with_result_code_1(tmp_path: Path, his) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=his["url"]), encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        async with s.post(bridge.url + "/ws", data=envelope(), headers=headers) as r:
            assert r.status == 200
            ok = returned(await r.read())
        assert ok.tag == "Response" and ok.findtext("ResultCode") == "0"
        assert ok.findtext("WorkFlowId") == "O-1"

        his["mode"] = "refuse"
        async with s.post(bridge.url + "/ws", data=envelope(), headers=headers) as r:
            body = await r.read()
            assert r.status == 200, body
        assert b"Fault" not in body
        doc = returned(body)
        assert doc.tag == "Response" and doc.findtext("ResultCode") == "1"
        assert "号源已满" in doc.findtext("ErrorMsg")
        assert doc.findtext("HisCode") == "-1"                 # error.upstream: the HIS's own code

        his["mode"] = "down"                                   # HTTP 503: same shape, still 200
        async with s.post(bridge.url + "/ws", data=envelope(), headers=headers) as r:
            assert r.status == 200
            doc = returned(await r.read())
        assert doc.findtext("ResultCode") == "1" and "503" in doc.findtext("ErrorMsg")
        assert doc.findtext("HisCode") == "-9"


async def test_soap_reply_echoes_the_callers_namespace(tmp_path: Path, his) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=his["url"]), encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        async with s.post(bridge.url + "/ws", data=envelope("urn:other-hospital"), headers=headers) as r:
            assert r.status == 200
            env = etree.fromstring(await r.read())
    (op,) = env.find(f"{{{SOAP11}}}Body")
    assert op.tag == "{urn:other-hospital}confirmRegistrationResponse"


async def test_json_failure_status_and_upstream_message(tmp_path: Path, his) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=his["url"]), encoding="utf-8")
    his["mode"] = "refuse"
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/json", json={"a": 1}) as r:
            assert r.status == 200
            body = await r.json()
    assert body["result"] == "false" and body["his"] == "号源已满"


def test_errors_status_on_a_soap_fault_is_a_config_error(tmp_path: Path) -> None:
    """Silently ignoring errors.status on a SOAP route (a Fault is always 500) hid the mistake."""
    text = CONFIG.format(url="http://127.0.0.1:9").replace("      fault: false\n", "      status: 200\n", 1)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_runtime(cfg)
    assert any("errors.fault: false" in line for line in exc.value.errors), exc.value.errors
