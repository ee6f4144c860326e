"""Turning a body tree into a target's request body, and a target's reply into a tree."""

from __future__ import annotations

from typing import Any, Callable

import orjson

from bridge.codecs import charset, soap, xmltree
from bridge.codecs.jsoncodec import dumps, loads
from bridge.config.models import OutboundConfig
from bridge.errors import StepFailed, UpstreamError
from bridge.message import Message
from bridge.placeholders import fmt
from bridge.types import Tree

Encoder = Callable[[Message], tuple[bytes, dict[str, str]]]


def _form_value(value: Any) -> str:
    """Nested objects go as a JSON string: what TOP-style gateways expect."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode("utf-8")
    return fmt(value)


def make_encoder(out: OutboundConfig) -> Encoder:
    label = charset.canonical_label(out.charset)
    codec = charset.python_codec(out.charset)
    if out.format == "json":
        ctype = {"Content-Type": f"application/json; charset={label.lower()}"}
        return lambda msg: (dumps(msg.body, label), ctype)
    if out.format == "xml":
        ctype = {"Content-Type": f"application/xml; charset={label}"}

        def enc_xml(msg: Message) -> tuple[bytes, dict[str, str]]:
            root = out.root or msg.meta.get("root") or "request"
            return xmltree.tree_to_xml(msg.body, root, encoding=label, namespace=out.namespace), ctype
        return enc_xml
    if out.format == "form":
        from urllib.parse import urlencode
        ctype = {"Content-Type": f"application/x-www-form-urlencoded; charset={label.lower()}"}

        def enc_form(msg: Message) -> tuple[bytes, dict[str, str]]:
            if not isinstance(msg.body, dict):
                raise StepFailed("a form body must be a mapping of fields", code="encode_error")
            pairs = [(k, _form_value(v)) for k, v in msg.body.items()]
            return urlencode(pairs, encoding=codec).encode("ascii"), ctype
        return enc_form
    assert out.format == "soap" and out.soap is not None and out.soap.operation
    opts = out.soap

    def enc_soap(msg: Message) -> tuple[bytes, dict[str, str]]:
        return soap.encode_request(msg.body, version=opts.version, operation=opts.operation or "",
                                   namespace=opts.namespace, param=opts.param,
                                   inner_root=opts.root or out.root or msg.meta.get("root"),
                                   action=opts.action, encoding=label)
    return enc_soap


def make_reply_decoder(out: OutboundConfig) -> Callable[[bytes, str, str | None], tuple[Tree, str | None]]:
    """Decode by Content-Type (JSON, XML, SOAP), sniffed when missing or vague."""
    index = xmltree.build_list_index(out.lists)
    reply_param = out.soap.reply_param if out.soap else None

    def decode(data: bytes, media_type: str, header_charset: str | None) -> tuple[Tree, str | None]:
        stripped = data.lstrip()
        if not stripped:
            return {}, None
        if "json" in media_type:
            kind = "json"
        elif "xml" in media_type:
            kind = "xml"
        else:
            kind = "json" if stripped[:1] in (b"{", b"[") else "xml" if stripped[:1] == b"<" else "?"
        try:
            if kind == "json":
                return loads(data, header_charset or "utf-8"), None
            if kind == "xml":
                label = charset.resolve(data, header_charset, "auto", xml=True)
                text: str | bytes = data if charset.python_codec(label) == "utf-8" else charset.decode(data, label)
                root, _ = xmltree.parse(text)
                if xmltree.local(root.tag) == "Envelope":
                    return soap.read_reply(root, reply_param, index)
                return xmltree.element_to_tree(root, index), xmltree.local(root.tag)
        except UpstreamError:
            raise
        except Exception as exc:
            raise UpstreamError(f"the target's reply could not be read: {getattr(exc, 'message', exc)}",
                                code="bad_upstream_reply") from None
        raise UpstreamError(f"the target's reply could not be read (Content-Type {media_type or 'missing'})",
                            code="bad_upstream_reply")
    return decode
