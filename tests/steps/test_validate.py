"""validate: XSD and JSON Schema, every problem with its path in one 422, types from the XSD,
schemas checked at load; bridge.xsd list paths, and a route whose XSD makes a single <Record>
a list on the wire (real bridge, real HTTP to a loopback target)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web
from lxml import etree
from pydantic import ValidationError

from bridge.config.models import InboundConfig
from bridge.errors import StepFailed, ValidationFailed
from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps
from bridge.testing import running_bridge
from bridge.xsd import list_paths, load_schema, schema_lists

load_builtin_steps()
DATA = Path(__file__).resolve().parent / "data"
WORKINFO = DATA / "workinfo.xsd"
CTX = BuildContext(base_dir=DATA)
XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'


def step(config: Any, base: Path = DATA) -> Any:
    return STEPS["validate"].compile(config, BuildContext(base_dir=base))


def record(**extra: Any) -> dict[str, Any]:
    return {"WorkId": "W1", "DoctorId": "D1", **extra}


def request(*records: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"TransactionId": "T1", "HospitalNo": "H1", "Count": str(len(records)),
            "IsMultiTimes": "0", "WorkInfo": {"Record": list(records)}, **extra}


def schema_file(tmp_path: Path, body: str, name: str = "s.xsd") -> Path:
    path = tmp_path / name
    path.write_text(f'<?xml version="1.0"?>\n<xs:schema {XS}>{body}</xs:schema>', encoding="utf-8")
    return path


# --- XSD -----------------------------------------------------------------------------------

def test_valid_document_gets_numeric_types() -> None:
    body = request(record(RegistrationPrice="12.50", RegistrationNumber="30"),
                   record(WorkId="W2", DoctorName="张医生"))
    out = step({"xsd": "workinfo.xsd", "root": "Request"})(Message(body)).body
    assert out["Count"] == 2 and out["TransactionId"] == "T1" and out["IsMultiTimes"] == "0"
    assert out["WorkInfo"]["Record"] == [
        {"WorkId": "W1", "DoctorId": "D1", "RegistrationPrice": 12.5, "RegistrationNumber": 30},
        {"WorkId": "W2", "DoctorId": "D1", "DoctorName": "张医生"}]


def test_every_problem_in_one_error_with_paths() -> None:
    body = request(record(RegistrationNumber="x"), {"WorkId": "W2"}, IsMultiTimes="2",
                   TransactionId="T" * 37)
    with pytest.raises(ValidationFailed) as info:
        step({"xsd": "workinfo.xsd", "root": "Request"})(Message(body))
    err = info.value
    assert err.status == 422
    paths = [e["path"] for e in err.detail["errors"]]
    assert paths == ["TransactionId", "IsMultiTimes", "WorkInfo.Record.0.RegistrationNumber",
                     "WorkInfo.Record.1"]
    assert err.message.startswith("validate: 4 problem(s): TransactionId: ")
    assert "WorkInfo.Record.0.RegistrationNumber: " in err.message
    assert "DoctorId" in err.detail["errors"][3]["message"]  # what the second record lacks
    assert "Traceback" not in err.message


def test_unknown_element_is_named_at_its_parent() -> None:
    with pytest.raises(ValidationFailed) as info:
        step({"xsd": "workinfo.xsd", "root": "Request"})(Message(request(record(), Bogus="1")))
    assert info.value.detail["errors"][0]["path"] == "Request"
    assert "Bogus" in info.value.detail["errors"][0]["message"]


def test_root_defaults_to_the_callers_root() -> None:
    validate = step({"xsd": "workinfo.xsd"})
    out = validate(Message(request(record()), meta={"root": "Request"})).body
    assert out["Count"] == 1
    with pytest.raises(ValidationFailed, match="no global element 'Response'"):
        validate(Message(request(record()), meta={"root": "Response"}))
    with pytest.raises(StepFailed, match="set root"):
        validate(Message(request(record())))


def test_a_body_that_is_not_a_document_fails() -> None:
    with pytest.raises(ValidationFailed):
        step({"xsd": "workinfo.xsd", "root": "Request"})(Message(["a"]))


def test_types_attributes_booleans_simple_content(tmp_path: Path) -> None:
    xsd = schema_file(tmp_path, """
      <xs:element name="Doc"><xs:complexType><xs:sequence>
        <xs:element name="Open" type="xs:boolean" maxOccurs="unbounded"/>
        <xs:element name="Ratio" type="xs:double"/>
        <xs:element name="Fee"><xs:complexType><xs:simpleContent>
          <xs:extension base="xs:decimal"><xs:attribute name="currency" type="xs:string"/>
          </xs:extension></xs:simpleContent></xs:complexType></xs:element>
        <xs:element name="Big" type="xs:unsignedLong"/>
        <xs:element name="Note" type="xs:string" minOccurs="0"/>
      </xs:sequence><xs:attribute name="seq" type="xs:positiveInteger"/></xs:complexType>
      </xs:element>""")
    body = {"@seq": "7", "Open": ["true", "0"], "Ratio": "INF",
            "Fee": {"@currency": "CNY", "#text": "3.10"}, "Big": "18446744073709551615",
            "Note": "12"}
    out = step({"xsd": str(xsd), "root": "Doc"})(Message(body)).body
    assert out == {"@seq": 7, "Open": [True, False], "Ratio": "INF",  # JSON has no infinity
                   "Fee": {"@currency": "CNY", "#text": 3.1}, "Big": 18446744073709551615,
                   "Note": "12"}


def test_target_namespace_is_applied(tmp_path: Path) -> None:
    xsd = tmp_path / "ns.xsd"
    xsd.write_text(f'<xs:schema {XS} targetNamespace="http://platform.example/ws" '
                   'elementFormDefault="qualified"><xs:element name="Request"><xs:complexType>'
                   '<xs:sequence><xs:element name="Code" type="xs:int"/></xs:sequence>'
                   '</xs:complexType></xs:element></xs:schema>', encoding="utf-8")
    validate = step({"xsd": str(xsd), "root": "Request"})
    assert validate(Message({"Code": "0"})).body == {"Code": 0}
    with pytest.raises(ValidationFailed, match="Code"):
        validate(Message({"Code": "zero"}))


@pytest.mark.parametrize(("content", "needle"), [
    (None, "XSD file not found"),
    ("<xs:schema", "invalid XSD"),
    (f'<xs:schema {XS}><xs:element name="a" type="xs:nope"/></xs:schema>', "invalid XSD"),
    (f'<xs:schema {XS}><xs:import namespace="urn:x" schemaLocation="http://example.invalid/x.xsd"/>'
     '</xs:schema>', "invalid XSD"),                                 # no network, ever
])
def test_bad_xsd_is_a_config_error(tmp_path: Path, content: str | None, needle: str) -> None:
    if content is not None:
        (tmp_path / "s.xsd").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=needle):
        step({"xsd": "s.xsd"}, base=tmp_path)


def test_unknown_root_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="no global element 'Reqeust' .it has: Request"):
        step({"xsd": "workinfo.xsd", "root": "Reqeust"})


# --- JSON Schema ---------------------------------------------------------------------------

def test_json_schema_ok_and_failures_with_json_paths() -> None:
    validate = step({"json_schema": "study-query.json"})
    ok = {"hospitalId": "H1", "studyType": 5, "phoneNum": "13800138000"}
    assert validate(Message(dict(ok))).body == ok
    with pytest.raises(ValidationFailed) as info:
        validate(Message({"hospitalId": "", "studyType": "0", "phoneNum": "12", "dataFlag": 9}))
    got = {(e["path"], e["message"].split(" ")[-1]) for e in info.value.detail["errors"]}
    assert {p for p, _ in got} == {"$.hospitalId", "$.studyType", "$.phoneNum", "$.dataFlag"}
    assert info.value.status == 422 and info.value.message.startswith("validate: ")


def test_json_schema_nested_paths(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_bytes(orjson.dumps({
        "type": "object", "properties": {"data": {"type": "array", "items": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}}))
    with pytest.raises(ValidationFailed) as info:
        step({"json_schema": "s.json"}, base=tmp_path)(Message({"data": [{"id": 1}, {"id": "x"}, {}]}))
    assert [e["path"] for e in info.value.detail["errors"]] == ["$.data[1].id", "$.data[2]"]


@pytest.mark.parametrize(("content", "needle"), [
    (None, "JSON Schema file not found"),
    (b"{not json", "invalid JSON"),
    (b'{"type": "nosuchtype"}', "invalid JSON Schema"),
])
def test_bad_json_schema_is_a_config_error(tmp_path: Path, content: bytes | None, needle: str) -> None:
    if content is not None:
        (tmp_path / "s.json").write_bytes(content)
    with pytest.raises(ValueError, match=needle):
        step({"json_schema": "s.json"}, base=tmp_path)


@pytest.mark.parametrize("config", [
    {}, {"xsd": "a.xsd", "json_schema": "a.json"}, {"json_schema": "a.json", "root": "R"},
    {"xsd": "a.xsd", "lists": ["x"]},
])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["validate"].model.model_validate(config)


# --- list paths ----------------------------------------------------------------------------

def test_list_paths_of_seed_001_workinfo() -> None:
    assert list_paths(WORKINFO, "Request") == ["WorkInfo.Record"]


def test_list_paths_groups_repeats_and_recursion(tmp_path: Path) -> None:
    xsd = schema_file(tmp_path, """
      <xs:complexType name="Node"><xs:sequence>
        <xs:element name="Name" type="xs:string"/>
        <xs:element name="Node" type="Node" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence></xs:complexType>
      <xs:element name="Response"><xs:complexType><xs:sequence>
        <xs:element name="Code" type="xs:int"/>
        <xs:sequence maxOccurs="unbounded">
          <xs:element name="Key" type="xs:string"/><xs:element name="Value" type="xs:string"/>
        </xs:sequence>
        <xs:element name="Pair" type="xs:string" maxOccurs="2"/>
        <xs:element name="Once" type="xs:string" maxOccurs="1"/>
        <xs:element name="Tree" type="Node"/>
      </xs:sequence></xs:complexType></xs:element>""")
    assert list_paths(xsd, "Response") == ["Key", "Value", "Pair", "Tree.Node"]
    with pytest.raises(ValueError, match="no global element"):
        list_paths(xsd, "Request")


def test_schema_lists_only_before_reshaping_steps() -> None:
    inbound = InboundConfig.model_validate({"path": "/ws", "format": "xml",
                                            "match": {"root": "Request"}})
    resolve = CTX.resolve
    first = [{"require": ["HospitalNo"]}, {"validate": {"xsd": "workinfo.xsd"}}]
    assert schema_lists(first, inbound, resolve) == ["WorkInfo.Record"]
    after_rename = [{"rename": {"map": {"a": "b"}}}, {"validate": {"xsd": "workinfo.xsd"}}]
    assert schema_lists(after_rename, inbound, resolve) == []
    other_root = [{"validate": {"xsd": "workinfo.xsd", "root": "Nope"}}]
    assert schema_lists(other_root, inbound, resolve) == []
    no_match = InboundConfig.model_validate({"path": "/ws", "format": "xml"})
    assert schema_lists([{"validate": {"xsd": "workinfo.xsd"}}], no_match, resolve) == \
        ["WorkInfo.Record"]                                   # the schema's only element


def test_schema_cache_sees_an_edited_file(tmp_path: Path) -> None:
    import os

    body = ('<xs:element name="R"><xs:complexType><xs:sequence>'
            '<xs:element name="X" type="xs:string" maxOccurs="{n}"/>'
            '</xs:sequence></xs:complexType></xs:element>')
    xsd = schema_file(tmp_path, body.format(n="1"))
    assert list_paths(xsd, "R") == []
    xsd.write_text(xsd.read_text().replace('maxOccurs="1"', 'maxOccurs="5"'))
    stat = xsd.stat()
    os.utime(xsd, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert list_paths(xsd, "R") == ["X"]
    assert load_schema(xsd) is load_schema(xsd)


# --- a route with an XSD, end to end -----------------------------------------------------

@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, list[Any]]]:
    """A loopback JSON target answering what it received."""
    received: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(orjson.loads(await request.read()))
        return web.json_response({"ResultCode": 0, "received": received[-1]})

    app = web.Application()
    app.router.add_post("/platform/workinfo", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", received
    finally:
        await runner.cleanup()


ROUTES = """\
version: 1
targets:
  platform: {{url: "{url}", timeout: 2s}}
routes:
  - name: workinfo.sync
    inbound: {{path: /ws/workinfo, format: xml, match: {{root: Request}}}}   # no lists: here
    pipeline:
      - validate: {{xsd: {xsd}}}
    outbound: {{target: platform, path: /platform/workinfo, format: json}}
    reply:
      pipeline:
        - template: {{ResultCode: "{{ResultCode}}", ResultContent: ok}}
      root: Response
"""

ONE_RECORD = """<?xml version="1.0" encoding="UTF-8"?>
<Request><TransactionId>T1</TransactionId><HospitalNo>H1</HospitalNo><Count>1</Count>
<IsMultiTimes>0</IsMultiTimes><WorkInfo><Record><WorkId>W1</WorkId><DoctorId>D1</DoctorId>
<RegistrationPrice>12.50</RegistrationPrice></Record></WorkInfo></Request>"""


async def test_route_with_xsd_decodes_a_single_record_as_a_list(
        echo: tuple[str, list[Any]], tmp_path: Path) -> None:
    url, received = echo
    config = tmp_path / "routes.yaml"
    config.write_text(ROUTES.format(url=url, xsd=WORKINFO), encoding="utf-8")
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    async with running_bridge(config) as bridge, aiohttp.ClientSession() as http:
        async with http.post(bridge.url + "/ws/workinfo", data=ONE_RECORD.encode(),
                             headers=headers) as r:
            assert r.status == 200, await r.text()
            reply = etree.fromstring(await r.read())
        empty = ONE_RECORD.replace(ONE_RECORD[ONE_RECORD.index("<Record>"):
                                              ONE_RECORD.index("</WorkInfo>")], "")
        async with http.post(bridge.url + "/ws/workinfo", data=empty.encode(),
                             headers=headers) as r:
            assert r.status == 200, await r.text()
        bad = ONE_RECORD.replace("<DoctorId>D1</DoctorId>", "").replace("<Count>1", "<Count>one")
        async with http.post(bridge.url + "/ws/workinfo", data=bad.encode(), headers=headers) as r:
            assert r.status == 422
            error = (await r.read()).decode()
    assert reply.tag == "Response" and reply.findtext("ResultCode") == "0"
    assert received[0]["WorkInfo"] == {"Record": [{"WorkId": "W1", "DoctorId": "D1",
                                                   "RegistrationPrice": 12.5}]}
    assert received[0]["Count"] == 1
    assert received[1]["WorkInfo"] == {"Record": []}
    assert len(received) == 2                       # the invalid one never reached the target
    assert "Count" in error and "WorkInfo.Record.0" in error and "DoctorId" in error


# --- validate: {spec: ...} (DESIGN §6) against the transcribed seed tables ---------------------

ROOT = Path(__file__).resolve().parents[2]


def _spec_step(ref: str, **extra):  # type: ignore[no-untyped-def]
    return step({"spec": ref, **extra}, ROOT)


def _confirm(**over):  # type: ignore[no-untyped-def]
    body = {"TransactionId": "T1", "HospitalNo": "H001", "WorkId": "W1", "Name": "张三",
            "IDCode": "330102199001011234", "TelephoneNo": "13800000000"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def test_spec_counts_bytes_where_the_seed_says_bytes() -> None:
    """Seed 001 §3.1: Name 长度（字节） 200. 66 汉字 are 198 UTF-8 bytes; 70 are 210."""
    step = _spec_step("registration/confirmRegistration.request")
    step(Message(_confirm(Name="张" * 66)))
    with pytest.raises(ValidationFailed) as exc:
        step(Message(_confirm(Name="张" * 70)))
    assert "Name: longer than 200 bytes" in exc.value.message
    gbk = _spec_step("registration/confirmRegistration.request", charset="gbk")
    gbk(Message(_confirm(Name="张" * 70)))          # 140 bytes in GBK


def test_spec_reports_every_field_by_the_callers_name_and_never_its_value() -> None:
    step = _spec_step("registration/confirmRegistration.request")
    with pytest.raises(ValidationFailed) as exc:
        step(Message(_confirm(HospitalNo=None, IDCode="", Sex="7", CardType="X9",
                              Name="李" * 80)))
    paths = [e["path"] for e in exc.value.detail["errors"]]
    assert paths == ["HospitalNo", "CardType", "Name", "Sex", "IDCode"], paths
    assert "X9" not in exc.value.message and "李" not in exc.value.message
    assert "not one of the allowed values (0, 1, 2, 5, 6, 9)" in exc.value.message


def test_spec_checks_lists_types_and_dates_through_nested_records() -> None:
    """Seed 001 §2.1 synchronizedWorkInfo: Record rows under WorkInfo; a lone Record is a list."""
    import yaml

    spec = yaml.safe_load((ROOT / "transforms/specs/registration/synchronizedWorkInfo.yaml").read_text())
    step = _spec_step("registration/synchronizedWorkInfo.request")
    record_spec = next(f for f in spec["request"] if f["name"] == "WorkInfo")["fields"][0]
    assert record_spec["name"] == "Record" and record_spec["type"] == "list"
    with pytest.raises(ValidationFailed) as exc:
        step(Message({"TransactionId": "T1", "WorkInfo": {"Record": {"WorkId": "W1"}}}))
    paths = {e["path"] for e in exc.value.detail["errors"]}
    required = {f["name"] for f in record_spec["fields"] if f.get("required") is True} - {"WorkId"}
    assert {f"WorkInfo.Record.0.{n}" for n in required} <= paths, paths


def test_spec_unknown_fields_are_problems_only_when_asked() -> None:
    lenient = _spec_step("palm_his/registerPre.request")
    strict = _spec_step("palm_his/registerPre.request", unknown="error")
    import yaml

    spec = yaml.safe_load((ROOT / "transforms/specs/palm_his/registerPre.yaml").read_text())
    body = {f["name"]: ("1" if f["type"] != "integer" else 1) for f in spec["request"]}
    lenient(Message({**body, "extra_field": "x"}))
    with pytest.raises(ValidationFailed) as exc:
        strict(Message({**body, "extra_field": "x"}))
    assert "extra_field: not a field of this document" in exc.value.message


def test_spec_reference_errors_are_config_errors() -> None:
    with pytest.raises(ValueError, match="no file"):
        _spec_step("registration/noSuchOperation.request")
    with pytest.raises(ValueError, match="request or .response"):
        _spec_step("registration/confirmRegistration")


def test_spec_after_a_glossary_rename_checks_renamed_keys_and_names_the_callers() -> None:
    """validate: {spec, glossary}: the leading rename stays fused into the decoder (the fast
    path); the renamed body is checked and problems still say hzxm, not patient_name."""
    step = _spec_step("referral/referral-query.request", glossary="transforms/glossary/referral.yaml")
    import yaml

    names = yaml.safe_load((ROOT / "transforms/glossary/referral.yaml").read_text(encoding="utf-8"))
    ok = {names[k]: v for k, v in {"yydm": "H1", "ysgh": "Y1", "hzxm": "张三", "jzkh": "A1",
                                   "jzklx": "0", "sfzh": "3306"}.items()}
    step(Message(dict(ok)))
    bad = {**ok, names["jzklx"]: "5"}
    del bad[names["hzxm"]]
    with pytest.raises(ValidationFailed) as exc:
        step(Message(bad))
    assert [e["path"] for e in exc.value.detail["errors"]] == ["hzxm", "jzklx"]
    assert names["hzxm"] not in exc.value.message
