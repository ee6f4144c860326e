"""JSON over HTTP: the modern side, and seed 002's envelope."""

from __future__ import annotations

from typing import Any

import orjson

from bridge.codecs import charset
from bridge.codecs.base import Decoder, Inbound, ParseOptions, Rendered, error_tree
from bridge.errors import BadRequest, BridgeError
from bridge.paths import Path
from bridge.types import Tree


def loads(data: bytes, label: str = "utf-8") -> Any:
    """JSON bytes to a tree; malformed JSON is BadRequest with line and column."""
    try:
        if charset.python_codec(label) == "utf-8":
            return orjson.loads(data)
        return orjson.loads(charset.decode(data, label))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                         code="malformed_json",
                         detail={"line": exc.lineno, "column": exc.colno}) from None


MAX_DEPTH = 100


def check_depth(doc: Any, raw: bytes | str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``max_depth`` (server.max_depth), as XML is refused.

    orjson alone accepts 1024 levels, more than Python's recursion limit lets the recursive
    steps (deepcopy, case, rename) walk: a 900-deep body was a 500 with a RecursionError. A
    body with fewer brackets than the limit cannot be too deep, so most bodies skip the walk.
    """
    opens = (b"[", b"{") if isinstance(raw, bytes) else ("[", "{")
    if raw.count(opens[0]) + raw.count(opens[1]) <= max_depth:  # type: ignore[arg-type]
        return
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(f"JSON nested deeper than {max_depth} levels", code="too_deep")
        items = node.values() if isinstance(node, dict) else node
        stack.extend((v, depth + 1) for v in items if isinstance(v, (dict, list)))


def dumps(tree: Tree, label: str = "UTF-8") -> bytes:
    try:
        data = orjson.dumps(tree)
    except TypeError:   # a key that is not a string (a python step's int key): orjson's slower mode
        data = orjson.dumps(tree, option=orjson.OPT_NON_STR_KEYS)
    if label == "UTF-8" or charset.python_codec(label) == "utf-8":
        return data
    return data.decode("utf-8").encode(charset.python_codec(label))


def list_fixer(paths: list[str]) -> Any:
    """Make declared paths lists: one item becomes [item], a missing one [] where its parent is."""
    compiled = [Path(p) for p in paths]

    def fix(tree: Tree) -> Tree:
        for path in compiled:
            for parent in path.parents(tree):
                value = parent.get(path.key)
                if value is None or value == "":
                    parent[path.key] = []
                elif not isinstance(value, list):
                    parent[path.key] = [value]
        return tree
    return fix


class JsonCodec:
    name = "json"
    renames_keys = False   # orjson builds the tree: a rename step stays a step

    def accepts(self, media_type: str) -> bool:
        return "xml" not in media_type and not media_type.startswith("multipart/")

    def bare(self, content_type: str) -> Inbound:
        return Inbound("json", "UTF-8", "application/json")

    def parse(self, data: bytes, media_type: str, header_charset: str | None,
              opts: ParseOptions) -> Inbound:
        label = header_charset or ("utf-8" if opts.route_charset == "auto" else opts.route_charset)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        doc = loads(data, label)
        check_depth(doc, data, opts.max_depth)
        return Inbound("json", charset.canonical_label(label), "application/json", doc=doc)

    def decoder(self, inbound_cfg: Any, max_depth: int) -> Decoder:
        fix = list_fixer(inbound_cfg.lists) if inbound_cfg.lists else None

        def decode(inb: Inbound) -> tuple[Tree, str | None]:
            return (fix(inb.doc) if fix else inb.doc), None
        return decode

    def render(self, tree: Tree, inbound: Inbound, *, root: str, namespace: str | None,
               operation: str | None = None) -> Rendered:
        return Rendered(dumps(tree, inbound.charset), f"application/json; charset={inbound.charset.lower()}")

    def render_error(self, err: BridgeError, inbound: Inbound, *, tree: Tree | None,
                     root: str | None, namespace: str | None) -> Rendered:
        if tree is None:
            tree = {"error": error_tree(err)}
        return Rendered(dumps(tree, inbound.charset),
                        f"application/json; charset={inbound.charset.lower()}", err.status)
