"""Issue 4 item 6: the hostile-input corpus against the shipped routes.yaml.

Every case asserts the HTTP status, the caller's dialect (XML callers get XML, SOAP callers a
Fault of the version they sent, JSON callers JSON), the error code in the request's log line,
the ``bridge_requests_total`` series it is counted in, that nothing leaked (file content,
traceback), that the target saw nothing it should not have, and that the process still serves
the same path afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
import pytest_asyncio
from lxml import etree
from structlog.testing import capture_logs

from tests.hostile.checks import (_SAFE, assert_healthy, assert_no_leak, check_dialect, requests_total,
                                  send, sim_count, soap_fault)
from tests.hostile.conftest import ConnectionRecorder, Shipped
from tests.hostile.corpus import ALL, EXAM, HOSPITAL, SERVLET, Case

SIM_OF = {SERVLET: "referral", HOSPITAL: "palm_his", EXAM: "exam_pascal"}
pytestmark = pytest.mark.asyncio(loop_scope="module")   # one bridge for the whole corpus


@pytest_asyncio.fixture(loop_scope="module")
async def http_m() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


@pytest_asyncio.fixture(loop_scope="module")
async def listener_m() -> AsyncIterator[ConnectionRecorder]:
    async with ConnectionRecorder() as rec:
        yield rec


async def last_received(http: aiohttp.ClientSession, sim: Any) -> dict[str, Any]:
    async with http.get(sim.url + "/_sim/requests") as r:
        return (await r.json())[-1]["json"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
async def test_hostile_case(case: Case, shipped_shared: Shipped, http_m: aiohttp.ClientSession,
                            listener_m: ConnectionRecorder, tmp_path: Path) -> None:
    shipped, http, listener = shipped_shared, http_m, listener_m
    marker = "XXE-MARKER-" + uuid.uuid4().hex
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    body = (case.body().replace(b"@@FILE@@", str(secret).encode())
            .replace(b"@@URL@@", f"http://127.0.0.1:{listener.port}".encode()))
    url = shipped.bridge.url
    sim = shipped.sims[SIM_OF[case.path]]
    before, seen_before = await requests_total(http, url), await sim_count(http, sim)

    with capture_logs() as logs:
        reply = await send(http, url + case.path, body, case.headers)

    doc = check_dialect(reply, case.dialect, case.status)
    assert_no_leak(reply.body, marker)
    failed = case.outcome != "ok"
    if case.dialect == "xml":
        assert doc.findtext("result") == ("false" if failed else "true")
        assert (doc.findtext("message") or "") != "" or not failed
    elif case.dialect == "json":
        assert doc["statusCode"] == (f"00000{case.status}" if failed else "00000000")
    else:
        version = "1.1" if case.dialect == "soap11" else "1.2"
        if failed and reply.status == 200:      # the vendor's business failure shape
            (ret,) = doc.iter("return")
            inner = etree.fromstring(ret.text.encode("utf-8"), _SAFE)
            assert inner.findtext("ResultCode") == "1" and inner.findtext("ErrorMsg"), ret.text
        elif failed:
            code, text = soap_fault(doc, version)
            assert code == ("soap:Client" if version == "1.1" else "soap:Sender"), code
            assert text
        else:
            assert b"confirmRegistrationResponse" in reply.body

    events = [e for e in logs if e.get("event") == "request"]
    assert len(events) == 1, logs
    assert (events[0]["route"], events[0]["outcome"]) == (case.route, case.outcome)
    if case.code is not None:
        assert events[0]["error_code"] == case.code, events[0]
    for event in logs:
        assert_no_leak(orjson.dumps(event, default=str), marker)

    after = await requests_total(http, url)
    key = (case.route, case.outcome)
    assert after.get(key, 0) == before.get(key, 0) + 1
    assert sum(after.values()) == sum(before.values()) + 1          # counted once, nowhere else

    assert listener.connections == 0                                 # the parser never dialled out
    assert await sim_count(http, sim) == seen_before + (case.target_calls if case.reaches_target else 0)
    if case.reaches_target and case.path == SERVLET:
        received = await last_received(http, sim)
        assert received["patient_name"] == "测试患者"                # decoded right, not mojibake
        assert marker not in str(received)
    await assert_healthy(http, url, case.path)
