"""Seed 000 end to end: JSON events in -> signed TOP form call -> the TOP simulator -> JSON reply.

Real servers on loopback: the bridge running the shipped routes.yaml and the TOP gateway simulator, HTTP between them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
import yaml

from bridge.sim import close_sims, start_sims
from bridge.testing import running_bridge

ROOT = Path(__file__).resolve().parents[2]
ROUTE = "alihealth.serviceinfo.sync"
API = "alibaba.alihealth.examination.todoor.serviceinfo.sync"
RESPONSE_KEY = API.replace(".", "_") + "_response"
# The development pair the fragment defaults to (and the simulator knows). Dev only.
APP_KEY, APP_SECRET = "dev-only-top-app-key", "dev-only-top-app-secret-0123456789abcdef"

# The seed's request example as the provider's own system sends it: camelCase, as its Java SDK
# names the fields, plus a field TOP does not know (must not be sent, or signed).
EVENT = {
    "uniqReserveCode": "rew4",
    "medicalPractitionerInfo": {
        "gender": "FEMALE", "phone": "186xxxx7777", "outerPractitionerId": "123",
        "name": "张护士", "certificationsUrl": "http://www.xxxxx",
        "practiceAgencyName": "杭州xxx医院", "practiceAgencyProvince": "杭州",
        "practiceAgencyProvinceCode": "330100"},
    "eventOccurTime": "2020-11-11 11:11:11",
    "event": "PRACTITONER_HOME",
    "reserveNumber": "1234r",
    "internalNote": "not for AliHealth",
}


@pytest.fixture
def alihealth_config() -> Path:
    """The shipped routes.yaml: this integration's routes live there."""
    return ROOT / "routes.yaml"


@pytest.fixture
async def top_sim() -> AsyncIterator[Any]:
    sims = await start_sims(["top"], ports={"top": 0})
    try:
        yield sims[0]
    finally:
        await close_sims(sims)


@pytest.fixture
async def top_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def post_event(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url + "/alihealth/serviceinfo", json=body) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def received(http: aiohttp.ClientSession, sim: Any) -> list[dict[str, Any]]:
    async with http.get(sim.url + "/_sim/requests") as resp:
        return await resp.json()  # type: ignore[no-any-return]


def top_md5(params: dict[str, str], secret: str) -> str:
    """TOP's documented signature, written here independently of bridge's sign step."""
    base = "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k])
    return hashlib.md5((secret + base + secret).encode("utf-8")).hexdigest().upper()


async def test_event_is_signed_form_and_reply_unwrapped(
        alihealth_config: Path, top_sim: Any, top_http: aiohttp.ClientSession) -> None:
    async with running_bridge(alihealth_config, env={"TOP_URL": top_sim.url}) as bridge:
        status, reply = await post_event(top_http, bridge.url, EVENT)
    assert status == 200
    assert reply["success"] is True and reply["code"] == "SUCCESS" and reply["message"] == "同步成功"
    assert reply["trace_id"] and reply["top_request_id"]
    [record] = await received(top_http, top_sim)
    assert record["path"] == "/router/rest"
    assert record["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    form = record["form"]
    assert form["sign"] == top_md5(form, APP_SECRET)
    assert {k: form[k] for k in ("method", "app_key", "format", "v", "sign_method")} == {
        "method": API, "app_key": APP_KEY, "format": "json", "v": "2.0", "sign_method": "md5"}
    stamp = dt.datetime.strptime(form["timestamp"], "%Y-%m-%d %H:%M:%S")
    # GMT+8 whatever this host's zone (TOP refuses more than 10 minutes of skew)
    beijing = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    assert abs(stamp - beijing) < dt.timedelta(minutes=2)
    assert (form["uniq_reserve_code"], form["reserve_number"], form["event"],
            form["event_occur_time"]) == ("rew4", "1234r", "PRACTITONER_HOME", "2020-11-11 11:11:11")
    # the nested object travels as one JSON string with TOP's snake_case names
    info = orjson.loads(form["medical_practitioner_info"])
    assert info == {"gender": "FEMALE", "phone": "186xxxx7777", "outer_practitioner_id": "123",
                    "name": "张护士", "certifications_url": "http://www.xxxxx",
                    "practice_agency_name": "杭州xxx医院", "practice_agency_province": "杭州",
                    "practice_agency_province_code": "330100"}
    assert "internal_note" not in form and "internalNote" not in form


async def test_error_response_becomes_502_with_the_vendor_sub_msg(
        alihealth_config: Path, top_sim: Any, top_http: aiohttp.ClientSession) -> None:
    async with running_bridge(alihealth_config, env={"TOP_URL": top_sim.url}) as bridge:
        status, reply = await post_event(top_http, bridge.url, {**EVENT, "event": "AT_HOME"})
        assert status == 502
        assert reply["success"] is False and reply["code"] == "upstream_rejected"
        assert reply["message"].startswith("非法参数: event must be one of")   # TOP's sub_msg
        # no eventOccurTime: bridge fills it with now (TOP skips empty values when signing)
        status, reply = await post_event(
            top_http, bridge.url, {k: v for k, v in EVENT.items() if k != "eventOccurTime"})
        assert (status, reply["success"]) == (200, True)
        # result.success false inside a `_response`: an upstream error with err_message
        status, reply = await post_event(top_http, bridge.url, {
            **EVENT, "event": "CHANGE_PRACTITONER", "reserveNumber": "never-assigned"})
        assert status == 502 and "尚未分配医护人员" in reply["message"]
    records = await received(top_http, top_sim)
    assert len(records) == 3
    assert records[1]["form"]["event_occur_time"] == records[1]["form"]["timestamp"]


async def test_wrong_secret_is_invalid_signature(
        alihealth_config: Path, top_sim: Any, top_http: aiohttp.ClientSession) -> None:
    env = {"TOP_URL": top_sim.url, "TOP_APP_SECRET": "not-the-app-secret"}
    async with running_bridge(alihealth_config, env=env) as bridge:
        status, reply = await post_event(top_http, bridge.url, EVENT)
    # error_response code 25 has no sub_msg: the message falls back to msg
    assert (status, reply["success"], reply["message"]) == (502, False, "Invalid Signature")
    assert "not-the-app-secret" not in orjson.dumps(reply).decode()


async def test_invalid_event_is_refused_before_the_gateway(
        alihealth_config: Path, top_sim: Any, top_http: aiohttp.ClientSession) -> None:
    body = {**EVENT, "medicalPractitionerInfo": {"name": "张护士"}}
    del body["reserveNumber"]
    async with running_bridge(alihealth_config, env={"TOP_URL": top_sim.url}) as bridge:
        status, reply = await post_event(top_http, bridge.url, body)
    assert status == 422 and reply["success"] is False
    assert "reserve_number" in reply["message"]
    assert "medical_practitioner_info.outer_practitioner_id" in reply["message"]
    assert await received(top_http, top_sim) == []
