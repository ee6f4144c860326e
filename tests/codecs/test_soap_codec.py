"""SOAP 1.1 / 1.2: envelopes, "Web Service + XML" parameters, faults, requests to targets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lxml import etree

from bridge.codecs import soap
from bridge.codecs.base import ParseOptions
from bridge.codecs.soap import (NS, SoapCodec, encode_request, fault_element, fault_status,
                                param_document, read_reply, split_envelope)
from bridge.codecs.xmltree import element_to_tree, local, parse
from bridge.errors import BadRequest, NoRoute, UpstreamError, ValidationFailed

S11, S12 = NS["1.1"], NS["1.2"]


def env(version: str, body: str, prefix: str = "soap") -> bytes:
    return (f'<{prefix}:Envelope xmlns:{prefix}="{NS[version]}"><{prefix}:Header/>'
            f"<{prefix}:Body>{body}</{prefix}:Body></{prefix}:Envelope>").encode()


def root_of(data: bytes) -> object:
    return parse(data)[0]


# -- split_envelope ------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_split_envelope_by_namespace(version: str) -> None:
    data = env(version, '<ns:confirm xmlns:ns="urn:h"><a>1</a></ns:confirm>', prefix="s")
    got, body, op = split_envelope(root_of(data))
    assert got == version
    assert local(body.tag) == "Body"
    assert op.tag == "{urn:h}confirm"


def test_split_envelope_empty_body() -> None:
    version, _, op = split_envelope(root_of(env("1.1", "")))
    assert version == "1.1" and op is None


def test_split_envelope_unknown_namespace_uses_the_content_type_for_1_2_only() -> None:
    data = b'<e:Envelope xmlns:e="urn:odd"><e:Body><op/></e:Body></e:Envelope>'
    assert split_envelope(root_of(data), "application/soap+xml")[0] == "1.2"
    with pytest.raises(BadRequest) as info:
        split_envelope(root_of(data), "text/xml")
    assert info.value.code == "not_soap" and "urn:odd" in info.value.message


def test_split_envelope_refuses_non_envelopes() -> None:
    with pytest.raises(BadRequest) as info:
        split_envelope(root_of(b"<referral><a>1</a></referral>"))
    assert "<referral>" in info.value.message
    with pytest.raises(BadRequest) as info:
        split_envelope(root_of(f'<s:Envelope xmlns:s="{S11}"><s:Header/></s:Envelope>'.encode()))
    assert "no Body" in info.value.message


# -- param_document ---------------------------------------------------------------------------

def op_with(param_xml: str) -> object:
    data = env("1.1", f'<ns:confirmRegistration xmlns:ns="urn:h">{param_xml}</ns:confirmRegistration>')
    return split_envelope(root_of(data))[2]


def test_param_document_escaped() -> None:
    op = op_with("<xml>&lt;Request&gt;&lt;Name&gt;张三 &amp;amp; co&lt;/Name&gt;&lt;/Request&gt;</xml>")
    inner = param_document(op, "xml")
    assert inner.tag == "Request"
    assert element_to_tree(inner) == {"Name": "张三 & co"}


def test_param_document_cdata_with_declaration_and_whitespace() -> None:
    op = op_with('<xml>\n  <![CDATA[<?xml version="1.0" encoding="UTF-8"?>\n<Request><Id>7</Id>'
                 "<Id>8</Id></Request>]]>\n</xml>")
    inner = param_document(op, "xml")
    assert element_to_tree(inner) == {"Id": ["7", "8"]}


def test_param_document_missing_or_empty() -> None:
    for holder in ("", "<xml/>", "<xml>   </xml>", "<other>&lt;a/&gt;</other>"):
        with pytest.raises(BadRequest) as info:
            param_document(op_with(holder), "xml")
        assert info.value.code == "missing_param"
        assert "<xml>" in info.value.message and "confirmRegistration" in info.value.message


def test_param_document_malformed_or_hostile() -> None:
    with pytest.raises(BadRequest) as info:
        param_document(op_with("<xml>&lt;Request&gt;&lt;a&gt;</xml>"), "xml")
    assert info.value.code == "malformed_xml"
    with pytest.raises(BadRequest) as info:
        param_document(op_with('<xml><![CDATA[<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>]]></xml>'), "xml")
    assert info.value.code == "dtd_refused"


# -- faults -------------------------------------------------------------------------------------

def test_fault_1_1_client_and_server() -> None:
    f = fault_element("1.1", BadRequest("bad <input>"), None)
    assert f.tag == f"{{{S11}}}Fault"
    assert f.findtext("faultcode") == "soap:Client"
    assert f.findtext("faultstring") == "bad <input>"
    assert element_to_tree(f.find("detail")) == {
        "error": {"status": "400", "code": "bad_request", "message": "bad <input>"}}
    f = fault_element("1.1", UpstreamError("down"), {"r": {"result": "false"}})
    assert f.findtext("faultcode") == "soap:Server"
    assert element_to_tree(f.find("detail")) == {"r": {"result": "false"}}


def test_fault_1_2_sender_and_receiver() -> None:
    f = fault_element("1.2", ValidationFailed("order_id is missing"), None)
    assert f.tag == f"{{{S12}}}Fault"
    assert f.findtext(f"{{{S12}}}Code/{{{S12}}}Value") == "soap:Sender"
    text = f.find(f"{{{S12}}}Reason/{{{S12}}}Text")
    assert text.text == "order_id is missing"
    assert text.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert element_to_tree(f.find(f"{{{S12}}}Detail"))["error"]["status"] == "422"
    f = fault_element("1.2", UpstreamError("down"), None)
    assert f.findtext(f"{{{S12}}}Code/{{{S12}}}Value") == "soap:Receiver"


def test_fault_status() -> None:
    # SOAP 1.1 answers every fault with HTTP 500
    assert fault_status("1.1", BadRequest("x")) == 500
    assert fault_status("1.1", NoRoute("x")) == 500
    assert fault_status("1.1", UpstreamError("x")) == 500
    # SOAP 1.2: Sender -> 400, Receiver -> 500
    assert fault_status("1.2", BadRequest("x")) == 400
    assert fault_status("1.2", NoRoute("x")) == 400
    assert fault_status("1.2", UpstreamError("x")) == 500


# -- requests to targets --------------------------------------------------------------------------

def test_encode_request_1_1_with_param() -> None:
    body, headers = encode_request({"WorkId": "1", "Name": "张三"}, version="1.1", operation="sync",
                                   namespace="urn:p", param="xml", inner_root="Request",
                                   action="urn:sync")
    assert headers == {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '"urn:sync"'}
    version, _, op = split_envelope(root_of(body))
    assert version == "1.1" and op.tag == "{urn:p}sync"
    inner = param_document(op, "xml")
    assert inner.tag == "Request"
    assert element_to_tree(inner) == {"WorkId": "1", "Name": "张三"}


def test_encode_request_1_1_empty_action_is_quoted() -> None:
    _, headers = encode_request({}, version="1.1", operation="op", namespace=None, param=None,
                                inner_root=None, action=None)
    assert headers["SOAPAction"] == '""'
    _, headers = encode_request({}, version="1.1", operation="op", namespace=None, param=None,
                                inner_root=None, action="")
    assert headers["SOAPAction"] == '""'


def test_encode_request_1_2_action_in_content_type() -> None:
    body, headers = encode_request({"a": ["1", "2"]}, version="1.2", operation="op", namespace="urn:x",
                                   param=None, inner_root=None, action="urn:op", encoding="GBK")
    assert headers == {"Content-Type": 'application/soap+xml; charset=GBK; action="urn:op"'}
    assert "SOAPAction" not in headers
    assert body.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    version, _, op = split_envelope(etree.fromstring(body))
    assert version == "1.2"
    assert element_to_tree(op) == {"a": ["1", "2"]}
    _, headers = encode_request({}, version="1.2", operation="op", namespace=None, param=None,
                                inner_root=None, action=None)
    assert headers == {"Content-Type": "application/soap+xml; charset=UTF-8"}


# -- replies from targets -------------------------------------------------------------------------

def test_read_reply_with_reply_param() -> None:
    data = env("1.1", '<ns:syncResponse xmlns:ns="urn:p"><return>&lt;Response&gt;&lt;Code&gt;0'
                      "&lt;/Code&gt;&lt;/Response&gt;</return></ns:syncResponse>")
    assert read_reply(root_of(data), "return", {}) == ({"Code": "0"}, "Response")


def test_read_reply_plain_and_empty() -> None:
    data = env("1.2", "<opResponse><x>1</x></opResponse>")
    assert read_reply(root_of(data), None, {}) == ({"x": "1"}, "opResponse")
    assert read_reply(root_of(env("1.1", "")), None, {}) == ({}, "")


def test_read_reply_fault_1_1_is_upstream_error() -> None:
    data = env("1.1", "<soap:Fault><faultcode>soap:Server</faultcode>"
                      "<faultstring>号源已满</faultstring></soap:Fault>")
    with pytest.raises(UpstreamError) as info:
        read_reply(root_of(data), "return", {})
    assert info.value.message == "号源已满"
    assert info.value.code == "upstream_fault" and info.value.status == 502


def test_read_reply_fault_1_2_is_upstream_error() -> None:
    data = env("1.2", '<soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code>'
                      '<soap:Reason><soap:Text xml:lang="en">no slot</soap:Text></soap:Reason></soap:Fault>')
    with pytest.raises(UpstreamError) as info:
        read_reply(root_of(data), None, {})
    assert info.value.message == "no slot"


# -- the inbound codec ----------------------------------------------------------------------------

def cfg(param: str | None = None, lists: list[str] | None = None) -> SimpleNamespace:
    return SimpleNamespace(lists=lists or [], soap=SimpleNamespace(param=param) if param else None)


def test_codec_parse_decode_render_1_1() -> None:
    data = env("1.1", '<ns:confirmRegistration xmlns:ns="urn:h"><xml>&lt;Request&gt;&lt;Id&gt;1'
                      "&lt;/Id&gt;&lt;/Request&gt;</xml></ns:confirmRegistration>")
    codec = SoapCodec()
    inb = codec.parse(data, "text/xml", "utf-8", ParseOptions())
    assert (inb.key, inb.soap_version, inb.media_type) == ("confirmRegistration", "1.1", "text/xml")
    assert codec.decoder(cfg("xml", ["Id"]), 100)(inb) == ({"Id": ["1"]}, "Request")
    out = codec.render({"Result": "0"}, inb, root="Response", namespace=None, reply_param="return")
    assert out.content_type == "text/xml; charset=UTF-8" and out.status == 200
    version, _, op = split_envelope(root_of(out.body))
    assert version == "1.1" and op.tag == "{urn:h}confirmRegistrationResponse"
    assert element_to_tree(param_document(op, "return")) == {"Result": "0"}


def test_codec_answers_in_the_version_received() -> None:
    data = env("1.2", '<ns:query xmlns:ns="urn:h"><id>1</id></ns:query>')
    codec = SoapCodec()
    inb = codec.parse(data, "application/soap+xml", None, ParseOptions())
    assert inb.soap_version == "1.2"
    assert codec.decoder(cfg(), 100)(inb) == ({"id": "1"}, None)
    out = codec.render({"ok": "1"}, inb, root="x", namespace=None)
    assert out.content_type.startswith("application/soap+xml")
    assert split_envelope(root_of(out.body))[0] == "1.2"
    err = codec.render_error(BadRequest("nope"), inb, tree=None, root=None, namespace=None)
    assert err.status == 400 and err.content_type.startswith("application/soap+xml")
    fault = split_envelope(root_of(err.body))[2]
    assert local(fault.tag) == "Fault"


def test_codec_parse_errors() -> None:
    codec = SoapCodec()
    with pytest.raises(BadRequest) as info:
        codec.parse(env("1.1", ""), "text/xml", None, ParseOptions())
    assert "empty" in info.value.message
    with pytest.raises(BadRequest) as info:
        codec.parse(b"<referral/>", "text/xml", None, ParseOptions())
    assert info.value.code == "not_soap"


def test_operation_element_without_namespace() -> None:
    op = soap.operation_element("op", None, {"a": "1"}, None, None)
    assert op.tag == "op" and element_to_tree(op) == {"a": "1"}
