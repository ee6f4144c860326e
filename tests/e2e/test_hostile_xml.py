"""DESIGN §4: XXE and entity bombs are refused (400, in the caller's dialect), nothing leaks,
the parser never touches the file system or the network, and the bridge keeps serving."""

from __future__ import annotations

import asyncio
import uuid
from html import escape

import pytest

from tests.e2e.helpers import SERVLET, ConnectionRecorder, children, post, sample, sim_requests

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE referral [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<referral><orderid>&lol9;</orderid><hzxm>&lol9;</hzxm></referral>
"""


def referral_with(entity_decl: str, ref: str, prefix: str = "") -> str:
    """The seed's referral sample with a DOCTYPE and the patient name replaced by ``ref``."""
    body = sample("referral.xml").decode("utf-8").split("?>", 1)[1]
    body = body.replace("<hzxm>测试患者</hzxm>", f"<hzxm>{ref}</hzxm>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prefix}<!DOCTYPE referral [\n{entity_decl}\n]>{body}'


@pytest.fixture
def secret_file(tmp_path):
    marker = "XXE-MARKER-" + uuid.uuid4().hex
    path = tmp_path / "secret.txt"
    path.write_text(marker)
    return path, marker


async def assert_still_serving(http, bridge, referral_sim):
    reply = await post(http, bridge.url + SERVLET, sample("referral.xml"))
    assert reply.status == 200, reply.body
    assert children(reply.xml())["result"] == "true"


def assert_refused_xml(reply, *markers: str) -> None:
    assert reply.status == 400, reply.body
    assert reply.media_type.endswith("xml")
    root = reply.xml()                               # an XML reply, not JSON or text
    assert root is not None
    text = reply.body.decode("utf-8", "replace")
    for marker in markers:
        assert marker not in text
    assert "lollollol" not in text


async def test_external_file_entity_is_refused(bridge, referral_sim, http, secret_file):
    path, marker = secret_file
    doc = referral_with(f'<!ENTITY xxe SYSTEM "file://{path}">', "&xxe;")
    reply = await post(http, bridge.url + SERVLET, doc)
    assert_refused_xml(reply, marker)
    assert (await sim_requests(http, referral_sim)) == []
    await assert_still_serving(http, bridge, referral_sim)
    assert marker not in str(await sim_requests(http, referral_sim))


async def test_external_network_entity_is_refused_without_connecting(bridge, referral_sim, http):
    async with ConnectionRecorder() as listener:
        url = f"http://127.0.0.1:{listener.port}/xxe"
        for decl, ref in [
            (f'<!ENTITY net SYSTEM "{url}">', "&net;"),
            (f'<!ENTITY % pe SYSTEM "{url}/pe.dtd"> %pe;', "x"),   # parameter entity / external DTD
        ]:
            reply = await post(http, bridge.url + SERVLET, referral_with(decl, ref))
            assert_refused_xml(reply)
        doc = sample("referral.xml").decode().replace(
            "<referral>", f'<!DOCTYPE referral SYSTEM "{url}/ext.dtd">\n<referral>')
        assert_refused_xml(await post(http, bridge.url + SERVLET, doc))
        await asyncio.sleep(0.05)
        assert listener.connections == 0
    assert (await sim_requests(http, referral_sim)) == []
    await assert_still_serving(http, bridge, referral_sim)


async def test_billion_laughs_is_refused(bridge, referral_sim, http):
    reply = await post(http, bridge.url + SERVLET, BILLION_LAUGHS)
    assert_refused_xml(reply)
    assert len(reply.body) < 4096
    assert (await sim_requests(http, referral_sim)) == []
    await assert_still_serving(http, bridge, referral_sim)


async def test_doctype_hidden_behind_a_long_comment_is_refused(bridge, referral_sim, http, secret_file):
    """A DTD may follow comments; a refusal that only looks at the first bytes misses it."""
    path, marker = secret_file
    padding = "<!--" + "x" * 70_000 + "-->\n"
    doc = referral_with(f'<!ENTITY xxe SYSTEM "file://{path}">', "&xxe;", prefix=padding)
    reply = await post(http, bridge.url + SERVLET, doc)
    assert_refused_xml(reply, marker)
    assert marker not in str(await sim_requests(http, referral_sim))
    assert (await sim_requests(http, referral_sim)) == []


async def test_internal_entity_is_refused(bridge, referral_sim, http):
    doc = referral_with('<!ENTITY name "测试患者">', "&name;")
    assert_refused_xml(await post(http, bridge.url + SERVLET, doc))
    assert (await sim_requests(http, referral_sim)) == []


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_xxe_inside_a_soap_string_parameter_is_a_fault(run_bridge, echo, http, secret_file, version):
    path, marker = secret_file
    inner = (f'<!DOCTYPE Request [<!ENTITY xxe SYSTEM "file://{path}">]>'
             "<Request><TransactionId>&xxe;</TransactionId><HospitalNo>H1</HospitalNo></Request>")
    ns = SOAP11 if version == "1.1" else SOAP12
    env = (f'<soap:Envelope xmlns:soap="{ns}" xmlns:ns="http://hospital.example/ws"><soap:Body>'
           f"<ns:confirmRegistration><xml>{escape(inner, quote=False)}</xml></ns:confirmRegistration>"
           "</soap:Body></soap:Envelope>")
    ctype = "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"
    async with run_bridge("soap.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/hospital", env, {"Content-Type": ctype})
    assert reply.status == (500 if version == "1.1" else 400), reply.body
    assert b"Fault" in reply.body
    assert marker not in reply.body.decode()
    assert echo.requests == []


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_billion_laughs_in_a_soap_envelope_is_a_fault(run_bridge, echo, http, version):
    dtd = BILLION_LAUGHS.split("<referral>")[0].replace("DOCTYPE referral", "DOCTYPE Envelope")
    ns = SOAP11 if version == "1.1" else SOAP12
    env = (dtd + f'<soap:Envelope xmlns:soap="{ns}" xmlns:ns="http://hospital.example/ws"><soap:Body>'
           "<ns:confirmRegistration><xml>&lol9;</xml></ns:confirmRegistration></soap:Body></soap:Envelope>")
    ctype = "text/xml" if version == "1.1" else "application/soap+xml"
    async with run_bridge("soap.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/hospital", env, {"Content-Type": ctype})
        assert reply.status == (500 if version == "1.1" else 400), reply.body
        assert reply.media_type == ctype
        assert reply.xml().tag == f"{{{ns}}}Envelope"
        assert b"Fault" in reply.body and b"lollol" not in reply.body
        # still serving
        ok = ('<soap:Envelope xmlns:soap="%s" xmlns:ns="http://hospital.example/ws"><soap:Body>'
              "<ns:confirmRegistration><xml>&lt;Request&gt;&lt;TransactionId&gt;T&lt;/TransactionId&gt;"
              "&lt;/Request&gt;</xml></ns:confirmRegistration></soap:Body></soap:Envelope>") % ns
        again = await post(http, b.url + "/ws/hospital", ok, {"Content-Type": ctype})
        assert again.status == 200, again.body
    assert len(echo.requests) == 1


async def test_doctype_text_inside_cdata_is_data_not_a_dtd(run_bridge, echo, http):
    """An HTML report carried in CDATA starts with <!DOCTYPE html>: that is not a DTD."""
    report = "<!DOCTYPE html><html><body><p>检查报告</p></body></html>"
    inner = (f"<Request><TransactionId>T-CDATA</TransactionId>"
             f"<Report><![CDATA[{report}]]></Report></Request>")
    env = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
           'xmlns:ns="http://hospital.example/ws"><soap:Body><ns:confirmRegistration>'
           f"<xml>{escape(inner, quote=False)}</xml></ns:confirmRegistration></soap:Body></soap:Envelope>")
    async with run_bridge("soap.yaml", env={"ECHO_URL": echo.url}) as b:
        reply = await post(http, b.url + "/ws/hospital", env, {"Content-Type": "text/xml"})
    assert reply.status == 200, reply.body
    assert echo.requests[0]["json"]["Report"] == report
