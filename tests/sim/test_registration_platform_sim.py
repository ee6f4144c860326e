"""The registration platform simulator (seed 001 (b), platform side) over real HTTP on loopback.

Requests are built as a SOAP 1.1 client would, from the transcribed spec files
(``transforms/specs/registration/*.yaml``, read here with a loader of this test's own): every
operation whose notes say the PLATFORM provides it must be served, accept a request built from
its table, answer every required reply field, and refuse what the table forbids, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Iterator
from xml.sax.saxutils import escape

import aiohttp
import pytest
import yaml
from lxml import etree

from bridge.sim import SIMULATORS, StartedSim, load_builtin_sims, start_sims

SPEC_DIR = Path(__file__).resolve().parents[2] / "transforms" / "specs" / "registration"
PATH = "/services/ResourceService"
NAMESPACE = "http://platform.example/ws"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
RECORDS = 2                                   # records per generated list

Spec = dict[str, Any]
Field = dict[str, Any]


def _load_all() -> dict[str, Spec]:
    return {p.name.removesuffix(".yaml"): yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(SPEC_DIR.glob("*.yaml"))}


ALL_SPECS = _load_all()
#: The spec files whose notes say the PLATFORM provides the operation: what the sim must serve.
PLATFORM = {stem: spec for stem, spec in ALL_SPECS.items()
            if any("Side: PLATFORM provides" in str(n) for n in spec.get("notes") or ())}
OPS = sorted(PLATFORM)


def _walk(fields: list[Field], where: str = "", xpath: str = ".") -> Iterator[tuple[str, str, Field]]:
    """Every field as (ErrorMsg path, ElementPath, spec); lists' children taken from the first item.

    A list itself is yielded without an index (``WorkInfo.Record``, ``./WorkInfo/Record``)."""
    for f in fields:
        path, xp = (f"{where}.{f['name']}" if where else f["name"]), f"{xpath}/{f['name']}"
        yield path, xp, f
        if f["type"] == "list":
            yield from _walk(f["fields"], f"{path}[0]", f"{xp}[1]")
        elif f["type"] == "object":
            yield from _walk(f["fields"], path, xp)


def leaves(op: str) -> list[tuple[str, str, Field]]:
    return [t for t in _walk(PLATFORM[op]["request"]) if t[2]["type"] not in ("object", "list")]


# --- building requests from the spec ------------------------------------------------------------

SAMPLES = {"yyyy-mm-dd": "2030-01-07", "yyyy-MM-dd": "2030-01-07", "HH:mm": "08:00",
           "YYYY-MM-DD HH:mm:ss": "2030-01-07 08:30:00",
           "yyyy-MM-dd HH:mm:ss": "2030-01-07 08:30:00"}
BAD_FORMATS = {"yyyy-mm-dd": "2030-02-30", "yyyy-MM-dd": "2030/01/07", "HH:mm": "8:00",
               "YYYY-MM-DD HH:mm:ss": "2030-01-07 25:00:00",
               "yyyy-MM-dd HH:mm:ss": "2030-01-07T08:30:00"}


def leaf_value(f: Field, i: int) -> str:
    """A valid value: an enum's first value, a format's sample, 1 for Int, else 汉字 + index."""
    if f.get("enum"):
        return str(next(iter(f["enum"])))
    if f.get("format"):
        return SAMPLES[f["format"]]
    if f["type"] == "integer":
        return "1"
    text, limit = f"测{i}", f.get("max_length")
    return text if limit is None or len(text.encode("utf-8")) <= limit else str(i)[:limit]


def fill(parent: Any, fields: list[Field], i: int, full: bool) -> None:
    for f in fields:
        if not (f["required"] or full):
            continue
        if f["type"] == "list":
            for j in range(RECORDS):
                fill(etree.SubElement(parent, f["name"]), f["fields"], j, full)
        elif f["type"] == "object":
            fill(etree.SubElement(parent, f["name"]), f["fields"], i, full)
        elif f["name"] == "Count":
            etree.SubElement(parent, "Count").text = str(RECORDS)
        else:
            etree.SubElement(parent, f["name"]).text = leaf_value(f, i)


def request_doc(op: str, full: bool = False) -> Any:
    """A ``<Request>`` with every required field (all fields when ``full``), valid per the spec."""
    root = etree.Element("Request")
    fill(root, PLATFORM[op]["request"], 0, full)
    return root


def envelope(operation: str, inner: str, *, cdata: bool = False, ns: str = NAMESPACE,
             env_ns: str = SOAP11) -> bytes:
    param = f"<![CDATA[{inner}]]>" if cdata else escape(inner)
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{env_ns}" '
            f'xmlns:p="{ns}"><s:Body><p:{operation}><xml>{param}</xml></p:{operation}>'
            f"</s:Body></s:Envelope>").encode("utf-8")


# --- calling the simulator ----------------------------------------------------------------------

@pytest.fixture
async def sim() -> AsyncIterator[StartedSim]:
    load_builtin_sims()
    [started] = await start_sims(["registration_platform"], ports={"registration_platform": 0})
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def http(sim: StartedSim) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sim.url) as session:
        yield session


async def call(http: aiohttp.ClientSession, op: str, doc: Any, *, cdata: bool = False) -> Any:
    """POST one operation; the ``<Response>`` element carried as a string in ``<return>``."""
    inner = doc if isinstance(doc, str) else etree.tostring(doc, encoding="unicode")
    async with http.post(PATH, data=envelope(op, inner, cdata=cdata), headers=HEADERS) as resp:
        assert resp.status == 200, await resp.text()
        env = etree.fromstring(await resp.read())
    [answer] = env.find(f"{{{SOAP11}}}Body")
    assert answer.tag == f"{{{NAMESPACE}}}{op}Response"
    [ret] = list(answer)
    assert ret.tag == "return" and len(ret) == 0        # the document is a string, not children
    reply = etree.fromstring(ret.text.encode("utf-8"))
    assert reply.tag == "Response"
    return reply


async def refused(http: aiohttp.ClientSession, op: str, doc: Any) -> str:
    """Call, expect the failure shape (ResultCode 1, ErrorMsg, nothing else); the ErrorMsg."""
    reply = await call(http, op, doc)
    assert [c.tag for c in reply] == ["ResultCode", "ErrorMsg"], etree.tostring(reply)
    assert reply.findtext("ResultCode") == "1"
    msg = reply.findtext("ErrorMsg") or ""
    assert msg and len(msg.encode("utf-8")) <= 256
    return msg


async def fault(http: aiohttp.ClientSession, data: bytes, headers: dict[str, str] = HEADERS,
                code: str = "soap:Client") -> str:
    async with http.post(PATH, data=data, headers=headers) as resp:
        assert resp.status == 500
        env = etree.fromstring(await resp.read())
    f = env.find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert f is not None and f.findtext("faultcode") == code
    return f.findtext("faultstring") or ""


async def schedule(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/_sim/schedule") as resp:
        return await resp.json()


async def seed_schedule(http: aiohttp.ClientSession) -> None:
    """stop/change name schedules by WorkId: hold the generated ones (测0, 测1 at hospital 测0)."""
    reply = await call(http, "synchronizedWorkInfo", request_doc("synchronizedWorkInfo"))
    assert reply.findtext("ResultCode") == "0"


def assert_reply_fields(el: Any, fields: list[Field], where: str = "Response") -> None:
    """Every required field present and non-empty, nothing undefined, in the spec's order."""
    names = [f["name"] for f in fields]
    got = [c.tag for c in el]
    assert set(got) <= set(names), f"{where}: undefined {set(got) - set(names)}"
    positions = [names.index(t) for t in got]
    assert positions == sorted(positions), f"{where}: not in the spec's order: {got}"
    for f in fields:
        items = el.findall(f["name"])
        if f["required"]:
            assert items, f"{where}.{f['name']} missing"
        for item in items:
            if f["type"] in ("object", "list"):
                assert_reply_fields(item, f["fields"], f"{where}.{f['name']}")
            elif f["required"]:
                assert (item.text or "").strip(), f"{where}.{f['name']} empty"


# --- what is served -------------------------------------------------------------------------------

def test_the_platform_side_spec_files_are_the_seeds_platform_operations() -> None:
    assert set(OPS) == {"synchronizedWorkInfo", "stopWorkNotice", "changeWorkNotice",
                        "getPromiseNotice", "ReconciliationInfo", "HospitalInfo",
                        "DepartmentInfo", "DoctorInfo"}
    assert "getPromiseNotice.hospital" in ALL_SPECS and "getPromiseNotice.hospital" not in OPS


def test_registered_with_its_default_port() -> None:
    load_builtin_sims()
    spec = SIMULATORS["registration_platform"]
    assert spec.default_port == 9103 and spec.description.startswith("Registration platform")


@pytest.mark.parametrize("full", [False, True], ids=["required-only", "all-fields"])
@pytest.mark.parametrize("op", OPS)
async def test_a_request_built_from_the_table_succeeds(http: aiohttp.ClientSession, op: str,
                                                       full: bool) -> None:
    if op in ("stopWorkNotice", "changeWorkNotice"):
        await seed_schedule(http)
    doc = request_doc(op, full)
    reply = await call(http, op, doc, cdata=full)
    assert reply.findtext("ResultCode") == "0", etree.tostring(reply, encoding="unicode")
    assert_reply_fields(reply, PLATFORM[op]["response"])
    names = {f["name"] for f in PLATFORM[op]["response"]}
    if "HospitalNo" in names:
        assert reply.findtext("HospitalNo") == doc.findtext("HospitalNo")
    if "Count" in names:
        assert reply.findtext("Count") == str(RECORDS)


# --- what the tables forbid -----------------------------------------------------------------------

@pytest.mark.parametrize("op", OPS)
async def test_each_missing_or_empty_required_field_is_named(http: aiohttp.ClientSession,
                                                             op: str) -> None:
    checked = 0
    for path, xpath, f in _walk(PLATFORM[op]["request"]):
        if not f["required"]:
            continue
        doc = request_doc(op, full=True)
        for el in doc.findall(xpath):
            el.getparent().remove(el)
        expected = f"{path}: at least one required" if f["type"] == "list" else f"{path}: required"
        assert await refused(http, op, doc) == expected
        if f["type"] not in ("object", "list"):
            doc = request_doc(op, full=True)
            doc.find(xpath).text = "  "
            assert await refused(http, op, doc) == f"{path}: required"
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("op", OPS)
async def test_an_element_the_table_does_not_define_is_named(http: aiohttp.ClientSession,
                                                            op: str) -> None:
    doc = request_doc(op, full=True)
    etree.SubElement(doc, "Bogus").text = "x"
    expected = ["Bogus: not defined by the spec"]
    groups = [(p, xp) for p, xp, f in _walk(PLATFORM[op]["request"])
              if f["type"] in ("object", "list")]
    if groups:
        path, xpath = groups[-1]
        path, xpath = (path + "[0]", xpath + "[1]") if doc.find(xpath + "[2]") is not None \
            else (path, xpath)
        etree.SubElement(doc.find(xpath), "Extra").text = "y"
        expected.append(f"{path}.Extra: not defined by the spec")
    assert await refused(http, op, doc) == "; ".join(expected)


@pytest.mark.parametrize("op", OPS)
async def test_byte_limits_count_utf8_bytes_of_chinese_text(http: aiohttp.ClientSession,
                                                           op: str) -> None:
    checked = 0
    for path, xpath, f in leaves(op):
        limit = f.get("max_length")
        unit = f.get("length_unit", PLATFORM[op].get("length_unit"))
        if f["type"] != "string" or unit != "bytes" or not limit or limit < 3 \
                or f.get("enum") or f.get("format"):
            continue
        fits = "汉" * (limit // 3) + "x" * (limit % 3)               # exactly `limit` bytes
        over = "汉" * (limit // 3) + "x" * (limit % 3 + 1)           # one byte more
        assert len(over) <= limit, "the over-long value is still within the limit in characters"
        doc = request_doc(op, full=True)
        doc.find(xpath).text = fits
        reply = await call(http, op, doc)
        assert f"{path}: longer than" not in (reply.findtext("ErrorMsg") or "")
        doc.find(xpath).text = over
        assert await refused(http, op, doc) == f"{path}: longer than {limit} bytes"
        checked += 1
    assert checked >= 2


async def test_doctor_name_holds_six_hanzi_not_seven(http: aiohttp.ClientSession) -> None:
    doc = request_doc("synchronizedWorkInfo")
    doc.find("./WorkInfo/Record[1]/DoctorName").text = "欧阳测试医生xx"      # 20 bytes
    assert (await call(http, "synchronizedWorkInfo", doc)).findtext("ResultCode") == "0"
    doc.find("./WorkInfo/Record[1]/DoctorName").text = "欧阳测试医生甲"      # 7 汉字, 21 bytes
    assert await refused(http, "synchronizedWorkInfo", doc) == \
        "WorkInfo.Record[0].DoctorName: longer than 20 bytes"


ENUM_OPS = [op for op in OPS if any(f.get("enum") for _, _, f in leaves(op))]


@pytest.mark.parametrize("op", ENUM_OPS)
async def test_a_value_outside_an_enum_is_named(http: aiohttp.ClientSession, op: str) -> None:
    for path, xpath, f in leaves(op):
        if not f.get("enum"):
            continue
        allowed = [str(k) for k in f["enum"]]
        bad = next(d for d in "7834" if d not in allowed)
        doc = request_doc(op, full=True)
        doc.find(xpath).text = bad
        assert await refused(http, op, doc) == f"{path}: not one of {', '.join(allowed)}"


INT_OPS = [op for op in OPS if any(f["type"] == "integer" for _, _, f in leaves(op))]


@pytest.mark.parametrize("op", INT_OPS)
async def test_an_int_field_must_hold_an_integer(http: aiohttp.ClientSession, op: str) -> None:
    for path, xpath, f in leaves(op):
        if f["type"] != "integer":
            continue
        for bad in ("abc", "1.5"):
            doc = request_doc(op, full=True)
            doc.find(xpath).text = bad
            assert await refused(http, op, doc) == f"{path}: not an Int"


FORMAT_OPS = [op for op in OPS if any(f.get("format") for _, _, f in leaves(op))]


@pytest.mark.parametrize("op", FORMAT_OPS)
async def test_a_value_outside_its_format_is_named(http: aiohttp.ClientSession, op: str) -> None:
    for path, xpath, f in leaves(op):
        if not f.get("format"):
            continue
        doc = request_doc(op, full=True)
        doc.find(xpath).text = BAD_FORMATS[f["format"]]
        assert await refused(http, op, doc) == f"{path}: not in the format {f['format']}"


COUNT_OPS = [op for op in OPS if any(f["name"] == "Count" for f in PLATFORM[op]["request"])]


@pytest.mark.parametrize("op", COUNT_OPS)
async def test_count_must_equal_the_number_of_records(http: aiohttp.ClientSession,
                                                      op: str) -> None:
    doc = request_doc(op, full=True)
    doc.find("Count").text = str(RECORDS + 1)
    [holder] = [f for f in PLATFORM[op]["request"] if f["type"] == "object"]
    assert await refused(http, op, doc) == \
        f"Count: differs from the number of {holder['name']}.Record"


async def test_error_msg_is_bounded_and_echoes_no_value(http: aiohttp.ClientSession) -> None:
    doc = request_doc("synchronizedWorkInfo")
    holder = doc.find("WorkInfo")
    for _ in range(30):
        rec = etree.SubElement(holder, "Record")
        etree.SubElement(rec, "DoctorName").text = "机密患者姓名机密"       # 24 bytes: too long
    msg = await refused(http, "synchronizedWorkInfo", doc)
    assert "机密" not in msg and "more)" in msg
    assert msg.startswith("WorkInfo.Record[2].WorkId: required; ")


async def test_the_root_must_be_request_and_well_formed(http: aiohttp.ClientSession) -> None:
    assert await refused(http, "HospitalInfo", "<Req><a>1</a></Req>") == \
        "xml: root element must be Request, not Req"
    assert await refused(http, "HospitalInfo", "<Request><TransactionId>") == \
        "xml: not a well-formed XML document"


# --- business rules beyond the tables -------------------------------------------------------------

async def test_sync_stores_records_and_is_multi_times_clears(http: aiohttp.ClientSession) -> None:
    await seed_schedule(http)
    assert sorted((await schedule(http))["测0"]) == ["测0", "测1"]
    doc = request_doc("synchronizedWorkInfo")
    doc.find("IsMultiTimes").text = "1"
    for i, rec in enumerate(doc.findall("./WorkInfo/Record")):
        rec.find("WorkId").text = f"W{i + 5}"
    assert (await call(http, "synchronizedWorkInfo", doc)).findtext("ResultCode") == "0"
    assert sorted((await schedule(http))["测0"]) == ["W5", "W6"]
    doc.find("./WorkInfo/Record[1]/RegistrationNumber").text = "2"      # remaining > total 1
    assert await refused(http, "synchronizedWorkInfo", doc) == \
        "WorkInfo.Record[0].RegistrationNumber: more than RegistrationCount"


async def test_stop_work_notice_is_all_or_nothing(http: aiohttp.ClientSession) -> None:
    await seed_schedule(http)
    doc = request_doc("stopWorkNotice")
    doc.find("./WorkInfo/Record[2]/WorkId").text = "W404"
    assert await refused(http, "stopWorkNotice", doc) == \
        "WorkInfo.Record[1].WorkId: no such schedule at this hospital"
    assert "StopReason" not in (await schedule(http))["测0"]["测0"]
    doc.find("./WorkInfo/Record[2]/WorkId").text = "测1"
    assert (await call(http, "stopWorkNotice", doc)).findtext("ResultCode") == "0"
    assert (await schedule(http))["测0"]["测1"]["StopReason"] == "测1"


async def test_change_work_notice_deletes_then_inserts(http: aiohttp.ClientSession) -> None:
    await seed_schedule(http)
    doc = request_doc("changeWorkNotice")
    doc.remove(doc.find("./WorkInfo"))
    work = etree.SubElement(doc, "WorkInfo")
    work.append(request_doc("changeWorkNotice").find("./WorkInfo/Record"))
    work.find("./Record/NewWorkInfo/WorkId").text = "W9"
    assert (await call(http, "changeWorkNotice", doc)).findtext("ResultCode") == "0"
    stored = (await schedule(http))["测0"]
    assert sorted(stored) == ["W9", "测1"] and stored["W9"]["ChangeReason"] == "测0"
    assert await refused(http, "changeWorkNotice", doc) == \
        "WorkInfo.Record[0].OldWorkId: no such schedule at this hospital"


async def test_promise_notice_answers_the_first_work_flow_id(http: aiohttp.ClientSession) -> None:
    doc = request_doc("getPromiseNotice")
    doc.find("./WorkInfo/Record[1]/WorkFlowId").text = "WF-001"
    reply = await call(http, "getPromiseNotice", doc)
    assert reply.findtext("WorkFlowId") == "WF-001" and reply.findtext("HospitalNo") == "测0"


async def test_reconciliation_answers_one_result_per_batch(http: aiohttp.ClientSession) -> None:
    doc = request_doc("ReconciliationInfo", full=True)
    doc.find("./OrderInfo/Batch").text = "4200000080001,4200000080002，4200000080003"
    reply = await call(http, "ReconciliationInfo", doc)
    results = reply.findall("./List/Result")
    assert [r.findtext("Batch") for r in results] == \
        ["4200000080001", "4200000080002", "4200000080003"]
    for r in results:
        assert r.findtext("AddTime").startswith("2030-01-07 ")
        total = float(r.findtext("PayAmount")) - float(r.findtext("RefundAmount"))
        assert r.findtext("Total") == f"{total:.2f}"
    doc.find("./OrderInfo/Batch").text = "4" * 101
    assert await refused(http, "ReconciliationInfo", doc) == \
        "OrderInfo.Batch: 交易流水号 1 longer than 100 bytes"


# --- the envelope -----------------------------------------------------------------------------------

async def test_envelope_problems_are_soap_faults(http: aiohttp.ClientSession) -> None:
    inner = etree.tostring(request_doc("HospitalInfo"), encoding="unicode")
    soap12 = envelope("HospitalInfo", inner, env_ns=SOAP12)
    assert "Content-Type text/xml" in await fault(
        http, soap12, {"Content-Type": "application/soap+xml; charset=utf-8"})
    assert "not a SOAP 1.1 envelope" in await fault(http, soap12, code="soap:VersionMismatch")
    assert "SOAPAction" in await fault(http, envelope("HospitalInfo", inner),
                                       {"Content-Type": "text/xml; charset=utf-8"})
    # a hospital-side operation (section 3) is not the platform's
    assert "unknown operation" in await fault(http, envelope("confirmRegistration", inner))
    assert "unknown operation" in await fault(
        http, envelope("HospitalInfo", inner, ns="http://other.example/"))
    assert "<xml> is missing or empty" in await fault(
        http, envelope("HospitalInfo", "").replace(b"<xml></xml>", b""))
    assert "not as child elements" in await fault(
        http, envelope("HospitalInfo", "").replace(b"<xml></xml>", f"<xml>{inner}</xml>".encode()))
    assert "not a SOAP 1.1 envelope" in await fault(http, inner.encode("utf-8"))
    assert "refused" in await fault(http, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


async def test_requests_are_recorded_and_the_fail_switch_answers(
        http: aiohttp.ClientSession) -> None:
    await seed_schedule(http)
    async with http.get("/_sim/requests") as resp:
        [rec] = await resp.json()
    assert rec["operation"] == "synchronizedWorkInfo" and rec["path"] == PATH
    assert rec["document"]["WorkInfo"]["Record"][0]["WorkId"] == "测0"
    async with http.post("/_sim/fail", json={"status": 503}) as resp:
        assert resp.status == 200
    async with http.post(PATH, headers=HEADERS, data=envelope(
            "HospitalInfo", etree.tostring(request_doc("HospitalInfo"), encoding="unicode"))) as resp:
        assert resp.status == 503 and b"simulated failure 503" in await resp.read()
    async with http.delete("/_sim/schedule") as resp:
        assert resp.status == 200
    assert await schedule(http) == {}
