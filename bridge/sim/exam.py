"""Simulators of the exam-appointment vendors (seed 002, 检查预约 XKH073 / XKH074 / XKH075).

The seed defines one logical API (query the schedule, save a booking, cancel it) and says five
hospital vendors implement it in three styles. Three simulators stand for them, one per style,
each on its own port because each is a different hospital's server:

- ``exam_pascal`` (9105) 万达封装 webservice, 首字母大写的驼峰 (中医院): SOAP 1.1 document/literal,
  ASMX-like. ``POST /ExamService.asmx``, operations ``ExamScheduleArrangeQuery`` /
  ``ExamScheduleSave`` / ``ExamScheduleCancel`` in :data:`PASCAL_NS`; the operation element's
  children are the fields (``<MedRecNO>``); the SOAPAction must be empty or ``NS + operation``.
  Reply ``<{op}Response><ResultCode/><ResultDesc/><Result>...</Result></{op}Response>``.
- ``exam_camel`` (9106) 金塘 restful, 首字母小写的驼峰 (三院): JSON ``POST /api/exam/schedule/query``,
  ``/save``, ``/cancel`` with the seed's own field names; reply ``{resultCode, resultDesc, result}``.
- ``exam_upper`` (9107) 金塘封装 webservice, 全部大写 (妇儿): SOAP 1.1 "Web Service + XML", CXF-like.
  ``POST /services/EXAMSERVICE``, operations ``XKH073`` / ``XKH074`` / ``XKH075`` in
  :data:`UPPER_NS`, whose ``<XMLDATA>`` string carries ``<REQUEST><MEDRECNO>...</REQUEST>``;
  the reply's ``<RETURNXML>`` carries ``<RESPONSE><RESULTCODE/>...</RESPONSE>``.

Business outcomes follow the seed: HTTP 200 with resultCode ``Success`` or ``Falid`` (the seed's
spelling, kept: real vendors send it). Every vendor checks the seed's field tables (required,
varchar lengths, code values) under its own casing, keeps its own bookings (save creates, query
shows the patient's booking and the free slots, cancel cancels; a second cancel or an unknown
order is ``Falid``). A malformed SOAP request is a SOAP 1.1 Fault (HTTP 500).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from lxml import etree

from bridge.sim import register_sim
from bridge.sim.base import SIM_STATE, add_endpoint, new_app
from bridge.sim.fields import Need, Rule, check_fields, iso_date

REQ, OPT = Need.REQUIRED, Need.OPTIONAL
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PASCAL_NS = "http://wondersgroup.example/exam/"
UPPER_NS = "http://jintang.example/exam"
SUCCESS, FAILED = "Success", "Falid"      # seed 002: "Success：成功 Falid：失败"

PATIENT_CLASSES = frozenset({"门诊", "急诊", "住院", "体检"})
SCHEDULE_ROUTES = frozenset("12345678")   # 1诊间 2预约中心 3医技科室 4自助机 5手机端 6自动 7取排队号 8互联网医院
AGE_UNITS = frozenset({"岁", "月", "周", "天", "时"})


def _fmt_check(pattern: str, shape: str) -> Callable[[str], str | None]:
    rx = re.compile(pattern)
    return lambda v: None if rx.fullmatch(v) else f"expected {shape}, got {v!r}"


START_DATE = _fmt_check(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}", "yyyy/MM/dd HH:mm:ss")
HHMM = _fmt_check(r"\d{1,2}:\d{2}", "HH:mm")
DAYS = _fmt_check(r"[1-9]|1[0-5]", "a number of days 1..15")

# Seed 002 §1.2.1.2 ExamRequestScheduleArrangeQuery (参数代码, 必填, varchar(n)).
QUERY_FIELDS: dict[str, Rule] = {
    "startDate": Rule(REQ, 20, check=START_DATE),
    "days": Rule(OPT, 2, check=DAYS),
    "placerOrderNO": Rule(OPT, 32),
    "organizationID": Rule(OPT, 11),
    "serviceSectID": Rule(REQ, 18),
    "serviceID": Rule(OPT, 14),
    "serviceText": Rule(REQ, 14),
    "procedureID": Rule(OPT, 32),
    "procedureName": Rule(REQ, 32),
    "patientClass": Rule(REQ, 10, choices=PATIENT_CLASSES),
    "requestDeptID": Rule(REQ, 32),
    "requestDeptName": Rule(REQ, 32),
    "requestedDate": Rule(REQ, 20),
    "fastingFlag": Rule(OPT, 1, choices=frozenset("01")),
    "medRecNO": Rule(REQ, 32),
    "scheduleRoute": Rule(REQ, 1, choices=SCHEDULE_ROUTES),
}

# Seed 002 §1.2.2.1 ScheduleRequestInfo: every column varchar(32).
_SAVE_REQUIRED = (
    "placerOrderNO scheduleOperatorID scheduleOperatorName scheduleResourceUID scheduleResourceName "
    "scheduleDate startTime endTime organizationID serviceSectID serviceText procedureName "
    "patientClass medRecNO requestDeptID requestDeptName requestedDate providerID providerName "
    "providerPhone name sex age ageUnit birthDate contactPhoneNO idCardNO cardNO outPatientNO").split()
_SAVE_OPTIONAL = ("serviceID procedureID clinicDiagnosis medicalRecord symptom reason attention "
                  "requestMemo").split()
SAVE_FIELDS: dict[str, Rule] = {
    **{n: Rule(REQ, 32) for n in _SAVE_REQUIRED},
    **{n: Rule(OPT, 32) for n in _SAVE_OPTIONAL},
    "scheduleDate": Rule(REQ, 32, check=iso_date),
    "startTime": Rule(REQ, 32, check=HHMM),
    "endTime": Rule(REQ, 32, check=HHMM),
    "patientClass": Rule(REQ, 32, choices=PATIENT_CLASSES),
    "ageUnit": Rule(REQ, 32, choices=AGE_UNITS),
    "scheduleRoute": Rule(OPT, 32, choices=SCHEDULE_ROUTES),
}

# Seed 002 §1.2.3.2 ScheduleCancelRequestInfo, lengths as written (scheduleSeq varchar(1) and
# organizationID varchar(8) included: the seed's own cancel sample breaks its table, see docs).
CANCEL_FIELDS: dict[str, Rule] = {
    "placerOrderNO": Rule(REQ, 32),
    "placerAssigningAuthority": Rule(OPT, 32),
    "observationUID": Rule(OPT, 18),
    "scheduleSeq": Rule(OPT, 1),
    "organizationID": Rule(REQ, 8),
    "scheduleOperatorID": Rule(REQ, 11),
    "scheduleOperatorName": Rule(REQ, 18),
    "scheduleStatus": Rule(OPT, 14),
}

SLOTS = (("08:00", "08:30"), ("08:30", "09:00"), ("09:00", "09:30"), ("09:30", "10:00"))
SLOT_QUANTITY = 20
MAX_BOOKINGS = 10_000


# --- casing styles: the seed's camelCase names are canonical; each vendor renames them --------

def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def upper(name: str) -> str:
    return name.upper()


def camel(name: str) -> str:
    return name


def restyle(tree: Any, style: Callable[[str], str]) -> Any:
    """A reply built with the seed's names, in the vendor's casing."""
    if isinstance(tree, dict):
        return {style(k): restyle(v, style) for k, v in tree.items()}
    if isinstance(tree, list):
        return [restyle(v, style) for v in tree]
    return tree


def read_fields(body: dict[str, Any], table: dict[str, Rule],
                style: Callable[[str], str]) -> tuple[dict[str, Any], list[str]]:
    """Check ``body`` against the table in the vendor's casing; return it with the seed's names."""
    styled = {style(name): rule for name, rule in table.items()}
    problems = check_fields(body, styled)
    back = {style(name): name for name in table}
    return {back[k]: v for k, v in body.items() if k in back}, problems


# --- the bookings every vendor keeps ---------------------------------------------------------

@dataclass
class Booking:
    data: dict[str, Any]
    accession: str
    cancelled: bool = False


@dataclass
class Bookings:
    """One hospital's bookings by placerOrderNO (bounded: the oldest is forgotten first)."""

    items: dict[str, Booking] = field(default_factory=dict)
    counter: Any = field(default_factory=lambda: itertools.count(15))

    def taken(self, resource: str, date: str, start: str) -> int:
        return sum(1 for b in self.items.values() if not b.cancelled
                   and (b.data["scheduleResourceUID"], b.data["scheduleDate"],
                        _hhmm(b.data["startTime"])) == (resource, date, start))

    def active_for(self, med_rec_no: str, sect: str) -> Booking | None:
        for b in reversed(self.items.values()):
            if not b.cancelled and b.data["medRecNO"] == med_rec_no and b.data["serviceSectID"] == sect:
                return b
        return None

    def add(self, data: dict[str, Any]) -> Booking:
        booking = Booking(dict(data), str(next(self.counter)))
        self.items.pop(data["placerOrderNO"], None)
        self.items[data["placerOrderNO"]] = booking
        while len(self.items) > MAX_BOOKINGS:
            del self.items[next(iter(self.items))]
        return booking


BOOKINGS = web.AppKey("exam_bookings", Bookings)
Result = dict[str, Any]


def _hhmm(value: str) -> str:
    h, _, m = value.partition(":")
    return f"{int(h):02d}:{m}"


def failed(desc: str) -> Result:
    return {"resultCode": FAILED, "resultDesc": desc}


def resource_of(sect: str) -> tuple[str, str]:
    """(resourceUID, resourceName) of a 检查类型 such as ``DX(普通放射)``: one room per type."""
    code = re.split(r"[(（]", sect, maxsplit=1)[0].strip() or "GEN"
    return f"{code}01", code


def query(store: Bookings, data: dict[str, Any]) -> Result:
    """XKH073: the patient's booking (scheduleFlag 1) or a recommended free slot, and the grid."""
    start = dt.datetime.strptime(data["startDate"], "%Y/%m/%d %H:%M:%S").date()
    uid, name = resource_of(data["serviceSectID"])
    mine = store.active_for(data["medRecNO"], data["serviceSectID"])
    dates, recommended = [], None
    for offset in range(int(data.get("days") or 1)):
        day = (start + dt.timedelta(days=offset)).isoformat()
        times, booked_day = [], 0
        for begin, end in SLOTS:
            taken = store.taken(uid, day, begin)
            booked_day += taken
            ours = mine is not None and (mine.data["scheduleDate"], _hhmm(mine.data["startTime"])) == (day, begin)
            status = "Schedule" if ours else "Full" if taken >= SLOT_QUANTITY else "Enable"
            if status == "Enable" and recommended is None and mine is None:
                status, recommended = "Current", (day, begin, end)
            times.append({"timeDetailUID": f"{uid}-{day}-{begin}-{end}".replace(":", ""),
                          "startTime": begin, "endTime": end, "doctorName": None,
                          "quantity": str(SLOT_QUANTITY), "appointmentQuantity": str(taken),
                          "titleMsg": None, "scheduleTimeStatus": status})
        dates.append({"arrangeUID": f"{uid}-{day.replace('-', '')}",
                      "arrangeWeek": str(dt.date.fromisoformat(day).isoweekday()),
                      "arrangeDay": day, "quantity": str(SLOT_QUANTITY * len(SLOTS)),
                      "appointmentQuantity": str(booked_day), "scheduleArrangeTimeInfoList": times})
    if mine is not None:
        when = (mine.data["scheduleDate"], _hhmm(mine.data["startTime"]), mine.data["endTime"])
    else:
        when = recommended or ("", "", "")
    result = {
        "organizationID": data.get("organizationID") or "00",
        "placerOrderNO": mine.data["placerOrderNO"] if mine else data.get("placerOrderNO") or "",
        "placerAssigningAuthority": "00",
        "serviceSectID": data["serviceSectID"], "serviceText": data["serviceText"],
        "procedureName": data["procedureName"], "medRecNO": data["medRecNO"],
        "patientClass": data["patientClass"], "resourceUID": uid,
        "arrangeUID": f"{uid}-{when[0].replace('-', '')}" if when[0] else "",
        "timeDetailUID": f"{uid}-{when[0]}-{when[1]}-{when[2]}".replace(":", "") if when[0] else "",
        "resourceName": name, "scheduleDate": when[0].replace("-", ""),
        "scheduleTime": when[1].replace(":", ""), "quantity": str(SLOT_QUANTITY),
        "scheduleFlag": "1" if mine else "0",
        "scheduleArrangeResourceInfoList": [
            {"resourceUID": uid, "resourceName": name, "scheduleArrangeDateInfoList": dates}],
    }
    return {"resultCode": SUCCESS, "resultDesc": "成功", "result": result}


def save(store: Bookings, data: dict[str, Any]) -> Result:
    """XKH074: book a slot for an exam order; one active booking per placerOrderNO."""
    order = data["placerOrderNO"]
    existing = store.items.get(order)
    if existing is not None and not existing.cancelled:
        return failed(f"申请单号{order}已预约，请先取消原预约")
    start = _hhmm(data["startTime"])
    if store.taken(data["scheduleResourceUID"], data["scheduleDate"], start) >= SLOT_QUANTITY:
        return failed(f"{data['scheduleDate']} {start} 该时段已约满")
    b = store.add(data)
    date, end = data["scheduleDate"], data["endTime"]
    return {"resultCode": SUCCESS, "resultDesc": "保存成功", "result": {
        "scheduleSeq": order, "scheduleID": order,
        "scheduleResourceUID": data["scheduleResourceUID"],
        "scheduleResourceName": f"{data['scheduleResourceName']}{date.replace('-', '')}",
        "scheduleResourceLocation": data["scheduleResourceName"],
        "scheduleResourceRoom": data["scheduleResourceName"],
        "scheduleStartDate": start, "scheduleEndDate": end, "scheduleNotice": "",
        "scheduleFlag": "2", "scheduleDate": date, "scheduleTimeDetail": f"{start}-{end}",
        "fillerOrderNO": str(1717345 + int(b.accession)), "fillerPatientID": "",
        "accessionNumber": b.accession}}


def cancel(store: Bookings, data: dict[str, Any]) -> Result:
    """XKH075: cancel a booking; unknown orders and second cancels are the vendor's Falid."""
    order = data["placerOrderNO"]
    b = store.items.get(order)
    if b is None or b.data["organizationID"] != data["organizationID"]:
        return failed(f"申请单号{order}无预约记录")
    if b.cancelled:
        return failed(f"申请单号{order}预约已取消，不能重复取消")
    b.cancelled = True
    return {"resultCode": SUCCESS, "resultDesc": "取消成功"}


Operation = Callable[[Bookings, dict[str, Any]], Result]
METHODS: dict[str, tuple[dict[str, Rule], Operation]] = {
    "XKH073": (QUERY_FIELDS, query), "XKH074": (SAVE_FIELDS, save), "XKH075": (CANCEL_FIELDS, cancel)}


def handle(store: Bookings, method: str, body: Any, style: Callable[[str], str]) -> Result:
    """Validate in the vendor's casing, run the operation, answer in the vendor's casing."""
    table, operation = METHODS[method]
    if not isinstance(body, dict):
        return restyle(failed("请求参数必须是对象"), style)
    data, problems = read_fields(body, table, style)
    if problems:
        return restyle(failed("参数错误: " + "; ".join(problems)), style)
    return restyle(operation(store, data), style)


# --- SOAP 1.1 transport (independent of the bridge's own codec: the sim must judge it) --------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_comments=True, remove_pis=True, huge_tree=False)


class SoapFault(Exception):
    """A request the SOAP stack itself refuses (before any business logic)."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(data: bytes | str) -> Any:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if re.search(rb"<!(?i:doctype|entity)", raw):
        raise SoapFault("DTDs and entity declarations are not accepted")
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"malformed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise SoapFault("DTDs are not accepted")
    return root


def element_tree(el: Any) -> Any:
    """An element's children as a dict (repeated names -> list), a leaf as its text."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for c in kids:
        key, value = _local(c.tag), element_tree(c)
        if key in out:
            out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
        else:
            out[key] = value
    return out


def build_element(tag: str, tree: Any) -> Any:
    el = etree.Element(tag)
    _fill(el, tree)
    return el


def _fill(el: Any, tree: Any) -> None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            for item in (value if isinstance(value, list) else [value]):
                _fill(etree.SubElement(el, key), item)
    elif tree is not None:
        el.text = str(tree)


def operation_of(raw: bytes) -> Any:
    """The Body's operation element of a SOAP 1.1 envelope."""
    root = _parse(raw)
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise SoapFault(f"expected a SOAP 1.1 Envelope, got <{root.tag}>")
    body = next((c for c in root if isinstance(c.tag, str) and c.tag == f"{{{SOAP11}}}Body"), None)
    ops = [c for c in body if isinstance(c.tag, str)] if body is not None else []
    if not ops:
        raise SoapFault("SOAP Body is missing or empty")
    return ops[0]


def envelope(content: Any) -> bytes:
    env = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    etree.SubElement(env, f"{{{SOAP11}}}Body").append(content)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fault(message: str, status: int = 500, server: bool = False) -> web.Response:
    f = etree.Element(f"{{{SOAP11}}}Fault", nsmap={"soap": SOAP11})
    etree.SubElement(f, "faultcode").text = "soap:Server" if server else "soap:Client"
    etree.SubElement(f, "faultstring").text = message
    return web.Response(body=envelope(f), status=status, content_type="text/xml", charset="utf-8")


@dataclass(frozen=True)
class SoapVendor:
    """How one SOAP vendor names its operations and carries its fields."""

    namespace: str
    operations: dict[str, str]          # operation element -> seed method
    style: Callable[[str], str]
    param: str | None = None            # "Web Service + XML": the string parameter
    reply_param: str | None = None
    check_action: bool = False          # ASMX routes by SOAPAction: it must name the operation

    def request_tree(self, op: Any) -> Any:
        if self.param is None:
            return element_tree(op) or {}
        holder = next((c for c in op if isinstance(c.tag, str) and _local(c.tag) == self.param), None)
        if holder is None or not (holder.text or "").strip():
            raise SoapFault(f"parameter <{self.param}> is missing or empty")
        inner = _parse(holder.text.strip())
        if _local(inner.tag) != "REQUEST":
            raise SoapFault(f"<{self.param}> must carry a <REQUEST> document, got <{_local(inner.tag)}>")
        return element_tree(inner) or {}

    def reply(self, name: str, result: Result) -> bytes:
        op = etree.Element(f"{{{self.namespace}}}{name}Response", nsmap={"ns": self.namespace})
        if self.reply_param is None:
            _fill(op, result)
        else:
            inner = build_element("RESPONSE", result)
            etree.SubElement(op, self.reply_param).text = etree.tostring(inner, encoding="unicode")
        return envelope(op)


def add_soap_endpoint(app: web.Application, path: str, vendor: SoapVendor) -> None:
    """One SOAP path: record, apply the failure switch, parse, dispatch by operation element."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        state = request.app[SIM_STATE]
        raw = await request.read()
        state.requests.append({"method": request.method, "path": request.path,
                               "headers": {str(k): v for k, v in request.headers.items()},
                               "json": None, "body": raw.decode("utf-8", "replace")})
        failure = state.failure
        if failure.times > 0:
            failure.times -= 1
            if failure.delay_ms:
                await asyncio.sleep(failure.delay_ms / 1000)
            if failure.status is not None:
                return fault(f"simulated failure {failure.status}", failure.status, server=True)
        if request.content_type != "text/xml":
            return fault(f"SOAP 1.1 needs Content-Type text/xml, got {request.content_type or 'none'}",
                         415)
        try:
            op = operation_of(raw)
            name = _local(op.tag)
            method = vendor.operations.get(name)
            if method is None or (op.tag[:1] == "{" and not op.tag.startswith(f"{{{vendor.namespace}}}")):
                raise SoapFault(f"unknown operation {op.tag}; this service offers "
                                + ", ".join(f"{{{vendor.namespace}}}{n}" for n in vendor.operations))
            action = request.headers.get("SOAPAction")
            if action is None:
                raise SoapFault("SOAPAction header is required by SOAP 1.1")
            if vendor.check_action and action.strip('"') not in ("", vendor.namespace + name):
                raise SoapFault(f"SOAPAction {action} does not match operation {name}")
            body = vendor.request_tree(op)
        except SoapFault as exc:
            return fault(str(exc))
        result = handle(request.app[BOOKINGS], method, body, vendor.style)
        return web.Response(body=vendor.reply(name, result), content_type="text/xml", charset="utf-8")

    app.router.add_post(path, endpoint)


PASCAL = SoapVendor(PASCAL_NS, {"ExamScheduleArrangeQuery": "XKH073", "ExamScheduleSave": "XKH074",
                                "ExamScheduleCancel": "XKH075"}, pascal, check_action=True)
UPPER = SoapVendor(UPPER_NS, {"XKH073": "XKH073", "XKH074": "XKH074", "XKH075": "XKH075"}, upper,
                   param="XMLDATA", reply_param="RETURNXML")
REST_PATHS = {"XKH073": "/api/exam/schedule/query", "XKH074": "/api/exam/schedule/save",
              "XKH075": "/api/exam/schedule/cancel"}


def _app(name: str) -> web.Application:
    app = new_app(name)
    app[BOOKINGS] = Bookings()
    return app


@register_sim("exam_pascal", default_port=9105)
def create_pascal_app() -> web.Application:
    """Exam vendor 万达 (seed 002), SOAP 1.1 PascalCase: POST /ExamService.asmx."""
    app = _app("exam_pascal")
    add_soap_endpoint(app, "/ExamService.asmx", PASCAL)
    return app


@register_sim("exam_camel", default_port=9106)
def create_camel_app() -> web.Application:
    """Exam vendor 金塘 (seed 002), REST JSON camelCase: POST /api/exam/schedule/{query,save,cancel}."""
    app = _app("exam_camel")
    for method, path in REST_PATHS.items():
        async def endpoint(request: web.Request, body: dict[str, Any], method: str = method) -> Result:
            return handle(request.app[BOOKINGS], method, body, camel)
        add_endpoint(app, path, endpoint)
    return app


@register_sim("exam_upper", default_port=9107)
def create_upper_app() -> web.Application:
    """Exam vendor 金塘封装 (seed 002), SOAP 1.1 ALL CAPS, XML in a string: POST /services/EXAMSERVICE."""
    app = _app("exam_upper")
    add_soap_endpoint(app, "/services/EXAMSERVICE", UPPER)
    return app
