"""Parsing a string that carries a document (JSON or XML), for ``unwrap`` and ``extract``.

Platforms in the seeds nest a whole JSON or XML document in one string field (``data``); a
document that does not parse is the sender's error (422), whichever side sent it.
"""

from __future__ import annotations

from typing import Any

import orjson

from bridge.errors import BridgeError, ValidationFailed
from bridge.types import Tree


def parse_json(text: str, where: str) -> Tree:
    from bridge.codecs.jsoncodec import check_depth

    try:
        tree = orjson.loads(text)
        check_depth(tree, text)
        return tree  # type: ignore[no-any-return]
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"{where}: invalid JSON: {exc}", code="malformed_json") from None
    except BridgeError as exc:
        raise ValidationFailed(f"{where}: {exc.message}", code=exc.code) from None


def parse_xml(text: str, where: str, lists: Any) -> tuple[str, Tree]:
    from bridge.codecs.xmltree import xml_to_tree

    try:
        return xml_to_tree(text, lists=lists)
    except BridgeError as exc:
        raise ValidationFailed(f"{where}: {exc.message}", code=exc.code,
                               detail=exc.detail) from None


def sniff(text: str) -> str | None:
    """``json``, ``xml`` or None by the first significant character."""
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        return "json"
    if head == "<":
        return "xml"
    return None
