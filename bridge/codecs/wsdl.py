"""WSDL 1.1 (document/literal) for the SOAP routes sharing one path.

Legacy HIS integrators generate their client stubs from ``?wsdl`` (or a file handed over by
email), so the document must describe exactly what the SOAP codec accepts and answers:

- one operation per route, named by its ``match.operation``; its request element ``<op>`` and
  reply element ``<opResponse>`` live in ``soap.namespace`` (the reply in ``reply.namespace``
  when a route sets it, as the codec does); their children are unqualified, as the codec writes
  them (``elementFormDefault="unqualified"``);
- with ``soap.param`` the request holds one ``xs:string`` child of that name, with
  ``soap.reply_param`` the reply does too ("Web Service + XML"); otherwise the content is a lax
  ``xs:any`` sequence, since the body is whatever tree the route accepts or its reply pipeline makes;
- one SOAP 1.1 and one SOAP 1.2 binding and port (the bridge answers both), soapAction
  ``soap.action`` or ``""`` (dispatch never needs it).

A catch-all SOAP route (no ``match``) accepts any operation and cannot be described: it is left
out. The address differs per caller (DESIGN §3: "the address the client called"), so the document
is built once per path and the address is spliced into pre-serialized bytes per request; nothing
keyed by the caller's Host header is cached.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP11_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12_NS = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
DEFAULT_NS_PREFIX = "urn:bridge:"
_ADDRESS = "urn:bridge:wsdl:address-placeholder"


class NoWsdl(LookupError):
    """The path has no SOAP operation to describe; the message says why."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    route: str
    namespace: str
    reply_namespace: str
    param: str | None
    reply_param: str | None
    action: str


def default_namespace(path: str) -> str:
    """Used when no route on the path declares ``soap.namespace`` (any namespace is accepted)."""
    return DEFAULT_NS_PREFIX + path


def operations(path: str, fmt: str, routes: Iterable[Any]) -> list[Operation]:
    """The operations of a path's routes (``Route`` objects with ``.name`` and ``.config``)."""
    if fmt != "soap":
        raise NoWsdl(f"no WSDL for {path}: its routes use format {fmt}, not soap")
    routes = list(routes)
    declared = [r.config.inbound.soap.namespace for r in routes
                if r.config.inbound.soap and r.config.inbound.soap.namespace]
    fallback_ns = declared[0] if declared else default_namespace(path)
    ops: list[Operation] = []
    for r in routes:
        inbound = r.config.inbound
        if inbound.match is None or not inbound.match.operation:
            continue
        soap = inbound.soap
        ns = (soap.namespace if soap else None) or fallback_ns
        reply_ns = (r.config.reply.namespace if r.config.reply else None) or ns
        ops.append(Operation(inbound.match.operation, r.name, ns, reply_ns,
                             soap.param if soap else None, soap.reply_param if soap else None,
                             (soap.action if soap else None) or ""))
    if not ops:
        raise NoWsdl(f"no WSDL for {path}: no SOAP route on it declares match: {{operation: ...}}")
    return ops


def service_name(path: str) -> str:
    """An NCName from the path's last segment: ``/ws/hospital`` -> ``Hospital``."""
    segments = [s for s in path.split("/") if s]
    raw = re.sub(r"[^A-Za-z0-9_]", "_", segments[-1]) if segments else ""
    if not raw or not raw[0].isalpha():
        raw = "Bridge" + raw
    return raw[0].upper() + raw[1:]


class WsdlDocument:
    """A path's WSDL, serialized once; ``render(address)`` splices in the caller's address."""

    __slots__ = ("_parts",)

    def __init__(self, path: str, ops: list[Operation]) -> None:
        data = etree.tostring(_definitions(path, ops), xml_declaration=True, encoding="UTF-8",
                              pretty_print=True)
        self._parts = data.split(_ADDRESS.encode())

    def render(self, address: str) -> bytes:
        quoted = (address.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                  .replace('"', "&quot;"))
        return quoted.encode("utf-8").join(self._parts)


def build(path: str, fmt: str, routes: Iterable[Any]) -> WsdlDocument:
    return WsdlDocument(path, operations(path, fmt, routes))


_CACHE: "weakref.WeakKeyDictionary[Any, WsdlDocument]" = weakref.WeakKeyDictionary()


def document_for(dispatch: Any) -> WsdlDocument:
    """The WSDL of a ``PathDispatch``, built on first use and dropped with its runtime."""
    doc = _CACHE.get(dispatch)
    if doc is None:
        doc = _CACHE[dispatch] = build(dispatch.path, dispatch.format, dispatch.routes)
    return doc


def request_address(headers: Mapping[str, str], scheme: str, host: str, path: str) -> str:
    """The URL the client called, as seen through a reverse proxy's X-Forwarded-Proto/-Host."""
    proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip() or scheme
    fwd_host = headers.get("X-Forwarded-Host", "").split(",")[0].strip() or host
    return f"{proto}://{fwd_host}{path}"


def _definitions(path: str, ops: list[Operation]) -> Any:
    tns = ops[0].namespace
    others = sorted({ns for op in ops for ns in (op.namespace, op.reply_namespace)} - {tns})
    prefixes = {tns: "tns", **{ns: f"ns{i}" for i, ns in enumerate(others, 1)}}
    nsmap = {"wsdl": WSDL_NS, "soap": SOAP11_NS, "soap12": SOAP12_NS, "xs": XSD_NS,
             **{p: ns for ns, p in prefixes.items()}}
    w = lambda n: f"{{{WSDL_NS}}}{n}"  # noqa: E731
    q = lambda ns, n: f"{prefixes[ns]}:{n}"  # noqa: E731
    name = service_name(path)
    defs = etree.Element(w("definitions"), nsmap=nsmap, name=name, targetNamespace=tns)
    etree.SubElement(defs, w("documentation")).text = (
        f"SOAP routes of the bridge on {path}; SOAP 1.1 and 1.2 are both answered.")

    types = etree.SubElement(defs, w("types"))
    schemas: dict[str, Any] = {}
    for ns in [tns, *others]:
        schemas[ns] = etree.SubElement(types, f"{{{XSD_NS}}}schema", targetNamespace=ns,
                                       elementFormDefault="unqualified")
    for op in ops:
        _element(schemas[op.namespace], op.name, op.param)
        _element(schemas[op.reply_namespace], op.name + "Response", op.reply_param)

    for op in ops:
        for suffix, element, ns in (("Request", op.name, op.namespace),
                                    ("Response", op.name + "Response", op.reply_namespace)):
            msg = etree.SubElement(defs, w("message"), name=op.name + suffix)
            etree.SubElement(msg, w("part"), name="parameters", element=q(ns, element))

    port_type = etree.SubElement(defs, w("portType"), name=name + "PortType")
    for op in ops:
        o = etree.SubElement(port_type, w("operation"), name=op.name)
        etree.SubElement(o, w("documentation")).text = f"route {op.route}"
        etree.SubElement(o, w("input"), message=f"tns:{op.name}Request")
        etree.SubElement(o, w("output"), message=f"tns:{op.name}Response")

    service = etree.Element(w("service"), name=name if name.endswith("Service") else name + "Service")
    for label, ns in (("Soap11", SOAP11_NS), ("Soap12", SOAP12_NS)):
        binding_name = f"{name}{label}Binding"
        binding = etree.SubElement(defs, w("binding"), name=binding_name, type=f"tns:{name}PortType")
        etree.SubElement(binding, f"{{{ns}}}binding", style="document", transport=HTTP_TRANSPORT)
        for op in ops:
            o = etree.SubElement(binding, w("operation"), name=op.name)
            etree.SubElement(o, f"{{{ns}}}operation", soapAction=op.action, style="document")
            for io in ("input", "output"):
                etree.SubElement(etree.SubElement(o, w(io)), f"{{{ns}}}body", use="literal")
        port = etree.SubElement(service, w("port"), name=f"{name}{label}", binding=f"tns:{binding_name}")
        etree.SubElement(port, f"{{{ns}}}address", location=_ADDRESS)
    defs.append(service)
    return defs


def _element(schema: Any, name: str, param: str | None) -> None:
    """``<xs:element name=...>``: one string child ``param``, or any children (lax)."""
    x = lambda n: f"{{{XSD_NS}}}{n}"  # noqa: E731
    el = etree.SubElement(schema, x("element"), name=name)
    seq = etree.SubElement(etree.SubElement(el, x("complexType")), x("sequence"))
    if param:
        etree.SubElement(seq, x("element"), name=param, type="xs:string")
    else:
        etree.SubElement(seq, x("any"), minOccurs="0", maxOccurs="unbounded", processContents="lax")
