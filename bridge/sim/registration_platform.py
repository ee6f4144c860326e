"""Simulator of the appointment-registration platform (seed 001 (b), 预约挂号 中心端接口).

The platform publishes SOAP 1.1 operations in the "Web Service + XML" style: the operation
element (namespace ``NAMESPACE``, our choice: the seed names none) has one string parameter
``<xml>`` carrying a whole ``<Request>`` document, escaped or CDATA; the answer is
``<{op}Response><return>`` carrying a ``<Response>`` document as a string. Every Request is
checked against the seed's field tables, kept below as data, so a route that drops, over-fills
or mis-shapes a field fails here as it would in production:

- 是否必填 是 = required; blank or 否 = optional (the seed leaves ``Count`` blank).
- 长度（字节） is counted in **bytes of UTF-8**, the charset of the envelope the platform gets:
  ``DoctorName`` (20 bytes) fits six Chinese characters, not seven.
- 数据类型 Int: a non-negative integer; ``Count`` must equal the number of ``<Record>``s.

Violations answer ``ResultCode 1`` with ``ErrorMsg`` naming each field (at most 256 bytes, the
seed's limit), HTTP 200: the platform's own error shape. Envelope-level problems (not SOAP 1.1,
unknown operation, missing ``<xml>``) are SOAP Faults with HTTP 500.

Operations at ``POST /services/ResourceService``: ``synchronizedWorkInfo`` (seed §2.1),
``stopWorkNotice`` (§2.2), ``changeWorkNotice`` (§2.3). The stored schedule is at
``GET /_sim/schedule`` (``DELETE`` clears it), beside the ``/_sim/*`` routes of ``bridge.sim.base``;
``/_sim/requests`` records ``{method, path, headers, body, operation, document}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from xml.sax.saxutils import escape

from aiohttp import web
from lxml import etree

from bridge.sim import register_sim
from bridge.sim.base import SIM_STATE, json_response, new_app

NAMESPACE = "http://platform.example/ws"
PATH = "/services/ResourceService"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
ERROR_MSG_BYTES = 256       # seed: ErrorMsg String 256
MAX_RECORDS = 10_000        # per request; a bound, not a seed rule

#: A value rule beyond type and length: returns a problem ("expected ...") or None.
Check = Callable[[str], str | None]


@dataclass(frozen=True)
class Field:
    """One row of a seed table: 数据类型, 长度（字节）, 是否必填, plus what 说明 states."""

    type: str                       # "String" | "Int"
    max_bytes: int | None
    required: bool
    check: Check | None = None


def one_of(*values: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in values else f"must be one of {', '.join(values)}, got {v!r}"
    return check


def iso_date(v: str) -> str | None:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            dt.date.fromisoformat(v)
            return None
    except ValueError:
        pass
    return f"expected yyyy-mm-dd, got {v!r}"


def clock_time(v: str) -> str | None:
    m = re.fullmatch(r"(\d{2}):(\d{2})(?::(\d{2}))?", v)
    if m and int(m[1]) < 24 and int(m[2]) < 60 and int(m[3] or 0) < 60:
        return None
    return f"expected HH:MM, got {v!r}"


S, I, YES, NO = "String", "Int", True, False
TIME_CODES = one_of("0", "1", "2", "3", "4")   # 0 全天 1 上午 2 中午 3 下午 4 晚上

# §2.1 synchronizedWorkInfo: Request 请求参数节点 and WorkInfo.Record 单个排班信息.
SYNC_REQUEST: dict[str, Field] = {
    "TransactionId": Field(S, 36, YES),
    "HospitalNo": Field(S, 20, YES),
    "Count": Field(I, None, NO),                  # 是否必填 left blank in the seed
    "IsMultiTimes": Field(S, 1, YES, one_of("0", "1")),
}
SYNC_RECORD: dict[str, Field] = {
    "WorkId": Field(S, 100, YES),
    "WorkAddr": Field(S, 100, NO),
    "DoctorId": Field(S, 36, YES),
    "DoctorName": Field(S, 20, YES),
    "DepartmentId": Field(S, 36, YES),
    "DepartmentName": Field(S, 200, YES),
    "WorkDate": Field(S, 20, YES, iso_date),
    "WorkTimeCode": Field(S, 1, YES, TIME_CODES),
    "WorkStartDate": Field(S, 8, YES, clock_time),
    "WorkStopDate": Field(S, 8, YES, clock_time),
    "RegistrationTypeId": Field(S, 20, NO),
    "RegistrationTypeName": Field(S, 100, NO),
    "RegistrationPrice": Field(S, 20, YES),
    "RegistrationNumber": Field(I, None, YES),
    "RegistrationCount": Field(I, None, YES),
    "HosLockedCount": Field(I, None, NO),
}

# §2.2 stopWorkNotice.
STOP_REQUEST: dict[str, Field] = {
    "TransactionId": Field(S, 36, YES),
    "HospitalNo": Field(S, 20, YES),
}
STOP_RECORD: dict[str, Field] = {
    "WorkId": Field(S, 100, YES),
    "StopReason": Field(S, 500, YES),
}

# §2.3 changeWorkNotice: Record 换诊单个信息节点 and its NewWorkInfo 新排班信息节点.
CHANGE_RECORD: dict[str, Field] = {
    "OldWorkId": Field(S, 100, YES),
    "ChangeReason": Field(S, 500, YES),
}
CHANGE_NEW_WORK: dict[str, Field] = {
    "WorkId": Field(S, 100, YES),
    "WorkAddr": Field(S, 100, NO),
    "DepartmentId": Field(S, 20, YES),
    "DepartmentName": Field(S, 200, YES),
    "DepartmentNameAbbr": Field(S, 100, NO),
    "DoctorId": Field(S, 36, YES),
    "DoctorName": Field(S, 20, YES),
    "DoctorNameAbbr": Field(S, 200, NO),
    "DoctorSkill": Field(S, 300, NO),
    "DoctorDesc": Field(S, 300, NO),
    "DoctorDegreeCode": Field(S, 20, NO),
    "DoctorDegreeName": Field(S, 40, NO),
    "WorkDate": Field(S, 20, YES, iso_date),
    "WorkTimeCode": Field(S, 20, YES, TIME_CODES),
    "WorkStartDate": Field(S, 8, YES, clock_time),
    "WorkStopDate": Field(S, 8, YES, clock_time),
    "RegistrationPrice": Field(S, 20, YES),
    "RegistrationTypeId": Field(S, 20, NO),
    "RegistrationTypeName": Field(S, 100, NO),
    "RegistrationNumber": Field(I, None, YES),
    "RegistrationCount": Field(I, None, YES),
}


def check_table(node: Any, table: Mapping[str, Field], prefix: str = "") -> list[str]:
    """Every problem of ``node`` against ``table`` as ``"<path>: <what>"``; extra fields pass."""
    if not isinstance(node, dict):
        return [f"{prefix.rstrip('.') or 'Request'}: expected child elements"]
    problems: list[str] = []
    for name, rule in table.items():
        value = node.get(name)
        where = prefix + name
        if value is None or (isinstance(value, str) and not value.strip()):
            if rule.required:
                problems.append(f"{where}: required")
            continue
        if not isinstance(value, str):
            problems.append(f"{where}: expected text, got child elements")
        elif rule.type == I and not re.fullmatch(r"\d+", value.strip()):
            problems.append(f"{where}: expected an Int, got {value!r}")
        elif rule.max_bytes is not None and len(value.encode("utf-8")) > rule.max_bytes:
            problems.append(f"{where}: at most {rule.max_bytes} bytes, got "
                            f"{len(value.encode('utf-8'))}")
        elif rule.check is not None and (problem := rule.check(value)) is not None:
            problems.append(f"{where}: {problem}")
    return problems


def element_to_dict(el: Any) -> Any:
    """Children to ``{name: text | dict | [..]}`` (repeated names become lists); text otherwise."""
    kids = [c for c in el if isinstance(c.tag, str)]
    if not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for c in kids:
        name, value = etree.QName(c).localname, element_to_dict(c)
        if name in out:
            prev = out[name]
            out[name] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


def records(doc: dict[str, Any], problems: list[str]) -> list[Any]:
    """``WorkInfo.Record`` as a list (one Record is still a list); at least one is required."""
    info = doc.get("WorkInfo")
    found = info.get("Record") if isinstance(info, dict) else None
    if found is None:
        problems.append("WorkInfo.Record: at least one Record required")
        return []
    items = found if isinstance(found, list) else [found]
    if len(items) > MAX_RECORDS:
        problems.append(f"WorkInfo.Record: at most {MAX_RECORDS} records, got {len(items)}")
        return []
    return items


class Schedules:
    """The platform's schedule: hospital -> WorkId -> record (with ``StopReason`` once stopped)."""

    def __init__(self) -> None:
        self.by_hospital: dict[str, dict[str, dict[str, Any]]] = {}

    def of(self, hospital: str) -> dict[str, dict[str, Any]]:
        return self.by_hospital.setdefault(hospital, {})


SCHEDULES = web.AppKey("schedules", Schedules)
Response = dict[str, Any]
Operation = Callable[[Schedules, dict[str, Any]], Response]


def failed(problems: list[str]) -> Response:
    msg = "; ".join(problems).encode("utf-8")[:ERROR_MSG_BYTES].decode("utf-8", "ignore")
    return {"ResultCode": "1", "ErrorMsg": msg}


def synchronized_work_info(store: Schedules, doc: dict[str, Any]) -> Response:
    """§2.1: store every Record; IsMultiTimes 1 first clears the hospital's old schedule."""
    problems = check_table(doc, SYNC_REQUEST)
    items = records(doc, problems)
    for i, rec in enumerate(items):
        item = check_table(rec, SYNC_RECORD, f"WorkInfo.Record[{i}].")
        if not item and int(rec["RegistrationNumber"]) > int(rec["RegistrationCount"]):
            item.append(f"WorkInfo.Record[{i}].RegistrationNumber: more than RegistrationCount")
        problems += item
    count = doc.get("Count")
    if isinstance(count, str) and count.isdigit() and items and int(count) != len(items):
        problems.append(f"Count: {count} but {len(items)} Record(s) sent")
    if problems:
        return failed(problems)
    hospital = store.of(doc["HospitalNo"])
    if doc["IsMultiTimes"] == "1":
        hospital.clear()
    for rec in items:
        hospital[rec["WorkId"]] = dict(rec)
    return {"ResultCode": "0", "ErrorMsg": "", "Count": str(len(items)),
            "HospitalNo": doc["HospitalNo"]}


def _unknown(hospital: dict[str, Any], items: list[Any], key: str, where: str) -> list[str]:
    return [f"WorkInfo.Record[{i}].{key}: no schedule {rec[key]!r} at hospital {where}"
            for i, rec in enumerate(items) if rec[key] not in hospital]


def stop_work_notice(store: Schedules, doc: dict[str, Any]) -> Response:
    """§2.2: mark schedules stopped; all or nothing, every WorkId must be known."""
    problems = check_table(doc, STOP_REQUEST)
    items = records(doc, problems)
    for i, rec in enumerate(items):
        problems += check_table(rec, STOP_RECORD, f"WorkInfo.Record[{i}].")
    if problems:
        return failed(problems)
    hospital = store.of(doc["HospitalNo"])
    problems = _unknown(hospital, items, "WorkId", doc["HospitalNo"])
    if problems:
        return failed(problems)
    for rec in items:
        hospital[rec["WorkId"]]["StopReason"] = rec["StopReason"]
    return {"ResultCode": "0", "ErrorMsg": "", "HospitalNo": doc["HospitalNo"]}


def change_work_notice(store: Schedules, doc: dict[str, Any]) -> Response:
    """§2.3: delete the old schedule, insert the new one (处理逻辑：删除原排班；插入新排班)."""
    problems = check_table(doc, STOP_REQUEST)
    items = records(doc, problems)
    for i, rec in enumerate(items):
        where = f"WorkInfo.Record[{i}]."
        problems += check_table(rec, CHANGE_RECORD, where)
        if isinstance(rec, dict):
            new = rec.get("NewWorkInfo")
            problems += (check_table(new, CHANGE_NEW_WORK, where + "NewWorkInfo.")
                         if new else [where + "NewWorkInfo: required"])
    if problems:
        return failed(problems)
    hospital = store.of(doc["HospitalNo"])
    problems = _unknown(hospital, items, "OldWorkId", doc["HospitalNo"])
    if problems:
        return failed(problems)
    for rec in items:
        del hospital[rec["OldWorkId"]]
        new = rec["NewWorkInfo"]
        hospital[new["WorkId"]] = {**new, "ChangeReason": rec["ChangeReason"]}
    return {"ResultCode": "0", "ErrorMsg": ""}


OPERATIONS: dict[str, Operation] = {
    "synchronizedWorkInfo": synchronized_work_info,
    "stopWorkNotice": stop_work_notice,
    "changeWorkNotice": change_work_notice,
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False, remove_comments=True)


def soap_reply(body: str, status: int = 200) -> web.Response:
    env = (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP11}">'
           f"<soap:Body>{body}</soap:Body></soap:Envelope>")
    return web.Response(body=env.encode("utf-8"), status=status,
                        content_type="text/xml", charset="utf-8")


def fault(message: str, code: str = "soap:Client") -> web.Response:
    return soap_reply(f"<soap:Fault><faultcode>{code}</faultcode>"
                      f"<faultstring>{escape(message)}</faultstring></soap:Fault>", status=500)


def response_document(resp: Response) -> str:
    return "<Response>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in resp.items()) + "</Response>"


def parse(data: bytes) -> Any:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DTDs and entities are refused")
    return etree.fromstring(data, _PARSER)


async def service(request: web.Request) -> web.StreamResponse:
    """The one SOAP endpoint: record, apply the failure switch, unwrap, check, answer."""
    state = request.app[SIM_STATE]
    raw = await request.read()
    entry: dict[str, Any] = {"method": request.method, "path": request.path,
                             "headers": {str(k): v for k, v in request.headers.items()},
                             "body": raw.decode("utf-8", "replace"), "operation": None,
                             "document": None}
    state.requests.append(entry)
    failure = state.failure
    if failure.times > 0:
        failure.times -= 1
        if failure.delay_ms:
            await asyncio.sleep(failure.delay_ms / 1000)
        if failure.status is not None:
            return soap_reply(f"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>"
                              f"simulated failure {failure.status}</faultstring></soap:Fault>",
                              status=failure.status)
    if request.content_type != "text/xml":
        return fault(f"SOAP 1.1 expects Content-Type text/xml, got {request.content_type}")
    if "SOAPAction" not in request.headers:
        return fault("SOAP 1.1 request without a SOAPAction header")
    try:
        env = parse(raw)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return fault(f"malformed envelope: {exc}")
    body = env.find(f"{{{SOAP11}}}Body") if env.tag == f"{{{SOAP11}}}Envelope" else None
    op = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if op is None:
        return fault("not a SOAP 1.1 envelope with an operation in its Body")
    qname = etree.QName(op)
    entry["operation"] = qname.localname
    handler = OPERATIONS.get(qname.localname)
    if handler is None or qname.namespace != NAMESPACE:
        return fault(f"unknown operation {{{qname.namespace or ''}}}{qname.localname}; expected "
                     f"one of {', '.join(OPERATIONS)} in {NAMESPACE}")
    holder = next((c for c in op if isinstance(c.tag, str) and etree.QName(c).localname == "xml"),
                  None)
    text = (holder.text or "").strip() if holder is not None else ""
    if not text:
        return fault(f"{qname.localname}: the string parameter <xml> is missing or empty")
    try:
        inner = parse(text.encode("utf-8"))
    except (etree.XMLSyntaxError, ValueError) as exc:
        resp = failed([f"xml: not a well-formed document: {exc}"])
    else:
        doc = element_to_dict(inner)
        entry["document"] = doc
        if etree.QName(inner).localname != "Request":
            resp = failed([f"xml: root element must be <Request>, got <{etree.QName(inner).localname}>"])
        elif not isinstance(doc, dict):
            resp = failed(["Request: expected child elements"])
        else:
            resp = handler(request.app[SCHEDULES], doc)
    op_name = qname.localname
    return soap_reply(f'<ns:{op_name}Response xmlns:ns="{NAMESPACE}"><return>'
                      f"{escape(response_document(resp))}</return></ns:{op_name}Response>")


async def get_schedule(request: web.Request) -> web.Response:
    return json_response(request.app[SCHEDULES].by_hospital)


async def clear_schedule(request: web.Request) -> web.Response:
    request.app[SCHEDULES].by_hospital.clear()
    return json_response({"cleared": True})


@register_sim("registration_platform", default_port=9103)
def create_app() -> web.Application:
    """Registration platform (seed 001 b, SOAP 1.1): synchronizedWorkInfo, stopWorkNotice, changeWorkNotice."""
    app = new_app("registration_platform")
    app[SCHEDULES] = Schedules()
    app.router.add_post(PATH, service)
    app.router.add_get("/_sim/schedule", get_schedule)
    app.router.add_delete("/_sim/schedule", clear_schedule)
    return app
