"""Inbound auth: each type refuses what it should, in the caller's dialect, secrets never echoed."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bridge.errors import ConfigError
from bridge.testing import load_runtime, running_bridge

KEY = "dev-only-key-7f3a"
SYSTEM_KEY = "dev-only-system-key-19c2"


@pytest.fixture
async def target() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"head": {"code": 1}, "data": {"ok": True}})
    app = web.Application()
    app.router.add_post("/{tail:.*}", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


CONFIG = f"""
version: 1
secrets:
  api_key: {KEY}
  alice_password: {KEY}
  exam_system_id: HIS001
  exam_system_key: {SYSTEM_KEY}
targets:
  t: {{url: "${{T}}"}}
routes:
  - name: by.key
    inbound: {{path: /key, format: json, auth: {{type: api_key, header: X-API-Key, keys: [api_key]}}}}
    outbound: {{target: t}}
  - name: by.basic
    inbound: {{path: /basic, format: xml, auth: {{type: basic, users: {{alice: alice_password}}}}}}
    outbound: {{target: t}}
  - name: by.fields
    inbound:
      path: /exam
      format: json
      auth: {{type: json_fields, fields: {{systemId: exam_system_id, systemKey: exam_system_key}}}}
    pipeline:
      - drop: [systemKey]
    outbound: {{target: t}}
  - name: by.ip
    inbound: {{path: /ip, format: json, auth: {{type: ip_allow, allow: [10.0.0.0/8]}}}}
    outbound: {{target: t}}
  - name: by.loopback
    inbound: {{path: /lo, format: json, auth: {{type: ip_allow, allow: [127.0.0.1/32, "::1"]}}}}
    outbound: {{target: t}}
"""


async def post(s: aiohttp.ClientSession, url: str, body: Any, **headers: str) -> tuple[int, str]:
    kwargs: dict[str, Any] = {"json": body} if not isinstance(body, bytes) else {"data": body}
    async with s.post(url, headers=headers, **kwargs) as r:
        return r.status, await r.text()


async def test_each_auth_type(tmp_path: Path, target: str) -> None:
    async with running_bridge(write(tmp_path, CONFIG), {"T": target}) as b:
        async with aiohttp.ClientSession() as s:
            assert (await post(s, b.url + "/key", {"a": 1}))[0] == 401
            status, text = await post(s, b.url + "/key", {"a": 1}, **{"X-API-Key": "wrong"})
            assert status == 401 and KEY not in text and '"error"' in text
            assert (await post(s, b.url + "/key", {"a": 1}, **{"X-API-Key": KEY}))[0] == 200

            good = "Basic " + base64.b64encode(f"alice:{KEY}".encode()).decode()
            bad = "Basic " + base64.b64encode(b"alice:nope").decode()
            xml = {"Content-Type": "application/xml"}
            status, text = await post(s, b.url + "/basic", b"<r><a>1</a></r>", **xml)
            assert status == 401 and text.startswith("<?xml")
            assert (await post(s, b.url + "/basic", b"<r><a>1</a></r>", Authorization=bad, **xml))[0] == 401
            assert (await post(s, b.url + "/basic", b"<r><a>1</a></r>", Authorization=good, **xml))[0] == 200

            status, text = await post(s, b.url + "/exam", {"systemId": "HIS001"})
            assert status == 401 and "systemKey" in text
            status, text = await post(s, b.url + "/exam", {"systemId": "HIS001", "systemKey": "x"})
            assert status == 401 and SYSTEM_KEY not in text
            ok = {"systemId": "HIS001", "systemKey": SYSTEM_KEY, "method": "XKH073"}
            assert (await post(s, b.url + "/exam", ok))[0] == 200

            assert (await post(s, b.url + "/ip", {"a": 1}))[0] == 403
            assert (await post(s, b.url + "/lo", {"a": 1}))[0] == 200
    metrics = b.runtime.metrics.exposition().decode()
    assert 'bridge_requests_total{outcome="unauthorized",route="by.key"} 2.0' in metrics
    assert KEY not in metrics and SYSTEM_KEY not in metrics


def test_auth_naming_an_undefined_secret_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        targets: {t: {url: "http://127.0.0.1:1"}}
        routes:
          - name: r
            inbound: {path: /k, format: json, auth: {type: api_key, keys: [nope]}}
            outbound: {target: t}
        """)
    with pytest.raises(ConfigError) as info:
        load_runtime(path)
    assert any(":6:" in e and "secret 'nope' is not defined" in e for e in info.value.errors)
