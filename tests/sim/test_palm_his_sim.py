"""The palm-hospital HIS simulator (seed 003): registration lock, pay, cancel, detail, schedule."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from bridge.sim import SIMULATORS, load_builtin_sims
from bridge.sim.palm_his import create_app

Client = TestClient[Any, Any]
Factory = Callable[[Any], Awaitable[Client]]

LOCK = {"hospital_id": "H001", "scheduling_id": "W1001", "name": "张三",
        "id_no": "330100199001011234", "phone_no": "13800000000", "card_no": "P1",
        "card_type": "01", "sex": "男", "age": "30", "address": "杭州", "channel": "JKMZWX",
        "transaction_id": "T1"}
CANCEL = {"SEND_SMS": "0", "USER_ID": "hpalm", "USER_DEPT_ID": "hpalm", "DATA_SOURCE": "w1"}


@pytest.fixture
async def client(aiohttp_client: Factory) -> Client:
    return await aiohttp_client(create_app())


async def post(client: Client, path: str, body: Any) -> Any:
    resp = await client.post(path, json=body)
    assert resp.status == 200
    return await resp.json()


def pay(order_id: str, amount: Any = 12.5, **extra: Any) -> dict[str, Any]:
    return {"hospital_id": "H001", "his_order_no": order_id, "pay_type": "4",
            "pay_amount": amount, "business_no": "PT1", "pay_way": "wepay", **extra}


async def remain(client: Client, schedule_id: str) -> int:
    reply = await post(client, "/get_schedule", {"SCHEDULE_ID": schedule_id, "DATA_SOURCE": "w1"})
    assert reply["ResultCode"] == 0
    [row] = reply["DATA"]
    return row["REMAIN_COUNT"]


async def test_lock_pay_query_cancel(client: Client) -> None:
    assert await remain(client, "W1001") == 30
    lock = await post(client, "/registerPre", LOCK)
    assert lock["head"] == {"code": 1, "msg": "锁号成功"}
    info = lock["info"]
    assert info["id"] == "HO00000001" and info["status"] == 0 and info["queue_no"] == 1
    assert info["fee"] == 12.5 and info["visit_date"] == "2030-01-07"
    assert await remain(client, "W1001") == 29

    paid = await post(client, "/register", pay("HO00000001"))
    assert paid["head"]["code"] == 1 and paid["info"]["status"] == 9

    detail = await post(client, "/getVisitInfoDetail", {"his_order_no": "HO00000001"})
    record = detail["record"]
    assert detail["head"]["code"] == 1
    assert record["status"] == 9 and record["status_text"] == "已确认"
    assert record["patient_name"] == "张三" and record["patient_sex"] == "男"
    assert record["patient_age"] == 30 and record["transaction_id"] == "T1"
    assert record["business_no"] == "PT1"

    cancelled = await post(client, "/cancel", {"APPT_ID": "HO00000001", **CANCEL})
    assert cancelled == {"ResultCode": 0, "ResultMsg": "成功", "APPT_ID": "HO00000001",
                         "STATUS": -2}
    assert await remain(client, "W1001") == 30


async def test_unlock_then_pay_or_unlock_again_fails(client: Client) -> None:
    order = (await post(client, "/registerPre", LOCK))["info"]["id"]
    reply = await post(client, "/cancel", {"APPT_ID": order, **CANCEL})
    assert reply["ResultCode"] == 0 and reply["STATUS"] == -1
    again = await post(client, "/cancel", {"APPT_ID": order, **CANCEL})
    assert again == {"ResultCode": -1, "ResultMsg": f"appointment {order} is already 已取消"}
    paid = await post(client, "/register", pay(order))
    assert paid == {"head": {"code": -1, "msg": f"order {order} is 已取消 (status -1); "
                                                "only a locked order (0) can be paid"}}
    detail = await post(client, "/getVisitInfoDetail", {"his_order_no": order})
    assert detail["record"]["status"] == -1


async def test_pay_failures(client: Client) -> None:
    order = (await post(client, "/registerPre", LOCK))["info"]["id"]
    assert (await post(client, "/register", pay("HO404")))["head"] == {
        "code": -1, "msg": "his_order_no: no order 'HO404'"}
    assert (await post(client, "/register", pay(order, amount=10)))["head"]["msg"] == \
        "pay_amount: 10 does not match the fee 12.5"
    reply = await post(client, "/register", pay(order, amount="12.5", pay_type="7"))
    assert reply["head"]["code"] == -1
    assert "pay_type: must be one of 3, 4" in reply["head"]["msg"]
    assert "pay_amount: expected a number, got str" in reply["head"]["msg"]
    assert (await post(client, "/register", pay(order)))["head"]["code"] == 1
    twice = await post(client, "/register", pay(order))
    assert twice["head"]["msg"].startswith(f"order {order} is 已确认 (status 9)")


async def test_lock_failures(client: Client) -> None:
    bad = {k: v for k, v in LOCK.items() if k not in ("name", "id_no")}
    reply = await post(client, "/registerPre", {**bad, "phone_no": "1" * 21, "sex": "1"})
    msg = reply["head"]["msg"]
    assert reply["head"]["code"] == -1
    for expected in ("name: required", "id_no: required", "phone_no: at most 20 characters",
                     "sex: must be one of"):
        assert expected in msg, msg
    unknown = await post(client, "/registerPre", {**LOCK, "scheduling_id": "W9"})
    assert unknown["head"]["msg"] == "scheduling_id: no schedule 'W9'"
    assert (await post(client, "/registerPre", {**LOCK, "scheduling_id": "W1002"}))["head"]["code"] == 1
    twice = await post(client, "/registerPre", {**LOCK, "scheduling_id": "W1002"})
    assert twice["head"]["msg"].startswith("id_no: this patient already holds order")
    full = await post(client, "/registerPre", {**LOCK, "scheduling_id": "W1002", "id_no": "X2"})
    assert full["head"]["msg"] == "scheduling_id: schedule W1002 is full (1 taken)"


async def test_all_caps_endpoints_answer_in_their_own_shape(client: Client) -> None:
    reply = await post(client, "/cancel", {"APPT_ID": "HO1"})
    assert reply["ResultCode"] == -1 and "head" not in reply
    for field in ("SEND_SMS", "USER_ID", "USER_DEPT_ID", "DATA_SOURCE"):
        assert f"{field}: required" in reply["ResultMsg"]
    assert (await post(client, "/cancel", {"APPT_ID": "HO1", **CANCEL}))["ResultMsg"] == \
        "APPT_ID: no appointment 'HO1'"
    reply = await post(client, "/get_schedule", {"DT": "2030-01-07"})
    assert reply["ResultCode"] == -1
    assert "DATA_SOURCE: required" in reply["ResultMsg"]
    assert "DEPT_ID: required (or SCHEDULE_ID)" in reply["ResultMsg"]
    by_dept = await post(client, "/get_schedule", {"DEPT_ID": "D01", "DATA_SOURCE": "w1"})
    assert [r["SCHEDULE_ID"] for r in by_dept["DATA"]] == ["W1001", "W1002"]
    none = await post(client, "/get_schedule", {"SCHEDULE_ID": "nope", "DATA_SOURCE": "w1"})
    assert none == {"ResultCode": 0, "ResultMsg": "成功", "DATA": []}


async def test_detail_of_unknown_order_and_state_view(client: Client) -> None:
    reply = await post(client, "/getVisitInfoDetail", {"his_order_no": "HO404"})
    assert reply == {"head": {"code": -1, "msg": "his_order_no: no order 'HO404'"}}
    await post(client, "/registerPre", LOCK)
    orders = await (await client.get("/_sim/orders")).json()
    assert orders["HO00000001"]["status"] == 0
    recorded = await (await client.get("/_sim/requests")).json()
    assert [r["path"] for r in recorded] == ["/getVisitInfoDetail", "/registerPre"]
    assert recorded[1]["json"] == LOCK


def test_registered_with_its_default_port() -> None:
    load_builtin_sims()
    spec = SIMULATORS["palm_his"]
    assert spec.default_port == 9104 and spec.description.startswith("Palm-hospital HIS")
