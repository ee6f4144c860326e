"""Plain XML over HTTP: the legacy HIS's favourite (seed 001's referral servlet)."""

from __future__ import annotations

from typing import Any, Callable

from bridge.codecs import charset, xmltree
from bridge.codecs.base import Decoder, Inbound, ParseOptions, Rendered, error_tree
from bridge.errors import BridgeError
from bridge.types import Tree

_NOT_XML = ("application/json", "multipart/")


def media_for_reply(media_type: str) -> str:
    return media_type if "xml" in media_type else "application/xml"


def parse_document(data: bytes, header_charset: str | None, opts: ParseOptions) -> tuple[Any, str, bool]:
    """Charset resolution + safe parse: (root element, caller's charset label, repaired?)."""
    root, label, repaired, _ = read_document(data, header_charset, opts)
    return root, label, repaired


def read_document(data: bytes, header_charset: str | None, opts: ParseOptions
                  ) -> tuple[Any, str, bool, bool]:
    """parse_document, and whether the document is plain (xmltree.parse_plain)."""
    label = charset.resolve(data, header_charset, opts.route_charset, xml=True)
    if charset.python_codec(label) == "utf-8":
        root, repaired, plain = xmltree.parse_plain(data, recover=opts.recover)
    else:
        root, repaired, plain = xmltree.parse_plain(charset.decode(data, label), recover=opts.recover)
    return root, charset.canonical_label(label), repaired, plain


_CONTENT_TYPES: dict[tuple[str, str], str] = {}


def content_type(media_type: str, label: str) -> str:
    """``application/xml; charset=GBK``, remembered per pair (callers send the same one)."""
    known = _CONTENT_TYPES.get((media_type, label))
    if known is None:
        known = f"{media_type}; charset={label}"
        if len(_CONTENT_TYPES) < 256:
            _CONTENT_TYPES[(media_type, label)] = known
    return known


class XmlCodec:
    name = "xml"

    def accepts(self, media_type: str) -> bool:
        return not media_type.startswith(_NOT_XML)

    def bare(self, content_type: str) -> Inbound:
        # the media type only: the caller's own charset parameter must not reach the reply
        return Inbound("xml", "UTF-8", media_for_reply(content_type.partition(";")[0].strip().lower()))

    def parse(self, data: bytes, media_type: str, header_charset: str | None,
              opts: ParseOptions) -> Inbound:
        root, label, repaired, plain = read_document(data, header_charset, opts)
        return Inbound("xml", label, media_for_reply(media_type), doc=root,
                       key=xmltree.local(root.tag), recovered=repaired, plain=plain)

    renames_keys = True   # decoder(keymap=...) renames keys while building the tree

    def decoder(self, inbound_cfg: Any, max_depth: int,
                keymap: Callable[[str], str] | None = None) -> Decoder:
        index = xmltree.build_list_index(inbound_cfg.lists)

        def decode(inb: Inbound) -> tuple[Tree, str | None]:
            return xmltree.element_to_tree(inb.doc, index, max_depth=max_depth, keymap=keymap,
                                           plain=inb.plain), inb.key
        return decode

    def render(self, tree: Tree, inbound: Inbound, *, root: str, namespace: str | None,
               operation: str | None = None) -> Rendered:
        body = xmltree.tree_to_xml(tree, root, encoding=inbound.charset, namespace=namespace)
        return Rendered(body, content_type(inbound.media_type, inbound.charset))

    def render_error(self, err: BridgeError, inbound: Inbound, *, tree: Tree | None,
                     root: str | None, namespace: str | None) -> Rendered:
        if tree is None:
            tree, root = error_tree(err), "error"
        body = xmltree.tree_to_xml(tree, root or inbound.key or "error", encoding=inbound.charset,
                                   namespace=namespace)
        return Rendered(body, f"{inbound.media_type}; charset={inbound.charset}", err.status)
