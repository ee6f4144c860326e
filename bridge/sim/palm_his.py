"""Simulator of the palm-hospital (掌上医院) HIS JSON API (seed 003), registration endpoints.

Seed 003 is two conventions in one API, and so is this simulator:

- snake_case endpoints answer ``{"head": {"code", "msg"}, <payload>}``, code > 0 success, the
  payload under the seed's own key (``info``, ``record``): ``/registerPre`` (预挂号: lock a slot),
  ``/register`` (挂号确认: pay a lock), ``/getVisitInfoDetail`` (获取患者某条挂号记录详情).
- ALL_CAPS endpoints answer ``{"ResultCode": 0 | -1, "ResultMsg", ...}``: ``/cancel``
  (取消预约) and ``/get_schedule`` (排班: APPT_MAX / APPT_COUNT / REMAIN_COUNT).

Where the seed's request table does not fit the registration platform's calls (seed 001 (b)
identifies a slot by WorkId and a patient by IDCode; seed 003 wants dept/doctor/patient ids)
the simulator takes seed 003's words for what the platform does send (``scheduling_id``,
``name``, ``id_no``, ``phone_no``, ``his_order_no``, ``business_no``, ``pay_way``) and looks
the rest up in its own schedule. Seed 003 gives no lengths, so lengths (characters) are those
of the seed 001 field each value comes from; required-ness is seed 003's where it has the field.

Orders move through seed 003's STATUS codes: 0 未确认 (locked) -> 9 已确认 (paid);
0 -> -1 已取消 (unlocked); 9 -> -2 已退号 (cancelled after payment). Anything else is refused
with the endpoint's own error shape (head.code -1 or ResultCode -1) and a message saying why.
State: ``GET /_sim/orders``; schedules are fixed demo data (``SCHEDULES``).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from bridge.sim import register_sim
from bridge.sim.base import Reply, add_endpoint, json_response, new_app, rejected
from bridge.sim.fields import Need, Rule, check_fields

REQ, OPT = Need.REQUIRED, Need.OPTIONAL
SEXES = frozenset({"男", "女", "未知", "未说明"})   # seed 003 writes sex as a word (SEX: 男)

# /registerPre (seed 003 预挂号: scheduling_id 排班ID required); patient fields as seed 003's
# ipAppointmentConfirm names them; lengths from seed 001 §3.1 confirmRegistration.
LOCK_FIELDS: dict[str, Rule] = {
    "hospital_id": Rule(REQ, 36),                        # HospitalNo 医院编码
    "scheduling_id": Rule(REQ, 100),                     # WorkId 班次号
    "name": Rule(REQ, 200),                              # Name 姓名
    "id_no": Rule(REQ, 30),                              # IDCode 身份证号
    "phone_no": Rule(REQ, 20),                           # TelephoneNo 手机号码
    "card_no": Rule(OPT, 20),                            # PatientNo 医疗卡号
    "card_type": Rule(OPT, 20, choices=frozenset({"01", "02"})),   # CardType 01 院内 02 居民健康卡
    "sex": Rule(OPT, 20, choices=SEXES),                 # Sex (code -> word by the route)
    "age": Rule(OPT, 30),                                # Age 年龄
    "address": Rule(OPT, 200),                           # Address 地址
    "time_id": Rule(OPT, 100),                           # numSourceId 号源ID (seed 003 TIME_ID)
    "channel": Rule(OPT, 10),                            # channel 预约渠道
    "transaction_id": Rule(OPT, 36),                     # TransactionId 访问流水号
}

# /register (seed 003 挂号确认: business_no 支付平台订单ID); seed 001 §3.3 PaymentNotice.
PAY_FIELDS: dict[str, Rule] = {
    "hospital_id": Rule(REQ, 36),                        # HospitalNo
    "his_order_no": Rule(REQ, 36),                       # WorkFlowId 挂号交易流水号
    "pay_type": Rule(REQ, 1, choices=frozenset({"3", "4"})),       # PayType 3 现场 4 在线
    "business_no": Rule(OPT, 40),                        # payTradeNo 支付流水号
    "pay_way": Rule(OPT, 10, choices=frozenset({"alipay", "wepay"})),   # payChannel
    "queue_no": Rule(OPT, 36),                           # SerialNumber 挂号序号
    "channel": Rule(OPT, 10),
    "transaction_id": Rule(OPT, 36),
}

# /getVisitInfoDetail: the seed shows only the reply; the record is asked for by his_order_no.
DETAIL_FIELDS: dict[str, Rule] = {
    "his_order_no": Rule(REQ, 36),
}

# /cancel (seed 003 取消预约, ALL_CAPS): every 必须 field of the seed's table.
CANCEL_FIELDS: dict[str, Rule] = {
    "APPT_ID": Rule(REQ, 36),
    "SEND_SMS": Rule(REQ, 1, choices=frozenset({"0", "1"})),
    "USER_ID": Rule(REQ, 36),
    "USER_DEPT_ID": Rule(REQ, 36),
    "DATA_SOURCE": Rule(REQ, 10),
    "BUSINESS_NO": Rule(OPT, 40),
    "BUSINESS_INFO": Rule(OPT, 4000),
    "REMARK": Rule(OPT, 500),
}

# /get_schedule (seed 003, ALL_CAPS): DEPT_ID is required by the seed; the platform asks by
# WorkId, so SCHEDULE_ID is accepted instead (one of the two must be given).
SCHEDULE_QUERY_FIELDS: dict[str, Rule] = {
    "DEPT_ID": Rule(OPT, 36),
    "SCHEDULE_ID": Rule(OPT, 100),
    "DT": Rule(OPT, 10),
    "DATA_SOURCE": Rule(REQ, 10),
}


@dataclass
class Schedule:
    """A bookable session, in seed 003 /get_schedule's words."""

    id: str
    dept_id: str
    dept_name: str
    doctor_id: str
    doctor_name: str
    dt: str               # yyyy-mm-dd
    duration_name: str    # 午别 上午/下午
    time_name: str        # HH:MM-HH:MM
    total: float          # 挂号费
    appt_max: int
    appt_count: int = 0


def demo_schedules() -> dict[str, Schedule]:
    """Fixed demo data; W1002 has one slot, so "full" is easy to reach."""
    rows = [
        Schedule("W1001", "D01", "内科", "DR01", "张医生", "2030-01-07", "上午", "08:00-12:00",
                 12.5, 30),
        Schedule("W1002", "D01", "内科", "DR02", "李医生", "2030-01-07", "下午", "14:00-17:00",
                 50, 1),
        Schedule("W1003", "D02", "外科", "DR03", "王医生", "2030-01-08", "上午", "08:00-12:00",
                 20, 10),
    ]
    return {s.id: s for s in rows}


@dataclass
class Order:
    id: str
    status: int          # 0 未确认 (locked), 9 已确认 (paid), -1 已取消, -2 已退号
    schedule_id: str
    queue_no: int
    fee: float
    transaction_id: str
    patient: dict[str, str]
    business_no: str = ""
    pay_way: str = ""


STATUS_TEXT = {0: "未确认", 9: "已确认", -1: "已取消", -2: "已退号"}


class His:
    """Schedules and orders; ids are HO00000001, HO00000002... per app."""

    def __init__(self) -> None:
        self.schedules = demo_schedules()
        self.orders: dict[str, Order] = {}
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"HO{next(self._ids):08d}"


HIS = web.AppKey("his", His)


def ok_with(key: str, payload: dict[str, Any], msg: str = "ok") -> Reply:
    return {"head": {"code": 1, "msg": msg}, key: payload}


def caps_ok(**payload: Any) -> Reply:
    return {"ResultCode": 0, "ResultMsg": "成功", **payload}


def caps_failed(problems: list[str]) -> Reply:
    return {"ResultCode": -1, "ResultMsg": "; ".join(problems)}


def order_info(order: Order, his: His) -> dict[str, Any]:
    s = his.schedules[order.schedule_id]
    return {"id": order.id, "status": order.status, "scheduling_id": s.id,
            "dept_id": s.dept_id, "dept_name": s.dept_name, "doctor_id": s.doctor_id,
            "doctor_name": s.doctor_name, "visit_date": s.dt, "visit_time": s.duration_name,
            "queue_no": order.queue_no, "fee": order.fee}


async def register_pre(request: web.Request, body: dict[str, Any]) -> Reply:
    """Lock a slot: a new order in status 0, one fewer slot left."""
    problems = check_fields(body, LOCK_FIELDS)
    if problems:
        return rejected(problems)
    his = request.app[HIS]
    sched = his.schedules.get(body["scheduling_id"])
    if sched is None:
        return rejected([f"scheduling_id: no schedule {body['scheduling_id']!r}"])
    held = next((o for o in his.orders.values() if o.schedule_id == sched.id
                 and o.patient["id_no"] == body["id_no"] and o.status in (0, 9)), None)
    if held is not None:
        return rejected([f"id_no: this patient already holds order {held.id} on {sched.id}"])
    if sched.appt_count >= sched.appt_max:
        return rejected([f"scheduling_id: schedule {sched.id} is full ({sched.appt_max} taken)"])
    sched.appt_count += 1
    patient = {k: body.get(k) or "" for k in
               ("name", "id_no", "phone_no", "card_no", "card_type", "sex", "age", "address")}
    order = Order(his.new_id(), 0, sched.id, sched.appt_count, sched.total,
                  body.get("transaction_id") or "", patient)
    his.orders[order.id] = order
    return ok_with("info", order_info(order, his), msg="锁号成功")


def _order(his: His, order_id: str) -> Order | None:
    return his.orders.get(order_id)


async def register(request: web.Request, body: dict[str, Any]) -> Reply:
    """Pay a locked order: status 0 -> 9, the amount must be the schedule's fee."""
    problems = check_fields(body, PAY_FIELDS)
    amount = body.get("pay_amount")
    if type(amount) not in (int, float):
        problems.append(f"pay_amount: expected a number, got {type(amount).__name__}")
    if problems:
        return rejected(problems)
    his = request.app[HIS]
    order = _order(his, body["his_order_no"])
    if order is None:
        return rejected([f"his_order_no: no order {body['his_order_no']!r}"])
    if order.status != 0:
        return rejected([f"order {order.id} is {STATUS_TEXT[order.status]} "
                         f"(status {order.status}); only a locked order (0) can be paid"])
    if round(float(amount), 2) != round(order.fee, 2):   # type: ignore[arg-type]
        return rejected([f"pay_amount: {amount} does not match the fee {order.fee}"])
    order.status, order.business_no = 9, body.get("business_no") or ""
    order.pay_way = body.get("pay_way") or ""
    return ok_with("info", order_info(order, his), msg="支付成功")


async def visit_info_detail(request: web.Request, body: dict[str, Any]) -> Reply:
    """One order as seed 003's ``record`` (patient_sex as a word, patient_age as an integer)."""
    problems = check_fields(body, DETAIL_FIELDS)
    if problems:
        return rejected(problems)
    his = request.app[HIS]
    order = _order(his, body["his_order_no"])
    if order is None:
        return rejected([f"his_order_no: no order {body['his_order_no']!r}"])
    p = order.patient
    age = p["age"].rstrip("岁")
    record = {**order_info(order, his), "status_text": STATUS_TEXT[order.status],
              "transaction_id": order.transaction_id, "patient_name": p["name"],
              "patient_sex": p["sex"], "patient_age": int(age) if age.isdigit() else None,
              "card_no": p["card_no"], "phone_no": p["phone_no"], "address": p["address"],
              "id_no": p["id_no"], "business_no": order.business_no}
    return ok_with("record", record)


async def cancel(request: web.Request, body: dict[str, Any]) -> Reply:
    """ALL_CAPS 取消预约: 0 -> -1, 9 -> -2; the slot goes back to the schedule."""
    problems = check_fields(body, CANCEL_FIELDS)
    if problems:
        return caps_failed(problems)
    his = request.app[HIS]
    order = _order(his, body["APPT_ID"])
    if order is None:
        return caps_failed([f"APPT_ID: no appointment {body['APPT_ID']!r}"])
    if order.status < 0:
        return caps_failed([f"appointment {order.id} is already {STATUS_TEXT[order.status]}"])
    order.status = -1 if order.status == 0 else -2
    his.schedules[order.schedule_id].appt_count -= 1
    return caps_ok(APPT_ID=order.id, STATUS=order.status)


async def get_schedule(request: web.Request, body: dict[str, Any]) -> Reply:
    """ALL_CAPS 排班: by DEPT_ID (seed) or SCHEDULE_ID (this sim), optionally one date DT."""
    problems = check_fields(body, SCHEDULE_QUERY_FIELDS)
    if not body.get("DEPT_ID") and not body.get("SCHEDULE_ID"):
        problems.append("DEPT_ID: required (or SCHEDULE_ID)")
    if problems:
        return caps_failed(problems)
    rows = [s for s in request.app[HIS].schedules.values()
            if body.get("SCHEDULE_ID") in (None, "", s.id)
            and body.get("DEPT_ID") in (None, "", s.dept_id)
            and body.get("DT") in (None, "", s.dt)]
    data = [{"SCHEDULE_ID": s.id, "DEPT_ID": s.dept_id, "DEPT_NAME": s.dept_name,
             "DOCTOR_ID": s.doctor_id, "DOCTOR_NAME": s.doctor_name, "TOTAL": s.total,
             "DT": s.dt, "DURATION_NAME": s.duration_name, "TIME_NAME": s.time_name,
             "APPT_MAX": s.appt_max, "APPT_COUNT": s.appt_count,
             "REMAIN_COUNT": s.appt_max - s.appt_count} for s in rows]
    return caps_ok(DATA=data)


async def list_orders(request: web.Request) -> web.Response:
    his = request.app[HIS]
    return json_response({oid: asdict(o) for oid, o in his.orders.items()})


@register_sim("palm_his", default_port=9104)
def create_app() -> web.Application:
    """Palm-hospital HIS (seed 003): /registerPre, /register, /getVisitInfoDetail, /cancel, /get_schedule."""
    app = new_app("palm_his")
    app[HIS] = His()
    add_endpoint(app, "/registerPre", register_pre)
    add_endpoint(app, "/register", register)
    add_endpoint(app, "/getVisitInfoDetail", visit_info_detail)
    add_endpoint(app, "/cancel", cancel)
    add_endpoint(app, "/get_schedule", get_schedule)
    app.router.add_get("/_sim/orders", list_orders)
    return app
