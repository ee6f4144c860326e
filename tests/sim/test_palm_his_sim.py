"""The palm-hospital HIS simulator (seed 003) against its own spec files.

Every request here is built from ``transforms/specs/palm_his/*.yaml`` (required fields, types,
enums, formats) with ids taken from the simulator's ``/_sim/data`` and ``/_sim/orders``; every
reply is checked against the same spec's response table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from bridge.sim import StartedSim, load_builtin_sims, start_sims
from bridge.sim._spec import Endpoint, Field, check_fields, load_specs, render_format

SPECS: dict[str, Endpoint] = load_specs("palm_his")
TODAY = dt.date.today()
TOMORROW = TODAY + dt.timedelta(days=1)


class Sim:
    """A running simulator and a client session."""

    def __init__(self, sim: StartedSim, http: aiohttp.ClientSession) -> None:
        self.sim, self.http = sim, http

    async def post(self, path: str, body: Any, *, form: bool = False,
                   status: int = 200) -> Any:
        kwargs = {"data": body} if form else {"json": body}
        async with self.http.post(self.sim.url + path, **kwargs) as resp:
            assert resp.status == status, (path, resp.status, await resp.text())
            return await resp.json()

    async def get(self, path: str) -> Any:
        async with self.http.get(self.sim.url + path) as resp:
            assert resp.status == 200
            return await resp.json()

    async def call(self, name: str, body: Any, **kw: Any) -> Any:
        ep = SPECS[name]
        return await self.post(ep.path, body, form=ep.format == "form", **kw)


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    load_builtin_sims()
    [started] = await start_sims(["palm_his"], ports={"palm_his": 0})
    try:
        async with aiohttp.ClientSession() as http:
            yield Sim(started, http)
    finally:
        await started.close()


# --- reply shapes, read off the spec ----------------------------------------------------------

def code_path(ep: Endpoint) -> list[str]:
    return str((ep.success or {"path": "head.code"})["path"]).split(".")


def at(doc: Any, path: list[str]) -> Any:
    for key in path:
        assert isinstance(doc, dict) and key in doc, (path, doc)
        doc = doc[key]
    return doc


def msg_of(ep: Endpoint, doc: dict[str, Any]) -> str:
    path = code_path(ep)
    parent = at(doc, path[:-1]) if len(path) > 1 else doc
    msgs = [v for k, v in parent.items() if k != path[-1] and isinstance(v, str)]
    assert len(msgs) == 1, parent
    return msgs[0]


def is_success(ep: Endpoint, doc: dict[str, Any]) -> bool:
    rule = ep.success or {"path": "head.code", "gt": 0}
    code = at(doc, code_path(ep))
    if "eq" in rule:
        return code == rule["eq"] and type(code) is type(rule["eq"])
    return float(code) > 0


def failure_code(ep: Endpoint) -> Any:
    """The failure value the spec documents: the code field's other enum value, else -1."""
    rule = ep.success or {"path": "head.code", "gt": 0}
    fields: tuple[Field, ...] = ep.response
    code_field = None
    for key in code_path(ep):
        code_field = next((f for f in fields if f.name == key), None)
        fields = code_field.fields if code_field else ()
    ok = str(rule.get("eq", 1))
    others = [k for k in (code_field.enum or {}) if k != ok] if code_field else []
    value = others[0] if others else "-1"
    return value if code_field is not None and code_field.type == "string" else int(value)


def assert_failure(ep: Endpoint, doc: dict[str, Any], *words: str) -> None:
    """The endpoint's failure shape: its code field at the failure value and a message naming
    ``words``; nothing else."""
    path = code_path(ep)
    if len(path) > 1:
        assert list(doc) == [path[0]] and len(doc[path[0]]) == 2, doc
    else:
        assert len(doc) == 2 and path[0] in doc, doc
    code = at(doc, path)
    assert code == failure_code(ep) and type(code) is type(failure_code(ep)), doc
    assert not is_success(ep, doc), doc
    msg = msg_of(ep, doc)
    for word in words:
        assert word in msg, (word, msg)


def missing_fields(fields: tuple[Field, ...], doc: Any, prefix: str = "") -> list[str]:
    """Every spec field absent from ``doc``; lists with item fields must not be empty."""
    out = []
    for f in fields:
        if f.name not in doc:
            out.append(prefix + f.name)
            continue
        value = doc[f.name]
        if f.type == "object" and f.fields:
            out += missing_fields(f.fields, value, prefix + f.name + ".")
        elif f.type == "list" and f.fields:
            if not value:
                out.append(prefix + f.name + "[] (empty)")
            for i, item in enumerate(value):
                out += missing_fields(f.fields, item, f"{prefix}{f.name}[{i}].")
    return out


def assert_success(ep: Endpoint, doc: dict[str, Any]) -> None:
    assert is_success(ep, doc), doc
    fields = ep.response or (Field("head", "object", True, fields=(
        Field("code", "integer", True), Field("msg", "string", True))),)
    assert missing_fields(fields, doc) == []
    assert check_fields(fields, doc) == []


# --- requests built from the spec -------------------------------------------------------------

def example(f: Field, known: dict[str, Any]) -> Any:
    """A valid value for a request field: a known id, else its enum / format / type."""
    if f.name in known:
        return known[f.name]
    if f.enum:
        first = next(iter(f.enum))
        return int(first) if f.type in ("integer", "number") else first
    if f.format:
        return render_format(f.format, dt.datetime.now())
    if f.type == "list":
        return [{g.name: example(g, known) for g in f.fields if g.must}] if f.fields else []
    if f.type == "object":
        return {g.name: example(g, known) for g in f.fields if g.must}
    return {"string": "w1", "integer": 1, "number": 1.0, "boolean": True}[f.type]


def build(ep: Endpoint, known: dict[str, Any], extra: dict[str, Any] | None = None) -> dict:
    body = {f.name: example(f, known) for f in ep.request if f.must}
    body.update(extra or {})
    return body


async def known_ids(sim: Sim) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Request values that name real things, picked from /_sim/data and /_sim/orders."""
    data = await sim.get("/_sim/data")
    orders = await sim.get("/_sim/orders")
    p1 = next(p for p in data["patients"] if p["patient_id"] == "P0001")
    sched = next(s for s in data["schedules"]
                 if s["doctor_id"] == "D001" and s["dt"] == TOMORROW.isoformat()
                 and s["duration_id"] == "2")
    slot = next(sl for sl in sched["slots"] if sl["remain"] > 0)
    known = {
        "patient_id": p1["patient_id"], "PATIENT_ID": p1["patient_id"], "FIELD1": "P0001",
        "hospital_id": sched["hospital_id"], "dept_id": sched["dept_id"],
        "DEPT_ID": sched["dept_id"], "doctor_id": sched["doctor_id"],
        "scheduling_id": sched["schedule_id"], "SCHEDULE_ID": sched["schedule_id"],
        "clinic_id": sched["schedule_id"], "TIME_ID": slot["time_id"],
        "pay_amount": sched["total"], "visit_id": "V0001", "card_no": p1["card_no"],
        "visit_no": p1["card_no"], "id_no": p1["id_no"], "name": p1["name"],
        "phone_no": p1["phone_no"], "user_id_no": p1["id_no"], "user_phone_no": p1["phone_no"],
        "user_name": p1["name"], "report_id": "LIS0001", "report_detail_id": "LIS0001-2",
        "recipe_id": "RX0001", "peis_id": "PE0001", "peis_no": "TJ0001",
        "start_time": (TODAY - dt.timedelta(days=30)).isoformat(), "end_time": TODAY.isoformat(),
        "begin_date": (TODAY - dt.timedelta(days=30)).isoformat(), "end_date": TODAY.isoformat(),
        "appt_date": TOMORROW.isoformat(), "time_slot": "09:00-09:30", "birthday": "1990-01-01",
        "page_rows": "5", "current_page": "1", "flag": 0, "bed_category": "普通床位",
        "param_type": "3", "param": "P0001",
    }
    return known, data, orders


def extras(name: str, data: dict[str, Any], orders: dict[str, Any]) -> dict[str, Any]:
    """Per-endpoint values that depend on state (seeded orders and appointments)."""
    appts = {a["status"]: a for a in orders["appointments"]}
    nat = {a["status"]: a for a in orders["nat_appointments"]}
    by_id = {o["his_order_no"]: o for o in orders["orders"]}
    po = [o for o in orders["orders"] if o["kind"] == "payment"]
    recharge = next(o for o in po if o["purpose"] == "1" and o["status"] == 0)
    charge = next(o for o in po if o["purpose"] == "2")
    done = next(o for o in po if o["status"] == 2)
    bill = next(o for o in orders["orders"] if o["kind"] == "bill")
    refund = next(o for o in orders["orders"] if o["kind"] == "nat_refund")
    p2 = next(p for p in data["patients"] if p["patient_id"] == "P0002")
    ip = orders["ip_appointments"][0]
    unpaid, paid = appts[0], appts[9]
    table: dict[str, dict[str, Any]] = {
        "new": {"PATIENT_ID": "P0003"},
        "getPatient": {"patient_id": "P0001"},
        "prepay": {"APPT_ID": unpaid["appt_id"], "BALANCE_PAY": 0, "PAY_WAY_ID": "wepay"},
        "cancel": {"APPT_ID": unpaid["appt_id"]},
        "query": {"APPT_ID": paid["appt_id"]},
        "cpay_new_payment": {"APPT_ID": unpaid["appt_id"], "PATIENT_ID": unpaid["patient_id"],
                             "TOTAL": unpaid["schedule"]["total"]},
        "cpay_update_payment_status": {"HIS_ORDER_NO": unpaid["his_order_no"]},
        "offerNumber": {"appointment_id": paid["appt_id"], "patient_id": paid["patient_id"]},
        "paymentUpdateStatus": {"his_order_no": recharge["his_order_no"], "status": 1},
        "requestSucess": {"bill_no": done["his_order_no"], "bill_id": done["business_no"]},
        "recharge": {"his_order_no": recharge["his_order_no"], "total": recharge["total"]},
        "recipeCharge": {"his_order_no": charge["his_order_no"], "total": charge["total"],
                         "orders": [{"order_id": "O0001"}], "balance_pay": 1},
        "cpayCheck": {"orders": [{"order_id": "O0001"}], "total": charge["total"]},
        "case_cancel": {"his_order_no": bill["his_order_no"], "total": bill["total"]},
        "appointment_confirm": {"appt_id": nat[0]["appt_id"],
                                "his_order_no": nat[0]["his_order_no"],
                                "pay_total": nat[0]["total"]},
        "appointment_cancel": {"appt_id": nat[1]["appt_id"], "receipt_id": nat[1]["receipt_id"]},
        "appointment_info_get": {"appt_id": nat[1]["appt_id"]},
        "cpay_newPayment": {"appt_id": nat[0]["appt_id"], "visit_id": nat[0]["visit_id"],
                            "total": nat[0]["total"], "patient_id": nat[0]["patient_id"]},
        "payment_get": {"his_order_no": by_id[nat[0]["his_order_no"]]["his_order_no"]},
        "refund_callback": {"his_order_no": refund["his_order_no"]},
        "getDailyCharge": {"patient_id": "P0002", "visit_no": "Z0002", "op_flag": 2,
                           "query_date": (TODAY - dt.timedelta(days=1)).isoformat()},
        "getChargeSummary": {"patient_id": "P0002", "visit_no": "Z0002", "op_flag": 2},
        "getReceipt": {"patient_id": "P0002", "visit_no": "Z0002", "op_flag": 2},
        "getInHospitalList": {"id_no": p2["id_no"]},
        "getPacsReport": {"report_id": "PACS0001"},
        "getPeisReport-general": {"peis_item_id": "PI-G01"},
        "getPeisReport-lis": {"peis_item_id": "PI-L01"},
        "getPeisReport-pacs": {"peis_item_id": "PI-P01"},
        "ipAppointmentQuery": {"appointment_id": ip["appointment_id"], "name": ip["name"],
                               "id_no": ip["id_no"]},
        "ipAppointmentCancel": {"appointment_id": ip["appointment_id"]},
        "createCard": {"name": "钱七", "id_no": "110101200001011237", "birthday": "2000-01-01"},
        "getPatientList": {"patient": [{"patient_id": "P0001", "op_flag": 1},
                                       {"patient_id": "P0002", "op_flag": 2}]},
        "getRecharge": {"card_no": "C0001", "visit_no": "C0001", "op_flag": 1},
        "getEmrPageCount": {"type": 2},
        "specialType_newBill": {"quantity": 10, "total": 5.0},
    }
    return table.get(name, {})


async def register_first(sim: Sim, body: dict[str, Any], price: float) -> None:
    """/register needs the /registerPre of the same patient and schedule (the seed's order)."""
    pre = {k: body[k] for k in ("dept_id", "doctor_id", "scheduling_id", "patient_id")}
    reply = await sim.call("registerPre", {**pre, "pay_amount": price})
    assert reply["head"]["code"] > 0, reply


@pytest.mark.parametrize("name", sorted(SPECS))
async def test_every_endpoint_answers_a_valid_request_in_full(sim: Sim, name: str) -> None:
    ep = SPECS[name]
    known, data, orders = await known_ids(sim)
    body = build(ep, known, extras(name, data, orders))
    if name == "register":
        await register_first(sim, body, known["pay_amount"])
    doc = await sim.call(name, body)
    assert_success(ep, doc)


# --- what is refused, on every endpoint ------------------------------------------------------

def wrong_type(f: Field) -> Any:
    return 12345 if f.type in ("string", "object", "list", "boolean") else "not-a-number"


async def test_a_missing_required_field_is_named_on_every_endpoint(sim: Sim) -> None:
    """The last required field left out is ``required``; a required string sent blank is
    ``must not be empty``; both are reported at once."""
    known, data, orders = await known_ids(sim)
    checked = 0
    for name, ep in SPECS.items():
        required = [f for f in ep.request if f.must]
        if not required:
            continue
        body = build(ep, known, extras(name, data, orders))
        gone = required[-1].name
        del body[gone]
        blank = next((f.name for f in required[:-1] if f.type == "string"), None)
        if blank:
            body[blank] = "  "
        doc = await sim.call(name, body)
        assert_failure(ep, doc, f"{gone}: required")
        if blank:
            assert f"{blank}: must not be empty" in msg_of(ep, doc)
        checked += 1
    assert checked > 70


async def test_an_unknown_field_is_named_on_every_endpoint(sim: Sim) -> None:
    known, data, orders = await known_ids(sim)
    for name, ep in SPECS.items():
        body = build(ep, known, extras(name, data, orders))
        body["surplus_field"] = "1"
        doc = await sim.call(name, body)
        assert_failure(ep, doc, "surplus_field: unknown field")
        assert "'1'" not in msg_of(ep, doc)


async def test_a_wrong_type_is_named_on_every_endpoint(sim: Sim) -> None:
    known, data, orders = await known_ids(sim)
    checked = 0
    for name, ep in SPECS.items():
        if not ep.request or ep.format == "form":
            continue
        f = ep.request[0]
        body = build(ep, known, extras(name, data, orders))
        body[f.name] = wrong_type(f)
        doc = await sim.call(name, body)
        assert_failure(ep, doc, f"{f.name}: expected {f.type}")
        checked += 1
    assert checked > 70


async def test_a_bad_enum_value_is_named_on_every_endpoint(sim: Sim) -> None:
    known, data, orders = await known_ids(sim)
    checked = 0
    for name, ep in SPECS.items():
        f = next((f for f in ep.request if f.enum), None)
        if f is None:
            continue
        body = build(ep, known, extras(name, data, orders))
        body[f.name] = 987 if f.type in ("integer", "number") else "no-such-code"
        doc = await sim.call(name, body)
        assert_failure(ep, doc, f"{f.name}: not one of")
        checked += 1
    assert checked > 30


async def test_nested_fields_are_checked_by_path(sim: Sim) -> None:
    ep = SPECS["getPatientList"]
    doc = await sim.call("getPatientList", {"patient": [{"patient_id": "P0001", "op_flag": 1},
                                                        {"op_flag": "1", "extra": 1}]})
    assert_failure(ep, doc, "patient[1].patient_id: required",
                   "patient[1].op_flag: expected integer", "patient[1].extra: unknown field")
    doc = await sim.call("cpayCheck", {"patient_id": "P0001", "card_no": "C0001", "op_flag": 1,
                                       "total": 25.0, "orders": [{"order_id": ""}]})
    assert_failure(SPECS["cpayCheck"], doc, "orders[0].order_id: must not be empty")


async def test_booleans_are_not_strings_or_integers_and_null_is_absent(sim: Sim) -> None:
    doc = await sim.call("get_doctor", {"DEPT_ID": True})
    assert_failure(SPECS["get_doctor"], doc, "DEPT_ID: expected string, got boolean")
    doc = await sim.call("getPatient", {"op_flag": True, "patient_id": "P0001"})
    assert_failure(SPECS["getPatient"], doc, "op_flag: expected integer, got boolean")
    doc = await sim.call("get_dt", {"DEPT_ID": None})
    assert_failure(SPECS["get_dt"], doc, "DEPT_ID: required")
    doc = await sim.call("registerPre", {"dept_id": "000001", "doctor_id": "D001",
                                         "scheduling_id": "x", "patient_id": "P0001",
                                         "pay_amount": 30})          # an int is a number
    assert_failure(SPECS["registerPre"], doc, "排班不存在")


async def test_dates_in_a_documented_format_are_checked(sim: Sim) -> None:
    doc = await sim.call("getDailyCharge", {"patient_id": "P0002", "visit_no": "Z0002",
                                            "op_flag": 2, "query_date": "2024-02-30"})
    assert_failure(SPECS["getDailyCharge"], doc, "query_date: not in format yyyy-mm-dd")
    doc = await sim.call("card_update", {"patient_id": "P0001", "birthday": "1990-01-01"})
    assert_failure(SPECS["card_update"], doc, "birthday: not in format YYYYMMDD")
    assert doc == {"code": 0, "msg": "birthday: not in format YYYYMMDD"}


async def test_the_transport_is_checked(sim: Sim) -> None:
    async with sim.http.post(sim.sim.url + "/getPatient", data="{nope",
                             headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["head"]["code"] == -1
    async with sim.http.post(sim.sim.url + "/query", data="[1]",
                             headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["ResultCode"] == -1
    async with sim.http.post(sim.sim.url + "/get_dept", data="{}",
                             headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
    # form endpoints take form bodies (or none), not JSON
    async with sim.http.post(sim.sim.url + "/getHospitalList", json={}) as resp:
        assert resp.status == 415
    doc = await sim.call("getHospitalList", {"x": "1"})
    assert doc == {"head": {"code": "-1", "msg": "x: unknown field"}}
    doc = await sim.call("getAllDoctorList", {})
    assert [d["doctor_id"] for d in doc["doctorList"]] == ["D001", "D002", "D003", "D004"]
    # getPatientList also takes the seed's nameless bare array
    doc = await sim.post("/getPatientList", [{"patient_id": "P0002", "op_flag": 2}])
    assert [p["id"] for p in doc["patients"]] == ["P0002"]
    recorded = await sim.get("/_sim/requests")
    assert recorded[-1]["json"] == {"patient": [{"patient_id": "P0002", "op_flag": 2}]}
    assert any(r.get("form") == {"x": "1"} for r in recorded)


async def test_the_failure_switch_answers_in_the_endpoint_shape(sim: Sim) -> None:
    async with sim.http.post(sim.sim.url + "/_sim/fail", json={"status": 503}) as resp:
        assert resp.status == 200
    doc = await sim.post("/cancel", {}, status=503)
    assert doc == {"ResultCode": -1, "ResultMsg": "simulated failure 503"}
    assert (await sim.post("/cancel", {}))["ResultCode"] == -1     # switch used up: checked


# --- the ALL_CAPS 预约挂号 flow --------------------------------------------------------------

CAPS = {"USER_ID": "hpalm", "USER_DEPT_ID": "hpalm", "DATA_SOURCE": "w1"}


async def free_slot(sim: Sim, doctor: str = "D001", day: dt.date = TOMORROW,
                    duration: str = "2") -> tuple[dict[str, Any], dict[str, Any]]:
    data = await sim.get("/_sim/data")
    sched = next(s for s in data["schedules"] if s["doctor_id"] == doctor
                 and s["dt"] == day.isoformat() and s["duration_id"] == duration)
    return sched, next(sl for sl in sched["slots"] if sl["remain"] > 0)


async def test_new_prepay_query_cancel(sim: Sim) -> None:
    sched, slot = await free_slot(sim)
    before = await sim.call("get_time", {"SCHEDULE_ID": sched["schedule_id"], "DATA_SOURCE": "w1"})
    row = next(r for r in before["DATA"] if r["TIME_ID"] == slot["time_id"])
    assert row["TIME_NAME"] == slot["time_name"] and row["PATIENT_TYPE_NAME"] == slot["remain"]

    new = await sim.call("new", {**CAPS, "SCHEDULE_ID": sched["schedule_id"],
                                 "TIME_ID": slot["time_id"], "ACCOUNT_ID": "AC9",
                                 "PATIENT_ID": "P0001", "SEX": "男"})
    assert new["ResultCode"] == 0 and new["APPT_ID"] == new["HIS_ORDER_NO"]
    appt_id = new["APPT_ID"]
    after = await sim.call("get_time", {"SCHEDULE_ID": sched["schedule_id"], "DATA_SOURCE": "w1"})
    row = next(r for r in after["DATA"] if r["TIME_ID"] == slot["time_id"])
    assert row["PATIENT_TYPE_NAME"] == slot["remain"] - 1          # the slot is consumed

    q = await sim.call("query", {"APPT_ID": appt_id, "PATIENT_ID": "P0003", "DATA_SOURCE": "w1"})
    [rec] = q["DATA"]                                                # APPT_ID overrides PATIENT_ID
    assert (rec["STATUS"], rec["ALLOW_PREPAY"], rec["ALLOW_CANCEL"]) == (0, 1, 1)

    pay = await sim.call("prepay", {**CAPS, "APPT_ID": appt_id, "BALANCE_PAY": 0})
    assert_failure(SPECS["prepay"], pay, "PAY_WAY_ID")              # BALANCE_PAY=0时必传
    pay = await sim.call("prepay", {**CAPS, "APPT_ID": appt_id, "BALANCE_PAY": 0,
                                    "PAY_WAY_ID": "wepay", "BUSINESS_NO": "BN1"})
    assert pay["ResultCode"] == 0 and pay["CERTIFICATE_CODE"]

    q = await sim.call("query", {"PATIENT_ID": "P0001", "DATA_SOURCE": "w1"})
    [rec] = [r for r in q["DATA"] if r["APPT_ID"] == appt_id]
    assert rec["STATUS"] == 9 and rec["STATUS_TEXT"] == "已确认"
    assert rec["TOTAL"] == sched["total"] == 30.0
    assert (rec["DT"], rec["TIME_ID"], rec["TIME_NAME"]) == (TOMORROW.isoformat(),
                                                              slot["time_id"], slot["time_name"])
    assert rec["DURATION_NAME"] == "下午" and rec["QUEUE_NO"] and rec["BUSINESS_NO"] == "BN1"
    assert rec["CERTIFICATE_CODE"] == pay["CERTIFICATE_CODE"] and rec["PLATFORM_CANCEL_PAY"] == 1
    assert missing_fields(SPECS["query"].response, q) == []

    again = await sim.call("prepay", {**CAPS, "APPT_ID": appt_id, "BALANCE_PAY": 1})
    assert_failure(SPECS["prepay"], again, "已确认")

    cancel = {**CAPS, "APPT_ID": appt_id, "SEND_SMS": "0"}
    assert (await sim.call("cancel", cancel))["ResultCode"] == 0
    q = await sim.call("query", {"APPT_ID": appt_id, "DATA_SOURCE": "w1"})
    assert q["DATA"][0]["STATUS"] == -2 and q["DATA"][0]["ALLOW_CANCEL"] == 0
    assert_failure(SPECS["cancel"], await sim.call("cancel", cancel), "不能重复取消")
    orders = await sim.get("/_sim/orders")
    assert next(a for a in orders["appointments"] if a["appt_id"] == appt_id)["status"] == -2


async def test_cancel_before_payment_is_minus_one_and_frees_the_slot(sim: Sim) -> None:
    sched, slot = await free_slot(sim, "D002")
    new = await sim.call("new", {**CAPS, "SCHEDULE_ID": sched["schedule_id"],
                                 "TIME_ID": slot["time_id"], "ACCOUNT_ID": "AC9",
                                 "PATIENT_ID": "P0002", "SEX": "女"})
    ok = await sim.call("cancel", {**CAPS, "APPT_ID": new["APPT_ID"], "SEND_SMS": "1"})
    assert ok == {"ResultCode": 0, "ResultMsg": "取消成功"}
    q = await sim.call("query", {"APPT_ID": new["APPT_ID"], "DATA_SOURCE": "w1"})
    assert q["DATA"][0]["STATUS"] == -1
    data = await sim.get("/_sim/data")
    now = next(s for s in data["schedules"] if s["schedule_id"] == sched["schedule_id"])
    assert next(sl for sl in now["slots"] if sl["time_id"] == slot["time_id"]) == slot
    unknown = await sim.call("cancel", {**CAPS, "APPT_ID": "A99999999", "SEND_SMS": "0"})
    assert_failure(SPECS["cancel"], unknown, "预约记录不存在")


async def test_new_refuses_unknown_schedules_slots_and_full_slots(sim: Sim) -> None:
    sched, _ = await free_slot(sim)
    base = {**CAPS, "ACCOUNT_ID": "AC9", "SEX": "男"}
    doc = await sim.call("new", {**base, "SCHEDULE_ID": "D001-19990101-1", "TIME_ID": "x",
                                 "PATIENT_ID": "P0001"})
    assert_failure(SPECS["new"], doc, "排班不存在")
    doc = await sim.call("new", {**base, "SCHEDULE_ID": sched["schedule_id"], "TIME_ID": "T9",
                                 "PATIENT_ID": "P0001"})
    assert_failure(SPECS["new"], doc, "时段不存在")
    doc = await sim.call("new", {**base, "SCHEDULE_ID": sched["schedule_id"],
                                 "TIME_ID": sched["slots"][0]["time_id"], "PATIENT_ID": "P9999"})
    assert_failure(SPECS["new"], doc, "患者不存在")
    last = sched["slots"][-1]                                       # capacity 1
    assert last["capacity"] == 1 and last["remain"] == 1
    first = await sim.call("new", {**base, "SCHEDULE_ID": sched["schedule_id"],
                                   "TIME_ID": last["time_id"], "PATIENT_ID": "P0001"})
    assert first["ResultCode"] == 0
    full = await sim.call("new", {**base, "SCHEDULE_ID": sched["schedule_id"],
                                  "TIME_ID": last["time_id"], "PATIENT_ID": "P0002"})
    assert_failure(SPECS["new"], full, "号源已满")
    dup = await sim.call("new", {**base, "SCHEDULE_ID": sched["schedule_id"],
                                 "TIME_ID": sched["slots"][1]["time_id"], "PATIENT_ID": "P0001"})
    assert_failure(SPECS["new"], dup, "重复预约")


async def test_new_without_a_card_registers_the_person(sim: Sim) -> None:
    sched, slot = await free_slot(sim, "D003")
    body = {**CAPS, "ACCOUNT_ID": "AC9", "SEX": "女", "SCHEDULE_ID": sched["schedule_id"],
            "TIME_ID": slot["time_id"]}
    doc = await sim.call("new", {**body, "NAME": "孙八"})
    assert_failure(SPECS["new"], doc, "ID_NO", "PHONE_NO")
    doc = await sim.call("new", {**body, "NAME": "孙八", "ID_NO": "110101199202020029",
                                 "PHONE_NO": "13700000000"})
    assert doc["ResultCode"] == 0
    q = await sim.call("query", {"ID_NO": "110101199202020029", "DATA_SOURCE": "w1"})
    [rec] = q["DATA"]
    assert rec["NAME"] == "孙八" and rec["PATIENT_ID"].startswith("P") and rec["CARD_NO"] == ""
    wrong = await sim.call("new", {**body, "NAME": "别人", "ID_NO": "110101199202020029",
                                   "PHONE_NO": "13700000000"})
    assert_failure(SPECS["new"], wrong, "身份证号与姓名不符")


async def test_balance_payment_and_refund(sim: Sim) -> None:
    sched, slot = await free_slot(sim, "D004")
    new = await sim.call("new", {**CAPS, "ACCOUNT_ID": "AC9", "SEX": "男", "PATIENT_ID": "P0001",
                                 "SCHEDULE_ID": sched["schedule_id"], "TIME_ID": slot["time_id"]})
    balance = lambda d: next(p for p in d["patients"] if p["patient_id"] == "P0001")["balance"]
    before = balance(await sim.get("/_sim/data"))
    pay = await sim.call("prepay", {**CAPS, "APPT_ID": new["APPT_ID"], "BALANCE_PAY": 1})
    assert pay["ResultCode"] == 0
    assert balance(await sim.get("/_sim/data")) == before - sched["total"]
    q = await sim.call("query", {"APPT_ID": new["APPT_ID"], "DATA_SOURCE": "w1"})
    assert q["DATA"][0]["BALANCE_PAY"] == 1 and q["DATA"][0]["PLATFORM_CANCEL_PAY"] == 0
    await sim.call("cancel", {**CAPS, "APPT_ID": new["APPT_ID"], "SEND_SMS": "0"})
    assert balance(await sim.get("/_sim/data")) == before


async def test_payment_order_and_offer_number(sim: Sim) -> None:
    orders = await sim.get("/_sim/orders")
    unpaid = next(a for a in orders["appointments"] if a["status"] == 0)
    bad = await sim.call("cpay_new_payment", {**CAPS, "APPT_ID": unpaid["appt_id"], "TOTAL": 1.0,
                                              "OP_FLAG": 1, "PURPOSE": 3,
                                              "PATIENT_ID": unpaid["patient_id"],
                                              "PAY_WAY_ID": "wepay"})
    assert_failure(SPECS["cpay_new_payment"], bad, "金额")
    paid = next(a for a in orders["appointments"] if a["status"] == 9)
    body = {"appointment_id": paid["appt_id"], "patient_id": paid["patient_id"]}
    doc = await sim.call("offerNumber", body)
    assert doc["queue"]["id"] == paid["appt_id"] and doc["queue"]["queue_no"] >= 1
    assert_failure(SPECS["offerNumber"], await sim.call("offerNumber", body), "已取号")


async def test_lookups_filter_by_request_fields(sim: Sim) -> None:
    data = await sim.get("/_sim/data")
    doc = await sim.call("get_doctor", {"DEPT_ID": "000001"})
    assert [d["DOCTOR_ID"] for d in doc["DATA"]] == ["D001", "D002"]
    assert_failure(SPECS["get_doctor"], await sim.call("get_doctor", {"DEPT_ID": "999"}),
                   "科室不存在")
    doc = await sim.call("get_dt", {"DEPT_ID": "000003"})
    assert [d["DT"] for d in doc["DATA"]] == sorted({s["dt"] for s in data["schedules"]})
    q = {"DEPT_ID": "000001", "DT": TOMORROW.isoformat(), "DATA_SOURCE": "w1"}
    doc = await sim.call("get_schedule", q)
    assert {(r["DOCTOR_ID"], r["DURATION_ID"]) for r in doc["DATA"]} == \
        {("D001", "1"), ("D001", "2"), ("D002", "1"), ("D002", "2")}
    doc = await sim.call("get_schedule", {**q, "DOCTOR_ID": "D002", "DURATION_ID": "2"})
    [row] = doc["DATA"]
    assert row["SCHEDULE_ID"] == f"D002-{TOMORROW:%Y%m%d}-2" and row["TOTAL"] == 10.0
    assert row["APPT_MAX"] == row["APPT_COUNT"] + row["REMAIN_COUNT"]
    assert (await sim.call("get_schedule", {**q, "DOCTOR_ID": "all"}))["DATA"]
    assert (await sim.call("get_schedule", {**q, "DOCTOR_ID": ""}))["DATA"] == []
    doc = await sim.call("get_time", {"SCHEDULE_ID": "NOPE", "DATA_SOURCE": "w1"})
    assert_failure(SPECS["get_time"], doc, "排班不存在")
    doc = await sim.call("getSchedules", {"dept_id": "000002"})
    assert {s["doctor_id"] for s in doc["schedules"]} == {"D003"}
    assert all(s["id"].split("-")[1] == f"{TODAY:%Y%m%d}" for s in doc["schedules"])
    doc = await sim.call("getDeptsByHospitalId", {"hospital_id": "02"})
    assert [d["id"] for d in doc["data"]] == ["000003"]
    doc = await sim.call("getDeptsByHospitalId", {"hospital_id": "99"})
    assert_failure(SPECS["getDeptsByHospitalId"], doc, "院区不存在")


async def test_get_patient_by_each_condition(sim: Sim) -> None:
    data = await sim.get("/_sim/data")
    p1 = next(p for p in data["patients"] if p["patient_id"] == "P0001")
    for cond in ({"patient_id": "P0001"}, {"card_no": p1["card_no"]}, {"id_no": p1["id_no"]},
                 {"name": p1["name"], "phone_no": p1["phone_no"]}):
        doc = await sim.call("getPatient", {"op_flag": 1, **cond})
        assert doc["patient"]["id"] == "P0001" and doc["patient"]["id_no"] == p1["id_no"], cond
    doc = await sim.call("getPatient", {"op_flag": 1, "id_no": "110101190001010000"})
    assert_failure(SPECS["getPatient"], doc, "患者不存在")
    doc = await sim.call("getPatient", {"op_flag": 1, "id_no": p1["id_no"], "name": "李四"})
    assert_failure(SPECS["getPatient"], doc, "患者不存在")
    doc = await sim.call("getPatient", {"op_flag": 2, "patient_id": "P0001"})
    assert_failure(SPECS["getPatient"], doc, "无住院记录")
    doc = await sim.call("getPatient", {"op_flag": 2, "card_no": "Z0002"})
    assert doc["patient"]["visit_no"] == "Z0002" and doc["patient"]["bed_no"] == "12"
    doc = await sim.call("get_patient", {"QUERY_TYPE": "PATIENT_ID", "FIELD1": "P0404"})
    assert_failure(SPECS["get_patient"], doc, "病人不存在")
    doc = await sim.call("get_patient", {"QUERY_TYPE": "PATIENT_ID", "FIELD1": "P0002"})
    assert doc["DATA"][0]["AVAILABLE_BALANCE"] == 1500.0           # 余额 - 透支下限


async def test_register_pre_register_and_visit_detail(sim: Sim) -> None:
    sched, _ = await free_slot(sim, "D003", TODAY, "2")
    reg = {"dept_id": "000002", "doctor_id": "D003", "scheduling_id": sched["schedule_id"],
           "patient_id": "P0003"}
    pay = {"business_no": "BN7", "business_info": '{"status": 9}'}
    doc = await sim.call("register", {**reg, **pay})
    assert_failure(SPECS["register"], doc, "未预挂号")
    doc = await sim.call("registerPre", {**reg, "pay_amount": 1.0})
    assert_failure(SPECS["registerPre"], doc, "挂号费不符")
    doc = await sim.call("registerPre", {**reg, "doctor_id": "D001", "pay_amount": 30.0})
    assert_failure(SPECS["registerPre"], doc, "医生与排班不符")
    doc = await sim.call("registerPre", {**reg, "pay_amount": sched["total"]})
    assert doc == {"head": {"code": 1, "msg": "预挂号成功"}}
    doc = await sim.call("register", {**reg, **pay})
    info = doc["info"]
    assert doc["head"]["code"] > 0 and info["patient_id"] == "P0003"
    assert info["visit_date"] == TODAY.isoformat() and info["visit_time"] == "下午"
    assert info["queue_no"] == sched["appt_count"] + 1
    assert_failure(SPECS["register"], await sim.call("register", {**reg, **pay}), "已挂号")
    detail = await sim.call("getVisitInfoDetail", {"patient_id": "P0003", "visit_id": info["id"]})
    assert detail["record"]["id"] == info["id"] and detail["record"]["doctor_id"] == "D003"
    assert detail["record"]["fee"] == sched["total"]
    other = await sim.call("getVisitInfoDetail", {"patient_id": "P0001", "visit_id": info["id"]})
    assert_failure(SPECS["getVisitInfoDetail"], other, "就诊记录不存在")
    visits = await sim.call("getVisitInfo", {"patient_id": "P0003"})
    assert [r["id"] for r in visits["records"]] == [info["id"]]
    data = await sim.get("/_sim/data")
    after = next(s for s in data["schedules"] if s["schedule_id"] == sched["schedule_id"])
    assert after["appt_count"] == sched["appt_count"] + 1


async def test_nat_booking_flow(sim: Sim) -> None:
    data = await sim.get("/_sim/data")
    p3 = next(p for p in data["patients"] if p["patient_id"] == "P0003")
    types = await sim.call("type_list", {"hospital_id": "01", "appt_date": TOMORROW.isoformat()})
    slot = types["data"][0]["time_slot"][0]
    pre = await sim.call("appointment_pre", {
        "user_name": p3["name"], "user_id_no": p3["id_no"], "user_phone_no": p3["phone_no"],
        "hospital_id": "01", "appt_date": TOMORROW.isoformat(), "time_slot": slot["time_slot_name"],
        "pay_way": "wepay", "pay_status": 0, "create_time": "2024-01-01 10:00:00",
        "data_source": "w1"})
    appt_id = pre["data"]["appt_id"]
    info = (await sim.call("appointment_info_get", {"appt_id": appt_id}))["data"]
    assert info["status"] == 0 and info["patient"]["id"] == "P0003"
    pay = await sim.call("cpay_newPayment", {
        "patient_id": "P0003", "visit_id": info["patient"]["visit_id"], "appt_id": appt_id,
        "op_flag": 1, "pay_way": "alipay", "data_source": "w1", "total": 35.0})
    order = pay["data"]["his_order_no"]
    ok = await sim.call("appointment_confirm", {"appt_id": appt_id, "business_no": "B1",
                                                "his_order_no": order, "pay_way": "alipay",
                                                "pay_total": 35.0, "pay_time": "now",
                                                "data_source": "w1"})
    assert ok == {"code": 0, "msg": "确认成功"}
    got = await sim.call("payment_get", {"his_order_no": order})
    assert got["data"]["status"] == "1" and got["data"]["total"] == "35.00"
    after = await sim.call("type_list", {"hospital_id": "01", "appt_date": TOMORROW.isoformat()})
    assert after["data"][0]["time_slot"][0]["remain_count"] == slot["remain_count"] - 1
    cancel = {"appt_id": appt_id, "receipt_id": "wrong", "his_order_no": "RF1", "data_source": "w1"}
    assert_failure(SPECS["appointment_cancel"], await sim.call("appointment_cancel", cancel), "发票")
    assert (await sim.call("appointment_cancel", {**cancel, "receipt_id": f"RCPT{appt_id}"}))[
        "code"] == "0"
    cb = {"his_order_no": "RF1", "business_no": "B2", "refund_time": "2024-01-01 10:00:00"}
    assert (await sim.call("refund_callback", cb))["code"] == 0
    assert_failure(SPECS["refund_callback"], await sim.call("refund_callback", cb), "已确认")


async def test_sim_routes_describe_data_and_state(sim: Sim) -> None:
    data = await sim.get("/_sim/data")
    assert {d["dept_id"] for d in data["departments"]} == {"000001", "000002", "000003"}
    assert len(data["schedules"]) == 4 * 2 * 8                    # doctors x 午别 x days
    assert {s["dt"] for s in data["schedules"]} == {
        (TODAY + dt.timedelta(days=n)).isoformat() for n in range(8)}
    assert all(len(s["slots"]) == 4 for s in data["schedules"])
    assert {p["patient_id"] for p in data["patients"]} == {"P0001", "P0002", "P0003"}
    assert all(len(p["id_no"]) == 18 for p in data["patients"])
    orders = await sim.get("/_sim/orders")
    assert [a["appt_id"] for a in orders["appointments"]] == ["A00000001", "A00000002"]
    await sim.call("cancel", {**CAPS, "APPT_ID": "A00000001", "SEND_SMS": "0"})
    async with sim.http.delete(sim.sim.url + "/_sim/orders") as resp:
        assert resp.status == 200
    orders = await sim.get("/_sim/orders")
    assert orders["appointments"][0]["status"] == 0
