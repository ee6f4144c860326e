"""WSDL 1.1 of a SOAP path: structure, one operation per route, and agreement with the SOAP codec.

The WSDL is only useful if what a generated client sends is what the bridge parses, and what the
bridge answers is what the client's schema says: both directions are checked here with a real WSDL
consumer (zeep, loading the document from disk) and a real schema validator (xmlschema).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import xmlschema
import zeep
from lxml import etree

from bridge.codecs import wsdl
from bridge.codecs.base import ParseOptions
from bridge.runtime import PathDispatch, Runtime
from bridge.testing import load_runtime

CONFIG = Path(__file__).resolve().parents[1] / "wsdl" / "configs" / "hospital.yaml"
PATH = "/ws/hospital"
TNS = "http://hospital.example/ws"
NS = {"w": wsdl.WSDL_NS, "s11": wsdl.SOAP11_NS, "s12": wsdl.SOAP12_NS, "xs": wsdl.XSD_NS}
ADDRESS = "http://his.example:8080/ws/hospital"


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return load_runtime(CONFIG)


@pytest.fixture(scope="module")
def dispatch(runtime: Runtime) -> PathDispatch:
    return runtime.paths[PATH]


def document(dispatch: PathDispatch, address: str = ADDRESS) -> Any:
    return etree.fromstring(wsdl.document_for(dispatch).render(address))


def client_for(doc: bytes, tmp_path: Path) -> zeep.Client:
    path = tmp_path / "service.wsdl"
    path.write_bytes(doc)
    return zeep.Client(str(path))


def soap_routes_config(tmp_path: Path, routes: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text("version: 1\ntargets:\n  t: {url: 'http://127.0.0.1:9'}\nroutes:\n"
                    + textwrap.indent(textwrap.dedent(routes), "  "), encoding="utf-8")
    return path


def soap_route(name: str, operation: str | None, soap: str, extra: str = "") -> str:
    match = f"\n    match: {{operation: {operation}}}" if operation else ""
    return (f"- name: {name}\n  inbound:\n    path: /svc\n    format: soap{match}\n"
            f"    soap: {soap}\n  outbound: {{target: t, format: json}}\n{extra}")


# -- structure ------------------------------------------------------------------------------

def test_wsdl_1_1_structure(dispatch: PathDispatch) -> None:
    doc = document(dispatch)
    assert doc.tag == f"{{{wsdl.WSDL_NS}}}definitions"
    assert doc.get("targetNamespace") == TNS
    order = [etree.QName(c).localname for c in doc if isinstance(c.tag, str)]
    assert order == ["documentation", "types"] + ["message"] * 6 + ["portType", "binding", "binding", "service"]
    schema = doc.find("w:types/xs:schema", NS)
    assert schema.get("targetNamespace") == TNS
    assert schema.get("elementFormDefault") == "unqualified"
    elements = {e.get("name") for e in schema.findall("xs:element", NS)}
    for message in doc.findall("w:message", NS):
        (part,) = message.findall("w:part", NS)
        prefix, _, name = part.get("element").partition(":")
        assert part.nsmap[prefix] == TNS and name in elements


def test_one_operation_per_soap_route_in_declaration_order(dispatch: PathDispatch) -> None:
    doc = document(dispatch)
    ops = ["confirmRegistration", "cancelRegistration", "queryStatus"]
    assert [o.get("name") for o in doc.findall("w:portType/w:operation", NS)] == ops
    bindings = doc.findall("w:binding", NS)
    assert [b.find("s11:binding", NS) is not None for b in bindings] == [True, False]
    assert bindings[1].find("s12:binding", NS).get("style") == "document"
    for binding in bindings:
        assert [o.get("name") for o in binding.findall("w:operation", NS)] == ops
        actions = [o.find("*[@soapAction]").get("soapAction") for o in binding.findall("w:operation", NS)]
        assert actions == ["", "urn:cancel", ""]
        assert {b.get("use") for b in binding.iterfind(".//{*}body")} == {"literal"}
    docs = [o.findtext("w:documentation", namespaces=NS) for o in doc.findall("w:portType/w:operation", NS)]
    assert docs == ["route ws.confirm", "route ws.cancel", "route ws.status"]


def test_param_routes_carry_one_string_and_others_any(dispatch: PathDispatch) -> None:
    schema = document(dispatch).find("w:types/xs:schema", NS)

    def content(name: str) -> list[tuple[str, str | None, str | None]]:
        el = schema.find(f"xs:element[@name='{name}']", NS)
        return [(etree.QName(c).localname, c.get("name"), c.get("type"))
                for c in el.find("xs:complexType/xs:sequence", NS)]
    assert content("confirmRegistration") == [("element", "xml", "xs:string")]
    assert content("confirmRegistrationResponse") == [("element", "return", "xs:string")]
    assert content("queryStatus") == [("any", None, None)]
    assert content("queryStatusResponse") == [("any", None, None)]


def test_address_is_spliced_per_caller_and_escaped(dispatch: PathDispatch) -> None:
    first = document(dispatch)
    odd = document(dispatch, 'https://h.example/ws/hospital?a=1&b="2"')
    assert {p.get("location") for p in first.iterfind("w:service/w:port/*", NS)} == {ADDRESS}
    assert {p.get("location") for p in odd.iterfind("w:service/w:port/*", NS)} == {
        'https://h.example/ws/hospital?a=1&b="2"'}
    service = first.find("w:service", NS)
    assert service.get("name") == "HospitalService"
    assert [p.get("binding") for p in service] == ["tns:HospitalSoap11Binding", "tns:HospitalSoap12Binding"]
    assert wsdl.document_for(dispatch) is wsdl.document_for(dispatch)


def test_request_address_honours_forwarded_headers() -> None:
    assert wsdl.request_address({}, "http", "10.0.0.5:8080", "/ws") == "http://10.0.0.5:8080/ws"
    fwd = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "his.example, inner:8080"}
    assert wsdl.request_address(fwd, "http", "10.0.0.5:8080", "/ws") == "https://his.example/ws"


# -- what a generated client sends is what the bridge parses, and back -----------------------

def test_zeep_request_is_what_the_soap_codec_parses(dispatch: PathDispatch, tmp_path: Path) -> None:
    client = client_for(wsdl.document_for(dispatch).render(ADDRESS), tmp_path)
    assert client.wsdl.services["HospitalService"].ports["HospitalSoap11"].binding_options["address"] == ADDRESS
    envelope = client.create_message(client.service, "confirmRegistration",
                                     xml="<Request><TransactionId>T1</TransactionId></Request>")
    data = etree.tostring(envelope, encoding="utf-8")
    inb = dispatch.codec.parse(data, "text/xml", "utf-8", ParseOptions())
    route = dispatch.select(inb)
    assert route.name == "ws.confirm"
    assert inb.doc.tag == f"{{{TNS}}}confirmRegistration"
    assert route.decode(inb) == ({"TransactionId": "T1"}, "Request")


def test_bridge_reply_matches_the_schema_and_zeep_reads_it(dispatch: PathDispatch, tmp_path: Path) -> None:
    doc = wsdl.document_for(dispatch).render(ADDRESS)
    client = client_for(doc, tmp_path)
    envelope = client.create_message(client.service, "confirmRegistration", xml="<Request/>")
    inb = dispatch.codec.parse(etree.tostring(envelope), "text/xml", "utf-8", ParseOptions())
    rendered = dispatch.codec.render({"ResultCode": "0"}, inb, root="Response", namespace=TNS,
                                     operation="confirmRegistration", reply_param="return")
    reply_env = etree.fromstring(rendered.body)
    (reply_op,) = reply_env.find("{*}Body")
    schema = xmlschema.XMLSchema(etree.tostring(etree.fromstring(doc).find("w:types/xs:schema", NS)))
    schema.validate(etree.tostring(reply_op))
    schema.validate(etree.tostring(envelope.find("{*}Body")[0]))
    result = client.service._binding.get("confirmRegistration").output.deserialize(reply_env)
    assert result == "<Response><ResultCode>0</ResultCode></Response>"


# -- namespaces, catch-alls and paths without WSDL --------------------------------------------

def test_missing_namespace_gets_a_documented_default(tmp_path: Path) -> None:
    cfg = soap_routes_config(tmp_path, soap_route("a", "opA", "{param: xml}"))
    doc = etree.fromstring(wsdl.document_for(load_runtime(cfg).paths["/svc"]).render("http://h/svc"))
    assert doc.get("targetNamespace") == "urn:bridge:/svc" == wsdl.default_namespace("/svc")
    assert doc.find("w:types/xs:schema", NS).get("targetNamespace") == "urn:bridge:/svc"


def test_routes_with_different_namespaces_get_one_schema_each(tmp_path: Path) -> None:
    cfg = soap_routes_config(tmp_path, soap_route("a", "opA", "{namespace: 'urn:a', param: xml}")
                             + soap_route("b", "opB", "{namespace: 'urn:b'}",
                                          "  reply: {namespace: 'urn:b:reply'}\n"))
    data = wsdl.document_for(load_runtime(cfg).paths["/svc"]).render("http://h/svc")
    doc = etree.fromstring(data)
    assert doc.get("targetNamespace") == "urn:a"
    schemas = {s.get("targetNamespace"): [e.get("name") for e in s.findall("xs:element", NS)]
               for s in doc.findall("w:types/xs:schema", NS)}
    assert schemas == {"urn:a": ["opA", "opAResponse"], "urn:b": ["opB"], "urn:b:reply": ["opBResponse"]}
    parts = {m.get("name"): m.find("w:part", NS) for m in doc.findall("w:message", NS)}
    for message, ns, name in (("opBRequest", "urn:b", "opB"), ("opBResponse", "urn:b:reply", "opBResponse")):
        prefix, _, local = parts[message].get("element").partition(":")
        assert (parts[message].nsmap[prefix], local) == (ns, name)
    client = client_for(data, tmp_path)
    assert client.create_message(client.service, "opB").find("{*}Body")[0].tag == "{urn:b}opB"


def test_catch_all_route_is_left_out(tmp_path: Path) -> None:
    cfg = soap_routes_config(tmp_path, soap_route("a", "opA", "{namespace: 'urn:a'}")
                             + soap_route("any", None, "{namespace: 'urn:a'}"))
    doc = etree.fromstring(wsdl.document_for(load_runtime(cfg).paths["/svc"]).render("http://h/svc"))
    assert [o.get("name") for o in doc.findall("w:portType/w:operation", NS)] == ["opA"]


def test_no_wsdl_without_operations_or_for_other_formats(tmp_path: Path, runtime: Runtime) -> None:
    cfg = soap_routes_config(tmp_path, soap_route("any", None, "{namespace: 'urn:a'}"))
    with pytest.raises(wsdl.NoWsdl, match=r"no SOAP route on it declares match"):
        wsdl.document_for(load_runtime(cfg).paths["/svc"])
    with pytest.raises(wsdl.NoWsdl, match=r"no WSDL for /plain: its routes use format xml, not soap"):
        wsdl.document_for(runtime.paths["/plain"])


@pytest.mark.parametrize("path, name", [("/ws/hospital", "Hospital"), ("/services/ResourceService",
                                         "ResourceService"), ("/", "Bridge"), ("/v2/9x-api", "Bridge9x_api")])
def test_service_name_from_path(path: str, name: str) -> None:
    assert wsdl.service_name(path) == name
