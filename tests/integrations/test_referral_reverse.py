"""Seed 001 (a) in reverse, end to end: English snake_case JSON in -> the servlet's pinyin XML ->
the referral servlet simulator -> palm-hospital style JSON reply.

Real servers on loopback: the bridge running the shipped routes.yaml and the servlet simulator, HTTP between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import yaml
from lxml import etree

from bridge.sim import close_sims, start_sims
from bridge.sim.referral import referral_code
from bridge.testing import RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ("referral.json.apply", "referral.json.query", "referral.json.push")

# The seed's <referral> sample (§3.1.3.1) as a JSON app names it (transforms/glossary/referral.yaml).
APPLY = {
    "order_id": "c8e72a5f9670", "from_hospital_code": "PDY1234567890",
    "from_hospital_name": "测试医疗机构代码", "from_dept_code": "KS00110", "from_dept_name": "测试科室",
    "from_doctor_code": "YS9900", "from_doctor_name": "测试医生", "access_token": "T12302234",
    "patient_type": "1", "patient_name": "测试患者", "card_no": "A01234567", "card_type": "0",
    "id_no": "3306XXXXXXXXXXXX", "birth_date": "2013-01-01", "phone_no": "13400001234",
    "address": "嵊州某某地方", "diagnosis": "初步诊断", "history_summary": "病史摘要",
    "urgency": "2", "visit_type": "zy",
}


def booking(n: int) -> dict[str, str]:
    return {"registration_no": f"GH{n}", "source_id": f"RS{n}", "status": "1",
            "booking_date": "20240301", "dept_code": f"KS0{n}", "dept_name": f"内科{n}",
            "doctor_code": f"YS0{n}", "doctor_name": f"医生{n}", "start_time": "08:00",
            "end_time": "08:30"}


PUSH = {**APPLY, "order_id": "push2", "to_hospital_code": "ZR0001", "to_dept_code": "ZRKS01",
        "visit_type": "mz", "bookings": [booking(1), booking(2)]}

QUERY = {"hospital_code": "ZR0001", "doctor_code": "YS9900", "patient_name": "测试患者",
         "card_no": "A01234567", "card_type": "0", "id_no": "3306XXXXXXXXXXXX"}


@pytest.fixture
def referral_reverse_config() -> Path:
    """The shipped routes.yaml: this integration's routes live there."""
    return ROOT / "routes.yaml"


@pytest.fixture
async def servlet_sim() -> AsyncIterator[Any]:
    sims = await start_sims(["referral_servlet"], ports={"referral_servlet": 0})
    try:
        yield sims[0]
    finally:
        await close_sims(sims)


@pytest.fixture
async def reverse_bridge(referral_reverse_config: Path, servlet_sim: Any) -> AsyncIterator[RunningBridge]:
    async with running_bridge(referral_reverse_config,
                              env={"REFERRAL_SERVLET_URL": servlet_sim.url}) as bridge:
        yield bridge


@pytest.fixture
async def reverse_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(http: aiohttp.ClientSession, bridge: RunningBridge, service: str,
               body: Any) -> tuple[int, Any]:
    async with http.post(f"{bridge.url}/referral/json/{service}", json=body) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def received(http: aiohttp.ClientSession, sim: Any) -> list[dict[str, Any]]:
    async with http.get(sim.url + "/_sim/requests") as resp:
        return await resp.json()  # type: ignore[no-any-return]


async def test_apply_sends_the_seed_pinyin_xml(reverse_bridge: RunningBridge, servlet_sim: Any,
                                               reverse_http: aiohttp.ClientSession) -> None:
    status, reply = await call(reverse_http, reverse_bridge, "apply", APPLY)
    assert status == 200
    code = referral_code("c8e72a5f9670")
    assert reply == {"head": {"code": 1, "msg": "ok"},
                     "data": {"order_id": "c8e72a5f9670", "parm": f"referralCode={code}&type=zy"}}
    [record] = await received(reverse_http, servlet_sim)
    assert record["path"] == "/referral/api/SxzzAppServlet"
    doc = etree.fromstring(record["body"].encode("utf-8"))
    assert doc.tag == "referral"
    fields = {el.tag: el.text for el in doc}
    assert fields["orderid"] == "c8e72a5f9670" and fields["fqyydm"] == "PDY1234567890"
    assert fields["fqysgh"] == "YS9900" and fields["hzxm"] == "测试患者" and fields["sfzh"] == APPLY["id_no"]
    assert fields["csrq"] == "20130101"                    # ISO back to the seed's yyyymmdd
    assert fields["mzzycxbz"] == "zy" and fields["token"] == "T12302234"
    assert not any("_" in tag for tag in fields)          # no English name leaked through


async def test_push_bespeak_repeated_for_two_and_present_for_one(
        reverse_bridge: RunningBridge, servlet_sim: Any, reverse_http: aiohttp.ClientSession) -> None:
    status, reply = await call(reverse_http, reverse_bridge, "push", PUSH)
    assert (status, reply) == (200, {"head": {"code": 1, "msg": "ok"},
                                     "data": {"order_id": "push2", "accepted": True}})
    one = {**PUSH, "order_id": "push1", "card_no": "B1", "bookings": [booking(7)]}
    assert (await call(reverse_http, reverse_bridge, "push", one))[0] == 200
    two_rec, one_rec = await received(reverse_http, servlet_sim)
    assert two_rec["root"] == one_rec["root"] == "referral-apply"
    assert two_rec["body"].count("<bespeak>") == 2 and one_rec["body"].count("<bespeak>") == 1
    assert [b["ghdh"] for b in two_rec["fields"]["bespeak"]] == ["GH1", "GH2"]
    assert one_rec["fields"]["bespeak"] == [{
        "ghdh": "GH7", "rsid": "RS7", "status": "1", "yyrq": "20240301", "ksdm": "KS07",
        "ksmc": "内科7", "ysgh": "YS07", "ysxm": "医生7", "kssj": "08:00", "jssj": "08:30"}]
    assert two_rec["fields"]["mzzycxbz"] == "MZ" and two_rec["fields"]["zryydm"] == "ZR0001"
    # the receiving hospital's query now finds the pushed referral
    status, reply = await call(reverse_http, reverse_bridge, "query", QUERY)
    assert (status, reply["head"]["code"]) == (200, 1)
    assert reply["data"] == {"referred": True, "parm": f"referralCode={referral_code('push2')}&type=mz"}


async def test_query_without_referral_is_an_answer(
        reverse_bridge: RunningBridge, servlet_sim: Any, reverse_http: aiohttp.ClientSession) -> None:
    status, reply = await call(reverse_http, reverse_bridge, "query", {**QUERY, "card_no": "nobody"})
    assert status == 200
    assert reply == {"head": {"code": 1, "msg": "无转诊数据"}, "data": {"referred": False, "parm": ""}}
    [record] = await received(reverse_http, servlet_sim)
    assert record["root"] == "referral-query"
    assert record["fields"] == {"yydm": "ZR0001", "ysgh": "YS9900", "hzxm": "测试患者",
                                "jzkh": "nobody", "jzklx": "0", "sfzh": "3306XXXXXXXXXXXX"}


async def test_servlet_result_false_is_a_502_in_the_json_shape(
        reverse_bridge: RunningBridge, servlet_sim: Any, reverse_http: aiohttp.ClientSession) -> None:
    status, reply = await call(reverse_http, reverse_bridge, "apply", {**APPLY, "card_type": "5"})
    assert status == 502
    assert reply == {"head": {"code": -1, "msg": "jzklx: must be one of 0, 2, 8, 9, got '5'"}}
    bad_push = {**PUSH, "bookings": [{k: v for k, v in booking(1).items() if k != "doctor_name"}]}
    status, reply = await call(reverse_http, reverse_bridge, "push", bad_push)
    assert (status, reply["head"]) == (502, {"code": -1, "msg": "bespeak[0].ysxm: required"})


async def test_invalid_json_input_is_refused_before_the_servlet(
        reverse_bridge: RunningBridge, servlet_sim: Any, reverse_http: aiohttp.ClientSession) -> None:
    status, reply = await call(reverse_http, reverse_bridge, "apply",
                               {**APPLY, "birth_date": "01/01/2013", "patient_name": ""})
    assert status == 422 and reply["head"]["code"] == -1
    assert "patient_name" in reply["head"]["msg"]
    status, reply = await call(reverse_http, reverse_bridge, "apply", {**APPLY, "birth_date": "01/01/2013"})
    assert status == 422 and "birth_date" in reply["head"]["msg"]
    assert await received(reverse_http, servlet_sim) == []
