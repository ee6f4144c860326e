"""SOAP 1.1 and 1.2 "Web Service + XML" (seed 001 registration platform): the payload document
travels escaped or as CDATA in <xml>, two operations share one path, replies and faults come back
in the version received."""

from __future__ import annotations

from html import escape

import pytest
from lxml import etree

from tests.e2e.helpers import children, closed_port, post

NS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/",
      "1.2": "http://www.w3.org/2003/05/soap-envelope"}
MEDIA = {"1.1": "text/xml", "1.2": "application/soap+xml"}
WS = "http://hospital.example/ws"
PATH = "/ws/hospital"

CONFIRM = """<Request>
<TransactionId>TX-{tag}</TransactionId>
<HospitalNo>H001</HospitalNo>
<PatientNo>P123</PatientNo>
<CardType>01</CardType>
<Name>张三</Name>
<Sex>1</Sex>
<WorkId>W-9</WorkId>
<numSourceId>NS-1</numSourceId>
<channel>app</channel>
</Request>"""

WORKINFO = """<Request><TransactionId>TX-{tag}</TransactionId><HospitalNo>H001</HospitalNo>
<Count>{n}</Count><IsMultiTimes>0</IsMultiTimes><WorkInfo>{records}</WorkInfo></Request>"""


def workinfo(tag: str, n: int) -> str:
    recs = "".join(f"<Record><WorkId>W{i}</WorkId><DoctorName>医生{i}</DoctorName></Record>"
                   for i in range(n))
    return WORKINFO.format(tag=tag, n=n, records=recs)


def envelope(version: str, operation: str, inner: str | None, style: str = "escaped") -> str:
    if inner is None:
        param = "<xml></xml>"
    elif style == "cdata":
        param = f"<xml><![CDATA[{inner}]]></xml>"
    else:
        param = f"<xml>{escape(inner, quote=False)}</xml>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<soapenv:Envelope xmlns:soapenv="{NS[version]}" xmlns:ns="{WS}">'
            f"<soapenv:Header/><soapenv:Body><ns:{operation}>{param}</ns:{operation}>"
            f"</soapenv:Body></soapenv:Envelope>")


def headers(version: str) -> dict[str, str]:
    if version == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    return {"Content-Type": "application/soap+xml; charset=utf-8"}


def body_child(reply, version: str):
    root = reply.xml()
    assert root.tag == f"{{{NS[version]}}}Envelope", root.tag
    body = root.find(f"{{{NS[version]}}}Body")
    assert body is not None
    kids = [c for c in body if isinstance(c.tag, str)]
    assert len(kids) == 1
    return kids[0]


def returned_document(reply, version: str, operation: str):
    op = body_child(reply, version)
    assert etree.QName(op).localname == f"{operation}Response"
    assert etree.QName(op).namespace == WS
    ret = [c for c in op if etree.QName(c).localname == "return"]
    assert len(ret) == 1, etree.tostring(op)
    text = ret[0].text
    assert text and text.lstrip().startswith("<"), "the reply document travels as a string"
    assert len(ret[0]) == 0, "<return> holds text, not child elements"
    return etree.fromstring(text.encode("utf-8"))


def fault(reply, version: str) -> tuple[str, str, object]:
    """(code value, reason text, the fault element)."""
    f = body_child(reply, version)
    assert etree.QName(f).localname == "Fault" and etree.QName(f).namespace == NS[version]
    if version == "1.1":
        code = f.findtext("faultcode")
        reason = f.findtext("faultstring")
    else:
        value = f.find(f"{{{NS['1.2']}}}Code/{{{NS['1.2']}}}Value")
        assert value is not None
        prefix, _, local = value.text.partition(":")
        assert value.nsmap.get(prefix) == NS["1.2"], "the code's prefix is the 1.2 envelope"
        code = local
        reason = f.findtext(f"{{{NS['1.2']}}}Reason/{{{NS['1.2']}}}Text")
    return code, reason or "", f


@pytest.fixture
async def soap_bridge(run_bridge, echo):
    async with run_bridge("soap.yaml", env={"ECHO_URL": echo.url}) as b:
        yield b


@pytest.mark.parametrize("style", ["escaped", "cdata"])
@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_confirm_registration_round_trip(soap_bridge, echo, http, version, style):
    env = envelope(version, "confirmRegistration", CONFIRM.format(tag=f"{version}-{style}"), style)
    reply = await post(http, soap_bridge.url + PATH, env, headers(version))
    assert reply.status == 200, reply.body
    assert reply.media_type == MEDIA[version]
    assert (reply.charset or "").upper() == "UTF-8"

    assert len(echo.requests) == 1
    got = echo.requests[0]
    assert got["path"] == "/echo/confirm"
    assert got["json"]["TransactionId"] == f"TX-{version}-{style}"
    assert got["json"]["Name"] == "张三"
    assert got["json"]["numSourceId"] == "NS-1"

    doc = returned_document(reply, version, "confirmRegistration")
    assert doc.tag == "Response"
    out = children(doc)
    assert out == {"ResultCode": "0", "ResultDesc": "号源锁定成功",
                   "TransactionId": f"TX-{version}-{style}", "Operation": "confirm"}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_two_operations_on_one_path_dispatch_by_operation(soap_bridge, echo, http, version):
    a = await post(http, soap_bridge.url + PATH,
                   envelope(version, "synchronizedWorkInfo", workinfo("W", 1), "cdata"), headers(version))
    b = await post(http, soap_bridge.url + PATH,
                   envelope(version, "confirmRegistration", CONFIRM.format(tag="C")), headers(version))
    assert a.status == b.status == 200, (a.body, b.body)
    assert [r["path"] for r in echo.requests] == ["/echo/workinfo", "/echo/confirm"]
    assert echo.requests[0]["json"]["WorkInfo"]["Record"] == [{"WorkId": "W0", "DoctorName": "医生0"}]
    assert children(returned_document(a, version, "synchronizedWorkInfo"))["Operation"] == "workinfo"
    assert children(returned_document(b, version, "confirmRegistration"))["Operation"] == "confirm"


@pytest.mark.parametrize("version,status,code", [("1.1", 500, "soap:Server"), ("1.2", 500, "Receiver")])
async def test_failing_upstream_is_a_fault_of_the_same_version(soap_bridge, echo, http, version, status, code):
    echo.fail(500)
    reply = await post(http, soap_bridge.url + PATH,
                       envelope(version, "confirmRegistration", CONFIRM.format(tag="F")), headers(version))
    assert reply.status == status, reply.body
    assert reply.media_type == MEDIA[version]
    got_code, reason, f = fault(reply, version)
    assert got_code == code
    assert "500" in reason
    assert b"502" in etree.tostring(f)                 # status in the fault detail
    assert len(echo.requests) == 1


@pytest.mark.parametrize("version,code", [("1.1", "soap:Server"), ("1.2", "Receiver")])
async def test_target_down_is_a_fault_of_the_same_version(run_bridge, http, version, code):
    async with run_bridge("soap.yaml", env={"ECHO_URL": f"http://127.0.0.1:{closed_port()}"}) as b:
        reply = await post(http, b.url + PATH,
                           envelope(version, "confirmRegistration", CONFIRM.format(tag="D")),
                           headers(version))
    assert reply.status == 500, reply.body
    assert reply.media_type == MEDIA[version]
    assert fault(reply, version)[0] == code


@pytest.mark.parametrize("version,status,code", [("1.1", 500, "soap:Client"), ("1.2", 400, "Sender")])
async def test_empty_param_is_a_client_fault(soap_bridge, echo, http, version, status, code):
    reply = await post(http, soap_bridge.url + PATH,
                       envelope(version, "confirmRegistration", None), headers(version))
    assert reply.status == status, reply.body
    assert reply.media_type == MEDIA[version]
    got_code, reason, _ = fault(reply, version)
    assert got_code == code
    assert "xml" in reason
    assert echo.requests == []


@pytest.mark.parametrize("version,status", [("1.1", 500), ("1.2", 400)])
async def test_unknown_operation_is_a_fault_listing_the_known_ones(soap_bridge, echo, http, version, status):
    reply = await post(http, soap_bridge.url + PATH,
                       envelope(version, "cancelRegistration", CONFIRM.format(tag="U")), headers(version))
    assert reply.status == status, reply.body
    code, reason, _ = fault(reply, version)
    assert code in ("soap:Client", "Sender")
    assert "confirmRegistration" in reason and "synchronizedWorkInfo" in reason
    assert echo.requests == []


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_malformed_inner_document_is_a_client_fault(soap_bridge, echo, http, version):
    inner = "<Request><TransactionId>X</TransactionId>\n<HospitalNo>H</Hospital></Request>"
    reply = await post(http, soap_bridge.url + PATH,
                       envelope(version, "confirmRegistration", inner), headers(version))
    assert reply.status == (500 if version == "1.1" else 400), reply.body
    code, reason, _ = fault(reply, version)
    assert code in ("soap:Client", "Sender")
    assert "line 2" in reason
    assert echo.requests == []


async def test_gbk_soap_request_gets_a_gbk_envelope(soap_bridge, echo, http):
    env = envelope("1.1", "confirmRegistration", CONFIRM.format(tag="G"))
    env = env.replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk")
    reply = await post(http, soap_bridge.url + PATH, env, {"Content-Type": "text/xml", "SOAPAction": ""})
    assert reply.status == 200, reply.body
    assert reply.declared_encoding() == "GBK" and (reply.charset or "").upper() == "GBK"
    assert echo.requests[0]["json"]["Name"] == "张三"
    doc = returned_document(reply, "1.1", "confirmRegistration")
    assert children(doc)["ResultDesc"] == "号源锁定成功"


@pytest.mark.parametrize("style", ["escaped", "cdata"])
async def test_inner_document_with_its_own_declaration(soap_bridge, echo, http, style):
    inner = '<?xml version="1.0" encoding="UTF-8"?>\n' + CONFIRM.format(tag="DECL")
    reply = await post(http, soap_bridge.url + PATH,
                       envelope("1.1", "confirmRegistration", inner, style), headers("1.1"))
    assert reply.status == 200, reply.body
    assert echo.requests[0]["json"]["TransactionId"] == "TX-DECL"
    assert children(returned_document(reply, "1.1", "confirmRegistration"))["TransactionId"] == "TX-DECL"


async def test_soap_12_version_comes_from_the_envelope_not_the_content_type(soap_bridge, echo, http):
    # a 1.2 envelope sent as text/xml is still answered as 1.2
    reply = await post(http, soap_bridge.url + PATH,
                       envelope("1.2", "confirmRegistration", CONFIRM.format(tag="V")),
                       {"Content-Type": "text/xml; charset=utf-8"})
    assert reply.status == 200, reply.body
    assert reply.media_type == MEDIA["1.2"]
    returned_document(reply, "1.2", "confirmRegistration")


async def test_json_on_the_soap_path_is_a_client_fault(soap_bridge, echo, http):
    # the version cannot be told from JSON: the bridge answers as SOAP 1.1 (HTTP 500 for all faults)
    reply = await post(http, soap_bridge.url + PATH, b'{"a": 1}', {"Content-Type": "application/json"})
    assert reply.status == 500, reply.body
    assert reply.media_type == MEDIA["1.1"]
    code, reason, f = fault(reply, "1.1")
    assert code == "soap:Client"
    assert "application/json" in reason
    assert b"415" in etree.tostring(f)
    assert echo.requests == []
