"""The referral platform simulator (seed 001) on a real loopback server."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bridge.sim import SIMULATORS, close_sims, load_builtin_sims, start_sims
from bridge.sim.referral import create_app, referral_code

Client = TestClient[Any, Any]

# The seed's <referral> sample (§3.1.3.1), renamed by transforms/glossary/referral.yaml,
# csrq converted to ISO and mzzycxbz given a real value.
APPLY = {
    "order_id": "c8e72a5f9670",
    "from_hospital_code": "PDY1234567890",
    "from_hospital_name": "测试医疗机构代码",
    "from_dept_code": "KS00110",
    "from_dept_name": "测试科室",
    "from_doctor_code": "YS9900",
    "from_doctor_name": "测试医生",
    "access_token": "T12302234",
    "patient_type": "1",
    "patient_name": "测试患者",
    "card_no": "A01234567",
    "card_type": "0",
    "id_no": "3306XXXXXXXXXXXX",
    "birth_date": "2013-01-01",
    "phone_no": "13400001234",
    "address": "嵊州某某地方",
    "diagnosis": "初步诊断",
    "history_summary": "病史摘要",
    "past_history": "主要既往史",
    "treatment": "治疗情况",
    "purpose": "转诊目的",
    "urgency": "2",
    "visit_type": "zy",
}

BOOKING = {
    "registration_no": "GH0001", "source_id": "RS42", "status": "1", "booking_date": "2024-05-01",
    "dept_code": "KS00110", "dept_name": "测试科室", "doctor_code": "YS9900",
    "doctor_name": "测试医生", "start_time": "08:00", "end_time": "08:30",
}

PUSH = {**APPLY, "order_id": "push-0001", "card_no": "B7654321", "id_no": "330600000000000001",
        "to_hospital_code": "ZR0001", "to_dept_code": "KS2", "visit_type": "MZ",
        "bookings": [BOOKING]}

QUERY = {"hospital_code": "ANY01", "doctor_code": "YS9900", "patient_name": "测试患者",
         "card_no": "A01234567", "card_type": "0", "id_no": "3306XXXXXXXXXXXX"}

Factory = Callable[[Any], Awaitable[Client]]


@pytest.fixture
async def client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_app())


async def post(client: Client, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
    resp = await client.post(path, json=body, **kw)
    return resp.status, await resp.json()


async def test_apply_seed_sample_gets_a_referral_code(client: Client) -> None:
    status, reply = await post(client, "/referral/apply", APPLY)
    assert status == 200
    assert reply["head"] == {"code": 1, "msg": "ok"}
    assert reply["data"] == {"referral_code": referral_code("c8e72a5f9670"), "type": "zy"}
    code = reply["data"]["referral_code"]
    assert code == code.upper() and len(code) == 36
    # idempotent: the same order gets the same code
    assert (await post(client, "/referral/apply", APPLY))[1] == reply


async def test_apply_reports_every_problem_by_english_field(client: Client) -> None:
    body = {**APPLY, "patient_name": "x" * 65, "birth_date": "20130101", "card_type": "5"}
    del body["order_id"]
    body["diagnosis"] = "  "
    status, reply = await post(client, "/referral/apply", body)
    assert status == 200 and reply["head"]["code"] == -1 and "data" not in reply
    msg = reply["head"]["msg"]
    assert "order_id: required" in msg
    assert "diagnosis: required" in msg
    assert "patient_name: at most 64 characters, got 65" in msg
    assert "birth_date: expected a date YYYY-MM-DD" in msg
    assert "card_type: must be one of 0, 2, 8, 9" in msg


async def test_apply_lengths_count_characters_not_bytes(client: Client) -> None:
    body = {**APPLY, "order_id": "o-chars", "patient_name": "测" * 64}   # 192 UTF-8 bytes
    assert (await post(client, "/referral/apply", body))[1]["head"]["code"] == 1


async def test_apply_visit_type_case_insensitive_and_checked(client: Client) -> None:
    reply = (await post(client, "/referral/apply", {**APPLY, "visit_type": "MZ"}))[1]
    assert reply["data"]["type"] == "mz"
    reply = (await post(client, "/referral/apply", {**APPLY, "visit_type": "转诊类型"}))[1]
    assert reply["head"]["code"] == -1 and reply["head"]["msg"].startswith("visit_type:")


async def test_query_finds_applied_referral(client: Client) -> None:
    await post(client, "/referral/apply", APPLY)
    reply = (await post(client, "/referral/query", QUERY))[1]
    assert reply == {"head": {"code": 1, "msg": "ok"},
                     "data": {"referred": True, "referral_code": referral_code("c8e72a5f9670"),
                              "type": "zy"}}


async def test_query_unknown_patient_and_invalid_query(client: Client) -> None:
    reply = (await post(client, "/referral/query", {**QUERY, "card_no": "nobody"}))[1]
    assert reply == {"head": {"code": 1, "msg": "no referral"}, "data": {"referred": False}}
    bad = {**QUERY, "hospital_code": "H" * 23}
    del bad["id_no"]
    reply = (await post(client, "/referral/query", bad))[1]
    assert reply["head"]["code"] == -1
    assert "id_no: required" in reply["head"]["msg"]
    assert "hospital_code: at most 22 characters" in reply["head"]["msg"]


async def test_push_with_booking_list_is_found_by_receiving_hospital_only(client: Client) -> None:
    reply = (await post(client, "/referral/push", PUSH))[1]
    assert reply == {"head": {"code": 1, "msg": "ok"}, "data": {"accepted": True}}
    q = {**QUERY, "card_no": PUSH["card_no"], "id_no": PUSH["id_no"]}
    assert (await post(client, "/referral/query", q))[1]["data"] == {"referred": False}
    found = (await post(client, "/referral/query", {**q, "hospital_code": "ZR0001"}))[1]
    assert found["data"] == {"referred": True, "referral_code": referral_code("push-0001"),
                             "type": "mz"}


async def test_push_booking_object_instead_of_list_fails(client: Client) -> None:
    reply = (await post(client, "/referral/push", {**PUSH, "bookings": BOOKING}))[1]
    assert reply["head"] == {"code": -1, "msg": "bookings: expected a list, got dict"}


async def test_push_booking_rules(client: Client) -> None:
    partial = {k: v for k, v in BOOKING.items() if k != "doctor_name"}
    reply = (await post(client, "/referral/push", {**PUSH, "bookings": [partial]}))[1]
    assert reply["head"]["msg"] == "bookings[0].doctor_name: required"
    no_bookings = {k: v for k, v in PUSH.items() if k != "bookings"}
    reply = (await post(client, "/referral/push", no_bookings))[1]
    assert reply["head"]["msg"].startswith("bookings: required")
    # inpatient: bookings optional, their fields too
    inpatient = {**no_bookings, "visit_type": "zy"}
    assert (await post(client, "/referral/push", inpatient))[1]["head"]["code"] == 1
    reply = (await post(client, "/referral/push", {**inpatient, "bookings": [partial]}))[1]
    assert reply["head"]["code"] == 1
    no_target = {k: v for k, v in PUSH.items() if k != "to_hospital_code"}
    reply = (await post(client, "/referral/push", no_target))[1]
    assert reply["head"]["msg"] == "to_hospital_code: required"


async def test_content_type_and_body_are_checked(client: Client) -> None:
    resp = await client.post("/referral/apply", data=b"<referral/>",
                             headers={"Content-Type": "application/xml"})
    assert resp.status == 415 and (await resp.json())["head"]["code"] == -1
    resp = await client.post("/referral/apply", data=b"{nope",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400 and "invalid JSON" in (await resp.json())["head"]["msg"]
    resp = await client.post("/referral/apply", json=[APPLY])
    assert resp.status == 400 and "not an object" in (await resp.json())["head"]["msg"]


async def test_requests_are_recorded_and_request_id_echoed(client: Client) -> None:
    resp = await client.post("/referral/apply", json=APPLY, headers={"X-Request-ID": "rid-1"})
    assert resp.headers["X-Request-ID"] == "rid-1"
    await client.post("/referral/query", json=QUERY)
    records = await (await client.get("/_sim/requests")).json()
    assert [(r["method"], r["path"]) for r in records] == [
        ("POST", "/referral/apply"), ("POST", "/referral/query")]
    assert records[0]["json"] == APPLY
    assert records[0]["headers"]["X-Request-ID"] == "rid-1"
    assert (await (await client.delete("/_sim/requests")).json()) == {"cleared": 2}
    assert await (await client.get("/_sim/requests")).json() == []
    health = await (await client.get("/_sim/health")).json()
    assert health == {"status": "ok", "sim": "referral"}


async def test_fail_switch_status_then_recovers(client: Client) -> None:
    resp = await client.post("/_sim/fail", json={"status": 503, "times": 2})
    assert resp.status == 200
    for _ in range(2):
        assert (await client.post("/referral/apply", json=APPLY)).status == 503
    assert (await post(client, "/referral/apply", APPLY))[0] == 200
    records = await (await client.get("/_sim/requests")).json()
    assert len(records) == 3           # failed requests were received and recorded too


async def test_fail_switch_delay_and_validation(client: Client) -> None:
    assert (await client.post("/_sim/fail", json={"delay_ms": 300})).status == 200
    with pytest.raises(asyncio.TimeoutError):
        await client.post("/referral/apply", json=APPLY,
                          timeout=aiohttp.ClientTimeout(total=0.05))
    assert (await client.post("/_sim/fail", json={"status": 99})).status == 400
    assert (await client.post("/_sim/fail", json={"times": 3})).status == 400
    assert (await client.post("/_sim/fail", json={"status": 500, "oops": 1})).status == 400
    await client.post("/_sim/fail", json={"status": 500})
    await client.delete("/_sim/fail")
    assert (await client.post("/referral/apply", json=APPLY)).status == 200


async def test_start_sims_on_port_zero_and_close() -> None:
    load_builtin_sims()
    spec = SIMULATORS["referral"]
    assert spec.default_port == 9101 and spec.description.startswith("Referral platform")
    sims = await start_sims(["referral"], ports={"referral": 0})
    try:
        [sim] = sims
        assert sim.name == "referral" and sim.port > 0
        assert sim.url == f"http://127.0.0.1:{sim.port}"
        async with aiohttp.ClientSession() as session:
            async with session.post(sim.url + "/referral/apply", json=APPLY) as resp:
                assert (await resp.json())["head"]["code"] == 1
    finally:
        await close_sims(sims)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(sim.url + "/_sim/health")


async def test_start_sims_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown simulator"):
        await start_sims(["nope"], ports={"nope": 0})
