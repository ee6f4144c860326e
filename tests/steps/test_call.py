"""`call`: a lookup mid-pipeline against a real target on loopback, and in `bridge test` cases."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bridge.config import load
from bridge.errors import ConfigError
from bridge.observability.metrics import Metrics
from bridge.routetest import load_cases, run_files
from bridge.runtime import compile_runtime
from bridge.testing import load_runtime, running_bridge, serving

CONFIG = """
version: 1
targets:
  his: {{url: "{url}", timeout: 2s}}
routes:
  - name: lock
    inbound: {{path: /lock, format: json}}
    pipeline:
      - call:
          target: his
          path: /getPatient
          body: {{id_no: "{{id_card}}", op_flag: 1}}
          success: {{path: head.code, gt: 0, message: head.msg}}
          into: found
      - template:
          patient_id: "{{found.patient.id}}"
          scheduling_id: "{{work_id}}"
    outbound:
      target: his
      path: /registerPre
      format: json
      success: {{path: head.code, gt: 0, message: head.msg}}
    reply:
      pipeline:
        - call:
            target: his
            path: /price
            format: form
            body: {{patient_id: "{{request.id_card}}"}}
            into: price
        - template: {{ok: true, fee: "{{price.data.total}}", echo: "{{patient}}"}}
    errors:
      template: {{ok: false, message: "{{error.message}}", his: "{{error.upstream.head.msg}}"}}
"""


@pytest.fixture
async def his() -> AsyncIterator[dict]:  # type: ignore[type-arg]
    seen: list[tuple[str, str, str]] = []
    state: dict = {"seen": seen}  # type: ignore[type-arg]

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        seen.append((request.path, request.headers.get("Content-Type", ""), body))
        if request.path == "/getPatient":
            data = await request.json() if "json" in request.content_type else {}
            if data.get("id_no") != "330102199001011234":
                return web.json_response({"head": {"code": -1, "msg": "患者不存在"}})
            return web.json_response({"head": {"code": 1, "msg": "ok"}, "patient": {"id": "P-77"}})
        if request.path == "/price":
            return web.json_response({"head": {"code": 1}, "data": {"total": "12.50"}})
        return web.json_response({"head": {"code": 1, "msg": "ok"}, "patient": await request.json()})

    async with serving(handle) as url:
        state["url"] = url
        yield state


async def test_lookup_feeds_the_outbound_and_the_reply(tmp_path: Path, his) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=his["url"]), encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/lock", json={"id_card": "330102199001011234", "work_id": "S1"},
                          headers={"X-Request-ID": "rid-call-1"}) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
    assert body == {"ok": True, "fee": "12.50",
                    "echo": {"patient_id": "P-77", "scheduling_id": "S1"}}
    paths = [p for p, _, _ in his["seen"]]
    assert paths == ["/getPatient", "/registerPre", "/price"]
    assert his["seen"][0][2] == '{"id_no":"330102199001011234","op_flag":1}'
    assert his["seen"][2][1].startswith("application/x-www-form-urlencoded")


async def test_a_refused_lookup_ends_the_request_with_the_targets_words(tmp_path: Path, his) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=his["url"]), encoding="utf-8")
    async with running_bridge(cfg) as bridge, aiohttp.ClientSession() as s:
        async with s.post(bridge.url + "/lock", json={"id_card": "nobody", "work_id": "S1"}) as r:
            assert r.status == 502
            body = await r.json()
    assert body["ok"] is False and body["his"] == "患者不存在" and "患者不存在" in body["message"]
    assert [p for p, _, _ in his["seen"]] == ["/getPatient"], "nothing is sent after a failed lookup"


def test_unknown_call_target_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9").replace("target: his\n          path: /getPatient",
                                                                    "target: hiss\n          path: /getPatient"))
    with pytest.raises(ConfigError) as exc:
        load_runtime(cfg)
    assert any("unknown target 'hiss'" in line for line in exc.value.errors), exc.value.errors


CASES = """
route: lock
cases:
  - name: found and locked
    request: {json: {id_card: "330102199001011234", work_id: S1}}
    calls:
      - target: his
        expect: {path: /getPatient, json: {id_no: "330102199001011234"}}
        reply: {json: {head: {code: 1}, patient: {id: P-77}}}
      - target: his
        expect: {path: /price, form: {patient_id: "330102199001011234"}}
        reply: {json: {head: {code: 1}, data: {total: "9.00"}}}
    target:
      expect: {path: /registerPre, json: {patient_id: P-77, scheduling_id: S1}}
      reply: {json: {head: {code: 1}, patient: {}}}
    expect: {status: 200, json: {ok: true, fee: "9.00"}}
  - name: unknown patient
    calls:
      - target: his
        reply: {json: {head: {code: -1, msg: 患者不存在}}}
    expect: {status: 502, json: {ok: false, his: 患者不存在}}
  - name: a listed call that the route does not make fails the case
    calls:
      - target: his
        reply: {json: {head: {code: 1}, patient: {id: P-1}}}
      - target: his
        reply: {json: {head: {code: 1}, data: {total: "1"}}}
      - target: his
        reply: {json: {}}
    target: {reply: {json: {head: {code: 1}}}}
    expect: {status: 200}
"""


async def test_route_test_cases_fake_each_call_in_order(tmp_path: Path) -> None:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url="http://127.0.0.1:9"), encoding="utf-8")
    (tmp_path / "cases.yaml").write_text(CASES, encoding="utf-8")
    runtime = compile_runtime(load(cfg), Metrics())
    report = await run_files(runtime, [load_cases(tmp_path / "cases.yaml", [r.name for r in runtime.routes])])
    results = {r.name: r for r in report.results}
    assert results["found and locked"].passed, results["found and locked"].problems
    assert results["unknown patient"].passed, results["unknown patient"].problems
    bad = results["a listed call that the route does not make fails the case"]
    assert not bad.passed and any("never made" in p for p in bad.problems), bad.problems
