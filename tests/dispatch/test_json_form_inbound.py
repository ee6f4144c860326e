"""JSON and form callers: dispatch on a field value, lists, replies and errors in JSON."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from bridge.testing import running_bridge


@pytest.fixture
async def echo_target() -> AsyncIterator[dict[str, Any]]:
    """A real loopback target answering {head: {code: 1}, data: <what it received>}."""
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        ctype = request.content_type
        body = orjson.loads(raw) if ctype == "application/json" else dict(await request.post())
        seen.append({"path": request.path, "content_type": ctype, "body": body,
                     "request_id": request.headers.get("X-Request-ID")})
        if isinstance(body, dict) and body.get("fail"):
            return web.json_response({"head": {"code": -1, "msg": "target says no"}})
        return web.json_response({"head": {"code": 1, "msg": "ok"}, "data": body})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield {"url": f"http://127.0.0.1:{runner.addresses[0][1]}", "seen": seen}
    await runner.cleanup()


CONFIG = """
version: 1
targets:
  echo: {url: "${ECHO_URL}", timeout: 2s}
routes:
  - name: exam.query
    inbound:
      path: /exam
      format: json
      match: {field: method, equals: XKH073}
      lists: [data.items]
    pipeline:
      - unwrap: {from: data}
      - case: snake
    outbound:
      target: echo
      path: /query
      success: {path: head.code, gt: 0, message: head.msg}
    reply:
      pipeline:
        - template: {statusCode: "00000000", statusMessage: ok, data: "{data}"}
    errors:
      template: {statusCode: "99999999", statusMessage: "{error.message}"}
  - name: exam.cancel
    inbound:
      path: /exam
      format: json
      match: {field: method, in: [XKH075, cancel]}
    outbound: {target: echo, path: /cancel}
  - name: top.form
    inbound: {path: /gateway, format: form}
    pipeline:
      - coerce: {page: int}
    outbound: {target: echo, path: /form, format: form}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    return path


async def test_json_dispatch_by_field_and_lists(config: Path, echo_target: dict[str, Any]) -> None:
    async with running_bridge(config, {"ECHO_URL": echo_target["url"]}) as bridge:
        async with aiohttp.ClientSession() as s:
            body = {"method": "XKH073", "data": {"patientId": "P1", "items": {"examNO": "E1"}}}
            async with s.post(bridge.url + "/exam", json=body) as r:
                assert r.status == 200
                assert r.content_type == "application/json"
                reply = await r.json()
            async with s.post(bridge.url + "/exam", json={"method": "cancel", "id": 7}) as r:
                assert r.status == 200
                cancel = await r.json()
            async with s.post(bridge.url + "/exam", json={"method": "XKH999"}) as r:
                assert r.status == 404
                missing = await r.json()
    seen = echo_target["seen"]
    assert seen[0]["path"] == "/query"
    # lists: one item became a list; case: snake converted every key
    assert seen[0]["body"] == {"patient_id": "P1", "items": [{"exam_no": "E1"}]}
    assert reply == {"statusCode": "00000000", "statusMessage": "ok",
                     "data": {"patient_id": "P1", "items": [{"exam_no": "E1"}]}}
    assert seen[1]["path"] == "/cancel" and cancel["data"] == {"method": "cancel", "id": 7}
    # failures before a route is chosen answer with the first route's errors template
    assert missing["statusCode"] == "99999999" and "XKH073" in missing["statusMessage"]


async def test_json_errors_use_template_and_target_message(config: Path,
                                                           echo_target: dict[str, Any]) -> None:
    async with running_bridge(config, {"ECHO_URL": echo_target["url"]}) as bridge:
        async with aiohttp.ClientSession() as s:
            async with s.post(bridge.url + "/exam", json={"method": "XKH073", "data": {"fail": 1}}) as r:
                assert r.status == 502
                assert await r.json() == {"statusCode": "99999999", "statusMessage": "target says no"}
            async with s.post(bridge.url + "/exam", data=b'{"method": "XKH073",\n "data": }',
                              headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400
                err = await r.json()
                assert "line 2" in err["statusMessage"]
            async with s.post(bridge.url + "/exam", data=b"<a/>",
                              headers={"Content-Type": "text/xml"}) as r:
                assert r.status == 415


async def test_form_in_form_out_with_gbk(config: Path, echo_target: dict[str, Any]) -> None:
    async with running_bridge(config, {"ECHO_URL": echo_target["url"]}) as bridge:
        async with aiohttp.ClientSession() as s:
            data = "name=%D5%C5%C8%FD&page=2&tag=a&tag=b".encode()  # 张三 in GBK
            async with s.post(bridge.url + "/gateway", data=data, headers={
                    "Content-Type": "application/x-www-form-urlencoded; charset=GBK"}) as r:
                assert r.status == 200, await r.text()
                reply = await r.json(content_type=None)
                assert r.headers["Content-Type"].endswith("charset=gbk")
    seen = echo_target["seen"][0]
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    # page was coerced to int, then sent as a form field; the repeated tag went as a JSON string
    assert seen["body"] == {"name": "张三", "page": "2", "tag": '["a","b"]'}
    assert reply["data"]["name"] == "张三"
