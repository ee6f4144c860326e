"""Seed 001 (b) appointment registration through a running bridge, SOAP both ways.

Hospital side: the platform's SOAP 1.1 calls (payload escaped or CDATA in <xml>) reach the
bridge on loopback, which calls the palm-hospital HIS simulator (seed 003) over real HTTP.
Platform side: JSON in, SOAP 1.1 out to the registration platform simulator.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from html import escape
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from lxml import etree

from bridge.sim import StartedSim, close_sims, start_sims
from bridge.testing import load_runtime, RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
HOSPITAL_NS = "http://hospital.example/ws"
WS = "/ws/hospital"

LOCK = """<Request>
<TransactionId>TX-{tag}</TransactionId>
	<HospitalNo>H001</HospitalNo>
<PatientNo>P{tag}</PatientNo>
<CardType>01</CardType>
<Name>张三</Name>
<Sex>{sex}</Sex>
<SexName>男</SexName>
<Age>30</Age>
<TelephoneNo>13800000000</TelephoneNo>
<Address>杭州市</Address>
<IDCode>3301001990010{tag}</IDCode>
<WorkId>{work}</WorkId>
<numSourceId></numSourceId>
<channel>JKMZWX</channel>
</Request>"""

PAY = """<Request>
<TransactionId>PAY-1</TransactionId>
	<HospitalNo>H001</HospitalNo>
<WorkFlowId>{order}</WorkFlowId>
<SerialNumber>1</SerialNumber>
<PayType>4</PayType>
<PayAmount>{amount}</PayAmount>
<payTradeNo>WX2030010700001</payTradeNo>
<payChannel>wepay</payChannel>
<channel>JKMZWX</channel>
</Request>"""

UNLOCK = ("<Request><TransactionId>UN-1</TransactionId><HospitalNo>H001</HospitalNo>"
          "<WorkFlowId>{order}</WorkFlowId><SerialNumber>1</SerialNumber></Request>")
DETAIL = "<Request><HospitalNo>H001</HospitalNo><WorkFlowId>{order}</WorkFlowId></Request>"


@pytest.fixture
def shipped_config() -> Path:
    """The shipped routes.yaml: this integration's routes live there."""
    return ROOT / "routes.yaml"


@pytest.fixture
async def registration_sims() -> AsyncIterator[dict[str, StartedSim]]:
    names = ["registration_platform", "palm_his"]
    sims = await start_sims(names, ports=dict.fromkeys(names, 0))
    try:
        yield {s.name: s for s in sims}
    finally:
        await close_sims(sims)


@pytest.fixture
async def registration_bridge(shipped_config: Path, registration_sims: dict[str, StartedSim]
                              ) -> AsyncIterator[RunningBridge]:
    env = {"REGISTRATION_PLATFORM_URL": registration_sims["registration_platform"].url,
           "PALM_HIS_URL": registration_sims["palm_his"].url}
    async with running_bridge(shipped_config, env=env) as b:
        yield b


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


def envelope(operation: str, inner: str, *, style: str = "escaped", version: str = "1.1") -> bytes:
    param = f"<![CDATA[{inner}]]>" if style == "cdata" else escape(inner, quote=False)
    env_ns = SOAP11 if version == "1.1" else SOAP12
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="{env_ns}" '
            f'xmlns:h="{HOSPITAL_NS}"><soapenv:Header/><soapenv:Body><h:{operation}>'
            f"<xml>{param}</xml></h:{operation}></soapenv:Body></soapenv:Envelope>").encode("utf-8")


async def soap(http: aiohttp.ClientSession, bridge: RunningBridge, operation: str, inner: str,
               **kw: Any) -> tuple[int, Any]:
    """(HTTP status, the operation response element or the Fault) of one SOAP call."""
    version = kw.get("version", "1.1")
    headers = ({"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'} if version == "1.1"
               else {"Content-Type": "application/soap+xml; charset=utf-8"})
    async with http.post(bridge.url + WS, data=envelope(operation, inner, **kw),
                         headers=headers) as r:
        body = await r.read()
        status = r.status
    env = etree.fromstring(body)
    [child] = env.find(f"{{{SOAP11 if version == '1.1' else SOAP12}}}Body")
    return status, child


def response(op_response: Any, operation: str) -> dict[str, Any]:
    """The <Response> carried as a string in <return>, as {name: text | element}."""
    assert op_response.tag == f"{{{HOSPITAL_NS}}}{operation}Response"
    [ret] = list(op_response)
    assert etree.QName(ret).localname == "return" and len(ret) == 0
    doc = etree.fromstring(ret.text.encode("utf-8"))
    assert doc.tag == "Response"
    return {c.tag: (c.text or "") if len(c) == 0 else c for c in doc}


def fault_detail(fault: Any) -> dict[str, str]:
    """{faultcode, ResultCode, ErrorMsg} of a SOAP 1.1 Fault carrying the seed's <Response>."""
    assert fault.tag == f"{{{SOAP11}}}Fault"
    resp = fault.find("detail/Response")
    assert resp is not None, etree.tostring(fault)
    return {"faultcode": fault.findtext("faultcode"), **{c.tag: c.text or "" for c in resp}}


async def palm_requests(http: aiohttp.ClientSession, sims: dict[str, StartedSim]) -> list[Any]:
    async with http.get(sims["palm_his"].url + "/_sim/requests") as r:
        return await r.json()


async def test_lock_pay_query_unlock(http: aiohttp.ClientSession, registration_bridge: RunningBridge,
                                     registration_sims: dict[str, StartedSim]) -> None:
    status, op = await soap(http, registration_bridge, "confirmRegistration",
                            LOCK.format(tag="01", sex="1", work="W1001"))
    assert status == 200
    locked = response(op, "confirmRegistration")
    assert locked == {"ResultCode": "0", "ErrorMsg": "", "WorkFlowId": "HO00000001",
                      "HospitalNo": "H001", "WorkId": "W1001", "SerialNumber": "1",
                      "Worktime": "2030-01-07 上午", "Fee": "12.5"}
    [sent] = await palm_requests(http, registration_sims)
    assert sent["path"] == "/registerPre"
    assert sent["json"] == {
        "transaction_id": "TX-01", "hospital_id": "H001", "card_no": "P01", "card_type": "01",
        "name": "张三", "sex": "男", "age": "30", "phone_no": "13800000000",
        "address": "杭州市", "id_no": "330100199001001", "scheduling_id": "W1001",
        "time_id": "", "channel": "JKMZWX"}

    status, op = await soap(http, registration_bridge, "PaymentNotice",
                            PAY.format(order="HO00000001", amount="12.50"), style="cdata")
    assert status == 200
    assert response(op, "PaymentNotice") == {"ResultCode": "0", "ErrorMsg": "",
                                              "WorkFlowId": "HO00000001", "SerialNumber": "1",
                                              "Worktime": "2030-01-07 上午"}
    paid = (await palm_requests(http, registration_sims))[-1]["json"]
    assert paid["pay_amount"] == 12.5 and paid["business_no"] == "WX2030010700001"
    assert paid["pay_way"] == "wepay" and paid["his_order_no"] == "HO00000001"

    status, op = await soap(http, registration_bridge, "GetOrderDetailInfo",
                            DETAIL.format(order="HO00000001"))
    detail = response(op, "GetOrderDetailInfo")
    assert status == 200
    assert detail["WorkFlowStatus"] == "2"                   # seed 003 status 9 -> 已支付
    assert (detail["TransactionId"], detail["Sex"], detail["SexName"]) == ("TX-01", "1", "男")
    assert (detail["Name"], detail["IDCode"], detail["Fee"]) == ("张三", "330100199001001", "12.5")

    status, op = await soap(http, registration_bridge, "UnlockReg", UNLOCK.format(order="HO00000001"))
    assert status == 200
    assert response(op, "UnlockReg") == {"ResultCode": "0", "ErrorMsg": "",
                                          "WorkFlowId": "HO00000001"}
    cancel = (await palm_requests(http, registration_sims))[-1]
    assert cancel["path"] == "/cancel"
    assert cancel["json"] == {"APPT_ID": "HO00000001", "SEND_SMS": "0", "USER_ID": "hpalm",
                              "USER_DEPT_ID": "hpalm", "DATA_SOURCE": "w1",
                              "REMARK": "UnlockReg UN-1"}
    status, op = await soap(http, registration_bridge, "GetOrderDetailInfo",
                            DETAIL.format(order="HO00000001"))
    assert response(op, "GetOrderDetailInfo")["WorkFlowStatus"] == "3"   # 已退号


async def test_failed_transitions_are_faults_with_the_seed_response(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge) -> None:
    _, op = await soap(http, registration_bridge, "confirmRegistration",
                       LOCK.format(tag="02", sex="2", work="W1002"), style="cdata")
    order = response(op, "confirmRegistration")["WorkFlowId"]
    status, op = await soap(http, registration_bridge, "UnlockReg", UNLOCK.format(order=order))
    assert status == 200

    status, fault = await soap(http, registration_bridge, "PaymentNotice",
                               PAY.format(order=order, amount="50"))
    assert status == 500                                      # SOAP 1.1: every fault is 500
    assert fault_detail(fault) == {
        "faultcode": "soap:Server", "ResultCode": "1",
        "ErrorMsg": f"order {order} is 已取消 (status -1); only a locked order (0) can be paid"}
    assert fault.findtext("faultstring") == fault_detail(fault)["ErrorMsg"]

    status, fault = await soap(http, registration_bridge, "UnlockReg", UNLOCK.format(order=order))
    assert status == 500
    assert fault_detail(fault)["ErrorMsg"] == f"appointment {order} is already 已取消"

    _, fault = await soap(http, registration_bridge, "GetOrderDetailInfo",
                          DETAIL.format(order="HO404"))
    assert fault_detail(fault)["ErrorMsg"] == "his_order_no: no order 'HO404'"

    # the slot came back: W1002 has one place, a second patient can take it now
    _, op = await soap(http, registration_bridge, "confirmRegistration",
                       LOCK.format(tag="03", sex="1", work="W1002"))
    assert response(op, "confirmRegistration")["ResultCode"] == "0"
    _, fault = await soap(http, registration_bridge, "confirmRegistration",
                          LOCK.format(tag="04", sex="1", work="W1002"))
    assert fault_detail(fault)["ErrorMsg"] == "scheduling_id: schedule W1002 is full (1 taken)"


async def test_invalid_input_never_reaches_the_his(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge,
        registration_sims: dict[str, StartedSim]) -> None:
    no_id = re.sub(r"<IDCode>.*?</IDCode>", "<IDCode></IDCode>",
                   LOCK.format(tag="05", sex="1", work="W1001"))
    status, fault = await soap(http, registration_bridge, "confirmRegistration", no_id)
    detail = fault_detail(fault)
    assert status == 500 and detail["faultcode"] == "soap:Client" and detail["ResultCode"] == "1"
    assert "IDCode" in detail["ErrorMsg"]
    _, fault = await soap(http, registration_bridge, "PaymentNotice",
                          PAY.format(order="HO1", amount="十二元"))
    assert "pay_amount" in fault_detail(fault)["ErrorMsg"]
    _, fault = await soap(http, registration_bridge, "getPromiseNotice", DETAIL.format(order="x"))
    assert "confirmRegistration" in fault.findtext("faultstring")     # what would have matched
    assert await palm_requests(http, registration_sims) == []


async def test_recovered_legacy_xml_and_soap_12(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge,
        registration_sims: dict[str, StartedSim]) -> None:
    # the seed's hand-typed samples: `</ workType>`-style end tags, repaired by recover: true
    legacy = LOCK.format(tag="06", sex="1", work="W1003").replace("</Sex>", "</ Sex >")
    status, op = await soap(http, registration_bridge, "confirmRegistration", legacy, style="cdata")
    assert status == 200 and response(op, "confirmRegistration")["ResultCode"] == "0"
    assert (await palm_requests(http, registration_sims))[-1]["json"]["sex"] == "男"

    status, op = await soap(http, registration_bridge, "GetOrderDetailInfo",
                            DETAIL.format(order="HO00000001"), version="1.2")
    assert status == 200
    assert response(op, "GetOrderDetailInfo")["WorkId"] == "W1003"


async def test_registration_info_lists_records(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge) -> None:
    ask = ("<Request><TransactionId>Q1</TransactionId><HospitalNo>H001</HospitalNo>"
           "<WorkId>{work}</WorkId><WorkDate>2030-01-07</WorkDate></Request>")
    _, op = await soap(http, registration_bridge, "getRegistrationInfo", ask.format(work="W1001"))
    reply = response(op, "getRegistrationInfo")
    assert reply["ResultCode"] == "0"
    [rec] = reply["WorkInfo"].findall("Record")
    assert {c.tag: c.text for c in rec} == {"WorkId": "W1001", "RegistrationNumber": "30",
                                            "Price": "12.5", "TransactionId": "Q1",
                                            "HospitalNo": "H001"}
    _, op = await soap(http, registration_bridge, "getRegistrationInfo", ask.format(work="W9"))
    assert response(op, "getRegistrationInfo")["WorkInfo"] == ""   # <WorkInfo/>: no Record


def work_record(i: int) -> dict[str, Any]:
    return {"work_id": f"W{i:03d}", "work_addr": "门诊楼2楼", "doctor_id": f"DR{i}",
            "doctor_name": "测试医生", "department_id": "K01", "department_name": "内科",
            "work_date": "2030-01-07", "work_time_code": "1", "work_start_date": "08:00",
            "work_stop_date": "12:00", "registration_type_id": "1",
            "registration_type_name": "普通号", "registration_price": "12.50",
            "registration_number": 20, "registration_count": 30, "hos_locked_count": 0}


async def post_json(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as r:
        return r.status, await r.json()


async def platform(http: aiohttp.ClientSession, sims: dict[str, StartedSim], what: str) -> Any:
    async with http.get(sims["registration_platform"].url + what) as r:
        return await r.json()


async def test_schedule_sync_fifty_records_json_to_soap(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge,
        registration_sims: dict[str, StartedSim]) -> None:
    body = {"transaction_id": "T-50", "hospital_no": "H001", "count": 50, "is_multi_times": "0",
            "records": [work_record(i) for i in range(50)]}
    status, reply = await post_json(http, registration_bridge.url + "/registration/schedule", body)
    assert status == 200
    assert reply == {"result_code": 0, "count": 50, "hospital_no": "H001"}
    stored = (await platform(http, registration_sims, "/_sim/schedule"))["H001"]
    assert len(stored) == 50 and stored["W049"]["HosLockedCount"] == "0"
    assert stored["W007"]["RegistrationTypeName"] == "普通号"
    [req] = await platform(http, registration_sims, "/_sim/requests")
    assert req["operation"] == "synchronizedWorkInfo"
    assert req["headers"]["SOAPAction"] == '""' and req["headers"]["Content-Type"].startswith("text/xml")
    assert len(req["document"]["WorkInfo"]["Record"]) == 50


async def test_schedule_sync_one_record_is_one_record(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge,
        registration_sims: dict[str, StartedSim]) -> None:
    body = {"transaction_id": "T-1", "hospital_no": "H001", "is_multi_times": "1",
            "records": [work_record(1)]}
    status, reply = await post_json(http, registration_bridge.url + "/registration/schedule", body)
    assert status == 200 and reply["count"] == 1
    [req] = await platform(http, registration_sims, "/_sim/requests")
    env = etree.fromstring(req["body"].encode("utf-8"))
    inner = etree.fromstring(env.find(f".//{{{SOAP11}}}Body/*/xml").text.encode("utf-8"))
    assert inner.tag == "Request" and len(inner.findall("WorkInfo/Record")) == 1
    assert inner.findtext("WorkInfo/Record/WorkId") == "W001"
    assert inner.findtext("Count") == ""                       # optional, left empty


async def test_platform_business_failure_is_502_with_its_message(
        http: aiohttp.ClientSession, registration_bridge: RunningBridge) -> None:
    body = {"transaction_id": "T-X", "hospital_no": "H001", "count": 2, "is_multi_times": "0",
            "records": [{**work_record(1), "doctor_name": "测" * 7}]}
    status, reply = await post_json(http, registration_bridge.url + "/registration/schedule", body)
    assert status == 502
    assert reply["error"]["code"] == "upstream_rejected"
    assert reply["error"]["message"] == ("WorkInfo.Record[0].DoctorName: at most 20 bytes, got 21; "
                                         "Count: 2 but 1 Record(s) sent")
    status, reply = await post_json(http, registration_bridge.url + "/registration/stop", {
        "transaction_id": "S-1", "hospital_no": "H001",
        "records": [{"work_id": "W404", "stop_reason": "出差"}]})
    assert status == 502
    assert reply["error"]["message"] == "WorkInfo.Record[0].WorkId: no schedule 'W404' at hospital H001"
    status, reply = await post_json(http, registration_bridge.url + "/registration/schedule",
                                    {"hospital_no": "H001", "records": []})
    assert status == 422 and "transaction_id" in reply["error"]["message"]


async def test_stop_and_change_work(http: aiohttp.ClientSession, registration_bridge: RunningBridge,
                                    registration_sims: dict[str, StartedSim]) -> None:
    url = registration_bridge.url
    await post_json(http, url + "/registration/schedule", {
        "transaction_id": "T", "hospital_no": "H001", "is_multi_times": "0",
        "records": [work_record(1), work_record(2)]})
    status, reply = await post_json(http, url + "/registration/stop", {
        "transaction_id": "S", "hospital_no": "H001",
        "records": [{"work_id": "W001", "stop_reason": "医生出差"}]})
    assert (status, reply) == (200, {"result_code": 0, "hospital_no": "H001"})
    status, reply = await post_json(http, url + "/registration/change", {
        "transaction_id": "C", "hospital_no": "H001",
        "records": [{"old_work_id": "W002", "change_reason": "换诊",
                     "new_work_info": {**work_record(3), "doctor_skill": "高血压、糖尿病"}}]})
    assert (status, reply) == (200, {"result_code": 0})
    stored = (await platform(http, registration_sims, "/_sim/schedule"))["H001"]
    assert sorted(stored) == ["W001", "W003"]
    assert stored["W001"]["StopReason"] == "医生出差"
    assert stored["W003"]["DoctorSkill"] == "高血压、糖尿病" and stored["W003"]["ChangeReason"] == "换诊"


async def test_platform_down_is_502(shipped_config: Path, http: aiohttp.ClientSession) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"REGISTRATION_PLATFORM_URL": f"http://127.0.0.1:{port}",
           "PALM_HIS_URL": f"http://127.0.0.1:{port}"}
    async with running_bridge(shipped_config, env=env) as b:
        status, reply = await post_json(http, b.url + "/registration/schedule", {
            "transaction_id": "T", "hospital_no": "H001", "is_multi_times": "0",
            "records": [work_record(1)]})
        assert status == 502 and reply["error"]["code"] == "upstream_unreachable"
        status, fault = await soap(http, b, "UnlockReg", UNLOCK.format(order="HO1"))
        assert status == 500 and fault_detail(fault)["ResultCode"] == "1"


def test_route_cases_pass_on_the_shipped_config(shipped_config: Path) -> None:
    """`bridge test` on every registration case file: each route has success and failure cases."""
    files = sorted((ROOT / "tests" / "routes").glob("registration-*.yaml"))
    shipped = {r.name for r in load_runtime(shipped_config).routes if r.name.startswith("registration.")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    res = subprocess.run([sys.executable, "-m", "bridge", "test", "-c", str(shipped_config),
                          *map(str, files)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    passed = [line for line in res.stdout.splitlines() if line.startswith("PASS registration.")]
    routes = {line.split(":")[0].removeprefix("PASS ") for line in passed}
    assert routes == shipped and len(shipped) >= 8
    assert f"{len(passed)} passed, 0 failed" in res.stdout
