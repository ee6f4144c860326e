"""DESIGN §3/§4: one JSON log line per request with route, outcome, status, duration_ms and
request_id; PII never appears in clear, even at debug level."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from bridge.observability.logging import configure

from tests.e2e.helpers import SERVLET, post, sample, sim_fail

PII_VALUES = ("测试患者", "3306XXXXXXXXXXXX", "13400001234", "A01234567", "嵊州某某地方")


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    configure("debug", ["sfzh", "hzxm", "lxdh", "jzkh"], "json", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict]:
    out = []
    for raw in stream.getvalue().splitlines():
        raw = raw.strip()
        if raw:
            out.append(json.loads(raw))           # every line is JSON
    return out


async def test_one_json_line_per_request_with_the_contract_fields(bridge, referral_sim, http, log_stream):
    h = {"Content-Type": "application/xml", "X-Request-ID": "log-rid-1"}
    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"), h)).status == 200
    await sim_fail(http, referral_sim, status=500)
    h2 = {**h, "X-Request-ID": "log-rid-2"}
    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"), h2)).status == 200   # seed 001 (a): failure is result false, HTTP 200 (was 502)

    events = lines(log_stream)
    requests = [e for e in events if e.get("event") == "request"]
    assert [e["request_id"] for e in requests] == ["log-rid-1", "log-rid-2"]
    ok, failed = requests
    for e in requests:
        for key in ("route", "outcome", "status", "duration_ms", "request_id"):
            assert key in e, (key, e)
        assert e["route"] == "referral.apply"
    assert (ok["outcome"], ok["status"], ok["upstream_status"]) == ("ok", 200, 200)
    assert (failed["outcome"], failed["status"], failed["upstream_status"]) == ("upstream_error", 200, 500)


async def test_pii_is_masked_in_every_log_line(bridge, referral_sim, http, log_stream):
    assert (await post(http, bridge.url + SERVLET, sample("referral.xml"))).status == 200
    bad = sample("referral.xml").replace(b"<jzklx>0</jzklx>", b"<jzklx>5</jzklx>")
    assert (await post(http, bridge.url + SERVLET, bad)).status == 200   # seed 001 (a): failure is result false, HTTP 200 (was 502)
    events = lines(log_stream)
    assert any(e.get("event") == "request" for e in events), "nothing was logged"
    for e in events:
        flat = json.dumps(e, ensure_ascii=False)
        for value in PII_VALUES:
            assert value not in flat, (value, e)
