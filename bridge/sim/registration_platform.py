"""Registration platform simulator: the 预约挂号 platform's own SOAP services (seed 001 part (b)).

It stands for ONE vendor system, the appointment-registration platform (资源平台), and serves
the operations the seed's 中心端接口 sections say the PLATFORM provides for hospitals
(区县资源池/医院方——>资源平台) to call, all at ``POST /services/ResourceService``:

=====================  =======  ==============================  ==================================
operation              section  title                           request list  /  reply
=====================  =======  ==============================  ==================================
synchronizedWorkInfo   2.1      医院排班信息                     WorkInfo/Record  ->  Count, HospitalNo
stopWorkNotice         2.2      停诊通知                         WorkInfo/Record  ->  HospitalNo
changeWorkNotice       2.3      换诊通知                         WorkInfo/Record/NewWorkInfo  ->  -
getPromiseNotice       2.4      履约/爽约/退号通知               WorkInfo/Record  ->  HospitalNo, WorkFlowId
ReconciliationInfo     2.5      财务对账                         OrderInfo  ->  List/Result
HospitalInfo           5.1      机构信息                         flat  ->  HospitalNo
DepartmentInfo         5.2      科室信息                         DepartmentInfo/Record  ->  Count, HospitalNo
DoctorInfo             5.3      医生信息                         DoctorInfo/Record  ->  Count, HospitalNo
=====================  =======  ==============================  ==================================

The hospital-side services of sections 3 and 6 (confirmRegistration, the 3.5 getPromiseNotice
退号通知 of ``getPromiseNotice.hospital.yaml``, ...) are NOT served: asking for one is an unknown
operation. ``getPromiseNotice`` here is always the 2.4 platform service.

Checking is driven by the transcribed spec files as data,
``transforms/specs/registration/<operation>.yaml``, loaded when the app is created (each must
name its operation and say in its notes ``Side: PLATFORM provides``, or the app refuses to
start). Every ``<Request>`` is walked recursively against the file's ``request`` fields (every
leaf is text) and these are checked, each problem naming the field by its path
(``WorkInfo.Record[0].DoctorName``; list items are numbered from 0):

- the root element is ``<Request>`` (no namespace), the inner document well-formed, no DTD;
- every field marked ``required: true`` is present and non-empty; a required list (``Record``,
  ``Result``) has one or more items (``WorkInfo.Record: at least one required``);
- no element the spec does not define (named, e.g. ``WorkInfo.Record[1].Bogus``), no attributes,
  no text beside child elements, no child elements inside a text field, a non-list field at most
  once;
- ``max_length`` counted in UTF-8 bytes where the unit is ``bytes`` (长度（字节）, all of these
  files), in characters otherwise: ``DoctorName`` (20 bytes) holds six 汉字, not seven;
- ``integer`` (Int) fields are integers; ``enum`` fields hold one of the listed values;
- ``format`` where the spec gives one: ``yyyy-mm-dd`` / ``yyyy-MM-dd`` (a real calendar date),
  ``HH:mm`` (00:00-23:59), ``YYYY-MM-DD HH:mm:ss`` / ``yyyy-MM-dd HH:mm:ss``;
- ``Count``, where the spec has a ``Count`` beside a record list (synchronizedWorkInfo,
  DepartmentInfo, DoctorInfo), equals the number of records when it is given.

Business rules beyond the tables, kept from the earlier simulator because they agree with the
seed, checked only once the tables pass:

- synchronizedWorkInfo stores each Record as the hospital's schedule under its ``WorkId``;
  ``IsMultiTimes`` 1 (是否要清空旧的排班记录: 是) first clears that hospital's stored schedule;
  ``RegistrationNumber`` (剩余号源数) may not exceed ``RegistrationCount`` (号源总数);
- stopWorkNotice marks known schedules stopped (keeps ``StopReason``); all or nothing: a WorkId the
  platform does not hold fails the whole request;
- changeWorkNotice follows 处理逻辑：删除原排班；插入新排班: every ``OldWorkId`` must be held (and
  named once per request), it is deleted and ``NewWorkInfo`` inserted under its ``WorkId`` with
  the ``ChangeReason``; the remaining/total rule applies to ``NewWorkInfo`` too.

Replies (HTTP 200, the ``<Response>`` document as the string ``<{op}Response><return>``):

- success: ResultCode 0 and EVERY field the operation's ``response`` spec marks required, plus the
  optional ones that mean something here, in the spec's element order, ``ErrorMsg`` empty (as in
  every sample). The reply is itself checked against the response spec before it is sent.
- a violation: ``<Response><ResultCode>1</ResultCode><ErrorMsg>...</ErrorMsg></Response>``: every
  problem ``<path>: <what>`` joined by ``; ``, never echoing a value that was sent, at most the
  response spec's ErrorMsg length (256 bytes); whole problems are kept while they fit and the
  rest counted as ``(+N more)``.
- envelope-level problems are SOAP 1.1 Faults with HTTP 500: Content-Type not ``text/xml`` or no
  ``SOAPAction`` header (``soap:Client``), an envelope not in the SOAP 1.1 namespace, e.g. SOAP
  1.2 (``soap:VersionMismatch``), malformed XML or a DTD, no operation in the Body, an unknown
  operation or one outside ``NAMESPACE``, a parameter other than ``<xml>``, ``<xml>`` missing,
  empty or holding child elements instead of text.

Readings chosen where the seed is ambiguous or silent (the spec files' notes give more):

- Transport: the seed says only "Web Service + XML" via SOAP; no WSDL, namespace or argument
  name. SOAP 1.1, the operation element in ``NAMESPACE`` (our choice), one string parameter
  ``<xml>`` (found by local name, qualified or not) carrying the ``<Request>`` document escaped or
  as CDATA; the reply is ``<ns:{op}Response><return>`` with the ``<Response>`` as a string. The
  ``SOAPAction`` header must be present; its value is not checked.
- The inner document is read as UTF-8 whatever its own XML declaration says (it arrives as a
  string inside a UTF-8 envelope).
- Values are trimmed of surrounding whitespace before every check (pretty-printed XML); an
  element present but empty counts as absent (the samples send every optional element empty).
- Element order is not significant (the 2.3 sample orders NewWorkInfo's children differently from
  its table); namespaced elements inside the document are not the spec's elements.
- Int: an optional minus sign and ASCII digits, within 32 bits (Java ``int``); no length applies.
- Group rows (WorkInfo, Record, NewWorkInfo, DepartmentInfo, DoctorInfo, List, Result) carry no
  flag in the seed; the spec files take them as required (OrderInfo optional) and so do we.
- ``Count`` (是否必填 blank or 否) is optional; when present it must match.
- WorkStartDate/WorkStopDate (2.1): ``HH:mm`` only, as the spec's format (from the example 08:00),
  although their length (8) would fit ``HH:mm:ss``; in 2.3 the table gives no format, so only the
  length is checked.
- 2.4 workDate: ``YYYY-MM-DD HH:mm:ss`` with ASCII colons (the seed writes full-width ones).
  The reply has one ``WorkFlowId`` though a request may carry several Records: we answer the
  first Record's. No registration state is checked (the simulator books none).
- 2.5 ReconciliationInfo: the seed's 主要使用者 row points the other way but section and
  description say HIS calls the platform; served here. The platform would ask a third party for
  order details; the simulator makes them up deterministically: one ``Result`` per 交易流水号 in
  ``OrderInfo.Batch`` (split on ``,`` or ``，``; each one at most 100 bytes, the reply's Batch
  limit, else the request fails), otherwise two rows; dated ``StartDate`` (else ``EndDate``, else
  the sample's 2018-01-10); ``Total`` = ``PayAmount`` - ``RefundAmount``. Which of Batch or the
  dates should win is not stated: Batch selects, the date dates the rows.
- 5.1 HospitalInfo accepts ``SeqNo`` (sample only, not in the table) as the spec file does.
- DoctorInfo's reply fields beyond ResultCode are all optional in the table; Count and
  HospitalNo are sent anyway, as in 5.1/5.2.

Test hooks beside the ``/_sim/*`` routes of ``bridge.sim.base``: ``GET /_sim/schedule`` (hospital ->
WorkId -> record) and ``DELETE /_sim/schedule``; ``/_sim/requests`` records ``{method, path,
headers, body, operation, document}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union
from xml.sax.saxutils import escape

import yaml
from aiohttp import web
from lxml import etree

from bridge.sim import register_sim
from bridge.sim.base import SIM_STATE, json_response, new_app

NAMESPACE = "http://platform.example/ws"
PATH = "/services/ResourceService"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SPEC_DIR = Path(__file__).resolve().parents[2] / "transforms" / "specs" / "registration"
MAX_RECORDS = 10_000        # list items per request; a bound, not a seed rule
INT32 = (-(2 ** 31), 2 ** 31 - 1)

#: The operations the PLATFORM provides (seed 001 (b) sections 2 and 5): name -> section number.
PLATFORM_OPERATIONS: dict[str, str] = {
    "synchronizedWorkInfo": "2.1",
    "stopWorkNotice": "2.2",
    "changeWorkNotice": "2.3",
    "getPromiseNotice": "2.4",
    "ReconciliationInfo": "2.5",
    "HospitalInfo": "5.1",
    "DepartmentInfo": "5.2",
    "DoctorInfo": "5.3",
}
PLATFORM_SIDE = "Side: PLATFORM provides"

#: The spec files' ``format`` strings: the exact shape and the calendar/clock reading.
FORMATS: dict[str, tuple[str, str]] = {
    "yyyy-mm-dd": (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    "yyyy-MM-dd": (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    "HH:mm": (r"\d{2}:\d{2}", "%H:%M"),
    "YYYY-MM-DD HH:mm:ss": (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    "yyyy-MM-dd HH:mm:ss": (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
}
SCALARS = {"string", "integer"}
GROUPS = {"object", "list"}


# --- the spec files as data ----------------------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """One transcribed table row: the element's name, type, flag, limits, children."""

    name: str
    type: str                          # string | integer | object | list
    required: bool
    max_length: int | None
    unit: str                          # bytes | chars
    enum: tuple[str, ...]
    format: str | None
    fields: tuple["FieldSpec", ...]


@dataclass(frozen=True)
class OperationSpec:
    operation: str
    section: str                       # the seed's title, e.g. 医院排班信息
    number: str                        # the seed's section number, e.g. 2.1
    request: tuple[FieldSpec, ...]
    response: tuple[FieldSpec, ...]

    @property
    def error_msg_limit(self) -> int:
        for f in self.response:
            if f.name == "ErrorMsg" and f.max_length:
                return f.max_length
        raise ValueError(f"{self.operation}: the response spec gives no ErrorMsg length")


def _field(raw: dict[str, Any], unit: str, where: str) -> FieldSpec:
    name, kind = str(raw["name"]), str(raw["type"])
    if kind not in SCALARS | GROUPS:
        raise ValueError(f"{where}{name}: type {kind!r} is not one this simulator checks")
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"{where}{name}: format {fmt!r} unknown to this simulator")
    required = raw.get("required")
    if required not in (True, False):
        raise ValueError(f"{where}{name}: required {required!r} (conditional is not used here)")
    children = tuple(_field(c, unit, f"{where}{name}.") for c in raw.get("fields") or ())
    if (kind in GROUPS) != bool(children):
        raise ValueError(f"{where}{name}: {kind} with{'out' if kind in GROUPS else ''} fields")
    return FieldSpec(name=name, type=kind, required=required,
                     max_length=raw.get("max_length"), unit=raw.get("length_unit", unit),
                     enum=tuple(str(k) for k in (raw.get("enum") or {})), format=fmt,
                     fields=children)


def load_spec(operation: str, spec_dir: Path = SPEC_DIR) -> OperationSpec:
    """Read ``<operation>.yaml``; refuse a file that is not the platform side's."""
    path = spec_dir / f"{operation}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if raw.get("operation") != operation:
        raise ValueError(f"{path}: operation is {raw.get('operation')!r}, not {operation!r}")
    if not any(PLATFORM_SIDE in str(n) for n in raw.get("notes") or ()):
        raise ValueError(f"{path}: notes do not say {PLATFORM_SIDE!r}")
    unit = raw.get("length_unit", "chars")
    return OperationSpec(
        operation=operation, section=str(raw["section"]), number=PLATFORM_OPERATIONS[operation],
        request=tuple(_field(f, unit, "") for f in raw["request"]),
        response=tuple(_field(f, unit, "") for f in raw["response"]))


@functools.lru_cache(maxsize=1)
def load_specs() -> dict[str, OperationSpec]:
    return {op: load_spec(op) for op in PLATFORM_OPERATIONS}


# --- the checker -----------------------------------------------------------------------------------

def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _length(value: str, unit: str) -> int:
    return len(value.encode("utf-8")) if unit == "bytes" else len(value)


def check_value(f: FieldSpec, value: str) -> str | None:
    """The first problem of a non-empty, trimmed leaf value, worded without the value."""
    if f.type == "integer":
        if not re.fullmatch(r"-?[0-9]+", value) or not INT32[0] <= int(value) <= INT32[1]:
            return "not an Int"
    if f.max_length is not None and _length(value, f.unit) > f.max_length:
        unit = "bytes" if f.unit == "bytes" else "characters"
        return f"longer than {f.max_length} {unit}"
    if f.enum and value not in f.enum:
        return f"not one of {', '.join(f.enum)}"
    if f.format is not None:
        shape, reading = FORMATS[f.format]
        try:
            if not re.fullmatch(shape, value):
                raise ValueError
            dt.datetime.strptime(value, reading)
        except ValueError:
            return f"not in the format {f.format}"
    return None


def _lists_below(fields: tuple[FieldSpec, ...]) -> list[tuple[str, ...]]:
    """Record lists beside (or one object below) a level: their paths relative to it."""
    found = [(f.name,) for f in fields if f.type == "list"]
    for f in fields:
        if f.type == "object":
            found += [(f.name, g.name) for g in f.fields if g.type == "list"]
    return found


def check_group(el: Any, fields: tuple[FieldSpec, ...], where: str, problems: list[str]) -> None:
    """Every problem of a group element (the root, an object or a list item) against ``fields``."""
    label = where or etree.QName(el).localname
    problems += [f"{label}: attribute {a} not defined by the spec" for a in el.attrib]
    if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
        problems.append(f"{label}: text beside child elements")
    by_name = {f.name: f for f in fields}
    seen: dict[str, list[Any]] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in by_name:
            problems.append(f"{_join(where, child.tag)}: not defined by the spec")
        else:
            seen.setdefault(child.tag, []).append(child)
    for f in fields:
        items, path = seen.get(f.name, []), _join(where, f.name)
        if f.type == "list":
            if not items:
                if f.required:
                    problems.append(f"{path}: at least one required")
            elif len(items) > MAX_RECORDS:
                problems.append(f"{path}: more than {MAX_RECORDS} items")
            else:
                for i, item in enumerate(items):
                    check_group(item, f.fields, f"{path}[{i}]", problems)
            continue
        if len(items) > 1:
            problems.append(f"{path}: given more than once")
            continue
        item = items[0] if items else None
        if f.type == "object":
            if item is not None:
                check_group(item, f.fields, path, problems)
            elif f.required:
                problems.append(f"{path}: required")
            continue
        if item is not None and len(item):
            problems.append(f"{path}: expected text, not child elements")
            continue
        if item is not None and item.attrib:
            problems += [f"{path}: attribute {a} not defined by the spec" for a in item.attrib]
        value = (item.text or "").strip() if item is not None else ""
        if not value:
            if f.required:
                problems.append(f"{path}: required")
        elif (problem := check_value(f, value)) is not None:
            problems.append(f"{path}: {problem}")
    _check_count(el, by_name, seen, where, problems)


def _check_count(el: Any, by_name: dict[str, FieldSpec], seen: dict[str, list[Any]], where: str,
                 problems: list[str]) -> None:
    """``Count`` beside exactly one record list must equal its number of items, when given."""
    count = by_name.get("Count")
    lists = _lists_below(tuple(by_name.values()))
    if count is None or count.type != "integer" or len(lists) != 1 or len(seen.get("Count", [])) != 1:
        return
    text = (seen["Count"][0].text or "").strip()
    if not text or check_value(count, text) is not None:
        return
    holders = seen.get(lists[0][0], [])
    if len(lists[0]) == 1:
        n = len(holders)
    elif len(holders) == 1:
        n = sum(1 for c in holders[0] if c.tag == lists[0][1])
    else:
        return
    if n and int(text) != n:
        problems.append(f"{_join(where, 'Count')}: differs from the number of "
                        f"{_join(where, '.'.join(lists[0]))}")


def values(el: Any, fields: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """A checked group as ``{name: text | {...} | [{...}, ...]}``; lists always lists, empties out."""
    out: dict[str, Any] = {}
    for f in fields:
        items = [c for c in el if c.tag == f.name]
        if f.type == "list":
            if items:
                out[f.name] = [values(i, f.fields) for i in items]
        elif items and f.type == "object":
            out[f.name] = values(items[0], f.fields)
        elif items and (text := (items[0].text or "").strip()):
            out[f.name] = text
    return out


# --- replies ---------------------------------------------------------------------------------------

Reply = dict[str, Any]
Outcome = Union[Reply, list[str]]      # a success reply's values, or the problems


def build(tag: str, fields: tuple[FieldSpec, ...], data: dict[str, Any]) -> Any:
    """An element from ``data`` in the spec's order; a required field missing is a simulator bug."""
    el = etree.Element(tag)
    for f in fields:
        if f.name not in data:
            if f.required:
                raise RuntimeError(f"simulator bug: reply field {tag}.{f.name} missing")
            continue
        value = data[f.name]
        if f.type == "list":
            el.extend(build(f.name, f.fields, item) for item in value)
        elif f.type == "object":
            el.append(build(f.name, f.fields, value))
        else:
            etree.SubElement(el, f.name).text = str(value)
    unknown = set(data) - {f.name for f in fields}
    if unknown:
        raise RuntimeError(f"simulator bug: reply fields {sorted(unknown)} not in the spec")
    return el


def success(spec: OperationSpec, data: Reply) -> str:
    """The success ``<Response>``, checked against the response spec before it goes out."""
    el = build("Response", spec.response, {"ResultCode": "0", "ErrorMsg": "", **data})
    problems: list[str] = []
    check_group(el, spec.response, "", problems)
    if problems:
        raise RuntimeError(f"simulator bug: {spec.operation} reply fails its spec: {problems}")
    return etree.tostring(el, encoding="unicode")


def error_msg(problems: list[str], limit: int) -> str:
    """Whole problems while they fit in ``limit`` UTF-8 bytes, then ``(+N more)``."""
    def size(s: str) -> int:
        return len(s.encode("utf-8"))

    kept: list[str] = []
    for i, p in enumerate(problems):
        rest = len(problems) - i - 1
        candidate = "; ".join(kept + [p]) + (f"; (+{rest} more)" if rest else "")
        if size(candidate) <= limit:
            kept.append(p)
            continue
        if not kept:   # one problem alone too long (a long unknown element name): cut it
            tail = f"; (+{rest} more)" if rest else ""
            room = max(limit - size(tail), 0)
            return p.encode("utf-8")[:room].decode("utf-8", "ignore") + tail
        return "; ".join(kept) + f"; (+{len(problems) - i} more)"
    return "; ".join(kept)


def failure(spec: OperationSpec | None, problems: list[str]) -> str:
    limit = spec.error_msg_limit if spec is not None else 256
    el = etree.Element("Response")
    etree.SubElement(el, "ResultCode").text = "1"
    etree.SubElement(el, "ErrorMsg").text = error_msg(problems, limit)
    return etree.tostring(el, encoding="unicode")


# --- state and the operations' business ------------------------------------------------------------

class Schedules:
    """The platform's schedule: hospital -> WorkId -> record (``StopReason`` once stopped)."""

    def __init__(self) -> None:
        self.by_hospital: dict[str, dict[str, dict[str, Any]]] = {}

    def of(self, hospital: str) -> dict[str, dict[str, Any]]:
        return self.by_hospital.setdefault(hospital, {})


SCHEDULES = web.AppKey("schedules", Schedules)
Operation = Callable[[Schedules, dict[str, Any]], Outcome]


def _over_total(rec: dict[str, Any], where: str) -> list[str]:
    if int(rec["RegistrationNumber"]) > int(rec["RegistrationCount"]):
        return [f"{where}.RegistrationNumber: more than RegistrationCount"]
    return []


def synchronized_work_info(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """2.1: store every Record; IsMultiTimes 1 first clears the hospital's stored schedule."""
    items = doc["WorkInfo"]["Record"]
    problems = [p for i, rec in enumerate(items) for p in _over_total(rec, f"WorkInfo.Record[{i}]")]
    if problems:
        return problems
    hospital = store.of(doc["HospitalNo"])
    if doc["IsMultiTimes"] == "1":
        hospital.clear()
    for rec in items:
        hospital[rec["WorkId"]] = dict(rec)
    return {"Count": str(len(items)), "HospitalNo": doc["HospitalNo"]}


def _unknown(hospital: dict[str, Any], items: list[dict[str, Any]], key: str) -> list[str]:
    return [f"WorkInfo.Record[{i}].{key}: no such schedule at this hospital"
            for i, rec in enumerate(items) if rec[key] not in hospital]


def stop_work_notice(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """2.2: mark schedules stopped; all or nothing, every WorkId must be held."""
    items = doc["WorkInfo"]["Record"]
    hospital = store.of(doc["HospitalNo"])
    problems = _unknown(hospital, items, "WorkId")
    if problems:
        return problems
    for rec in items:
        hospital[rec["WorkId"]]["StopReason"] = rec["StopReason"]
    return {"HospitalNo": doc["HospitalNo"]}


def change_work_notice(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """2.3: 处理逻辑：删除原排班；插入新排班 (all or nothing)."""
    items = doc["WorkInfo"]["Record"]
    hospital = store.of(doc["HospitalNo"])
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, rec in enumerate(items):
        if first.setdefault(rec["OldWorkId"], i) != i:
            problems.append(f"WorkInfo.Record[{i}].OldWorkId: named by an earlier Record too")
        problems += _over_total(rec["NewWorkInfo"], f"WorkInfo.Record[{i}].NewWorkInfo")
    problems += _unknown(hospital, items, "OldWorkId")
    if problems:
        return problems
    for rec in items:
        del hospital[rec["OldWorkId"]]
        new = rec["NewWorkInfo"]
        hospital[new["WorkId"]] = {**new, "ChangeReason": rec["ChangeReason"]}
    return {}


def get_promise_notice(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """2.4: acknowledged; the reply's single WorkFlowId is the first Record's."""
    return {"HospitalNo": doc["HospitalNo"],
            "WorkFlowId": doc["WorkInfo"]["Record"][0]["WorkFlowId"]}


SAMPLE_DATE = "2018-01-10"   # the seed's sample AddTime date
BATCH_REPLY_BYTES = 100      # the reply's Result.Batch length


def reconciliation_info(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """2.5: made-up order details, one per requested 交易流水号, else two."""
    query = doc.get("OrderInfo", {})
    batches = [b.strip() for b in re.split("[,，]", query.get("Batch", "")) if b.strip()]
    too_long = [i for i, b in enumerate(batches) if len(b.encode("utf-8")) > BATCH_REPLY_BYTES]
    if too_long:
        return [f"OrderInfo.Batch: 交易流水号 {i + 1} longer than {BATCH_REPLY_BYTES} bytes"
                for i in too_long]
    date = query.get("StartDate") or query.get("EndDate") or SAMPLE_DATE
    digits = date.replace("-", "")
    rows = batches or [f"42000000{digits}{i:010d}" for i in range(2)]
    results = []
    for i, batch in enumerate(rows):
        refund = "0.00" if i % 2 == 0 else "6.00"
        results.append({
            "Batch": batch, "PayTradeNo": f"WD{digits}{i:010d}", "Type": "1" if i % 2 == 0 else "2",
            "HosOrgName": "模拟医院", "AddTime": f"{date} 09:{i % 60:02d}:00",
            "PatientName": "张三", "PayAmount": "6.00", "RefundAmount": refund,
            "Total": f"{6.00 - float(refund):.2f}"})
    return {"List": {"Result": results}}


def hospital_info(store: Schedules, doc: dict[str, Any]) -> Outcome:
    """5.1: acknowledged with the HospitalNo."""
    return {"HospitalNo": doc["HospitalNo"]}


def _count_reply(list_name: str) -> Operation:
    def reply(store: Schedules, doc: dict[str, Any]) -> Outcome:
        return {"Count": str(len(doc[list_name]["Record"])), "HospitalNo": doc["HospitalNo"]}
    return reply


#: The served operations: name -> business handler (run once the tables pass).
OPERATIONS: dict[str, Operation] = {
    "synchronizedWorkInfo": synchronized_work_info,
    "stopWorkNotice": stop_work_notice,
    "changeWorkNotice": change_work_notice,
    "getPromiseNotice": get_promise_notice,
    "ReconciliationInfo": reconciliation_info,
    "HospitalInfo": hospital_info,
    "DepartmentInfo": _count_reply("DepartmentInfo"),    # 5.2: 收到科室信息总数
    "DoctorInfo": _count_reply("DoctorInfo"),            # 5.3: 收到医生信息总数
}
if set(OPERATIONS) != set(PLATFORM_OPERATIONS):
    raise RuntimeError("OPERATIONS and PLATFORM_OPERATIONS disagree")


def handle(spec: OperationSpec, store: Schedules, inner: Any) -> str:
    """Check the ``<Request>`` against the spec, then run the business; the ``<Response>`` text."""
    if inner.tag != "Request":
        return failure(spec, [f"xml: root element must be Request, not {inner.tag}"])
    problems: list[str] = []
    check_group(inner, spec.request, "", problems)
    if problems:
        return failure(spec, problems)
    outcome = OPERATIONS[spec.operation](store, values(inner, spec.request))
    return failure(spec, outcome) if isinstance(outcome, list) else success(spec, outcome)


# --- SOAP --------------------------------------------------------------------------------------------

_ENVELOPE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                   huge_tree=False, remove_comments=True, remove_pis=True)
_INNER_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                huge_tree=False, remove_comments=True, remove_pis=True,
                                encoding="utf-8")


def parse(data: bytes, parser: Any = _ENVELOPE_PARSER) -> Any:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("DTDs and entities are refused")
    return etree.fromstring(data, parser)


def soap_reply(body: str, status: int = 200) -> web.Response:
    env = (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP11}">'
           f"<soap:Body>{body}</soap:Body></soap:Envelope>")
    return web.Response(body=env.encode("utf-8"), status=status,
                        content_type="text/xml", charset="utf-8")


def fault(message: str, code: str = "soap:Client", status: int = 500) -> web.Response:
    return soap_reply(f"<soap:Fault><faultcode>{code}</faultcode>"
                      f"<faultstring>{escape(message)}</faultstring></soap:Fault>", status=status)


def _elements(el: Any) -> list[Any]:
    return [c for c in el if isinstance(c.tag, str)]


async def service(request: web.Request) -> web.StreamResponse:
    """The one SOAP endpoint: record, apply the failure switch, unwrap, check, answer."""
    state = request.app[SIM_STATE]
    raw = await request.read()
    entry: dict[str, Any] = {"method": request.method, "path": request.path,
                             "headers": {str(k): v for k, v in request.headers.items()},
                             "body": raw.decode("utf-8", "replace"), "operation": None,
                             "document": None}
    state.requests.append(entry)
    failure_switch = state.failure
    if failure_switch.times > 0:
        failure_switch.times -= 1
        if failure_switch.delay_ms:
            await asyncio.sleep(failure_switch.delay_ms / 1000)
        if failure_switch.status is not None:
            return fault(f"simulated failure {failure_switch.status}", "soap:Server",
                         failure_switch.status)
    if request.content_type != "text/xml":
        return fault(f"SOAP 1.1 expects Content-Type text/xml, got {request.content_type}")
    if "SOAPAction" not in request.headers:
        return fault("SOAP 1.1 request without a SOAPAction header")
    try:
        env = parse(raw)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return fault(f"malformed envelope: {exc}")
    if etree.QName(env).localname == "Envelope" and etree.QName(env).namespace != SOAP11:
        return fault(f"not a SOAP 1.1 envelope: namespace {etree.QName(env).namespace}",
                     "soap:VersionMismatch")
    body = env.find(f"{{{SOAP11}}}Body") if env.tag == f"{{{SOAP11}}}Envelope" else None
    ops = _elements(body) if body is not None else []
    if len(ops) != 1:
        return fault("not a SOAP 1.1 envelope with one operation in its Body")
    qname = etree.QName(ops[0])
    entry["operation"] = qname.localname
    specs = request.app[SPECS]
    spec = specs.get(qname.localname)
    if spec is None or qname.namespace != NAMESPACE:
        return fault(f"unknown operation {{{qname.namespace or ''}}}{qname.localname}; expected "
                     f"one of {', '.join(specs)} in {NAMESPACE}")
    params = _elements(ops[0])
    extra = [etree.QName(p).localname for p in params if etree.QName(p).localname != "xml"]
    if extra:
        return fault(f"{qname.localname}: unexpected parameter(s) {', '.join(extra)}; "
                     "the operation takes one string <xml>")
    if len(params) > 1:
        return fault(f"{qname.localname}: <xml> given more than once")
    if params and _elements(params[0]):
        return fault(f"{qname.localname}: <xml> must carry the Request document as text "
                     "(escaped or CDATA), not as child elements")
    text = (params[0].text or "").strip() if params else ""
    if not text:
        return fault(f"{qname.localname}: the string parameter <xml> is missing or empty")
    try:
        inner = parse(text.encode("utf-8"), _INNER_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        reply = failure(spec, ["xml: not a well-formed XML document"])
    else:
        entry["document"] = _as_dict(inner)
        reply = handle(spec, request.app[SCHEDULES], inner)
    op = qname.localname
    return soap_reply(f'<ns:{op}Response xmlns:ns="{NAMESPACE}"><return>'
                      f"{escape(reply)}</return></ns:{op}Response>")


def _as_dict(el: Any) -> Any:
    """For ``/_sim/requests``: children to ``{name: text | dict | [..]}`` (repeats become lists)."""
    kids = _elements(el)
    if not kids:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for c in kids:
        name, value = c.tag, _as_dict(c)
        if name in out:
            prev = out[name]
            out[name] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


async def get_schedule(request: web.Request) -> web.Response:
    return json_response(request.app[SCHEDULES].by_hospital)


async def clear_schedule(request: web.Request) -> web.Response:
    request.app[SCHEDULES].by_hospital.clear()
    return json_response({"cleared": True})


SPECS = web.AppKey("specs", dict)


@register_sim("registration_platform", default_port=9103)
def create_app() -> web.Application:
    """Registration platform (seed 001 b, SOAP 1.1): the platform-side 2.1-2.5 and 5.1-5.3 services."""
    app = new_app("registration_platform")
    app[SPECS] = load_specs()
    app[SCHEDULES] = Schedules()
    app.router.add_post(PATH, service)
    app.router.add_get("/_sim/schedule", get_schedule)
    app.router.add_delete("/_sim/schedule", clear_schedule)
    return app
