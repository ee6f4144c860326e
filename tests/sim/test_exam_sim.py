"""The three exam vendor simulators (seed 002) on real loopback servers, spoken to directly.

Each vendor checks the seed's tables in its own casing and keeps its own bookings; the SOAP ones
refuse what a SOAP stack would refuse. Nothing of bridge is in the loop here.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from bridge.sim.exam import (PASCAL_NS, SOAP11, UPPER_NS, create_camel_app, create_pascal_app,
                             create_upper_app, pascal)

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]

# Seed 002 §1.2.2.3 save sample with idCardNo spelled as the table has it (idCardNO).
SAVE = {"age": "41", "ageUnit": "岁", "birthDate": "1982-08-21", "cardNO": "17231702236512277894",
        "contactPhoneNO": "13586745545", "endTime": "08:30", "idCardNO": "330682198208211262",
        "medRecNO": "330682198208211262", "name": "阮柯娜", "organizationID": "00",
        "outPatientNO": "17231702236512277894", "patientClass": "门诊",
        "placerOrderNO": "2024080980007", "procedureName": "浅表器官(限选2项)", "providerID": "438",
        "providerName": "毛炜", "providerPhone": "13626822862", "requestDeptID": "99",
        "requestDeptName": "全科", "requestedDate": "2024-08-09 10:23:44",
        "scheduleDate": "2024-08-10", "scheduleOperatorID": "438", "scheduleOperatorName": "毛炜",
        "scheduleResourceName": "US普通", "scheduleResourceUID": "2", "scheduleRoute": "8",
        "serviceSectID": "US(超声)", "serviceText": "甲状腺 颈前淋巴结", "sex": "女",
        "startTime": "08:00"}
# §1.2.1.4 query sample, asking about the saved patient and exam type.
QUERY = {"days": "2", "medRecNO": "330682198208211262", "organizationID": "00",
         "patientClass": "门诊", "placerOrderNO": "", "procedureName": "浅表器官(限选2项)",
         "requestDeptID": "99", "requestDeptName": "全科", "requestedDate": "18:23:01",
         "scheduleRoute": "8", "serviceSectID": "US(超声)", "serviceText": "甲状腺",
         "startDate": "2024/08/10 08:00:00"}
CANCEL = {"placerOrderNO": "2024080980007", "organizationID": "00", "scheduleOperatorID": "438",
          "scheduleOperatorName": "毛炜"}


@pytest.fixture
async def camel_client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_camel_app())


@pytest.fixture
async def pascal_client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_pascal_app())


@pytest.fixture
async def upper_client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_upper_app())


async def rest(client: Client, op: str, body: Any) -> dict[str, Any]:
    resp = await client.post(f"/api/exam/schedule/{op}", json=body)
    assert resp.status == 200
    return await resp.json()


# --- camelCase REST ----------------------------------------------------------------------------

async def test_camel_vendor_books_lists_and_cancels(camel_client: Client) -> None:
    saved = await rest(camel_client, "save", SAVE)
    assert saved["resultCode"] == "Success", saved
    assert saved["result"]["scheduleSeq"] == "2024080980007"
    assert saved["result"]["scheduleFlag"] == "2"              # 2：预约完成
    assert saved["result"]["scheduleTimeDetail"] == "08:00-08:30"

    found = await rest(camel_client, "query", QUERY)
    assert found["resultCode"] == "Success"
    result = found["result"]
    assert result["scheduleFlag"] == "1" and result["placerOrderNO"] == "2024080980007"
    assert (result["scheduleDate"], result["scheduleTime"]) == ("20240810", "0800")
    days = result["scheduleArrangeResourceInfoList"][0]["scheduleArrangeDateInfoList"]
    assert [d["arrangeDay"] for d in days] == ["2024-08-10", "2024-08-11"]
    slots = days[0]["scheduleArrangeTimeInfoList"]
    ours = next(s for s in slots if s["startTime"] == "08:00")
    assert ours["scheduleTimeStatus"] == "Schedule" and ours["appointmentQuantity"] == "0"

    assert (await rest(camel_client, "cancel", CANCEL)) == {"resultCode": "Success",
                                                            "resultDesc": "取消成功"}
    again = await rest(camel_client, "cancel", CANCEL)
    assert again["resultCode"] == "Falid" and "不能重复取消" in again["resultDesc"]
    after = await rest(camel_client, "query", QUERY)
    assert after["result"]["scheduleFlag"] == "0"


async def test_camel_vendor_refuses_double_booking_and_unknown_cancel(camel_client: Client) -> None:
    unknown = await rest(camel_client, "cancel", {**CANCEL, "placerOrderNO": "NOPE"})
    assert unknown["resultCode"] == "Falid" and "NOPE无预约记录" in unknown["resultDesc"]
    assert (await rest(camel_client, "save", SAVE))["resultCode"] == "Success"
    twice = await rest(camel_client, "save", SAVE)
    assert twice["resultCode"] == "Falid" and "已预约" in twice["resultDesc"]
    other_org = await rest(camel_client, "cancel", {**CANCEL, "organizationID": "01"})
    assert other_org["resultCode"] == "Falid"


async def test_camel_vendor_checks_the_seed_tables(camel_client: Client) -> None:
    # The seed's own save sample spells idCardNo; the vendor's table says idCardNO.
    typo = {k: v for k, v in SAVE.items() if k != "idCardNO"} | {"idCardNo": "330682198208211262"}
    reply = await rest(camel_client, "save", typo)
    assert reply["resultCode"] == "Falid"
    assert "idCardNO: required" in reply["resultDesc"]
    bad = await rest(camel_client, "save", {**SAVE, "scheduleDate": "2024/08/10",
                                            "ageUnit": "years", "startTime": "8点"})
    assert "scheduleDate: expected a date YYYY-MM-DD" in bad["resultDesc"]
    assert "ageUnit: must be one of" in bad["resultDesc"] and "startTime: expected HH:mm" in bad["resultDesc"]
    q = await rest(camel_client, "query", {**QUERY, "startDate": "2024-08-16", "days": "30",
                                           "serviceText": "x" * 15})
    assert "startDate: expected yyyy/MM/dd HH:mm:ss" in q["resultDesc"]
    assert "days: expected a number of days 1..15" in q["resultDesc"]
    assert "serviceText: at most 14 characters" in q["resultDesc"]


async def test_the_seeds_own_cancel_sample_breaks_its_table(camel_client: Client) -> None:
    # §1.2.3.4: no organizationID (必填) and a 12-character scheduleOperatorID (varchar(11)).
    seed = {"placerOrderNO": "2024080980007", "scheduleOperatorID": "coffeeCancel",
            "scheduleOperatorName": "coffeeCancel"}
    reply = await rest(camel_client, "cancel", seed)
    assert reply["resultCode"] == "Falid"
    assert "organizationID: required" in reply["resultDesc"]
    assert "scheduleOperatorID: at most 11 characters, got 12" in reply["resultDesc"]


# --- PascalCase SOAP ---------------------------------------------------------------------------

def soap_request(op_ns: str, op: str, children: dict[str, str] | None = None,
                 param: tuple[str, str] | None = None, envelope_ns: str = SOAP11) -> bytes:
    env = etree.Element(f"{{{envelope_ns}}}Envelope", nsmap={"soap": envelope_ns})
    body = etree.SubElement(env, f"{{{envelope_ns}}}Body")
    el = etree.SubElement(body, f"{{{op_ns}}}{op}", nsmap={"ns": op_ns})
    for k, v in (children or {}).items():
        etree.SubElement(el, k).text = v
    if param:
        etree.SubElement(el, param[0]).text = param[1]
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


async def soap_post(client: Client, path: str, data: bytes, action: str | None = '""'
                    ) -> tuple[int, Any]:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if action is not None:
        headers["SOAPAction"] = action
    resp = await client.post(path, data=data, headers=headers)
    assert resp.content_type == "text/xml"
    return resp.status, etree.fromstring(await resp.read())


def response_of(env: Any) -> Any:
    return env.find(f"{{{SOAP11}}}Body")[0]


def fault_string(env: Any) -> str:
    fault = response_of(env)
    assert etree.QName(fault).localname == "Fault"
    return fault.findtext("faultstring")


async def test_pascal_vendor_takes_pascal_children_and_answers_in_kind(pascal_client: Client) -> None:
    fields = {pascal(k): v for k, v in SAVE.items()}
    status, env = await soap_post(pascal_client, "/ExamService.asmx",
                                  soap_request(PASCAL_NS, "ExamScheduleSave", fields),
                                  action=f'"{PASCAL_NS}ExamScheduleSave"')
    assert status == 200
    resp = response_of(env)
    assert resp.tag == f"{{{PASCAL_NS}}}ExamScheduleSaveResponse"
    assert resp.findtext("ResultCode") == "Success"
    assert resp.findtext("Result/ScheduleSeq") == "2024080980007"

    query = {pascal(k): v for k, v in QUERY.items()}
    _, env = await soap_post(pascal_client, "/ExamService.asmx",
                             soap_request(PASCAL_NS, "ExamScheduleArrangeQuery", query))
    result = response_of(env).find("Result")
    assert result.findtext("ScheduleFlag") == "1" and result.findtext("MedRecNO") == SAVE["medRecNO"]
    # <LIST>s are repeated elements named as the list
    days = result.findall("ScheduleArrangeResourceInfoList/ScheduleArrangeDateInfoList")
    assert len(days) == 2
    assert len(days[0].findall("ScheduleArrangeTimeInfoList")) == 4


async def test_pascal_vendor_rejects_camel_names_with_its_own(pascal_client: Client) -> None:
    status, env = await soap_post(pascal_client, "/ExamService.asmx",
                                  soap_request(PASCAL_NS, "ExamScheduleCancel", CANCEL))
    assert status == 200
    resp = response_of(env)
    assert resp.findtext("ResultCode") == "Falid"
    desc = resp.findtext("ResultDesc")
    assert "PlacerOrderNO: required" in desc and "OrganizationID: required" in desc


@pytest.mark.parametrize("data,action,needle", [
    (soap_request(PASCAL_NS, "ExamScheduleCancel"), '"http://other/Op"', "does not match"),
    (soap_request(PASCAL_NS, "ExamScheduleCancel"), None, "SOAPAction header is required"),
    (soap_request(PASCAL_NS, "Delete"), '""', "unknown operation"),
    (soap_request("http://wrong.example/", "ExamScheduleCancel"), '""', "unknown operation"),
    (soap_request(PASCAL_NS, "ExamScheduleCancel", envelope_ns="http://www.w3.org/2003/05/soap-envelope"),
     '""', "expected a SOAP 1.1 Envelope"),
    (b"<soap:Envelope", '""', "malformed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', '""', "not accepted"),
])
async def test_pascal_vendor_faults_what_a_soap_stack_refuses(
        pascal_client: Client, data: bytes, action: str | None, needle: str) -> None:
    status, env = await soap_post(pascal_client, "/ExamService.asmx", data, action=action)
    assert status == 500
    assert needle in fault_string(env)


async def test_soap_vendor_failure_switch_answers_a_fault(pascal_client: Client) -> None:
    assert (await pascal_client.post("/_sim/fail", json={"status": 503})).status == 200
    status, env = await soap_post(pascal_client, "/ExamService.asmx",
                                  soap_request(PASCAL_NS, "ExamScheduleCancel", {}))
    assert status == 503 and "simulated failure 503" in fault_string(env)
    recorded = await (await pascal_client.get("/_sim/requests")).json()
    assert "ExamScheduleCancel" in recorded[-1]["body"]


# --- ALL CAPS SOAP, XML in a string ------------------------------------------------------------

def upper_doc(fields: dict[str, str]) -> str:
    return "<REQUEST>" + "".join(f"<{k.upper()}>{v}</{k.upper()}>" for k, v in fields.items()) + "</REQUEST>"


def upper_reply(env: Any, op: str) -> Any:
    resp = response_of(env)
    assert resp.tag == f"{{{UPPER_NS}}}{op}Response"
    inner = etree.fromstring(resp.findtext("RETURNXML"))
    assert inner.tag == "RESPONSE"
    return inner


async def test_upper_vendor_round_trip_in_capitals(upper_client: Client) -> None:
    status, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                                  soap_request(UPPER_NS, "XKH074", param=("XMLDATA", upper_doc(SAVE))))
    assert status == 200
    saved = upper_reply(env, "XKH074")
    assert saved.findtext("RESULTCODE") == "Success"
    assert saved.findtext("RESULT/SCHEDULESEQ") == "2024080980007"
    _, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                             soap_request(UPPER_NS, "XKH075", param=("XMLDATA", upper_doc(CANCEL))))
    assert upper_reply(env, "XKH075").findtext("RESULTCODE") == "Success"
    _, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                             soap_request(UPPER_NS, "XKH075", param=("XMLDATA", upper_doc(CANCEL))))
    again = upper_reply(env, "XKH075")
    assert again.findtext("RESULTCODE") == "Falid" and "不能重复取消" in again.findtext("RESULTDESC")


async def test_upper_vendor_wants_capitals_and_its_parameter(upper_client: Client) -> None:
    camel_doc = "<REQUEST>" + "".join(f"<{k}>{v}</{k}>" for k, v in CANCEL.items()) + "</REQUEST>"
    _, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                             soap_request(UPPER_NS, "XKH075", param=("XMLDATA", camel_doc)))
    reply = upper_reply(env, "XKH075")
    assert reply.findtext("RESULTCODE") == "Falid"
    assert "PLACERORDERNO: required" in reply.findtext("RESULTDESC")

    status, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                                  soap_request(UPPER_NS, "XKH075", {"PLACERORDERNO": "1"}))
    assert status == 500 and "<XMLDATA> is missing" in fault_string(env)
    status, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                                  soap_request(UPPER_NS, "XKH075", param=("XMLDATA", "<Request/>")))
    assert status == 500 and "must carry a <REQUEST>" in fault_string(env)


async def test_vendors_keep_separate_books(camel_client: Client, upper_client: Client) -> None:
    assert (await rest(camel_client, "save", SAVE))["resultCode"] == "Success"
    _, env = await soap_post(upper_client, "/services/EXAMSERVICE",
                             soap_request(UPPER_NS, "XKH075", param=("XMLDATA", upper_doc(CANCEL))))
    assert upper_reply(env, "XKH075").findtext("RESULTCODE") == "Falid"
