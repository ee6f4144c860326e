"""Seed 002 end to end: the common JSON envelope -> three hospitals' vendors in three styles.

Real servers on loopback: the bridge running the shipped routes.yaml
and the three exam vendor simulators, HTTP between them. Per hospital: save (data as a JSON
string, the seed's sample with its idCardNo typo), query (data as an object), cancel, cancel
again; then auth, dispatch, validation, vendor rejections and a vendor that is down.
"""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
import yaml
from lxml import etree

from bridge.routetest import main as bridge_test
from bridge.sim import close_sims, start_sims
from bridge.testing import RunningBridge, running_bridge

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "routes" / "samples"
SIMS = {"tcm": "exam_pascal", "third": "exam_camel", "wch": "exam_upper"}
ENV = {"tcm": "EXAM_TCM_URL", "third": "EXAM_THIRD_URL", "wch": "EXAM_WCH_URL"}
# How each vendor spells three seed fields (idCardNO arrives from the seed's typo idCardNo).
SPELLING = {"tcm": ("MedRecNO", "IdCardNO", "PlacerOrderNO"),
            "third": ("medRecNO", "idCardNO", "placerOrderNO"),
            "wch": ("MEDRECNO", "IDCARDNO", "PLACERORDERNO")}


def sample(name: str) -> dict[str, Any]:
    return orjson.loads((SAMPLES / name).read_bytes())


SAVE, QUERY, CANCEL = sample("exam-save.json"), sample("exam-query.json"), sample("exam-cancel.json")


def query_for_saved(days: str = "2") -> dict[str, Any]:
    """The seed's query sample, asking about the saved patient's exam type and day."""
    body = copy.deepcopy(QUERY)
    body["data"].update(medRecNO="330682198208211262", serviceSectID="US(超声)",
                        startDate="2024/08/10 07:00:00", days=days)
    return body


@pytest.fixture
def exam_config() -> Path:
    """The shipped routes.yaml: this integration's routes live there."""
    return ROOT / "routes.yaml"


@pytest.fixture
async def exam_sims() -> AsyncIterator[dict[str, Any]]:
    sims = await start_sims(list(SIMS.values()), ports={n: 0 for n in SIMS.values()})
    try:
        by_name = {s.name: s for s in sims}
        yield {h: by_name[n] for h, n in SIMS.items()}
    finally:
        await close_sims(sims)


@pytest.fixture
async def exam_bridge(exam_config: Path, exam_sims: dict[str, Any]) -> AsyncIterator[RunningBridge]:
    env = {ENV[h]: sim.url for h, sim in exam_sims.items()}
    async with running_bridge(exam_config, env=env) as b:
        yield b


@pytest.fixture
async def exam_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def call(http: aiohttp.ClientSession, bridge: RunningBridge, hospital: str,
               body: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{bridge.url}/exam/{hospital}/api", json=body) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


async def received(http: aiohttp.ClientSession, sim: Any) -> list[dict[str, Any]]:
    async with http.get(sim.url + "/_sim/requests") as resp:
        return await resp.json()


def vendor_fields(record: dict[str, Any], hospital: str) -> dict[str, Any]:
    """What the vendor received, as {field: value} in its own spelling."""
    if hospital == "third":
        return record["json"]
    env = etree.fromstring(record["body"].encode("utf-8"))
    op = env.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    if hospital == "wch":
        op = etree.fromstring(op.findtext("XMLDATA"))
        assert op.tag == "REQUEST"
    return {etree.QName(c).localname: c.text for c in op}


@pytest.mark.parametrize("hospital", ["tcm", "third", "wch"])
async def test_save_query_cancel_through_each_vendor(exam_bridge: RunningBridge,
                                                     exam_sims: dict[str, Any],
                                                     exam_http: aiohttp.ClientSession,
                                                     hospital: str) -> None:
    assert isinstance(SAVE["data"], str)                       # data as a JSON string
    status, saved = await call(exam_http, exam_bridge, hospital, SAVE)
    assert status == 200, saved
    assert saved["statusCode"] == "00000000" and saved["statusMessage"] == "保存成功"
    assert saved["data"]["resultCode"] == "Success"
    assert saved["data"]["result"]["scheduleSeq"] == "2024080980007"
    assert saved["data"]["result"]["fillerOrderNO"]            # acronym restored for every vendor

    med, id_card, order = SPELLING[hospital]
    got = vendor_fields((await received(exam_http, exam_sims[hospital]))[-1], hospital)
    assert got[med] == "330682198208211262" and got[order] == "2024080980007"
    assert got[id_card] == "330682198208211262"                # the seed's idCardNo, normalised
    assert "systemKey" not in str(got) and "dev-only-exam-key" not in str(got)

    assert isinstance(QUERY["data"], dict)                     # data as an object
    status, found = await call(exam_http, exam_bridge, hospital, query_for_saved())
    assert status == 200, found
    result = found["data"]["result"]
    assert result["scheduleFlag"] == "1" and result["placerOrderNO"] == "2024080980007"
    assert result["medRecNO"] == "330682198208211262" and result["resourceUID"] == "US01"
    days = result["scheduleArrangeResourceInfoList"][0]["scheduleArrangeDateInfoList"]
    assert [d["arrangeDay"] for d in days] == ["2024-08-10", "2024-08-11"]
    assert days[0]["scheduleArrangeTimeInfoList"][0]["timeDetailUID"] == "US01-2024-08-10-0800-0830"

    status, cancelled = await call(exam_http, exam_bridge, hospital, CANCEL)
    assert (status, cancelled["statusCode"], cancelled["statusMessage"]) == (200, "00000000", "取消成功")
    status, again = await call(exam_http, exam_bridge, hospital, CANCEL)
    assert status == 502
    assert again == {"statusCode": "00000502",
                     "statusMessage": "申请单号2024080980007预约已取消，不能重复取消"}


@pytest.mark.parametrize("hospital", ["tcm", "wch"])
async def test_one_item_lists_stay_lists_from_soap_vendors(exam_bridge: RunningBridge,
                                                           exam_http: aiohttp.ClientSession,
                                                           hospital: str) -> None:
    status, found = await call(exam_http, exam_bridge, hospital, query_for_saved(days="1"))
    assert status == 200, found
    result = found["data"]["result"]
    assert result["scheduleFlag"] == "0"                       # nothing booked: a recommendation
    resources = result["scheduleArrangeResourceInfoList"]
    assert isinstance(resources, list) and len(resources) == 1
    dates = resources[0]["scheduleArrangeDateInfoList"]
    assert isinstance(dates, list) and len(dates) == 1
    assert [s["scheduleTimeStatus"] for s in dates[0]["scheduleArrangeTimeInfoList"]] == [
        "Current", "Enable", "Enable", "Enable"]


async def test_snake_case_data_reaches_the_vendor_in_its_names(exam_bridge: RunningBridge,
                                                               exam_sims: dict[str, Any],
                                                               exam_http: aiohttp.ClientSession) -> None:
    body = {**CANCEL, "data": {"placer_order_no": "X1", "organization_id": "00",
                               "schedule_operator_id": "438", "schedule_operator_name": "毛炜"}}
    status, reply = await call(exam_http, exam_bridge, "tcm", body)
    assert status == 502 and reply["statusMessage"] == "申请单号X1无预约记录"
    got = vendor_fields((await received(exam_http, exam_sims["tcm"]))[-1], "tcm")
    assert got == {"PlacerOrderNO": "X1", "OrganizationID": "00", "ScheduleOperatorID": "438",
                   "ScheduleOperatorName": "毛炜"}


@pytest.mark.parametrize("change,message", [
    ({"systemKey": "wrong"}, "invalid credentials"),
    ({"systemKey": None}, "missing credentials: systemKey"),
    ({"systemId": "someone-else"}, "invalid credentials"),
])
async def test_auth_failures_answer_in_the_envelope(exam_bridge: RunningBridge,
                                                    exam_sims: dict[str, Any],
                                                    exam_http: aiohttp.ClientSession,
                                                    change: dict[str, Any], message: str) -> None:
    body = {k: v for k, v in {**CANCEL, **change}.items() if v is not None}
    status, reply = await call(exam_http, exam_bridge, "third", body)
    assert status == 401
    assert reply == {"statusCode": "00000401", "statusMessage": message}
    assert await received(exam_http, exam_sims["third"]) == []


async def test_unknown_method_and_invalid_data(exam_bridge: RunningBridge, exam_sims: dict[str, Any],
                                               exam_http: aiohttp.ClientSession) -> None:
    status, reply = await call(exam_http, exam_bridge, "wch", {**CANCEL, "method": "XKH099"})
    assert status == 404 and reply["statusCode"] == "00000404"
    assert "XKH073" in reply["statusMessage"] and "XKH075" in reply["statusMessage"]

    status, reply = await call(exam_http, exam_bridge, "wch", {**CANCEL, "data": {"placerOrderNO": "1"}})
    assert status == 422 and reply["statusCode"] == "00000422"
    assert "organization_id" in reply["statusMessage"]

    status, reply = await call(exam_http, exam_bridge, "wch", {**CANCEL, "data": '{"placerOrderNO": '})
    assert status == 422 and reply["statusCode"] == "00000422"
    assert await received(exam_http, exam_sims["wch"]) == []


async def test_vendor_table_rejection_carries_the_vendors_message(exam_bridge: RunningBridge,
                                                                  exam_http: aiohttp.ClientSession) -> None:
    # The seed's own cancel sample: organizationID missing passes nowhere; with it, the vendor's
    # varchar(11) on scheduleOperatorID still refuses "coffeeCancel" (12), in its own casing.
    body = {**CANCEL, "data": {"placerOrderNO": "2024080980007", "organizationID": "00",
                               "scheduleOperatorID": "coffeeCancel", "scheduleOperatorName": "coffeeCancel"}}
    status, reply = await call(exam_http, exam_bridge, "wch", body)
    assert status == 502 and reply["statusCode"] == "00000502"
    assert "SCHEDULEOPERATORID: at most 11 characters, got 12" in reply["statusMessage"]


async def test_vendor_down_and_vendor_fault(exam_config: Path, exam_sims: dict[str, Any],
                                            exam_http: aiohttp.ClientSession) -> None:
    env = {ENV[h]: sim.url for h, sim in exam_sims.items()}
    async with exam_http.post(exam_sims["tcm"].url + "/_sim/fail", json={"status": 500}) as r:
        assert r.status == 200
    async with running_bridge(exam_config, env=env) as bridge:
        status, reply = await call(exam_http, bridge, "tcm", CANCEL)
        assert status == 502 and reply["statusCode"] == "00000502"
        assert reply["statusMessage"].startswith("target exam_tcm answered HTTP 500")
    await exam_sims["third"].close()
    async with running_bridge(exam_config, env=env) as bridge:
        status, reply = await call(exam_http, bridge, "third", CANCEL)
        assert status == 502 and reply["statusCode"] == "00000502"
        assert "cannot reach target exam_third" in reply["statusMessage"]


def test_route_cases_pass(monkeypatch: pytest.MonkeyPatch, exam_config: Path) -> None:
    """`bridge test` on tests/routes/exam-*.yaml: every exam route has cases, and they pass."""
    files = sorted((ROOT / "tests" / "routes").glob("exam-*.yaml"))
    out, err = io.StringIO(), io.StringIO()
    code = bridge_test(exam_config, [str(f) for f in files], out, err)
    assert code == 0, out.getvalue() + err.getvalue()
    tested = {line.split(":", 1)[0][5:] for line in out.getvalue().splitlines() if line.startswith("PASS ")}
    config = yaml.safe_load(exam_config.read_text(encoding="utf-8"))
    mine = {r["name"] for r in config["routes"] if r["name"].startswith("exam.")}
    assert mine and tested == mine
