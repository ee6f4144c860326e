"""Per-request log lines: the contract fields are there, PII values never are."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import orjson
import pytest

from bridge.observability.logging import PiiMasker, configure, mask
from bridge.sim import load_builtin_sims, start_sims
from bridge.testing import running_bridge

ROOT = Path(__file__).resolve().parents[2]
ID_NO = "330683199001011234"
PHONE = "13400001234"
NAME = "张三丰"

REFERRAL = f"""<referral><orderid>log-1</orderid><fqyydm>PDY1234567890</fqyydm>
<fqyymc>医院</fqyymc><fqksdm>KS1</fqksdm><fqksmc>科室</fqksmc><fqysgh>YS1</fqysgh>
<fqysxm>医生</fqysxm><hzxm>{NAME}</hzxm><jzkh>A01234567</jzkh><jzklx>0</jzklx>
<sfzh>{ID_NO}</sfzh><csrq>20130101</csrq><lxdh>{PHONE}</lxdh><cbzd>诊断</cbzd>
<mzzycxbz>zy</mzzycxbz></referral>""".encode()


def test_mask_keeps_ends_only() -> None:
    assert mask(ID_NO) == "3" + "*" * 16 + "4"
    assert mask("张三") == "**"
    assert mask("") == ""


def test_masker_walks_nested_events_and_extra_keys() -> None:
    masker = PiiMasker(extra=["secretField"])
    event = {"event": "x", "body": {"sfzh": ID_NO, "items": [{"phoneNum": PHONE}], "ok": "keep"},
             "secretField": "abcdef"}
    out = masker(None, "info", event)
    text = orjson.dumps(out).decode()
    assert ID_NO not in text and PHONE not in text and "abcdef" not in text
    assert out["body"]["ok"] == "keep"


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    configure("debug", pii=[], fmt="json", stream=stream)
    yield stream
    configure("info")


async def test_request_log_line_has_contract_fields_and_no_pii(captured_logs: io.StringIO) -> None:
    load_builtin_sims()
    sims = await start_sims(["referral"], ports={"referral": 0})
    try:
        async with running_bridge(ROOT / "routes.yaml", {"REFERRAL_URL": sims[0].url}) as bridge:
            async with aiohttp.ClientSession() as s:
                async with s.post(bridge.url + "/referral/api/SxzzAppServlet", data=REFERRAL,
                                  headers={"Content-Type": "text/xml; charset=utf-8",
                                           "X-Request-ID": "log-test-1"}) as r:
                    assert r.status == 200, await r.text()
    finally:
        for sim in sims:
            await sim.close()
    lines = [orjson.loads(line) for line in captured_logs.getvalue().splitlines() if line.startswith("{")]
    request_lines = [e for e in lines if e.get("event") == "request"]
    assert len(request_lines) == 1
    line = request_lines[0]
    for key in ("route", "outcome", "status", "duration_ms", "request_id", "upstream_status"):
        assert key in line
    assert line["route"] == "referral.apply" and line["outcome"] == "ok"
    assert line["request_id"] == "log-test-1" and line["status"] == 200
    # the debug line carries the body, with PII masked
    bodies = [e for e in lines if e.get("event") == "request_body"]
    assert bodies and bodies[0]["body"]["orderid"] == "log-1"
    text = captured_logs.getvalue()
    for secret in (ID_NO, PHONE, NAME):
        assert secret not in text
