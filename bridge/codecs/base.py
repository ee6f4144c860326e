"""What every inbound codec produces and consumes.

Parsing happens once per request, before dispatch: ``Inbound`` carries the parsed document and
the key routes match on (XML root, SOAP operation). Turning it into a body tree is the route's
compiled decoder, because only the route knows its ``lists:`` and ``soap.param``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from bridge.errors import BridgeError
from bridge.types import Tree


@dataclass(slots=True)
class Inbound:
    format: str
    charset: str                    # the caller's label, echoed in the reply ("UTF-8", "GBK")
    media_type: str                 # the caller's media type, echoed where it fits
    doc: Any = None                 # lxml element (xml: root; soap: operation) or dict (json/form)
    key: str | None = None          # dispatch key: XML root element or SOAP operation
    soap_version: str | None = None
    recovered: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    plain: bool = False             # XML without attributes or namespaces (xmltree.parse_plain)


@dataclass(frozen=True, slots=True)
class ParseOptions:
    route_charset: str = "auto"
    recover: bool = False
    max_depth: int = 100


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    status: int = 200


Decoder = Callable[[Inbound], "tuple[Tree, str | None]"]


class InboundCodec(Protocol):
    name: str
    #: decoder(cfg, max_depth, keymap=f) renames keys while building the tree (XML, SOAP):
    #: a leading `rename`/`case` step is then fused into decoding (bridge.runtime)
    renames_keys: bool

    def accepts(self, media_type: str) -> bool: ...

    def parse(self, data: bytes, media_type: str, header_charset: str | None,
              opts: ParseOptions) -> Inbound: ...

    def decoder(self, inbound_cfg: Any, max_depth: int) -> Decoder: ...

    def render(self, tree: Tree, inbound: Inbound, *, root: str, namespace: str | None,
               operation: str | None) -> Rendered: ...

    def render_error(self, err: BridgeError, inbound: Inbound, *, tree: Tree | None,
                     root: str | None, namespace: str | None) -> Rendered: ...

    def bare(self, content_type: str) -> Inbound:
        """An Inbound for errors raised before the body could be parsed."""
        ...


def error_tree(err: BridgeError) -> dict[str, Any]:
    return {"status": err.status, "code": err.code, "message": err.message}
