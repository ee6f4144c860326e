"""The registration platform simulator (seed 001 (b), SOAP 1.1 "Web Service + XML") on loopback."""

from __future__ import annotations

from html import escape
from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from bridge.sim import SIMULATORS, load_builtin_sims
from bridge.sim.registration_platform import NAMESPACE, PATH, create_app

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def record(i: int, **override: str) -> str:
    fields = {"WorkId": f"W{i}", "WorkAddr": "门诊楼2楼", "DoctorId": f"DR{i}",
              "DoctorName": "测试医生", "DepartmentId": "K01", "DepartmentName": "内科",
              "WorkDate": "2030-01-07", "WorkTimeCode": "1", "WorkStartDate": "08:00",
              "WorkStopDate": "12:00", "RegistrationPrice": "12.50",
              "RegistrationNumber": "20", "RegistrationCount": "30", "HosLockedCount": "0"}
    fields.update(override)
    return "<Record>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</Record>"


def sync_request(records: list[str], count: int | None = None, multi: str = "0",
                 hospital: str = "H001") -> str:
    n = len(records) if count is None else count
    return (f"<Request><TransactionId>T-{n}</TransactionId><HospitalNo>{hospital}</HospitalNo>"
            f"<Count>{n}</Count><IsMultiTimes>{multi}</IsMultiTimes>"
            f"<WorkInfo>{''.join(records)}</WorkInfo></Request>")


def envelope(operation: str, inner: str, *, cdata: bool = False, ns: str = NAMESPACE) -> bytes:
    param = f"<![CDATA[{inner}]]>" if cdata else escape(inner, quote=False)
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP11}" '
            f'xmlns:p="{ns}"><s:Body><p:{operation}><xml>{param}</xml></p:{operation}>'
            f"</s:Body></s:Envelope>").encode("utf-8")


async def call(client: Client, operation: str, inner: str, **kw: Any) -> dict[str, str]:
    """POST one operation; the <Response> document inside <return>, as {name: text}."""
    resp = await client.post(PATH, data=envelope(operation, inner, **kw), headers=HEADERS)
    assert resp.status == 200, await resp.text()
    env = etree.fromstring(await resp.read())
    op = env.find(f"{{{SOAP11}}}Body")[0]
    assert op.tag == f"{{{NAMESPACE}}}{operation}Response"
    [ret] = list(op)
    assert ret.tag == "return" and len(ret) == 0       # the document is a string, not children
    doc = etree.fromstring(ret.text.encode("utf-8"))
    assert doc.tag == "Response"
    return {c.tag: c.text or "" for c in doc}


async def fault(client: Client, data: bytes, headers: dict[str, str] = HEADERS) -> str:
    resp = await client.post(PATH, data=data, headers=headers)
    assert resp.status == 500
    env = etree.fromstring(await resp.read())
    f = env.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert f is not None and f.findtext("faultcode") == "soap:Client"
    return f.findtext("faultstring") or ""


@pytest.fixture
async def client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_app())


async def schedule(client: Client) -> dict[str, Any]:
    return await (await client.get("/_sim/schedule")).json()


async def test_sync_stores_every_record_escaped_and_cdata(client: Client) -> None:
    reply = await call(client, "synchronizedWorkInfo", sync_request([record(i) for i in range(3)]))
    assert reply == {"ResultCode": "0", "ErrorMsg": "", "Count": "3", "HospitalNo": "H001"}
    reply = await call(client, "synchronizedWorkInfo", sync_request([record(7)]), cdata=True)
    assert reply["ResultCode"] == "0" and reply["Count"] == "1"
    stored = (await schedule(client))["H001"]
    assert sorted(stored) == ["W0", "W1", "W2", "W7"]
    assert stored["W1"]["DoctorName"] == "测试医生" and stored["W1"]["RegistrationCount"] == "30"


async def test_lengths_are_utf8_bytes(client: Client) -> None:
    six = await call(client, "synchronizedWorkInfo",
                     sync_request([record(1, DoctorName="测" * 6)]))     # 18 bytes
    assert six["ResultCode"] == "0"
    seven = await call(client, "synchronizedWorkInfo",
                       sync_request([record(1, DoctorName="测" * 7)]))   # 21 bytes
    assert seven["ResultCode"] == "1"
    assert seven["ErrorMsg"] == "WorkInfo.Record[0].DoctorName: at most 20 bytes, got 21"


async def test_every_rule_violation_named_by_field(client: Client) -> None:
    bad = [record(0, RegistrationNumber="abc"), record(1, WorkId=""),
           record(2, WorkDate="2030-02-30", WorkTimeCode="7"),
           record(3, RegistrationNumber="40")]
    reply = await call(client, "synchronizedWorkInfo", sync_request(bad, count=5, multi="2"))
    assert reply["ResultCode"] == "1"
    msg = reply["ErrorMsg"]
    for expected in ("IsMultiTimes: must be one of 0, 1",
                     "WorkInfo.Record[0].RegistrationNumber: expected an Int, got 'abc'",
                     "WorkInfo.Record[1].WorkId: required",
                     "WorkInfo.Record[2].WorkDate: expected yyyy-mm-dd"):
        assert expected in msg, msg
    assert await schedule(client) == {}, "a refused request stores nothing"


async def test_count_must_match_and_error_msg_is_bounded(client: Client) -> None:
    reply = await call(client, "synchronizedWorkInfo", sync_request([record(1)], count=2))
    assert reply == {"ResultCode": "1", "ErrorMsg": "Count: 2 but 1 Record(s) sent"}
    more = await call(client, "synchronizedWorkInfo",
                      sync_request([record(1, RegistrationNumber="31")]))
    assert "RegistrationNumber: more than RegistrationCount" in more["ErrorMsg"]
    many = [record(i, DoctorId="", DepartmentId="") for i in range(40)]
    reply = await call(client, "synchronizedWorkInfo", sync_request(many))
    assert reply["ResultCode"] == "1" and len(reply["ErrorMsg"].encode("utf-8")) <= 256
    no_records = "<Request><TransactionId>T</TransactionId><HospitalNo>H</HospitalNo>" \
                 "<IsMultiTimes>0</IsMultiTimes><WorkInfo></WorkInfo></Request>"
    reply = await call(client, "synchronizedWorkInfo", no_records)
    assert reply["ErrorMsg"] == "WorkInfo.Record: at least one Record required"


async def test_is_multi_times_clears_the_old_schedule(client: Client) -> None:
    await call(client, "synchronizedWorkInfo", sync_request([record(1), record(2)]))
    await call(client, "synchronizedWorkInfo", sync_request([record(3)], hospital="H002"))
    await call(client, "synchronizedWorkInfo", sync_request([record(9)], multi="1"))
    stored = await schedule(client)
    assert sorted(stored["H001"]) == ["W9"] and sorted(stored["H002"]) == ["W3"]


async def test_stop_work_notice_all_or_nothing(client: Client) -> None:
    await call(client, "synchronizedWorkInfo", sync_request([record(1), record(2)]))
    stop = ("<Request><TransactionId>S1</TransactionId><HospitalNo>H001</HospitalNo><WorkInfo>"
            "<Record><WorkId>W1</WorkId><StopReason>出差</StopReason></Record>{more}"
            "</WorkInfo></Request>")
    unknown = "<Record><WorkId>W404</WorkId><StopReason>x</StopReason></Record>"
    reply = await call(client, "stopWorkNotice", stop.format(more=unknown))
    assert reply == {"ResultCode": "1",
                     "ErrorMsg": "WorkInfo.Record[1].WorkId: no schedule 'W404' at hospital H001"}
    assert "StopReason" not in (await schedule(client))["H001"]["W1"]
    reply = await call(client, "stopWorkNotice", stop.format(more=""))
    assert reply == {"ResultCode": "0", "ErrorMsg": "", "HospitalNo": "H001"}
    assert (await schedule(client))["H001"]["W1"]["StopReason"] == "出差"
    reply = await call(client, "stopWorkNotice", stop.format(more="<Record><WorkId>W2</WorkId></Record>"))
    assert reply["ErrorMsg"] == "WorkInfo.Record[1].StopReason: required"


async def test_change_work_notice_replaces_the_schedule(client: Client) -> None:
    await call(client, "synchronizedWorkInfo", sync_request([record(1)]))
    new = record(5).replace("Record>", "NewWorkInfo>")
    change = ("<Request><TransactionId>C1</TransactionId><HospitalNo>H001</HospitalNo><WorkInfo>"
              f"<Record><OldWorkId>W1</OldWorkId><ChangeReason>换医生</ChangeReason>{new}</Record>"
              "</WorkInfo></Request>")
    assert (await call(client, "changeWorkNotice", change))["ResultCode"] == "0"
    stored = (await schedule(client))["H001"]
    assert sorted(stored) == ["W5"] and stored["W5"]["ChangeReason"] == "换医生"
    again = await call(client, "changeWorkNotice", change)
    assert again["ErrorMsg"] == "WorkInfo.Record[0].OldWorkId: no schedule 'W1' at hospital H001"


async def test_envelope_problems_are_soap_faults(client: Client) -> None:
    inner = sync_request([record(1)])
    assert "Content-Type text/xml" in await fault(
        client, envelope("synchronizedWorkInfo", inner),
        {"Content-Type": "application/soap+xml; charset=utf-8"})
    assert "SOAPAction" in await fault(client, envelope("synchronizedWorkInfo", inner),
                                       {"Content-Type": "text/xml; charset=utf-8"})
    assert "unknown operation" in await fault(client, envelope("getPromiseNotice", inner))
    assert "unknown operation" in await fault(
        client, envelope("synchronizedWorkInfo", inner, ns="http://other.example/"))
    assert "<xml> is missing or empty" in await fault(
        client, envelope("synchronizedWorkInfo", "").replace(b"<xml></xml>", b""))
    assert "not a SOAP 1.1 envelope" in await fault(client, inner.encode("utf-8"))
    assert "refused" in await fault(client, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    reply = await call(client, "synchronizedWorkInfo", "<Req><a>1</a></Req>")
    assert reply["ErrorMsg"] == "xml: root element must be <Request>, got <Req>"


async def test_requests_recorded_and_fail_switch(client: Client) -> None:
    await call(client, "synchronizedWorkInfo", sync_request([record(1)]))
    [rec] = await (await client.get("/_sim/requests")).json()
    assert rec["operation"] == "synchronizedWorkInfo" and rec["path"] == PATH
    assert rec["document"]["WorkInfo"]["Record"]["WorkId"] == "W1"
    assert "&lt;Request&gt;" in rec["body"]
    assert (await client.post("/_sim/fail", json={"status": 503})).status == 200
    resp = await client.post(PATH, data=envelope("synchronizedWorkInfo", sync_request([record(2)])),
                             headers=HEADERS)
    assert resp.status == 503 and b"simulated failure 503" in await resp.read()
    assert sorted((await schedule(client))["H001"]) == ["W1"]
    assert (await call(client, "synchronizedWorkInfo", sync_request([record(2)])))["ResultCode"] == "0"
    await client.delete("/_sim/schedule")
    assert await schedule(client) == {}


def test_registered_with_its_default_port() -> None:
    load_builtin_sims()
    spec = SIMULATORS["registration_platform"]
    assert spec.default_port == 9103 and spec.description.startswith("Registration platform")
