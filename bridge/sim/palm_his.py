"""Simulator of the palm-hospital (掌上医院) HIS of seed 003, checked against its own spec files.

One endpoint per file of ``transforms/specs/palm_his/`` (87), at the file's ``transport.path``
and method, built by a loop over the specs: the checking is the same code for every endpoint
(``bridge.sim._spec.check_request``); only the business answer differs (``HANDLERS``).

What is checked, in this order
------------------------------
1. Transport. JSON endpoints need ``Content-Type: application/json`` (the seed's Headers table
   makes it 必须): otherwise HTTP 415; a body that is not JSON or not an object: HTTP 400. The
   two form endpoints (/getAllDoctorList, /getHospitalList) take
   ``application/x-www-form-urlencoded`` (or no body at all); JSON there is 415. These HTTP
   errors carry the endpoint's failure document too.
2. The request table (``check_request``), every problem at once, by field path, never values:
   required fields present and non-empty (recursively; JSON null counts as absent, a blank
   string as empty); no field the spec lacks; JSON types (string str, integer int not bool,
   number int/float, boolean bool, object dict, list list); enum membership (as strings);
   max_length (none in seed 003); the date/time formats the spec gives (yyyy-mm-dd, YYYYMMDD,
   YYYY-MM-DD HH:mm:ss ...: digits in place and a real date). ``required: conditional`` (none in
   this folder) is type-checked only. A problem answers HTTP 200 in the failure shape.
3. Ids the request names: patient_id / PATIENT_ID, hospital_id, dept_id / DEPT_ID, doctor_id,
   scheduling_id / SCHEDULE_ID / clinic_id (registerGetPrice: 排班id), visit_id (which must also
   belong to the patient named beside it). An unknown one is a business failure ("患者不存在",
   "科室不存在", "排班不存在", "就诊记录不存在" ...), on every endpoint.
4. The endpoint's business rules (its handler): state, amounts, statuses; see the flows.

Reply shapes (read off each spec's ``success`` rule and code field)
------------------------------------------------------------------
- head style, most snake_case endpoints: ``{"head": {"code": 1, "msg": "成功"}, <payload>}``;
  failure ``{"head": {"code": -1, "msg": "..."}}``. head.code is a string ("1" / "-1") where the
  spec types it string (/getHospitalList; /registerGetPrice). /getDoctorAndNurse: success 0,
  failure 1 (its own 成功：0；失败：1). /requestSucess, /template/hisSendMessage: 1 / -1.
- ALL_CAPS (/get_dept /get_doctor /get_dt /get_schedule /get_time /get_patient /new /prepay
  /query /cancel /cpay_new_payment /cpay_update_payment_status): ``{"ResultCode": 0,
  "ResultMsg": "成功", ...}``; failure ``{"ResultCode": -1, "ResultMsg": "..."}``.
- top-level code/msg (/appointment/*, /cpay/newPayment, /payment/get, /refund/callback,
  /date/list, /type/list, /hospital/area/list, /card/update): success per the spec's ``eq``
  (0, "0", or 1 for /card/update); failure the code field's other enum value (/card/update 0,
  /appointment/cancel and /appointment/result/get "1"), else -1, in the field's type.
- /getInHospitalApply and /inHospitalReg have no reply table in the seed: they answer head only.
A success carries EVERY response field of its spec, required and optional, in the spec's
types; dates are rendered in each field's documented format; enum fields carry enum values.
Optional fields that do not apply carry an empty string (an outpatient's admission_time,
bed_no; a normal result's item_tip, which the seed says is 正常返回空).

Demo data (``bridge.sim._palm_data``; ``GET /_sim/data`` lists it live)
-----------------------------------------------------------------------
- 院区 01 总院, 02 东院. 科室 000001 内科, 000002 外科 (总院), 000003 儿科 (东院).
- 医生 D001 王建国 (内科, 专家号 C02 30.00), D002 李芳 (内科, 普通号 C01 10.00), D003 陈刚
  (外科, C02), D004 赵敏 (儿科, C01); nurses N001, N002.
- 排班: every doctor, today .. today+7, 上午 (DURATION_ID 1) and 下午 (2), computed at
  request time: SCHEDULE_ID ``<doctor>-<yyyymmdd>-<duration>`` (D001-20250101-1); four 30-minute
  slots each (08:00-08:30 .. 09:30-10:00, 14:00-14:30 .. 15:30-16:00), TIME_ID
  ``<SCHEDULE_ID>-<n>``, capacity 3, 3, 3, 1 (APPT_MAX 10); slot 1 holds one earlier booking.
- 患者 P0001 张三 (card C0001, balance 200), P0002 李四 (card C0002, in hospital: 住院号
  Z0002, 外科 bed 12, admitted 5 days ago), P0003 王小明 (card C0003 挂失, cannot recharge);
  18-digit 身份证号 with valid check digits (see /_sim/data).
- Visits V0001 (P0001, D001, yesterday) and V0002 (P0002); fee groups O0001 (unpaid 25.00),
  O0002, O0003; prescription RX0001; reports LIS0001 (bacteria detail LIS0001-2), PACS0001;
  体检 PE0001 / TJ0001 with items PI-G01, PI-L01, PI-P01; 手术室 OR01-OR03.
- Seeded flow records (``seeded_state``; ``GET /_sim/orders``): appointments A00000001 (STATUS
  0) and A00000002 (STATUS 9), payment orders PO000004 (充值), PO000005 (缴费 O0001), PO000006
  (finished), bill SB000007, NAT appointments NAT000009 / NAT000012 / NAT000015, refund order
  RF-SEED-1, 住院预约 IP000016. ``DELETE /_sim/orders`` restores this state.

Flows
-----
- ALL_CAPS 预约挂号: /get_dept -> /get_doctor (DEPT_ID) -> /get_dt -> /get_schedule (DEPT_ID,
  DT, DOCTOR_ID, DURATION_ID) -> /get_time (SCHEDULE_ID) -> /new (SCHEDULE_ID + TIME_ID;
  PATIENT_ID, or NAME + ID_NO + PHONE_NO without card) creates APPT_ID = HIS_ORDER_NO,
  STATUS 0 未确认, consuming the slot (a full slot, an unknown TIME_ID, a second active
  appointment of the patient on the schedule are refused); NEED_PREPAY "1", PREPAY_MINUTES "30".
  Optionally /cpay_new_payment (TOTAL = the 挂号费) and /cpay_update_payment_status (STATUS 5).
  /prepay (BALANCE_PAY 1: from the card balance; 0: PAY_WAY_ID 必传) -> STATUS 9 已确认,
  CERTIFICATE_CODE (6 digits); only STATUS 0 and before PREPAY_TIME_LIMIT. /query lists with
  every DATA field. /cancel: 0 -> -1 已取消, 9 -> -2 已退号 (a balance payment is refunded);
  anything else refused. /offerNumber (appointment_id = APPT_ID) takes a number: 9 -> 1 已取号.
- snake_case 挂号: /getDepts, /getSchedules (dept_id: today's schedules) -> /registerGetPrice
  -> /registerPre (pay_amount must be the 挂号费; dept/doctor must be the schedule's; holds a
  pre-registration, no slot) -> /register (needs that /registerPre; takes the first free slot,
  creates visit ``V...`` returned as info.id) -> /getVisitInfo, /getVisitInfoDetail
  (patient_id + visit_id), /getVisitInfoNew*, /getRegisterList (dates, flag 0 待缴 / 1 已缴).
- payments: /paymentNew (purpose 1 充值 / 2 缴费) -> /recharge (balance up) or /cpayCheck +
  /recipeCharge (fee groups paid); /paymentUpdateStatus; /requestSucess (1 once the order's HIS
  business is done); /specialType/newBill -> /case/cancel (refund of that bill).
- 核酸检测: /hospital/area/list, /date/list, /type/list -> /appointment/pre (opens a visit for the
  person) -> /cpay/newPayment -> /appointment/confirm -> /payment/get; /appointment/cancel (a paid
  one needs its receipt_id; his_order_no names the refund order) -> /refund/callback.
- 住院: /ipAppointmentConfirm -> /ipAppointmentQuery -> /ipAppointmentCancel.

Readings chosen where the seed is ambiguous
-------------------------------------------
- Shifted 备注 columns: a value follows its field NAME, except where the spec's TYPE agrees with
  the 备注 and not with the name: /get_time REGISTER_TYPE_NAME / PATIENT_TYPE_ID /
  PATIENT_TYPE_NAME are integers = 可约数 / 已约数 / 剩余数 of the slot; CLINIC_NAME, DEPT_ID
  (strings) are the 号类名称 and 科室id. /getVisitInfo order_no (序号), limit (限制数量),
  dept_id/dept_name (the department); /get_schedule REGISTER_TYPE_NAME (门诊类型); /getPeisReport
  peis_no (integer, 体检项目状态); /getPacsReport dept_name, status by name.
- snake_case register_type_id / _name are the 号类 (C01 普通号 / C02 专家号), as their 备注 say;
  ALL_CAPS REGISTER_TYPE_* are the 门诊类型 (1 普通门诊 / 2 专家门诊), CLINIC_* the 号类.
- /get_schedule: DOCTOR_ID absent or ``all`` = every doctor, an id = that doctor, an empty
  string = schedules without a doctor (none in the demo data); DT / DURATION_ID filter when given.
- /getSchedules: 当日当前时段 read as today's schedules, both 午别.
- /new without PATIENT_ID: NAME, ID_NO, PHONE_NO all required (无卡非空); a known 身份证号 links
  that patient (another NAME on it is refused), an unknown one registers a patient without a
  card. SEX is not compared with the patient's.
- /query: APPT_ID alone decides; otherwise every given condition must match (START_TIME /
  END_TIME bound DT, YYYY-MM-DD); no condition lists every appointment. An unknown PATIENT_ID is
  refused like everywhere (step 3).
- /cpay_new_payment's HIS_ORDER_NO is the APPT_ID (/new's 备注 HIS_ORDER_NO 于预约记录id).
- /prepay refuses after PREPAY_TIME_LIMIT (30 minutes); an expired appointment keeps its slot.
- /get_patient (QUERY_TYPE PATIENT_ID) and /getPatient: an unknown patient is a failure, not an
  empty list. /getPatient: patient_id decides; else every given condition (card_no matches the
  card or the 住院号) must match and one must be given; op_flag 2 needs a patient in hospital.
  /getPatientList leaves unknown ids out (and accepts the seed's nameless bare array).
- A search with a list reply that finds nothing is an empty list (/query, /ipAppointmentQuery,
  /appointmentNAT/getNATResultList, /appointment/result/get with an unknown appt_id).
- /getChargeDetail, /getRecipe: charge_date/charge_time are 必须; an unpaid item carries its
  bill date/time there. /recipeCharge balance_pay 0 = 卡余额支付, 1 = 支付平台 (as the seed says).
- /getPeisReport records and /appointment/language/get data are single objects in the seed:
  the first 体检 item, the default language 中文.
- /getPacsReport keeps the seed's category enum ``lis``; report_id names the pacs report.
- /getElectronicPrescriptionDetail_1609234017475: page_rows / current_page are numeric strings,
  current_page 1-based (0 = first page).
- /getInHospitalApply: param must name a patient by param_type (2 card, 3 id, 4 身份证号);
  /inHospitalReg accepts any valid request (its id is never returned by the seed's tables).
- /appointment/cancel: his_order_no is the HIS refund order (his内退款订单号) that
  /refund/callback reports on.
- Amounts are compared to the cent wherever a request restates a known price or order total.

Test routes: ``/_sim/health``, ``/_sim/requests`` (form bodies under ``form``), ``/_sim/fail``
(its failure answers in the endpoint's shape), ``GET /_sim/data``, ``GET /_sim/orders``,
``DELETE /_sim/orders`` (reset to the seeded state).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import orjson
from aiohttp import web

from bridge.sim import register_sim
from bridge.sim import _palm_data as D
from bridge.sim._spec import Endpoint, Field, check_request, load_specs, render_format
from bridge.sim.base import SIM_STATE, json_response, new_app

SYSTEM = "palm_his"
SPECS: dict[str, Endpoint] = load_specs(SYSTEM)

#: The reply of an endpoint whose spec gives none (/getInHospitalApply, /inHospitalReg): the
#: head of the snake_case endpoints around them.
DEFAULT_HEAD = (Field("head", "object", True, fields=(
    Field("code", "integer", True), Field("msg", "string", True))),)

OK_MSG = "成功"
#: DOCTOR_PHOTO / dept_user_photo (照片或头像 Base64): a 1x1 PNG.
PHOTO = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5Er"
         "kJggg==")
Record = dict[str, Any]


class Refused(Exception):
    """A business failure: the endpoint answers its failure shape with this message."""


# --- reply conventions ---------------------------------------------------------------------

def _find(fields: tuple[Field, ...], path: tuple[str, ...]) -> Field | None:
    for f in fields:
        if f.name == path[0]:
            return f if len(path) == 1 else _find(f.fields, path[1:])
    return None


def _typed(ftype: str, value: Any) -> Any:
    """A code value in its field's JSON type (string codes stay strings)."""
    if ftype == "string":
        return str(value)
    return int(value)


@dataclass(frozen=True)
class Convention:
    """Where an endpoint puts its result code and message, and the codes it uses."""

    code_path: tuple[str, ...]     # ("head", "code") | ("ResultCode",) | ("code",)
    msg_path: tuple[str, ...]      # ("head", "msg") | ("ResultMsg",) | ("msg",)
    ok_code: Any
    fail_code: Any

    def doc(self, code: Any, msg: str) -> Record:
        out: Record = {}
        for path, value in ((self.code_path, code), (self.msg_path, msg)):
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return out

    def failure(self, msg: str) -> Record:
        return self.doc(self.fail_code, msg)


def response_fields(ep: Endpoint) -> tuple[Field, ...]:
    return ep.response or DEFAULT_HEAD


def convention(ep: Endpoint) -> Convention:
    """Read the reply convention off the spec: its ``success`` rule and the code field.

    The success code is the rule's ``eq`` (or 1 for ``gt: 0``); the failure code is the code
    field's other enum value where it lists one (card_update 0, appointment_cancel "1",
    getDoctorAndNurse 1), else -1. Both take the code field's type (string codes stay strings).
    """
    rule = ep.success or {"path": "head.code", "gt": 0}
    code_path = tuple(str(rule["path"]).split("."))
    fields = response_fields(ep)
    code_field = _find(fields, code_path)
    ftype = code_field.type if code_field else "integer"
    parent = _find(fields, code_path[:-1]) if len(code_path) > 1 else None
    siblings = fields if len(code_path) == 1 else (parent or DEFAULT_HEAD[0]).fields
    msg_name = next((f.name for f in siblings if f.name != code_path[-1] and f.type == "string"),
                    "msg")
    ok = rule["eq"] if "eq" in rule else 1
    others = [k for k in (code_field.enum or {}) if k != str(ok)] if code_field else []
    fail = others[0] if others else -1
    return Convention(code_path, code_path[:-1] + (msg_name,), _typed(ftype, ok),
                      _typed(ftype, fail))


# --- the reply filler ----------------------------------------------------------------------

_MISSING = object()


def _lookup(name: str, source: Mapping[str, Any]) -> Any:
    if name in source:
        return source[name]
    return source.get(name.lower(), _MISSING)


def _placeholder(f: Field) -> str:
    words = re.split(r"[\s,，;；:：(（]+", f.description.strip())
    return words[0] if words and words[0] else f.name


def default_value(f: Field, now: dt.datetime) -> Any:
    """A value of the field's type when nothing better is known."""
    if f.enum:
        return next(iter(f.enum))
    if f.format:
        return render_format(f.format, now)
    return {"string": _placeholder(f), "integer": 1, "number": 10.0,
            "boolean": False}.get(f.type, _placeholder(f))


def coerce(f: Field, value: Any, now: dt.datetime) -> Any:
    """``value`` in the field's JSON type; dates rendered in the field's format."""
    if value is None or value is _MISSING:
        value = default_value(f, now)
    if isinstance(value, (dt.date, dt.datetime)):
        if f.format:
            return render_format(f.format, value)
        return value.strftime("%Y-%m-%d %H:%M:%S" if isinstance(value, dt.datetime)
                              else "%Y-%m-%d")
    ftype = f.type
    if ftype == "string":
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)
    if ftype == "integer":
        if isinstance(value, (int, float)):
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            return int(value)
        return coerce(f, default_value(f, now), now)
    if ftype == "number":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value)
        return coerce(f, default_value(f, now), now)
    if ftype == "boolean":
        return bool(value)
    return value


def fill(fields: tuple[Field, ...], source: Mapping[str, Any], ctx: Mapping[str, Any],
         now: dt.datetime) -> Record:
    """Every field of ``fields``, from ``source`` (by name, then lower-case name), then from
    the call's vocabulary ``ctx`` (scalars only), then a default of the right type.

    Keys of ``source`` the spec does not name are dropped, so a reply never carries a field
    its spec lacks. A list without a source value gets one item built from ``ctx`` (a list of
    scalars, such as /fulltime/getApptTimeRangeList's data, gets none).
    """
    out: Record = {}
    for f in fields:
        value = _lookup(f.name, source)
        if f.type == "object":
            out[f.name] = fill(f.fields, value if isinstance(value, Mapping) else {}, ctx, now)
        elif f.type == "list":
            items = value if isinstance(value, list) else ([{}] if f.fields else [])
            out[f.name] = [fill(f.fields, item, ctx, now) if f.fields and isinstance(item, Mapping)
                           else item for item in items]
        else:
            if value is _MISSING:
                value = _lookup(f.name, ctx)
            out[f.name] = coerce(f, value, now)
    return out


# --- state ---------------------------------------------------------------------------------

#: ALL_CAPS appointment STATUS values (query.yaml) and their texts.
STATUS_TEXT = {0: "未确认", 9: "已确认", 1: "已取号", 3: "已报到", 5: "已就诊", -1: "已取消",
               -2: "已退号", -3: "已违约"}
ACTIVE = {0, 9, 1, 3, 5}            # statuses that hold a slot
PREPAY_MINUTES = 30                 # /new: NEED_PREPAY 1, pay within 30 minutes


@dataclass
class PalmState:
    """What the simulated HIS remembers between calls (fresh per app)."""

    patients: dict[str, Record]
    visits: dict[str, Record]
    appointments: dict[str, Record] = field(default_factory=dict)      # /new .. /cancel
    registrations: dict[str, Record] = field(default_factory=dict)     # /registerPre locks
    orders: dict[str, Record] = field(default_factory=dict)            # payment orders, bills
    nat_appointments: dict[str, Record] = field(default_factory=dict)  # /appointment/*
    ip_appointments: dict[str, Record] = field(default_factory=dict)   # /ipAppointment*
    messages: list[Record] = field(default_factory=list)               # /template/hisSendMessage
    paid_fees: set[str] = field(default_factory=set)                   # fees paid: /recipeCharge
    seq: Any = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str, width: int = 6) -> str:
        return f"{prefix}{next(self.seq):0{width}d}"


PALM = web.AppKey("palm_state", PalmState)


def fresh_state(today: dt.date) -> PalmState:
    patients = {p["patient_id"]: copy.deepcopy(p) for p in D.PATIENTS}
    visits = {}
    for v in D.VISITS:
        visits[v["visit_id"]] = _visit_record(copy.deepcopy(v), today)
    return PalmState(patients=patients, visits=visits)


def _visit_record(v: Record, today: dt.date) -> Record:
    """A visit with its date/time, doctor, department and clinic fields resolved.

    ``v`` gives ``days_ago`` (demo data) or ``day`` (a registration made at run time).
    """
    doc = D.doctor(v["doctor_id"]) or D.DOCTORS[0]
    day = v.pop("day", None) or today - dt.timedelta(days=v.pop("days_ago", 0))
    hh, mm, ss = (int(x) for x in v.get("time", "09:00:00").split(":"))
    return {**D.doctor_record(doc), **v,
            "visit_date": dt.datetime.combine(day, dt.time(hh, mm, ss)),
            "visit_no": v.get("visit_no") or f"MZ{v['visit_id']}",
            "duration_name": D.DURATIONS[v["duration_id"]]["duration_name"]}


# --- views: entities as reply sources ------------------------------------------------------

def patient_view(p: Record, today: dt.date, op_flag: Any = 1) -> Record:
    """A patient under every name the seed's patient tables use."""
    ip = p.get("inpatient")
    age = D.age_on(p["birthday"], today)
    view = {**p, "id": p["patient_id"], "name": p["patient_name"], "sex": p["patient_sex"],
            "age": age, "patient_age": age, "op_flag": op_flag,
            "available_balance": round(p["balance"] - p["balance_min"], 2),
            "visit_no": "", "admission_time": "", "leave_hospital_time": "", "dept_id": "",
            "dept_name": "", "bed_no": "", "hospital_days": 0, "total": 0.0}
    if ip:
        dept = D.department(ip["dept_id"]) or {}
        view.update(visit_no=ip["visit_no"], dept_id=ip["dept_id"],
                    dept_name=dept.get("dept_name", ""), bed_no=ip["bed_no"],
                    admission_time=today - dt.timedelta(days=ip["days_in"]),
                    hospital_days=ip["days_in"], total=round(800.0 * ip["days_in"], 2))
    return view


def patient_vocab(p: Record, today: dt.date) -> Record:
    """The unambiguous names of a patient, for the filler's vocabulary."""
    age = D.age_on(p["birthday"], today)
    return {"patient_id": p["patient_id"], "patient_name": p["patient_name"],
            "patient_sex": p["patient_sex"], "patient_age": age, "id_no": p["id_no"],
            "phone_no": p["phone_no"], "card_no": p["card_no"], "birthday": p["birthday"],
            "health_card_id": p["health_card_id"], "patient_type_id": p["patient_type_id"],
            "patient_type_name": p["patient_type_name"], "balance": p["balance"]}


def visit_vocab(v: Record) -> Record:
    return {k: v[k] for k in ("visit_id", "visit_no", "doctor_id", "doctor_name", "dept_id",
                              "dept_name", "hospital_id", "hospital_name", "register_type_id",
                              "register_type_name", "visit_date", "queue_no") if k in v}


# --- the endpoint machinery ----------------------------------------------------------------

@dataclass
class Call:
    """One business request, as a handler sees it."""

    ep: Endpoint
    body: Record
    state: PalmState
    now: dt.datetime
    ctx: Record = field(default_factory=dict)      # vocabulary for the filler

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def given(self, name: str) -> Any:
        """A request value, None when absent or blank."""
        value = self.body.get(name)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value


Handler = Callable[[Call], Record]
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for name in names:
            if name not in SPECS:
                raise RuntimeError(f"no spec {name!r} in {SYSTEM}")
            HANDLERS[name] = fn
        return fn
    return deco


def _ref_patient(call: Call, pid: str) -> None:
    p = call.state.patients.get(pid)
    if p is None:
        raise Refused("患者不存在")
    call.ctx.update(patient_vocab(p, call.today))
    call.ctx["_patient"] = p


def _ref_hospital(call: Call, hid: str) -> None:
    h = D.hospital(hid)
    if h is None:
        raise Refused("院区不存在")
    call.ctx.update(h)


def _ref_dept(call: Call, dept_id: str) -> None:
    d = D.department(dept_id)
    if d is None:
        raise Refused("科室不存在")
    call.ctx.update({k: v for k, v in D.dept_record(d).items() if k != "order_no"})
    call.ctx["_dept"] = d


def _ref_doctor(call: Call, doctor_id: str) -> None:
    d = D.doctor(doctor_id)
    if d is None:
        raise Refused("医生不存在")
    call.ctx.update({k: v for k, v in D.doctor_record(d).items() if k.startswith("doctor_")})
    call.ctx["_doctor"] = d


def _ref_schedule(call: Call, sid: str) -> None:
    s = D.schedule(sid, call.today)
    if s is None:
        raise Refused("排班不存在")
    call.ctx["_schedule"] = s


def _ref_visit(call: Call, visit_id: str) -> None:
    v = call.state.visits.get(visit_id)
    if v is None or ("_patient" in call.ctx
                     and v["patient_id"] != call.ctx["_patient"]["patient_id"]):
        raise Refused("就诊记录不存在")
    call.ctx.update(visit_vocab(v))
    call.ctx["_visit"] = v


#: Request fields that name an entity: an unknown id is a business failure on every endpoint
#: (checked in this order, so a visit is checked against the patient named beside it).
REFERENCES: list[tuple[str, Callable[[Call, str], None]]] = [
    ("patient_id", _ref_patient), ("PATIENT_ID", _ref_patient),
    ("hospital_id", _ref_hospital),
    ("dept_id", _ref_dept), ("DEPT_ID", _ref_dept),
    ("doctor_id", _ref_doctor),
    ("scheduling_id", _ref_schedule), ("SCHEDULE_ID", _ref_schedule), ("clinic_id", _ref_schedule),
    ("visit_id", _ref_visit),
]


def _parse(ep: Endpoint, request: web.Request, raw: bytes) -> tuple[Any, str | None, int]:
    """(body, problem, status): the decoded body, or why it cannot be read and the HTTP status."""
    ctype = request.content_type
    if ep.format == "form":
        if raw.strip() and ctype not in ("application/x-www-form-urlencoded",
                                         "multipart/form-data"):
            return None, ("Content-Type must be application/x-www-form-urlencoded, got "
                          f"{ctype or 'none'}"), 415
        try:
            text = raw.decode(request.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            return None, "body is not valid text", 400
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True)), None, 200
    if ctype != "application/json":
        return None, f"Content-Type must be application/json, got {ctype or 'none'}", 415
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "body must be a JSON object: invalid JSON", 400
    # A bare array is accepted where the spec's only request field is a list (getPatientList:
    # the seed's row for it has no name, see its notes).
    if isinstance(body, list) and len(ep.request) == 1 and ep.request[0].type == "list":
        body = {ep.request[0].name: body}
    if not isinstance(body, dict):
        return None, "body must be a JSON object: not an object", 400
    return body, None, 200


def _put(doc: Record, path: tuple[str, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def make_endpoint(ep: Endpoint) -> Callable[[web.Request], Any]:
    conv = convention(ep)
    fields = response_fields(ep)
    handler = HANDLERS.get(ep.name, lambda call: {})

    async def endpoint(request: web.Request) -> web.StreamResponse:
        sim = request.app[SIM_STATE]
        raw = await request.read()
        body, problem, status = _parse(ep, request, raw)
        sim.requests.append({"method": request.method, "path": request.path,
                             "headers": {str(k): v for k, v in request.headers.items()},
                             "json": body if ep.format != "form" else None,
                             **({"form": body} if ep.format == "form" else {})})
        failure = sim.failure
        if failure.times > 0:
            failure.times -= 1
            if failure.delay_ms:
                await asyncio.sleep(failure.delay_ms / 1000)
            if failure.status is not None:
                return json_response(conv.failure(f"simulated failure {failure.status}"),
                                     status=failure.status)
        if problem is not None:
            return json_response(conv.failure(problem), status=status)
        problems = check_request(ep, body, form=ep.format == "form")
        if problems:
            return json_response(conv.failure("; ".join(problems)))
        call = Call(ep, body, request.app[PALM], dt.datetime.now().replace(microsecond=0))
        try:
            for name, ref in REFERENCES:
                value = call.given(name)
                if isinstance(value, str) and any(f.name == name for f in ep.request):
                    ref(call, value)
            payload = handler(call)
        except Refused as exc:
            return json_response(conv.failure(str(exc)))
        doc = fill(fields, payload, call.ctx, call.now)
        _put(doc, conv.code_path, conv.ok_code)
        _put(doc, conv.msg_path, payload.get("_msg", OK_MSG))
        return json_response(doc)

    return endpoint


# --- schedules with live counts ------------------------------------------------------------

def slot_booked(state: PalmState, slot: Record) -> int:
    """Bookings of one time slot: demo pre-bookings, live appointments, registrations."""
    tid = slot["time_id"]
    return (slot["prebooked"]
            + sum(1 for a in state.appointments.values()
                  if a["time_id"] == tid and a["status"] in ACTIVE)
            + sum(1 for v in state.visits.values() if v.get("time_id") == tid))


def live(state: PalmState, s: Record) -> Record:
    """A schedule with APPT_COUNT / REMAIN_COUNT and per-slot counts as of now."""
    slots = []
    for sl in s["slots"]:
        booked = slot_booked(state, sl)
        slots.append({**sl, "booked": booked, "remain": max(sl["capacity"] - booked, 0)})
    count = sum(sl["booked"] for sl in slots)
    return {**s, "slots": slots, "appt_count": count, "remain_count": max(s["appt_max"] - count, 0),
            "register_count": count, "limit": s["appt_max"], "price": s["total"]}


def live_schedules(state: PalmState, today: dt.date) -> list[Record]:
    return [live(state, s) for s in D.schedules(today)]


def find_slot(state: PalmState, s: Record, time_id: str) -> Record | None:
    return next((sl for sl in live(state, s)["slots"] if sl["time_id"] == time_id), None)


def schedule_snapshot(s: Record) -> Record:
    return {k: v for k, v in s.items() if k not in ("slots",)}


# --- ALL_CAPS 预约挂号: departments, doctors, dates, schedules, slots, patients --------------

def dept_caps(d: Record) -> Record:
    return {**D.dept_record(d), "id": d["dept_id"], "name": d["dept_name"],
            "short_name": d["dept_short_name"], "spell_code": d["dept_spell_code"],
            "stroke_code": d["dept_stroke_code"], "address": d["dept_address"],
            "phone_no": d["dept_phone_no"], "remark": d["dept_remark"],
            "register_dept_category_id": d["dept_category_id"],
            "register_dept_category_name": d["dept_category_name"]}


@handles("get_dept")
def get_dept(call: Call) -> Record:
    return {"DATA": [dept_caps(d) for d in D.DEPARTMENTS]}


def doctor_full(doc: Record) -> Record:
    return {**D.doctor_record(doc), "doctor_photo": PHOTO}


@handles("get_doctor")
def get_doctor(call: Call) -> Record:
    dept_id = call.body["DEPT_ID"]
    return {"DATA": [doctor_full(d) for d in D.DOCTORS if d["dept_id"] == dept_id]}


@handles("get_dt")
def get_dt(call: Call) -> Record:
    dept_id = call.body["DEPT_ID"]
    days = sorted({s["dt"] for s in live_schedules(call.state, call.today)
                   if s["dept_id"] == dept_id})
    return {"DATA": [{"dt": d, "week_day": D.WEEKDAYS[d.weekday()]} for d in days]}


@handles("get_schedule")
def get_schedule(call: Call) -> Record:
    """DT / DOCTOR_ID / DURATION_ID filter the department's schedules.

    DOCTOR_ID absent or ``all``: every doctor; an id: that doctor; an empty string: the
    schedules without a doctor (the seed's 传空值返回不指定医生的号类排班) - the demo data has
    none, so the list is empty.
    """
    rows = [s for s in live_schedules(call.state, call.today)
            if s["dept_id"] == call.body["DEPT_ID"]]
    if call.given("DT"):
        rows = [s for s in rows if s["dt"].isoformat() == call.body["DT"]]
    if "DOCTOR_ID" in call.body and call.body["DOCTOR_ID"] is not None:
        wanted = str(call.body["DOCTOR_ID"]).strip()
        if wanted != "all":
            rows = [s for s in rows if s["doctor_id"] == wanted]
    if call.given("DURATION_ID"):
        rows = [s for s in rows if s["duration_id"] == call.body["DURATION_ID"]]
    return {"DATA": [{**s, "doctor_photo": PHOTO} for s in rows]}


@handles("get_time")
def get_time(call: Call) -> Record:
    """The slots of a schedule. The seed's DATA rows carry counts under other names
    (REGISTER_TYPE_NAME integer 可约数, PATIENT_TYPE_ID integer 已约数, PATIENT_TYPE_NAME
    integer 剩余数): the integer type agrees with the 备注, so those carry the counts.
    CLINIC_NAME and DEPT_ID are strings whose 备注 (日期, 午别id) disagree with their names:
    they carry what the name says (号类名称, 科室id)."""
    s = live(call.state, call.ctx["_schedule"])
    return {"DATA": [{"clinic_id": s["clinic_id"], "clinic_name": s["clinic_name"],
                      "dept_id": s["dept_id"], "time_id": sl["time_id"],
                      "time_name": sl["time_name"], "register_type_name": sl["capacity"],
                      "patient_type_id": sl["booked"], "patient_type_name": sl["remain"]}
                     for sl in s["slots"]]}


@handles("get_patient")
def get_patient(call: Call) -> Record:
    p = call.state.patients.get(call.body["FIELD1"])
    if p is None:
        raise Refused("病人不存在")
    return {"DATA": [patient_view(p, call.today)]}


# --- ALL_CAPS 预约挂号: /new, /prepay, /query, /cancel, /cpay_* -----------------------------

def register_patient(state: PalmState, name: str, sex: str, id_no: str, phone_no: str,
                     now: dt.datetime, card: bool = False, **extra: Any) -> Record:
    """A patient the HIS creates itself (建档): no card unless ``card`` (/createCard)."""
    pid = state.next_id("P", 6)
    birthday = _birthday_from_id(id_no) or extra.pop("birthday", None) or dt.date(1990, 1, 1)
    p = {**copy.deepcopy(D.PATIENTS[0]), "patient_id": pid, "patient_name": name,
         "patient_sex": sex if sex in ("男", "女") else "未知", "birthday": birthday,
         "id_no": id_no, "phone_no": phone_no, "card_no": f"C{pid[1:]}" if card else "",
         "health_card_id": "", "balance": 0.0, "balance_min": 0.0, "status": 1,
         "status_name": "正常", "recharge_flag": 1, "no_recharge_reason": "",
         "patient_type_id": "01", "patient_type_name": "自费", "si_category": "0",
         "create_time": now, "inpatient": None, **extra}
    state.patients[pid] = p
    return p


def _birthday_from_id(id_no: str) -> dt.date | None:
    if re.fullmatch(r"\d{17}[\dXx]", id_no or ""):
        try:
            return dt.datetime.strptime(id_no[6:14], "%Y%m%d").date()
        except ValueError:
            return None
    return None


def patient_by_identity(state: PalmState, name: str, id_no: str) -> Record | None:
    """The patient with this 身份证号; a different name on it is refused."""
    p = next((p for p in state.patients.values() if p["id_no"] == id_no), None)
    if p is not None and p["patient_name"] != name:
        raise Refused("身份证号与姓名不符")
    return p


def book(state: PalmState, now: dt.datetime, s: Record, slot: Record, p: Record,
         body: Mapping[str, Any]) -> Record:
    """Create an ALL_CAPS appointment (STATUS 0 未确认) on ``slot``."""
    if slot["remain"] <= 0:
        raise Refused("该时段号源已满")
    if any(a["schedule_id"] == s["schedule_id"] and a["patient_id"] == p["patient_id"]
           and a["status"] in ACTIVE for a in state.appointments.values()):
        raise Refused("该病人在此排班已有预约，不能重复预约")
    appt_id = state.next_id("A", 8)
    queue_no = live(state, s)["appt_count"] + 1
    appt = {"appt_id": appt_id, "his_order_no": appt_id, "account_id": body.get("ACCOUNT_ID", ""),
            "patient_id": p["patient_id"], "schedule_id": s["schedule_id"],
            "time_id": slot["time_id"], "time_name": slot["time_name"], "status": 0,
            "balance_pay": 0, "create_time": now,
            "prepay_time_limit": now + dt.timedelta(minutes=PREPAY_MINUTES),
            "data_source": body.get("DATA_SOURCE", "w1"), "user_id": body.get("USER_ID", ""),
            "user_dept_id": body.get("USER_DEPT_ID", ""), "remark": body.get("REMARK", ""),
            "queue_no": str(queue_no), "certificate_code": "", "business_no": "",
            "business_info": "", "pay_way_id": "", "visit_id": "",
            "schedule": schedule_snapshot(s)}
    state.appointments[appt_id] = appt
    return appt


@handles("new")
def new(call: Call) -> Record:
    """预约. A patient with a card is named by PATIENT_ID; one without by NAME + ID_NO +
    PHONE_NO (无卡非空): a known 身份证号 links to that patient, an unknown one is registered
    as a new patient without a card (建档)."""
    s = call.ctx["_schedule"]
    slot = find_slot(call.state, s, call.body["TIME_ID"])
    if slot is None:
        raise Refused("时段不存在")
    p = call.ctx.get("_patient")
    if p is None:
        missing = [n for n in ("NAME", "ID_NO", "PHONE_NO") if not call.given(n)]
        if missing:
            raise Refused(f"无卡预约须提供 {', '.join(missing)} (PATIENT_ID 为空)")
        p = patient_by_identity(call.state, call.body["NAME"], call.body["ID_NO"]) \
            or register_patient(call.state, call.body["NAME"], call.body["SEX"],
                                call.body["ID_NO"], call.body["PHONE_NO"], call.now)
    appt = book(call.state, call.now, s, slot, p, call.body)
    return {"APPT_ID": appt["appt_id"], "HIS_ORDER_NO": appt["his_order_no"],
            "NEED_PREPAY": "1", "PREPAY_MINUTES": str(PREPAY_MINUTES),
            "PREPAY_TIME_LIMIT": appt["prepay_time_limit"], "_msg": "预约成功"}


def _appointment(call: Call, appt_id: str) -> Record:
    appt = call.state.appointments.get(appt_id)
    if appt is None:
        raise Refused("预约记录不存在")
    return appt


def _same_amount(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) < 0.005


def confirm(state: PalmState, appt: Record, body: Mapping[str, Any], now: dt.datetime) -> None:
    """Pay an appointment: STATUS 0 -> 9, a CERTIFICATE_CODE (取号码) is issued."""
    if appt["status"] != 0:
        raise Refused(f"预约状态为{STATUS_TEXT[appt['status']]}，不能付费")
    if now > appt["prepay_time_limit"]:
        raise Refused("已超过预付截止时间")
    balance_pay = int(body.get("BALANCE_PAY", 0))
    if balance_pay == 0 and not body.get("PAY_WAY_ID"):
        raise Refused("BALANCE_PAY=0时 PAY_WAY_ID 必传")
    if body.get("HIS_ORDER_NO") and body["HIS_ORDER_NO"] != appt["his_order_no"]:
        raise Refused("HIS_ORDER_NO 与预约记录不符")
    total = appt["schedule"]["total"]
    if balance_pay == 1:
        p = state.patients[appt["patient_id"]]
        if not p["card_no"]:
            raise Refused("无卡病人不能使用余额支付")
        if p["balance"] - p["balance_min"] < total:
            raise Refused("诊疗卡余额不足")
        p["balance"] = round(p["balance"] - total, 2)
    appt.update(status=9, balance_pay=balance_pay, pay_way_id=body.get("PAY_WAY_ID") or "",
                business_no=body.get("BUSINESS_NO") or "",
                business_info=body.get("BUSINESS_INFO") or "",
                certificate_code=f"{int(appt['appt_id'][1:]) % 1_000_000:06d}", paid_time=now)


@handles("prepay")
def prepay(call: Call) -> Record:
    appt = _appointment(call, call.body["APPT_ID"])
    confirm(call.state, appt, call.body, call.now)
    return {"CERTIFICATE_CODE": appt["certificate_code"], "_msg": "付费成功"}


def appointment_row(state: PalmState, appt: Record) -> Record:
    p = state.patients.get(appt["patient_id"], {})
    s = appt["schedule"]
    status = appt["status"]
    paid = appt.get("paid_time") is not None
    return {**s, **D.OPERATOR, **{k: v for k, v in p.items() if k in ("card_no", "id_no",
                                                                        "phone_no")},
            "name": p.get("patient_name", ""), **appt, "status_text": STATUS_TEXT[status],
            "allow_prepay": int(status == 0), "allow_cancel": int(status in (0, 9)),
            "platform_cancel_pay": int(paid and appt["balance_pay"] == 0),
            "dt": s["dt"]}


def _day(value: str, field_name: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y%m%d"):
        try:
            return dt.datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            pass
    raise Refused(f"{field_name} 不是日期 (YYYY-MM-DD)")


@handles("query")
def query(call: Call) -> Record:
    """APPT_ID, when given, is the only condition; else every given condition must match
    (START_TIME / END_TIME bound the appointment date DT). No condition lists all."""
    appts = list(call.state.appointments.values())
    if call.given("APPT_ID"):
        appts = [a for a in appts if a["appt_id"] == call.body["APPT_ID"]]
    else:
        for key in ("ACCOUNT_ID", "VISIT_ID", "PATIENT_ID"):
            if call.given(key):
                appts = [a for a in appts if a[key.lower()] == call.body[key]]
        for key, pkey in (("NAME", "patient_name"), ("PHONE_NO", "phone_no"), ("ID_NO", "id_no")):
            if call.given(key):
                appts = [a for a in appts
                         if call.state.patients[a["patient_id"]][pkey] == call.body[key]]
        if call.given("START_TIME"):
            start = _day(call.body["START_TIME"], "START_TIME")
            appts = [a for a in appts if a["schedule"]["dt"] >= start]
        if call.given("END_TIME"):
            end = _day(call.body["END_TIME"], "END_TIME")
            appts = [a for a in appts if a["schedule"]["dt"] <= end]
    return {"DATA": [appointment_row(call.state, a) for a in appts]}


@handles("cancel")
def cancel(call: Call) -> Record:
    """未确认 (0) -> -1 已取消; 已确认 (9) -> -2 已退号 (a balance payment goes back to the
    card). Anything else (already cancelled, 已取号 ...) is refused."""
    appt = _appointment(call, call.body["APPT_ID"])
    status = appt["status"]
    if status in (-1, -2):
        raise Refused(f"预约已{STATUS_TEXT[status][1:]}，不能重复取消")
    if status not in (0, 9):
        raise Refused(f"预约状态为{STATUS_TEXT[status]}，不能取消")
    if status == 9 and appt["balance_pay"] == 1:
        p = call.state.patients[appt["patient_id"]]
        p["balance"] = round(p["balance"] + appt["schedule"]["total"], 2)
    appt.update(status=-1 if status == 0 else -2, cancel_time=call.now,
                refund_business_no=call.body.get("BUSINESS_NO") or "")
    return {"_msg": "取消成功" if status == 0 else "退号成功"}


@handles("cpay_new_payment")
def cpay_new_payment(call: Call) -> Record:
    """生成支付订单 for an unpaid appointment; HIS_ORDER_NO is the APPT_ID (seed: /new's
    HIS_ORDER_NO 备注). TOTAL must be the appointment's 挂号费."""
    appt = _appointment(call, call.body["APPT_ID"])
    if appt["patient_id"] != call.body["PATIENT_ID"]:
        raise Refused("病人与预约记录不符")
    if appt["status"] != 0:
        raise Refused(f"预约状态为{STATUS_TEXT[appt['status']]}，不能生成支付订单")
    if not _same_amount(call.body["TOTAL"], appt["schedule"]["total"]):
        raise Refused("金额与挂号费不符")
    call.state.orders[appt["his_order_no"]] = {
        "his_order_no": appt["his_order_no"], "kind": "appointment", "appt_id": appt["appt_id"],
        "patient_id": appt["patient_id"], "total": float(call.body["TOTAL"]),
        "pay_way": call.body["PAY_WAY_ID"], "status": 0, "create_time": call.now}
    return {"HIS_ORDER_NO": appt["his_order_no"]}


@handles("cpay_update_payment_status")
def cpay_update_payment_status(call: Call) -> Record:
    order = call.state.orders.get(call.body["HIS_ORDER_NO"])
    if order is None or order["kind"] != "appointment":
        raise Refused("订单不存在")
    if order["status"] == 5:
        raise Refused("订单已支付")
    order.update(status=5, pay_way=call.body["PAY_WAY_ID"], business_no=call.body["BUSINESS_NO"],
                 business_info=call.body["BUSINESS_INFO"], pay_time=call.now)
    return {}


# --- hospitals, departments, doctors (snake_case lists) -------------------------------------

def dept_row(d: Record) -> Record:
    return {**D.dept_record(d), "id": d["dept_id"], "name": d["dept_name"],
            "address": d["dept_address"]}


def _hospital_depts(hid: str | None) -> list[Record]:
    return [d for d in D.DEPARTMENTS if hid is None or d["hospital_id"] == hid]


@handles("getHospital", "getHospitalList", "hospital_area_list")
def hospitals(call: Call) -> Record:
    return {"records": D.HOSPITALS, "data": D.HOSPITALS}


@handles("getDepts")
def get_depts(call: Call) -> Record:
    return {"depts": [dept_row(d) for d in D.DEPARTMENTS]}


@handles("getDeptsByHospitalId", "fulltime_getDeptList", "getDepartment")
def depts_of_hospital(call: Call) -> Record:
    rows = [dept_row(d) for d in _hospital_depts(call.body["hospital_id"])]
    return {"data": rows, "records": rows}


@handles("fulltime_getDeptDoctorList")
def dept_doctors(call: Call) -> Record:
    hid = call.body["hospital_id"]
    return {"data": [{**D.doctor_record(d), "id": d["doctor_id"], "name": d["doctor_name"]}
                     for d in D.DOCTORS if D.doctor_record(d)["hospital_id"] == hid]}


@handles("fulltime_getApptTimeRangeList")
def time_ranges(call: Call) -> Record:
    return {"data": [name for dur in D.DURATIONS.values() for name, _ in dur["slots"]]}


@handles("getAllDoctorList")
def all_doctors(call: Call) -> Record:
    return {"doctorList": [{**D.doctor_record(d), "name": d["doctor_name"], "sex": d["doctor_sex"],
                            "medical_title_name": d["doctor_medical_title_name"],
                            "teach_title_name": d["doctor_teach_title_name"],
                            "expert": d["doctor_skill"]} for d in D.DOCTORS]}


@handles("getDoctorAndNurse")
def doctors_and_nurses(call: Call) -> Record:
    dept = call.ctx["_dept"]
    if dept["hospital_id"] != call.body["hospital_id"]:
        raise Refused("科室不属于该院区")
    base = {**D.dept_record(dept), "dept_user_photo": PHOTO}
    people = [{**base, "dept_user_id": d["doctor_id"], "dept_user_name": d["doctor_name"],
               "dept_user_post": d["doctor_post"],
               "education_background": d["education_background"],
               "flag": 1, "skilled_field": d["doctor_skill"], "wxwork_id": f"wx{d['doctor_id']}"}
              for d in D.DOCTORS if d["dept_id"] == dept["dept_id"]]
    people += [{**base, **n, "flag": 2, "wxwork_id": f"wx{n['dept_user_id']}"}
               for n in D.NURSES if n["dept_id"] == dept["dept_id"]]
    return {"data": people}


@handles("getBedNo")
def bed_categories(call: Call) -> Record:
    return {"records": [{"bed_category": b} for b in call.ctx["_dept"]["beds"]]}


# --- snake_case 挂号: schedules, price, registerPre, register, visits -----------------------

def schedule_snake(s: Record, order_no: int) -> Record:
    """A schedule as /getSchedules names it; 号类 (register_type_*) is the clinic (号类)."""
    return {**s, "id": s["schedule_id"], "name": f"{s['doctor_name']}{s['duration_name']}"
            f"{s['clinic_name']}", "code": s["schedule_id"], "order_no": order_no,
            "register_type_id": s["clinic_id"], "register_type_name": s["clinic_name"],
            "register_add_flag": 0, "doctor_expert": s["doctor_remark"]}


@handles("getSchedules")
def get_schedules(call: Call) -> Record:
    """Today's schedules of the department (both 午别; the seed's 当前时段 is not narrowed)."""
    rows = [s for s in live_schedules(call.state, call.today)
            if s["dept_id"] == call.body["dept_id"] and s["dt"] == call.today]
    return {"schedules": [schedule_snake(s, n) for n, s in enumerate(rows, start=1)]}


@handles("registerGetPrice")
def register_get_price(call: Call) -> Record:
    return {"data": {"total": f"{call.ctx['_schedule']['total']:.2f}"}}


def _check_registration(call: Call) -> Record:
    """The schedule named by scheduling_id, checked against dept_id / doctor_id; it must
    have a free slot and the patient must not already be registered on it."""
    s = live(call.state, call.ctx["_schedule"])
    if s["dept_id"] != call.body["dept_id"]:
        raise Refused("科室与排班不符")
    if s["doctor_id"] != call.body["doctor_id"]:
        raise Refused("医生与排班不符")
    if any(v.get("schedule_id") == s["schedule_id"] and v["patient_id"] == call.body["patient_id"]
           for v in call.state.visits.values()):
        raise Refused("该患者在此排班已挂号")
    if s["remain_count"] <= 0:
        raise Refused("号源已满")
    return s


@handles("registerPre")
def register_pre(call: Call) -> Record:
    """预挂号 (挂号预结算): checks the schedule and that pay_amount is its 挂号费, and holds
    a pre-registration for (patient_id, scheduling_id) that /register then confirms."""
    s = _check_registration(call)
    if not _same_amount(call.body["pay_amount"], s["total"]):
        raise Refused("挂号费不符")
    key = f"{call.body['patient_id']}|{s['schedule_id']}"
    call.state.registrations[key] = {
        "key": key, "patient_id": call.body["patient_id"], "schedule_id": s["schedule_id"],
        "dept_id": s["dept_id"], "doctor_id": s["doctor_id"], "pay_amount": s["total"],
        "status": "pre", "create_time": call.now, "visit_id": ""}
    return {"_msg": "预挂号成功"}


@handles("register")
def register(call: Call) -> Record:
    """挂号确认: needs a /registerPre of the same patient and schedule; takes the first free
    slot of the schedule and creates a visit (record id = visit_id)."""
    s = _check_registration(call)
    key = f"{call.body['patient_id']}|{s['schedule_id']}"
    reg = call.state.registrations.get(key)
    if reg is None or reg["status"] != "pre":
        raise Refused("未预挂号或预挂号已失效")
    slot = next(sl for sl in s["slots"] if sl["remain"] > 0)
    visit_id = call.state.next_id("V", 6)
    visit = _visit_record({"visit_id": visit_id, "patient_id": call.body["patient_id"],
                           "doctor_id": s["doctor_id"], "day": s["dt"],
                           "time": slot["time_name"][:5] + ":00", "duration_id": s["duration_id"],
                           "queue_no": s["appt_count"] + 1, "clinic_id": s["clinic_id"],
                           "schedule_id": s["schedule_id"], "time_id": slot["time_id"],
                           "business_no": call.body["business_no"],
                           "business_info": call.body["business_info"], **NEW_VISIT_TEXT},
                          call.today)
    call.state.visits[visit_id] = visit
    reg.update(status="registered", visit_id=visit_id, confirm_time=call.now)
    return {"info": {**visit_snake(visit, call.state), "id": visit_id,
                     "visit_date": s["dt"], "visit_weekday": s["week_day"]},
            "_msg": "挂号成功"}


#: The clinical texts of a visit made at run time (not seen yet).
NEW_VISIT_TEXT = {"chief_complaint": "待就诊", "present_illness": "待就诊", "past_illness": "待就诊",
                  "physical_examination": "待就诊", "presumptive_diagnosis": "待就诊",
                  "icd_name1": "待就诊", "icd_name2": "", "icd_name3": ""}


def visit_fees(state: PalmState, visit_id: str) -> list[Record]:
    return [f for f in D.FEES if f["visit_id"] == visit_id]


def visit_snake(v: Record, state: PalmState) -> Record:
    """A visit under the snake_case names (号类 register_type_* = clinic)."""
    p = state.patients[v["patient_id"]]
    fees = visit_fees(state, v["visit_id"])
    return {**v, **patient_vocab(p, v["visit_date"].date()), "id": v["visit_id"],
            "unique_id": f"U{p['patient_id']}", "register_type_id": v["clinic_id"],
            "register_type_name": v["clinic_name"], "visit_time": v["duration_name"],
            "accept": 1, "accept_name": "已接诊", "fee": v["total"],
            "total": round(sum(f["price"] * f["quantity"] for f in fees), 2),
            "dept_address": v["dept_address"]}


def _patient_visits(call: Call) -> list[Record]:
    """The patient's outpatient visits (挂号), newest first; 核酸检测 visits are not listed."""
    pid = call.body["patient_id"]
    return sorted((v for v in call.state.visits.values()
                   if v["patient_id"] == pid and v.get("kind") != "nat"),
                  key=lambda v: v["visit_date"], reverse=True)


@handles("getVisitInfo")
def get_visit_info(call: Call) -> Record:
    """order_no / limit / dept_id / dept_name carry what their names say (序号, 限制数量,
    科室id, 科室名称): the seed's 备注 for them are shifted by two rows."""
    rows = []
    for n, v in enumerate(_patient_visits(call), start=1):
        row = visit_snake(v, call.state)
        row.update(order_no=str(n), limit=str(sum(c for _, c in
                                                  D.DURATIONS[v["duration_id"]]["slots"])),
                   refund_type=1 if v["visit_date"].date() >= call.today else -1)
        rows.append(row)
    return {"records": rows}


@handles("getVisitInfoDetail", "getVisitInfoNewDetail")
def get_visit_detail(call: Call) -> Record:
    return {"record": visit_snake(call.ctx["_visit"], call.state)}


@handles("getVisitInfoNew")
def get_visit_info_new(call: Call) -> Record:
    return {"records": [visit_snake(v, call.state) for v in _patient_visits(call)]}


@handles("getRegisterList")
def get_register_list(call: Call) -> Record:
    """Visits between begin_date and end_date with fees 待缴 (flag 0) or 已缴 (flag 1)."""
    begin = _day(call.body["begin_date"], "begin_date")
    end = _day(call.body["end_date"], "end_date")
    paid = call.body["flag"] == 1
    rows = [{**visit_snake(v, call.state), "visit_time": v["visit_date"]}
            for v in _patient_visits(call)
            if begin <= v["visit_date"].date() <= end
            and any((f["paid"] or f["id"] in call.state.paid_fees) == paid
                    for f in visit_fees(call.state, v["visit_id"]))]
    return {"records": rows}


@handles("offerNumber")
def offer_number(call: Call) -> Record:
    """有卡预约挂号取号: an ALL_CAPS appointment (APPT_ID) of this patient, 已确认 (9),
    becomes 已取号 (1)."""
    appt = _appointment(call, call.body["appointment_id"])
    if appt["patient_id"] != call.body["patient_id"]:
        raise Refused("预约记录与患者不符")
    if appt["status"] != 9:
        raise Refused(f"预约状态为{STATUS_TEXT[appt['status']]}，不能取号")
    p = call.state.patients[appt["patient_id"]]
    if not p["card_no"]:
        raise Refused("无卡病人不能取号")
    appt.update(status=1, offer_time=call.now)
    s = appt["schedule"]
    return {"queue": {**s, "id": appt["appt_id"], "patient_name": p["patient_name"],
                      "patient_id": p["patient_id"],
                      "doctor_title": s["doctor_medical_title_name"],
                      "queue_no": int(appt["queue_no"])}, "_msg": "取号成功"}


# --- patients and cards ----------------------------------------------------------------------

@handles("getPatient")
def get_patient_snake(call: Call) -> Record:
    """patient_id, when given, is the only condition; else every given one of card_no (卡号 or
    住院号), name, id_no, phone_no, health_card_id must match, and one must be given. op_flag 2
    (住院) needs a patient in hospital."""
    op_flag = call.body["op_flag"]
    p = call.ctx.get("_patient")
    if p is None:
        conds = {k: call.body[k] for k in ("card_no", "name", "id_no", "phone_no",
                                           "health_card_id") if call.given(k)}
        if not conds:
            raise Refused("查询条件不能为空: patient_id, card_no, name, id_no, phone_no 至少一项")
        for cand in call.state.patients.values():
            view = patient_view(cand, call.today)
            cards = {cand["card_no"], view["visit_no"]} - {""}
            if all((v in cards) if k == "card_no" else view[k] == v for k, v in conds.items()):
                p = cand
                break
        if p is None:
            raise Refused("患者不存在")
    if op_flag == 2 and not p.get("inpatient"):
        raise Refused("患者无住院记录")
    return {"patient": patient_view(p, call.today, op_flag)}


@handles("getPatientList")
def get_patient_list(call: Call) -> Record:
    """批量获取: the known ones of the listed patients (unknown ids are left out)."""
    rows = []
    for item in call.body.get("patient") or []:
        p = call.state.patients.get(item["patient_id"])
        if p is not None:
            rows.append(patient_view(p, call.today, item["op_flag"]))
    return {"patients": rows}


@handles("getInHospitalList")
def in_hospital(call: Call) -> Record:
    p = next((p for p in call.state.patients.values() if p["id_no"] == call.body["id_no"]), None)
    if p is None:
        raise Refused("患者不存在")
    if not p.get("inpatient"):
        raise Refused("患者无住院记录")
    return {"patient": patient_view(p, call.today, "2")}


@handles("createCard")
def create_card(call: Call) -> Record:
    """在线办理就诊卡: a new patient with a card; a 身份证号 that already has a card is refused
    (one without a card, registered by /new, gets the card)."""
    b = call.body
    birthday = _day(b["birthday"], "birthday")
    p = next((p for p in call.state.patients.values() if p["id_no"] == b["id_no"]), None)
    if p is not None and p["card_no"]:
        raise Refused("该身份证号已办理就诊卡")
    extra = {"unit_name": b["unit_name"], "post_addr": b["post_addr"],
             "health_card_id": b.get("wx_health_card_id") or ""}
    if p is None:
        p = register_patient(call.state, b["name"], b["sex"], b["id_no"], b["phone_no"], call.now,
                             card=True, birthday=birthday, **extra)
        p["birthday"] = birthday
    else:
        p.update(card_no=f"C{p['patient_id'][1:]}", birthday=birthday, **extra)
    return {"card": patient_view(p, call.today), "_msg": "办卡成功"}


@handles("card_update")
def card_update(call: Call) -> Record:
    p = call.ctx["_patient"]
    b = call.body
    for key in ("sex", "id_no", "phone_no", "nation_name", "health_card_id"):
        if call.given(key):
            p["patient_sex" if key == "sex" else key] = b[key]
    if call.given("birthday"):
        p["birthday"] = _day(b["birthday"], "birthday")
    return {"_msg": "更新成功"}


# --- payment orders (paymentNew ...), recharge, 缴费 ----------------------------------------

def new_order(state: PalmState, now: dt.datetime, prefix: str, **fields: Any) -> Record:
    oid = state.next_id(prefix, 6)
    order = {"his_order_no": oid, "order_no": oid, "status": 0, "create_time": now,
             "business_no": "", "business_info": "", **fields}
    state.orders[oid] = order
    return order


def _order(call: Call, oid: str, kinds: tuple[str, ...]) -> Record:
    order = call.state.orders.get(oid)
    if order is None or order["kind"] not in kinds:
        raise Refused("订单不存在")
    if "_patient" in call.ctx and order.get("patient_id") != call.ctx["_patient"]["patient_id"]:
        raise Refused("订单与患者不符")
    return order


def _card_matches(call: Call, number: str, op_flag: int) -> None:
    """card_no / visit_no: 就诊卡号 for 门诊 (op_flag 1), 住院号 for 住院 (op_flag 2)."""
    p = call.ctx["_patient"]
    if op_flag == 2:
        if not p.get("inpatient") or p["inpatient"]["visit_no"] != number:
            raise Refused("住院号与患者不符")
    elif p["card_no"] != number:
        raise Refused("就诊卡号与患者不符")


@handles("paymentNew")
def payment_new(call: Call) -> Record:
    """新建订单: purpose 1 充值 (then /recharge), 2 缴费 (then /recipeCharge)."""
    b = call.body
    _card_matches(call, b["card_no"], b["op_flag"])
    order = new_order(call.state, call.now, "PO", kind="payment", patient_id=b["patient_id"],
                      card_no=b["card_no"], op_flag=b["op_flag"], total=float(b["total"]),
                      pay_mode=b["pay_mode"], purpose=b["purpose"])
    return {"order": order}


@handles("paymentUpdateStatus")
def payment_update_status(call: Call) -> Record:
    b = call.body
    order = _order(call, b["his_order_no"], ("payment", "bill"))
    if b["status"] in (-1, -2) and not call.given("fail_reason"):
        raise Refused("status 为 -1 或 -2 时 fail_reason 必传")
    order.update(status=b["status"], business_no=b["business_no"],
                 business_info=b["business_info"], fail_reason=b.get("fail_reason") or "")
    return {}


@handles("requestSucess")
def request_success(call: Call) -> Record:
    """确认与his交互是否成功: 1 when the order's HIS business is done (status 2); an unknown
    order, another flow number or an unfinished business is -1."""
    order = _order(call, call.body["bill_no"], ("payment", "bill", "appointment", "nat"))
    if order.get("business_no") and order["business_no"] != call.body["bill_id"]:
        raise Refused("三方流水号与订单不符")
    if order["status"] != 2:
        raise Refused("HIS业务未完成")
    return {"_msg": "交互成功"}


@handles("recharge")
def recharge(call: Call) -> Record:
    b = call.body
    _card_matches(call, b["card_no"], b["op_flag"])
    order = _order(call, b["his_order_no"], ("payment",))
    if order["purpose"] != "1":
        raise Refused("订单不是充值订单")
    if order["status"] == 2:
        raise Refused("订单已充值")
    if not _same_amount(b["total"], order["total"]):
        raise Refused("充值金额与订单不符")
    p = call.ctx["_patient"]
    if p["recharge_flag"] != 1:
        raise Refused(p["no_recharge_reason"] or "不能充值")
    p["balance"] = round(p["balance"] + float(b["total"]), 2)
    order.update(status=2, business_no=b["business_no"], business_info=b["business_info"],
                 done_time=call.now)
    return {"patient": patient_view(p, call.today, b["op_flag"]), "_msg": "充值成功"}


def _unpaid_groups(call: Call, order_ids: list[str], visit_id: str | None = None) -> float:
    """The total of the named unpaid fee groups of the patient (of one visit if given)."""
    pid = call.ctx["_patient"]["patient_id"]
    total = 0.0
    for oid in order_ids:
        fees = [f for f in D.FEES if f["order_id"] == oid
                and call.state.visits.get(f["visit_id"], {}).get("patient_id") == pid
                and (visit_id is None or f["visit_id"] == visit_id)]
        if not fees or any(f["id"] in call.state.paid_fees for f in fees) \
                or any(f["paid"] for f in fees):
            raise Refused(f"缴费组别 {oid} 不存在或已缴费")
        total += sum(f["price"] * f["quantity"] for f in fees)
    return round(total, 2)


@handles("cpayCheck")
def cpay_check(call: Call) -> Record:
    b = call.body
    _card_matches(call, b["card_no"], b["op_flag"])
    total = _unpaid_groups(call, [o["order_id"] for o in b["orders"]])
    if not _same_amount(b["total"], total):
        raise Refused(f"金额与待缴费用不符 (应缴 {total:.2f})")
    return {"_msg": "校验通过"}


@handles("recipeCharge")
def recipe_charge(call: Call) -> Record:
    """在线缴费: the paymentNew order (purpose 2) pays the visit's unpaid groups; balance_pay
    0 is 卡余额支付 (the seed's own reading: 0 卡余额支付, 1 支付平台支付)."""
    b = call.body
    order = _order(call, b["his_order_no"], ("payment",))
    if order["purpose"] != "2":
        raise Refused("订单不是缴费订单")
    if order["status"] == 2:
        raise Refused("订单已缴费")
    ids = [o["order_id"] for o in b["orders"]]
    total = _unpaid_groups(call, ids, b["visit_id"])
    if not (_same_amount(b["total"], total) and _same_amount(order["total"], total)):
        raise Refused(f"金额与待缴费用不符 (应缴 {total:.2f})")
    p = call.ctx["_patient"]
    if b["balance_pay"] == 0:
        if p["balance"] - p["balance_min"] < total:
            raise Refused("卡余额不足")
        p["balance"] = round(p["balance"] - total, 2)
    call.state.paid_fees.update(f["id"] for f in D.FEES if f["order_id"] in ids)
    order.update(status=2, business_no=b["business_no"], business_info=b["business_info"],
                 done_time=call.now)
    return {"info": {"patient_id": p["patient_id"], "op_flag": b["op_flag"],
                     "patient_name": p["patient_name"]}, "_msg": "缴费成功"}


@handles("specialType_newBill")
def special_bill(call: Call) -> Record:
    """特殊类型的开单 (病历复印): a bill on the patient's latest visit; its order_id is the
    his_order_no /case/cancel refunds."""
    b = call.body
    _card_matches(call, b["card_no"], 1)
    visits = _patient_visits(call)
    order = new_order(call.state, call.now, "SB", kind="bill", patient_id=b["patient_id"],
                      total=float(b["total"]), pay_mode=b["pay_mode"], purpose=b["purpose"],
                      quantity=b["quantity"], visit_id=visits[0]["visit_id"] if visits else "")
    price = round(float(b["total"]) / b["quantity"], 2) if b["quantity"] else float(b["total"])
    return {"order": {**order, "order_id": order["his_order_no"],
                      "recipe_no": f"R{order['his_order_no']}", "item_type": "病历复印",
                      "item_name": "病历复印", "price": price, "order_time": call.now,
                      "bill_dept_name": "病案室", "bill_doctor_name": "病案室",
                      "execute_dept_name": "病案室"}}


@handles("case_cancel")
def case_cancel(call: Call) -> Record:
    b = call.body
    order = _order(call, b["his_order_no"], ("bill",))
    if order["status"] == -2:
        raise Refused("订单已退费")
    if not _same_amount(b["total"], order["total"]):
        raise Refused("退费金额与订单不符")
    order.update(status=-2, refund_bill_no=b["bill_no"], refund_time=call.now)
    return {"_msg": "退费成功"}


@handles("getEmrPageCount")
def emr_page_count(call: Call) -> Record:
    return {"data": {"pageCount": 12}}


@handles("template_hisSendMessage")
def send_message(call: Call) -> Record:
    call.state.messages.append({**call.body, "time": call.now})
    return {"_msg": "发送成功"}


# --- fees of a visit or a stay --------------------------------------------------------------

def fee_row(f: Record, v: Record, state: PalmState) -> Record:
    """A fee item of a visit. charge_date / charge_time are 必须 in the seed even for 待缴
    items: an unpaid item carries its bill date and time there."""
    when = v["visit_date"]
    paid = f["paid"] or f["id"] in state.paid_fees
    charged = when + dt.timedelta(minutes=30) if paid else when
    return {**f, "paid": paid, "total": round(f["price"] * f["quantity"], 2),
            "bill_doctor_name": v["doctor_name"], "bill_date": when.date(),
            "bill_time": when.strftime("%H:%M:%S"), "charge_date": charged.date(),
            "charge_time": charged.strftime("%H:%M:%S")}


@handles("getChargeDetail")
def charge_detail(call: Call) -> Record:
    v = call.ctx["_visit"]
    return {"fees": [fee_row(f, v, call.state) for f in visit_fees(call.state, v["visit_id"])]}


@handles("getRecipe")
def get_recipe(call: Call) -> Record:
    """The visit's fee items, 待缴 (flag 0) or 已缴 (flag 1), with group and grand totals."""
    v = call.ctx["_visit"]
    paid = call.body["flag"] == 1
    rows = [fee_row(f, v, call.state) for f in visit_fees(call.state, v["visit_id"])]
    rows = [r for r in rows if r["paid"] == paid]
    summary = round(sum(r["total"] for r in rows), 2)
    for r in rows:
        r.update(order_summary=round(sum(x["total"] for x in rows
                                         if x["order_id"] == r["order_id"]), 2), summary=summary)
    return {"fees": rows}


def _stay(call: Call) -> Record:
    """The stay named by visit_no: 住院号 for op_flag 2, a visit's 就诊号 or the card for 1."""
    p = call.ctx["_patient"]
    number = call.body["visit_no"]
    if call.body["op_flag"] == 2:
        if not p.get("inpatient") or p["inpatient"]["visit_no"] != number:
            raise Refused("住院记录不存在")
        return p["inpatient"]
    if number != p["card_no"] and not any(v["visit_no"] == number for v in _patient_visits(call)):
        raise Refused("就诊记录不存在")
    return {"visit_no": number, "days_in": 1}


def stay_items(stay: Record, today: dt.date) -> list[Record]:
    """The daily items of a stay, one set per day in hospital."""
    out = []
    for day in range(stay["days_in"]):
        when = today - dt.timedelta(days=stay["days_in"] - day)
        for n, (cat, iid, name, price, qty, unit) in enumerate(D.STAY_ITEMS, start=1):
            out.append({"id": f"{stay['visit_no']}-{day + 1}-{n}", "item_category": cat,
                        "item_id": iid, "item_name": name, "price": price, "quantity": qty,
                        "unit": unit, "total": round(price * qty, 2), "day": when})
    return out


@handles("getChargeSummary")
def charge_summary(call: Call) -> Record:
    items = stay_items(_stay(call), call.today)
    summary = round(sum(i["total"] for i in items), 2)
    names = list(dict.fromkeys(i["item_name"] for i in items))
    return {"fees": [{"id": f"SUM-{n}", "order_no": n, "item_name": name,
                      "total": round(sum(i["total"] for i in items if i["item_name"] == name), 2),
                      "summary": summary} for n, name in enumerate(names, start=1)]}


@handles("getDailyCharge")
def daily_charge(call: Call) -> Record:
    day = _day(call.body["query_date"], "query_date")
    items = [i for i in stay_items(_stay(call), call.today) if i["day"] == day]
    summary = round(sum(i["total"] for i in items), 2)
    when = dt.datetime.combine(day, dt.time(8, 0))
    return {"fees": [{**i, "bill_doctor_name": "陈刚", "bill_date": day, "bill_time": when.time()
                      .strftime("%H:%M:%S"), "charge_date": day, "charge_time": "08:30:00",
                      "summary": summary} for i in items]}


@handles("getReceipt")
def receipts(call: Call) -> Record:
    stay = _stay(call)
    total = round(sum(i["total"] for i in stay_items(stay, call.today)), 2)
    return {"fees": [{"id": f"RC-{stay['visit_no']}", "receipt_no": f"FP{stay['visit_no']}",
                      "total": total, "discount": 0.0, "actual": total, "si_pay": 0.0,
                      "account_pay": total, "cash_pay": 0.0,
                      "receipt_date": call.today - dt.timedelta(days=1),
                      "origin_url": f"https://his.example/receipt/{stay['visit_no']}.pdf"}]}


@handles("getRecharge")
def recharges(call: Call) -> Record:
    """Completed recharge orders (paymentNew purpose 1 + /recharge) of the patient."""
    _card_matches(call, call.body["card_no"], 1)
    if call.body["op_flag"] == 2:
        _stay(call)
    pid = call.ctx["_patient"]["patient_id"]
    rows = [{"id": o["his_order_no"], "recharge_method": PAY_MODES.get(o["pay_mode"], "其他"),
             "bank_type": "财付通" if o["pay_mode"] == "wePay" else "支付宝", "total": o["total"],
             "discount": 0.0, "actual": o["total"], "recharge_date": o["create_time"].date(),
             "recharge_time": o["create_time"].strftime("%H:%M:%S")}
            for o in call.state.orders.values()
            if o["kind"] == "payment" and o["patient_id"] == pid and o["purpose"] == "1"
            and o["status"] == 2]
    return {"fees": rows}


PAY_MODES = {"wePay": "微信支付", "aliPay": "支付宝支付", "balancePay": "余额支付"}


# --- prescriptions, reports, 体检 -----------------------------------------------------------

def _recipe_row(call: Call, r: Record) -> Record:
    v = call.state.visits[r["visit_id"]]
    return {**v, **r, "id": r["recipe_id"], "patient_name": call.ctx["patient_name"],
            "bill_time": v["visit_date"], "bill_date": v["visit_date"],
            "charge_date": v["visit_date"].date(), "charge_time": "10:00:00"}


@handles("getElectronicPrescriptionBasicInfo")
def recipes(call: Call) -> Record:
    return {"records": [_recipe_row(call, r) for r in D.RECIPES
                        if r["patient_id"] == call.body["patient_id"]]}


@handles("getElectronicPrescriptionDetail")
def recipe_detail(call: Call) -> Record:
    r = next((r for r in D.RECIPES if r["recipe_id"] == call.body["recipe_id"]
              and r["patient_id"] == call.body["patient_id"]), None)
    if r is None:
        raise Refused("处方记录不存在")
    return {"record": _recipe_row(call, r)}


@handles("getElectronicPrescriptionDetail_1609234017475")
def price_list(call: Call) -> Record:
    """诊疗服务价格, paged: page_rows per page, current_page 1-based (0 also means the first)."""
    try:
        rows, page = int(call.body["page_rows"]), int(call.body["current_page"])
    except ValueError:
        raise Refused("page_rows 和 current_page 须为数字") from None
    if rows <= 0:
        raise Refused("page_rows 须大于0")
    start = (max(page, 1) - 1) * rows
    return {"records": D.PRICES[start:start + rows]}


def _report(call: Call, category: str) -> Record:
    r = next((r for r in D.REPORTS if r["report_id"] == call.body["report_id"]
              and r["category"] == category), None)
    if r is None:
        raise Refused("报告不存在")
    return report_view(r, call.state, call.today)


def report_view(r: Record, state: PalmState, today: dt.date) -> Record:
    p = state.patients[r["patient_id"]]
    day = today - dt.timedelta(days=r["days_ago"])
    dept = D.department(r["dept_id"]) or {}
    return {**r, **patient_vocab(p, today), "id": r["report_id"], "status": 1,
            "dept_name": dept.get("dept_name", ""), "report_date": day, "send_time_full": day,
            "audit_time_full": day, "scan_time_full": day, "write_time_full": day,
            "origin_url": f"https://his.example/report/{r['report_id']}.pdf"}


@handles("getLisPacsList")
def lis_pacs_list(call: Call) -> Record:
    """The patient's reports dated start_time .. end_time."""
    start = _day(call.body["start_time"], "start_time")
    end = _day(call.body["end_time"], "end_time")
    rows = [report_view(r, call.state, call.today) for r in D.REPORTS
            if r["patient_id"] == call.body["patient_id"]]
    return {"records": [r for r in rows if start <= r["report_date"] <= end]}


@handles("getLisReport")
def lis_report(call: Call) -> Record:
    r = _report(call, "lis")
    return {"recordInfo": {**r, "patient_age": str(r["patient_age"])}, "records": r["items"]}


@handles("getPacsReport")
def pacs_report(call: Call) -> Record:
    """category is ``lis`` in the seed's table (固定值lis) even here; the report asked for is the
    检查 (pacs) report report_id."""
    r = _report(call, "pacs")
    return {"records": [r]}


@handles("lis_bacteria_detail")
def bacteria(call: Call) -> Record:
    r = _report(call, "lis")
    item = next((i for i in r["items"] if i["id"] == call.body["report_detail_id"]), None)
    if item is None or item["item_category"] != 2:
        raise Refused("细菌明细不存在")
    return {"records": r["bacteria"]}


def _peis(call: Call, peis_id: str) -> Record:
    pe = next((x for x in D.PEIS if x["peis_id"] == peis_id), None)
    if pe is None:
        raise Refused("体检记录不存在")
    return pe


def peis_view(pe: Record, state: PalmState, today: dt.date) -> Record:
    p = state.patients[pe["patient_id"]]
    return {**patient_view(p, today), **pe, "id": p["patient_id"],
            "peis_item_date": today - dt.timedelta(days=pe["days_ago"])}


@handles("getPeis")
def get_peis(call: Call) -> Record:
    """By peis_id when given, else by peis_no; name, and id_no / phone_no when given, must
    match the record."""
    b = call.body
    pe = next((x for x in D.PEIS if (x["peis_id"] == b["peis_id"] if call.given("peis_id")
                                     else x["peis_no"] == b["peis_no"])), None)
    if pe is None:
        raise Refused("体检记录不存在")
    view = peis_view(pe, call.state, call.today)
    if view["name"] != b["name"] or any(call.given(k) and view[k] != b[k]
                                        for k in ("id_no", "phone_no")):
        raise Refused("体检记录与姓名/证件不符")
    return {"patient": view}


@handles("getPeisReport")
def peis_report(call: Call) -> Record:
    """records is one object in the seed's table: the record's first item (its 一般检查)."""
    pe = _peis(call, call.body["peis_id"])
    view = peis_view(pe, call.state, call.today)
    item = pe["items"][0]
    return {"records": {**view, **item, "id": item["peis_item_id"],
                        "peis_item_no": item["peis_item_id"], "dept_id": "000001",
                        "dept_name": "体检中心", "peis_no": 9, "status_name": "已完成",
                        "sample": "无", "send_user_name": "体检医生", "send_time_full":
                        view["peis_item_date"], "audit_time_full": view["peis_item_date"],
                        "exam_user_name": "体检医生", "audit_user_name": "审核医生"}}


@handles("getPeisReport-general", "getPeisReport-lis", "getPeisReport-pacs")
def peis_item(call: Call) -> Record:
    pe = _peis(call, call.body["peis_id"])
    item = next((i for i in pe["items"] if i["peis_item_id"] == call.body["peis_item_id"]), None)
    if item is None or item["category"] != call.body["category"]:
        raise Refused("体检项目不存在")
    view = peis_view(pe, call.state, call.today)
    return {"records": {**view, **item, "id": item["peis_item_id"],
                        "patient_name": view["name"], "patient_age": view["age"],
                        "scan_time_full": view["peis_item_date"],
                        "write_time_full": view["peis_item_date"], "status_name": "已完成"}}


# --- 住院: reservations, admission, operating rooms ------------------------------------------

@handles("ipAppointmentConfirm")
def ip_confirm(call: Call) -> Record:
    b = call.body
    if b["bed_category"] not in call.ctx["_dept"]["beds"]:
        raise Refused("床位类别不存在")
    birthday = _day(b["birthday"], "birthday")
    aid = call.state.next_id("IP", 6)
    call.state.ip_appointments[aid] = {**{k: b[k] for k in b}, "appointment_id": aid,
                                       "birthday": birthday, "status": 0, "create_time": call.now,
                                       **D.dept_record(call.ctx["_dept"])}
    return {"records": [{"appointment_id": aid}], "_msg": "预约成功"}


@handles("ipAppointmentQuery")
def ip_query(call: Call) -> Record:
    """All three conditions must match; no match is an empty list."""
    b = call.body
    a = call.state.ip_appointments.get(b["appointment_id"])
    if a is None or a["name"] != b["name"] or a["id_no"] != b["id_no"]:
        return {"records": []}
    return {"records": [a]}


@handles("ipAppointmentCancel")
def ip_cancel(call: Call) -> Record:
    a = call.state.ip_appointments.get(call.body["appointment_id"])
    if a is None:
        raise Refused("预约记录不存在")
    if a["status"] == -1:
        raise Refused("预约已取消")
    a.update(status=-1, cancel_reason=call.body["reason"], cancel_time=call.now)
    return {"_msg": "取消成功"}


@handles("getInHospitalApply")
def in_hospital_apply(call: Call) -> Record:
    """住院证查询: param is a 就诊卡号 (2), 病人id (3) or 身份证号 (4); an unknown patient is
    refused. The seed gives no reply table: the reply is head only."""
    key = {"2": "card_no", "3": "patient_id", "4": "id_no"}[call.body["param_type"]]
    if not any(p[key] == call.body["param"] for p in call.state.patients.values()):
        raise Refused("患者不存在")
    return {}


@handles("getOperatRoomByHospitalId")
def operating_rooms(call: Call) -> Record:
    return {"data": [{**r, "id": r["operat_room_id"], "name": r["operat_room_name"]}
                     for r in D.OPERATING_ROOMS if r["hospital_id"] == call.body["hospital_id"]]}


@handles("getOperatRoomPatient")
def operations(call: Call) -> Record:
    rooms = {r["operat_room_id"]: r for r in D.OPERATING_ROOMS
             if r["hospital_id"] == call.body["hospital_id"]}
    if call.given("operat_room_id"):
        rooms = {k: v for k, v in rooms.items() if k == call.body["operat_room_id"]}
    rows = [{**rooms[o["operat_room_id"]], **o,
             "dept_name": (D.department(o["dept_id"]) or {}).get("dept_name", "")}
            for o in D.OPERATIONS if o["operat_room_id"] in rooms]
    rows.sort(key=lambda r: (r["operat_room_id"], r["appointment_time"]))
    return {"data": rows}


# --- 核酸检测预约 (NAT): areas, dates, slots, /appointment/*, /cpay/newPayment, refunds -------

NAT_STATUS = {0: "未确认", 1: "已确认", 2: "已取号", 9: "已完成", -1: "已撤销"}
NAT_DAYS = 7                        # bookable: today .. today + 6


def nat_days(today: dt.date) -> list[dt.date]:
    return [today + dt.timedelta(days=n) for n in range(NAT_DAYS)]


def nat_remain(state: PalmState, hid: str, day: dt.date, slot_id: str, capacity: int) -> int:
    used = sum(1 for a in state.nat_appointments.values()
               if a["hospital_id"] == hid and a["appt_date"] == day
               and a["time_slot_id"] == slot_id and a["status"] != -1)
    return max(capacity - used, 0)


@handles("date_list")
def nat_dates(call: Call) -> Record:
    return {"data": [{"appt_date": d, "weekday": D.WEEKDAYS[d.weekday()]}
                     for d in nat_days(call.today)]}


@handles("type_list")
def nat_types(call: Call) -> Record:
    """One 号类 (核酸检测) per bookable date; a date outside the window gives an empty list."""
    day = _day(call.body["appt_date"], "appt_date")
    if day not in nat_days(call.today):
        return {"data": []}
    hid = call.body["hospital_id"]
    slots = [{"time_slot_id": sid, "time_slot_name": name,
              "remain_count": nat_remain(call.state, hid, day, sid, cap)}
             for sid, name, cap in D.NAT_SLOTS]
    return {"data": [{"remain_count": sum(s["remain_count"] for s in slots),
                      "total_fee": D.NAT_FEE, "time_slot": slots}]}


def nat_book(state: PalmState, now: dt.datetime, hid: str, day: dt.date, slot: str,
             name: str, id_no: str, phone_no: str, sex: str, paid: bool,
             extra: Mapping[str, Any]) -> Record:
    """A 核酸检测 appointment; the person is linked to (or registered as) a patient, and a
    visit (就诊记录) is opened for it so /cpay/newPayment can name patient and visit."""
    found = next(((sid, nm, cap) for sid, nm, cap in D.NAT_SLOTS if slot in (sid, nm)), None)
    if found is None:
        raise Refused("预约时段不存在")
    sid, sname, cap = found
    if day not in nat_days(now.date()):
        raise Refused("该日期不可预约")
    if nat_remain(state, hid, day, sid, cap) <= 0:
        raise Refused("该时段已约满")
    p = patient_by_identity(state, name, id_no) or register_patient(state, name, sex, id_no,
                                                                     phone_no, now)
    visit_id = state.next_id("NV", 6)
    state.visits[visit_id] = _visit_record(
        {"visit_id": visit_id, "patient_id": p["patient_id"], "doctor_id": "D002", "day": day,
         "time": sname[:5] + ":00", "duration_id": "1" if sname < "12" else "2",
         "queue_no": 1, "clinic_id": "C01", "kind": "nat", **NEW_VISIT_TEXT}, now.date())
    appt_id = state.next_id("NAT", 6)
    appt = {"appt_id": appt_id, "appt_no": f"H{appt_id}", "patient_id": p["patient_id"],
            "visit_id": visit_id, "hospital_id": hid, "appt_date": day, "time_slot_id": sid,
            "time_slot_name": sname, "status": 1 if paid else 0, "total": D.NAT_FEE,
            "his_order_no": "", "receipt_id": "", "business_no": "", "refund_order_no": "",
            "create_time": now, **extra}
    state.nat_appointments[appt_id] = appt
    return appt


@handles("appointment_pre")
def nat_pre(call: Call) -> Record:
    b = call.body
    extra = {k: b[k] for k in ("pay_way", "data_source", "id_type_code", "nationality",
                               "report_lanuage") if k in b}
    appt = nat_book(call.state, call.now, b["hospital_id"], _day(b["appt_date"], "appt_date"),
                    b["time_slot"], b["user_name"], b["user_id_no"], b["user_phone_no"],
                    b.get("user_sex") or "", b["pay_status"] == 1, extra)
    return {"data": {"appt_id": appt["appt_id"]}, "_msg": "预约成功"}


def _nat(call: Call, appt_id: str) -> Record:
    appt = call.state.nat_appointments.get(appt_id)
    if appt is None:
        raise Refused("预约记录不存在")
    return appt


def nat_view(state: PalmState, appt: Record, today: dt.date) -> Record:
    p = state.patients[appt["patient_id"]]
    return {**appt, "status_desc": NAT_STATUS[appt["status"]],
            "report_time": dt.datetime.combine(appt["appt_date"] + dt.timedelta(days=1),
                                               dt.time(18, 0)),
            "patient": {**patient_view(p, today), "visit_id": appt["visit_id"]}}


@handles("appointment_info_get")
def nat_info(call: Call) -> Record:
    return {"data": nat_view(call.state, _nat(call, call.body["appt_id"]), call.today)}


@handles("appointment_info_get2")
def nat_info2(call: Call) -> Record:
    b = call.body
    p = next((p for p in call.state.patients.values() if p["id_no"] == b["user_id_no"]
              and p["phone_no"] == b["user_phone_no"]), None)
    if p is None:
        raise Refused("患者不存在")
    appts = [nat_view(call.state, a, call.today) for a in call.state.nat_appointments.values()
             if a["patient_id"] == p["patient_id"]]
    return {"data": {"patient": patient_view(p, call.today), "appt": appts}}


@handles("cpay_newPayment")
def nat_new_payment(call: Call) -> Record:
    """创建订单 for an unpaid NAT appointment of this patient and visit; total must be the
    fee. An unpaid order already made for it is returned again."""
    b = call.body
    appt = _nat(call, b["appt_id"])
    if appt["patient_id"] != b["patient_id"] or appt["visit_id"] != b["visit_id"]:
        raise Refused("患者或就诊记录与预约记录不符")
    if appt["status"] != 0:
        raise Refused(f"预约状态为{NAT_STATUS[appt['status']]}，不能支付")
    if not _same_amount(b["total"], appt["total"]):
        raise Refused("支付金额与检测费用不符")
    order = call.state.orders.get(appt["his_order_no"])
    if order is None:
        order = new_order(call.state, call.now, "NO", kind="nat", appt_id=appt["appt_id"],
                          patient_id=appt["patient_id"], visit_id=appt["visit_id"],
                          total=appt["total"], pay_way=b["pay_way"])
        appt["his_order_no"] = order["his_order_no"]
    return {"data": {"appt_id": appt["appt_id"], "his_order_no": order["his_order_no"]}}


@handles("appointment_confirm")
def nat_confirm(call: Call) -> Record:
    b = call.body
    appt = _nat(call, b["appt_id"])
    if not appt["his_order_no"] or appt["his_order_no"] != b["his_order_no"]:
        raise Refused("订单与预约记录不符")
    if appt["status"] != 0:
        raise Refused(f"预约状态为{NAT_STATUS[appt['status']]}，不能确认")
    if not _same_amount(b["pay_total"], appt["total"]):
        raise Refused("支付金额与订单不符")
    receipt = f"RCPT{appt['appt_id']}"
    appt.update(status=1, business_no=b["business_no"], receipt_id=receipt, pay_way=b["pay_way"],
                pay_time=b["pay_time"])
    call.state.orders[appt["his_order_no"]].update(status=1, business_no=b["business_no"])
    return {"_msg": "确认成功"}


@handles("payment_get")
def nat_payment(call: Call) -> Record:
    order = call.state.orders.get(call.body["his_order_no"])
    if order is None or order["kind"] != "nat":
        raise Refused("订单不存在")
    return {"data": {**order, "total": f"{order['total']:.2f}",
                     "status": "1" if order["status"] == 1 else "0"}}


@handles("appointment_cancel")
def nat_cancel(call: Call) -> Record:
    """预约撤销: a paid appointment needs its receipt_id; his_order_no is the HIS refund order
    number (his内退款订单号) that /refund/callback later reports on."""
    b = call.body
    appt = _nat(call, b["appt_id"])
    if appt["status"] == -1:
        raise Refused("预约已撤销")
    if appt["status"] not in (0, 1):
        raise Refused(f"预约状态为{NAT_STATUS[appt['status']]}，不能撤销")
    if appt["status"] == 1:
        if b["receipt_id"] != appt["receipt_id"]:
            raise Refused("发票ID与预约记录不符")
        call.state.orders[b["his_order_no"]] = {
            "his_order_no": b["his_order_no"], "kind": "nat_refund", "appt_id": appt["appt_id"],
            "patient_id": appt["patient_id"], "total": appt["total"], "status": 0,
            "create_time": call.now}
    appt.update(status=-1, refund_order_no=b["his_order_no"], cancel_time=call.now)
    return {"_msg": "撤销成功"}


@handles("refund_callback")
def refund_callback(call: Call) -> Record:
    order = call.state.orders.get(call.body["his_order_no"])
    if order is None or order["kind"] != "nat_refund":
        raise Refused("退款订单不存在")
    if order["status"] == 1:
        raise Refused("退款已确认")
    order.update(status=1, business_no=call.body["business_no"],
                 refund_time=call.body["refund_time"])
    return {}


@handles("appointment_result_get")
def nat_result(call: Call) -> Record:
    """With appt_id: the results of that appointment's person (an unknown id: empty list);
    without: every result the HIS holds."""
    rows = D.NAT_RESULTS
    if call.given("appt_id"):
        appt = call.state.nat_appointments.get(call.body["appt_id"])
        id_no = call.state.patients[appt["patient_id"]]["id_no"] if appt else None
        rows = [r for r in rows if r["id_no"] == id_no]
    # item_tip: 正常返回空 (a normal result has an empty tip); NAT results carry no unit.
    return {"data": [{**r, "item_unit": "", "item_tip": "" if r["item_value"] == r["item_range"]
                      else "↑"} for r in rows]}


@handles("appointment_language_get")
def nat_languages(call: Call) -> Record:
    """data is one object in the seed's table: the default language (中文)."""
    return {"data": D.LANGUAGES[0]}


@handles("appointmentNAT_getNATResultList")
def nat_result_list(call: Call) -> Record:
    rows = [r for r in D.NAT_RESULTS if r["id_no"] == call.body["id_no"]]
    out = []
    for r in rows:
        day = dt.datetime.combine(dt.date.today() - dt.timedelta(days=r["days_ago"]), dt.time(9))
        out.append({**r, "sample_datetime": day, "check_datetime": day + dt.timedelta(hours=6)})
    return {"data": out}


# --- seeded state, the app, /_sim routes ----------------------------------------------------

def seeded_state(now: dt.datetime) -> PalmState:
    """The demo data plus one record of each stateful flow, so every endpoint has something to
    act on (ids in ``GET /_sim/orders``; they are the same on every start):

    - appointments: A00000001 (P0001, 李芳 tomorrow 上午 slot 2, STATUS 0, with its payment
      order), A00000002 (P0002, 王建国 tomorrow 上午 slot 2, STATUS 9 paid by wepay);
    - orders: PO000004 充值 100.00 and PO000005 缴费 25.00 (group O0001 of V0001), both
      P0001 and unpaid; PO000006 a finished recharge (status 2, business_no BN-SEED-6);
      SB000007 病历复印 bill 5.00;
    - NAT: NAT000009 (P0001, tomorrow slot01, STATUS 0, order NO000010), NAT000012 (P0002,
      paid, order NO000013, receipt RCPTNAT000012), NAT000015 (P0003, cancelled, refund order
      RF-SEED-1 open);
    - 住院预约 IP000016 (李四, 外科 普通床位, status 0).
    """
    state = fresh_state(now.date())
    tomorrow = now.date() + dt.timedelta(days=1)
    p1, p2, p3 = (state.patients[pid] for pid in ("P0001", "P0002", "P0003"))
    caps = {"USER_ID": "hpalm", "USER_DEPT_ID": "hpalm", "DATA_SOURCE": "w1", "ACCOUNT_ID": "AC1"}
    for doctor_id, patient, paid in (("D002", p1, False), ("D001", p2, True)):
        s = D.schedule(D.schedule_id(doctor_id, tomorrow, "1"), now.date())
        assert s is not None
        slot = find_slot(state, s, s["slots"][1]["time_id"])
        assert slot is not None
        appt = book(state, now, s, slot, patient, caps)
        if paid:
            confirm(state, appt, {"BALANCE_PAY": 0, "PAY_WAY_ID": "wepay",
                                  "BUSINESS_NO": "BN-SEED-2", "BUSINESS_INFO": "{}"}, now)
        else:
            state.orders[appt["his_order_no"]] = {
                "his_order_no": appt["his_order_no"], "kind": "appointment",
                "appt_id": appt["appt_id"], "patient_id": patient["patient_id"],
                "total": s["total"], "pay_way": "wepay", "status": 0, "create_time": now}
    state.next_id("")                                   # keep the documented ids stable
    common = {"kind": "payment", "patient_id": "P0001", "card_no": "C0001", "op_flag": 1,
              "pay_mode": "wePay"}
    new_order(state, now, "PO", total=100.0, purpose="1", **common)
    new_order(state, now, "PO", total=25.0, purpose="2", **common)
    done = new_order(state, now, "PO", total=50.0, purpose="1", **common)
    done.update(status=2, business_no=f"BN-SEED-{done['his_order_no'][-1]}")
    new_order(state, now, "SB", kind="bill", patient_id="P0001", total=5.0, pay_mode="wePay",
              purpose="2", quantity=10, visit_id="V0001")
    n1 = nat_book(state, now, "01", tomorrow, "slot01", p1["patient_name"], p1["id_no"],
                  p1["phone_no"], "男", False, {"pay_way": "wepay", "data_source": "w1"})
    order = new_order(state, now, "NO", kind="nat", appt_id=n1["appt_id"], patient_id="P0001",
                      visit_id=n1["visit_id"], total=n1["total"], pay_way="wepay")
    n1["his_order_no"] = order["his_order_no"]
    n2 = nat_book(state, now, "01", tomorrow, "slot02", p2["patient_name"], p2["id_no"],
                  p2["phone_no"], "女", True, {"pay_way": "alipay", "data_source": "w1"})
    paid = new_order(state, now, "NO", kind="nat", appt_id=n2["appt_id"], patient_id="P0002",
                     visit_id=n2["visit_id"], total=n2["total"], pay_way="alipay")
    paid.update(status=1, business_no="BN-SEED-NAT")
    n2.update(receipt_id=f"RCPT{n2['appt_id']}", business_no="BN-SEED-NAT",
              his_order_no=paid["his_order_no"])
    n3 = nat_book(state, now, "01", tomorrow, "slot03", p3["patient_name"], p3["id_no"],
                  p3["phone_no"], "男", True, {"pay_way": "wepay", "data_source": "w1"})
    n3.update(status=-1, receipt_id=f"RCPT{n3['appt_id']}", refund_order_no="RF-SEED-1")
    state.orders["RF-SEED-1"] = {"his_order_no": "RF-SEED-1", "kind": "nat_refund",
                                 "appt_id": n3["appt_id"], "patient_id": "P0003",
                                 "total": n3["total"], "status": 0, "create_time": now}
    aid = state.next_id("IP", 6)
    dept = D.department("000002") or {}
    state.ip_appointments[aid] = {
        "appointment_id": aid, "dept_id": "000002", "bed_category": "普通床位",
        "name": p2["patient_name"], "sex": p2["patient_sex"], "birthday": p2["birthday"],
        "id_no": p2["id_no"], "phone_no": p2["phone_no"], "address": p2["post_addr"],
        "remark": "择期手术", "status": 0, "create_time": now, **D.dept_record(dept)}
    return state


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


async def sim_orders(request: web.Request) -> web.Response:
    st = request.app[PALM]
    return json_response(_jsonable({
        "appointments": list(st.appointments.values()),
        "registrations": list(st.registrations.values()),
        "orders": list(st.orders.values()),
        "nat_appointments": list(st.nat_appointments.values()),
        "ip_appointments": list(st.ip_appointments.values()),
        "visits": [v for v in st.visits.values() if v["visit_id"] not in
                   {x["visit_id"] for x in D.VISITS}],
        "messages": st.messages,
        "paid_fees": sorted(st.paid_fees)}))


async def reset_orders(request: web.Request) -> web.Response:
    fresh = seeded_state(dt.datetime.now().replace(microsecond=0))
    request.app[PALM].__dict__.update(fresh.__dict__)
    return json_response({"reset": True})


async def sim_data(request: web.Request) -> web.Response:
    st = request.app[PALM]
    today = dt.date.today()
    scheds = []
    for s in live_schedules(st, today):
        scheds.append({k: s[k] for k in (
            "schedule_id", "dt", "week_day", "duration_id", "duration_name", "hospital_id",
            "dept_id", "dept_name", "doctor_id", "doctor_name", "clinic_id", "clinic_name",
            "total", "appt_max", "appt_count", "remain_count")}
            | {"slots": [{k: sl[k] for k in ("time_id", "time_name", "capacity", "booked",
                                             "remain")} for sl in s["slots"]]})
    return json_response(_jsonable({
        "today": today, "hospitals": D.HOSPITALS,
        "departments": [D.dept_record(d) for d in D.DEPARTMENTS],
        "clinics": list(D.CLINICS.values()),
        "durations": [{"duration_id": k, "duration_name": v["duration_name"],
                       "slots": [name for name, _ in v["slots"]]} for k, v in D.DURATIONS.items()],
        "doctors": [D.doctor_record(d) for d in D.DOCTORS], "nurses": D.NURSES,
        "schedules": scheds,
        "patients": [patient_view(p, today) for p in st.patients.values()],
        "visits": list(st.visits.values()), "fees": D.FEES, "recipes": D.RECIPES,
        "reports": D.REPORTS, "peis": D.PEIS, "nat_results": D.NAT_RESULTS,
        "nat_slots": [{"time_slot_id": a, "time_slot_name": b, "capacity": c}
                      for a, b, c in D.NAT_SLOTS],
        "operating_rooms": D.OPERATING_ROOMS, "operations": D.OPERATIONS, "prices": D.PRICES,
        "languages": D.LANGUAGES}))


@register_sim("palm_his", default_port=9104)
def create_app() -> web.Application:
    """palm-hospital (掌上医院) HIS (seed 003): every endpoint of transforms/specs/palm_his."""
    app = new_app("palm_his")
    app[PALM] = seeded_state(dt.datetime.now().replace(microsecond=0))
    for ep in SPECS.values():
        app.router.add_route(ep.method, ep.path, make_endpoint(ep))
    app.router.add_get("/_sim/orders", sim_orders)
    app.router.add_delete("/_sim/orders", reset_orders)
    app.router.add_get("/_sim/data", sim_data)
    return app
