"""SOAP 1.1 and 1.2, including the Chinese "Web Service + XML" style.

In that style an operation's single string parameter carries a whole XML document, escaped or
in CDATA (seed 001's registration platform: ``<xml>&lt;Request&gt;...</xml>``). With
``soap.param`` the route's body is that inner document; without it, the operation element's
children. Versions are told apart by the envelope namespace (the Content-Type only when the
envelope cannot tell), and every answer goes back in the version received.
"""

from __future__ import annotations

from typing import Any, Callable

from lxml import etree

from bridge.codecs import charset, xmltree
from bridge.codecs.base import Decoder, Inbound, ParseOptions, Rendered, error_tree
from bridge.codecs.xml import parse_document
from bridge.errors import BadRequest, BridgeError, UpstreamError
from bridge.types import Tree

NS = {"1.1": "http://schemas.xmlsoap.org/soap/envelope/",
      "1.2": "http://www.w3.org/2003/05/soap-envelope"}
VERSION_OF = {v: k for k, v in NS.items()}
MEDIA = {"1.1": "text/xml", "1.2": "application/soap+xml"}


def _children(el: Any) -> list[Any]:
    return [c for c in el if isinstance(c.tag, str)]


def split_envelope(root: Any, media_type: str = "") -> tuple[str, Any, Any]:
    """(version, Body element, first Body child or None) of an envelope; BadRequest otherwise."""
    ns = root.tag[1:root.tag.index("}")] if root.tag[0] == "{" else ""
    if xmltree.local(root.tag) != "Envelope":
        raise BadRequest(f"not a SOAP envelope: root element is <{xmltree.local(root.tag)}>",
                         code="not_soap")
    version = VERSION_OF.get(ns) or ("1.2" if media_type == "application/soap+xml" else None)
    if version is None:
        raise BadRequest(f"unknown SOAP envelope namespace {ns!r}", code="not_soap")
    body = next((c for c in _children(root) if xmltree.local(c.tag) == "Body"), None)
    if body is None:
        raise BadRequest("SOAP envelope has no Body", code="not_soap")
    kids = _children(body)
    return version, body, (kids[0] if kids else None)


def param_document(op: Any, param: str, *, recover: bool = False) -> Any:
    """The XML document carried as text in the operation's ``param`` child.

    ``recover`` (the route's ``recover: true``) repairs the inner document too: that is where
    legacy callers' hand-typed XML (``</ workType>``) actually travels.
    """
    return read_param_document(op, param, recover=recover)[0]


def read_param_document(op: Any, param: str, *, recover: bool = False) -> tuple[Any, bool, bool]:
    """param_document, whether that document is plain (xmltree.parse_plain), and whether
    `recover` had to repair it."""
    holder = next((c for c in _children(op) if xmltree.local(c.tag) == param), None)
    text = holder.text if holder is not None else None
    if not text or text.isspace():
        raise BadRequest(f"SOAP parameter <{param}> of {xmltree.local(op.tag)} is missing or empty",
                         code="missing_param")
    root, repaired, plain = xmltree.parse_plain(text.strip(), recover=recover)
    return root, plain, repaired


def envelope(version: str, content: Any) -> Any:
    env_ns = NS[version]
    env = etree.Element(f"{{{env_ns}}}Envelope", nsmap={"soap": env_ns})
    body = etree.SubElement(env, f"{{{env_ns}}}Body")
    body.append(content)
    return env


def operation_element(name: str, namespace: str | None, tree: Tree, param: str | None,
                      inner_root: str | None) -> Any:
    """``<ns:name>`` holding ``tree``, or holding the tree as an XML string in ``<param>``."""
    qn = f"{{{namespace}}}{name}" if namespace else name
    op = etree.Element(qn, nsmap={"ns": namespace} if namespace else None)
    if param:
        inner = xmltree.serialize(xmltree.tree_to_element(tree, inner_root or "Request"),
                                  declaration=False).decode("utf-8")
        etree.SubElement(op, param).text = inner
    else:
        xmltree._fill(op, tree, lambda n: n)
    return op


def fault_element(version: str, err: BridgeError, detail: Tree | None) -> Any:
    env_ns = NS[version]
    q = lambda n: f"{{{env_ns}}}{n}"  # noqa: E731
    fault = etree.Element(q("Fault"), nsmap={"soap": env_ns})
    sender = err.status < 500
    detail_tree = detail if detail is not None else {"error": error_tree(err)}
    if version == "1.1":
        etree.SubElement(fault, "faultcode").text = "soap:Client" if sender else "soap:Server"
        etree.SubElement(fault, "faultstring").text = err.message
        holder = etree.SubElement(fault, "detail")
    else:
        code = etree.SubElement(fault, q("Code"))
        etree.SubElement(code, q("Value")).text = "soap:Sender" if sender else "soap:Receiver"
        reason = etree.SubElement(fault, q("Reason"))
        text = etree.SubElement(reason, q("Text"))
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = err.message
        holder = etree.SubElement(fault, q("Detail"))
    xmltree._fill(holder, detail_tree, lambda n: n)
    return fault


def fault_status(version: str, err: BridgeError) -> int:
    if version == "1.1":
        return 500
    return 400 if err.status < 500 else 500


def read_reply(root: Any, reply_param: str | None, index: xmltree.ListIndex) -> tuple[Tree, str]:
    """A target's SOAP answer as a tree; a Fault is an UpstreamError with its own message."""
    version, _, first = split_envelope(root)
    if first is None:
        return {}, ""
    if xmltree.local(first.tag) == "Fault":
        if version == "1.1":
            msg = first.findtext("faultstring") or "SOAP fault"
        else:
            msg = " ".join(t.text or "" for t in first.iter(f"{{{NS['1.2']}}}Text")) or "SOAP fault"
        raise UpstreamError(msg, code="upstream_fault")
    if reply_param:
        inner, plain, _ = read_param_document(first, reply_param)
        return xmltree.element_to_tree(inner, index, plain=plain), xmltree.local(inner.tag)
    return xmltree.element_to_tree(first, index), xmltree.local(first.tag)


class SoapCodec:
    name = "soap"

    def accepts(self, media_type: str) -> bool:
        return not media_type.startswith(("application/json", "multipart/"))

    def bare(self, content_type: str) -> Inbound:
        version = "1.2" if content_type.startswith("application/soap+xml") else "1.1"
        return Inbound("soap", "UTF-8", MEDIA[version], soap_version=version)

    def parse(self, data: bytes, media_type: str, header_charset: str | None,
              opts: ParseOptions) -> Inbound:
        root, label, repaired = parse_document(data, header_charset, opts)
        version, _, op = split_envelope(root, media_type)
        if op is None:
            raise BadRequest("SOAP Body is empty: no operation element", code="not_soap")
        return Inbound("soap", label, MEDIA[version], doc=op, key=xmltree.local(op.tag),
                       soap_version=version, recovered=repaired)

    renames_keys = True   # decoder(keymap=...) renames keys while building the tree

    def decoder(self, inbound_cfg: Any, max_depth: int,
                keymap: Callable[[str], str] | None = None) -> Decoder:
        index = xmltree.build_list_index(inbound_cfg.lists)
        param = inbound_cfg.soap.param if inbound_cfg.soap else None
        recover = bool(getattr(inbound_cfg, "recover", False))

        def decode(inb: Inbound) -> tuple[Tree, str | None]:
            if param:
                inner, plain, repaired = read_param_document(inb.doc, param, recover=recover)
                if repaired:          # the document inside <xml> was repaired: counted and logged
                    inb.recovered = True
                return (xmltree.element_to_tree(inner, index, max_depth=max_depth, keymap=keymap,
                                                plain=plain), xmltree.local(inner.tag))
            return xmltree.element_to_tree(inb.doc, index, max_depth=max_depth, keymap=keymap), None
        return decode

    def _content_type(self, inbound: Inbound) -> str:
        return f"{MEDIA[inbound.soap_version or '1.1']}; charset={inbound.charset}"

    def render(self, tree: Tree, inbound: Inbound, *, root: str, namespace: str | None,
               operation: str | None = None, reply_param: str | None = None) -> Rendered:
        op_name = f"{operation or inbound.key}Response"
        if inbound.doc is not None and inbound.doc.tag[0] == "{":
            # the reply echoes the namespace the caller used (DESIGN §6); the configured one is
            # for callers that sent none
            namespace = inbound.doc.tag[1:inbound.doc.tag.index("}")]
        op = operation_element(op_name, namespace, tree, reply_param, root)
        env = envelope(inbound.soap_version or "1.1", op)
        return Rendered(xmltree.serialize(env, encoding=inbound.charset), self._content_type(inbound))

    def render_error(self, err: BridgeError, inbound: Inbound, *, tree: Tree | None,
                     root: str | None, namespace: str | None) -> Rendered:
        version = inbound.soap_version or "1.1"
        detail = {root: tree} if (tree is not None and root) else tree
        env = envelope(version, fault_element(version, err, detail))
        return Rendered(xmltree.serialize(env, encoding=inbound.charset), self._content_type(inbound),
                        fault_status(version, err))


def encode_request(tree: Tree, *, version: str, operation: str, namespace: str | None,
                   param: str | None, inner_root: str | None, action: str | None,
                   encoding: str = "utf-8") -> tuple[bytes, dict[str, str]]:
    """A SOAP request to a target: body bytes and the headers that go with them."""
    op = operation_element(operation, namespace, tree, param, inner_root)
    body = xmltree.serialize(envelope(version, op), encoding=encoding)
    label = charset.canonical_label(encoding)
    if version == "1.1":
        return body, {"Content-Type": f"text/xml; charset={label}", "SOAPAction": f'"{action or ""}"'}
    ct = f"application/soap+xml; charset={label}"
    if action:
        ct += f'; action="{action}"'
    return body, {"Content-Type": ct}
