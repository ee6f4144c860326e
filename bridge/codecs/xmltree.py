"""XML bytes <-> body tree (DESIGN §2), with a parser that cannot be turned against us.

The parser never loads a DTD, never resolves entities, never touches the network; a document
that declares a DTD or entities is refused before parsing (XXE and billion laughs are
impossible, not just unlikely). Depth is bounded while converting.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from lxml import etree

from bridge.errors import BadRequest, StepFailed, UnsupportedMediaType, ValidationFailed
from bridge.placeholders import fmt
from bridge.types import Tree

MAX_DEPTH = 100

#: name -> (always a list?, index of children)
ListIndex = dict[str, tuple[bool, "ListIndex"]]

_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, huge_tree=False, remove_comments=True,
                          remove_pis=True, strip_cdata=True)
_RECOVER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=True, strip_cdata=True, recover=True)
_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_DECL_BYTES = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*\?>")
_UTF8_DECL = re.compile(rb"""encoding\s*=\s*["']utf-?8["']""", re.IGNORECASE)
# Legacy breakage seen in the seeds: `</ mzzycxbz >` and `<MediCardType>01<MediCardType>`.
_SPACED_END = re.compile(r"</\s+([\w.\-:]+)\s*>")
_UNCLOSED = re.compile(r"<([\w.\-:]+)>([^<]*)<\1>")


def build_list_index(paths: list[str] | tuple[str, ...] | frozenset[str]) -> ListIndex:
    """``["WorkInfo.Record", "bespeak"]`` -> nested index used while converting."""
    index: ListIndex = {}
    for path in paths:
        node = index
        parts = path.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            is_list, child = node.get(part, (False, {}))
            node[part] = (is_list or last, child)
            node = child
    return index


_ANY_DTD = re.compile(r"<!(?:[Dd][Oo][Cc][Tt][Yy][Pp][Ee]|ENTITY)")


def _refuse_dtd(text: str | bytes) -> None:
    """Refuse a document whose prolog holds a DOCTYPE (or any other ``<!`` declaration).

    A DTD is only legal in the prolog, which may be any length (comments, PIs, whitespace), so
    the whole prolog is walked, never just the first bytes; ``<!DOCTYPE`` later on, in CDATA or
    text, is data (an HTML report in a CDATA section) and is left to the parser.
    """
    if isinstance(text, str):
        ws, bom, pi, pi_end, com, com_end, decl, nl = (
            " \t\r\n", "\ufeff", "<?", "?>", "<!--", "-->", "<!", "\n")
    else:
        ws, bom, pi, pi_end, com, com_end, decl, nl = (  # type: ignore[assignment]
            b" \t\r\n", b"\xef\xbb\xbf", b"<?", b"?>", b"<!--", b"-->", b"<!", b"\n")
    i, n = (len(bom) if text.startswith(bom) else 0), len(text)  # type: ignore[arg-type]
    while i < n:
        while i < n and text[i:i + 1] in ws:  # type: ignore[operator]
            i += 1
        if text.startswith(pi, i):  # type: ignore[arg-type]
            end = text.find(pi_end, i + 2)  # type: ignore[arg-type]
        elif text.startswith(com, i):  # type: ignore[arg-type]
            end = text.find(com_end, i + 4)  # type: ignore[arg-type]
        elif text.startswith(decl, i):  # type: ignore[arg-type]
            line = text.count(nl, 0, i) + 1  # type: ignore[arg-type]
            raise BadRequest(f"XML DTDs and entity declarations are not accepted (line {line})",
                             code="dtd_refused")
        elif text.startswith(decl[:1], i):  # type: ignore[arg-type]
            return                              # the root element: the prolog is over
        else:                                   # junk before the root: be conservative
            if _ANY_DTD.search(text.decode("latin-1") if isinstance(text, bytes) else text):
                raise BadRequest("XML DTDs and entity declarations are not accepted",
                                 code="dtd_refused")
            return
        if end < 0:
            return                              # unterminated: the parser reports it
        i = end + 2 if text.startswith(pi, i) else end + 3  # type: ignore[arg-type]


def parse(text: str | bytes, *, recover: bool = False) -> tuple[Any, bool]:
    """Parse a whole document; returns (root element, repaired?).

    ``bytes`` must be UTF-8 (any declaration is overridden); other charsets are decoded to
    ``str`` first (see bridge.codecs.charset). Malformed input is BadRequest with line:column.
    """
    root, repaired, _ = parse_plain(text, recover=recover)
    return root, repaired


def parse_plain(text: str | bytes, *, recover: bool = False) -> tuple[Any, bool, bool]:
    """``parse``, and whether the document is *plain*: no ``=`` after its declaration, so no
    element can carry an attribute or a namespace (both are written with ``=``); converting
    it then skips looking for them (element_to_tree(plain=True)). A ``=`` in text, a comment
    or CDATA only makes the answer a conservative no."""
    if isinstance(text, bytes) and (b"\x00" in text[:4] or text[:2] in (b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedMediaType("UTF-16 and UTF-32 bodies are not accepted: use UTF-8, GBK or GB18030")
    markup_decl = ("<!" if isinstance(text, str) else b"<!") in text
    if markup_decl:   # no "<!" at all: no DTD possible
        _refuse_dtd(text)
    source: str | bytes
    if isinstance(text, str):
        source = _DECL_TEXT.sub(lambda m: " " * len(m.group(0)), text, count=1)
        plain = "=" not in source
    else:
        decl = _DECL_BYTES.match(text)
        # a declaration naming UTF-8 (or none) can stay; another name would override our reading
        if decl is not None and b"encoding" in decl.group(0) and not _UTF8_DECL.search(decl.group(0)):
            source = b" " * len(decl.group(0)) + text[decl.end():]
        else:
            source = text
        plain = text.find(b"=", decl.end() if decl is not None else 0) < 0
    try:
        root = etree.fromstring(source, _STRICT)
        if root is None:
            raise BadRequest("empty XML document", code="malformed_xml")
        return (_no_doctype(root) if markup_decl else root), False, plain
    except etree.XMLSyntaxError as exc:
        if not recover or _too_deep(exc):
            raise _syntax_error(exc) from None
        first = exc
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _syntax_error(first) from None
        # lxml refuses a str that still carries an encoding declaration (a ValueError, a 500)
        source = _DECL_TEXT.sub(lambda m: " " * len(m.group(0)), source, count=1)
    repaired = _UNCLOSED.sub(r"<\1>\2</\1>", _SPACED_END.sub(r"</\1>", source))
    plain = "=" not in repaired
    try:
        root = etree.fromstring(repaired, _RECOVER)
    except etree.XMLSyntaxError:
        root = None
    if root is None:
        raise _syntax_error(first) from None
    return (_no_doctype(root) if markup_decl else root), True, plain


def _no_doctype(root: Any) -> Any:
    """Defence in depth: whatever the prolog scan missed, a parsed DTD is still refused."""
    if root.getroottree().docinfo.doctype:
        raise BadRequest("XML DTDs and entity declarations are not accepted", code="dtd_refused")
    return root


def _too_deep(exc: etree.XMLSyntaxError) -> bool:
    """libxml2 stops at 256 levels; `recover` would hand on the truncated document as if whole."""
    return "Excessive depth" in (exc.msg or str(exc))


def _syntax_error(exc: etree.XMLSyntaxError) -> BadRequest:
    line, col = exc.position if exc.position else (exc.lineno, 0)
    msg = exc.msg or str(exc)
    msg = re.sub(r",? line \d+, column \d+$", "", msg)
    if _too_deep(exc):
        return BadRequest(f"XML nested too deep at line {line}, column {col}", code="too_deep",
                          detail={"line": line, "column": col})
    return BadRequest(f"malformed XML at line {line}, column {col}: {msg}", code="malformed_xml",
                      detail={"line": line, "column": col})


_MANY_ATTRIBUTES = 64


def _attributes(el: Any) -> list[tuple[str, str]]:
    """An element's (name, value) pairs in linear time.

    lxml looks each value up by name, so ``attrib.items()`` is quadratic: 20,000 attributes on
    one element (200 KB, well within max_body) blocked the event loop for seconds. XPath walks
    them once; it costs more per call, so only elements with many attributes take this path.
    """
    return [(a.attrname, str(a)) for a in el.xpath("@*")]


def local(tag: str) -> str:
    return tag[tag.index("}") + 1:] if tag[0] == "{" else tag


def element_to_tree(el: Any, index: ListIndex | None = None, *, empty: Any = "",
                    max_depth: int = MAX_DEPTH, depth: int = 0,
                    keymap: Mapping[str, str] | None = None, plain: bool = False) -> Tree:
    """One element's content as a tree (the element's own name is not a key).

    ``keymap`` (a KeyMap: old -> new) renames every key of the tree as it is built: the same
    tree a `rename` or `case` step would make of the result (repeats are grouped under the
    element's own name first, then each dict's keys are mapped, later keys winning a
    collision, as the step does). ``plain``: the document has no attributes and no namespaces
    (see ``parse_plain``), so neither is looked for.
    """
    return _convert(el, index, empty, max_depth, depth, keymap, plain)


def _convert(el: Any, index: ListIndex | None, empty: Any, max_depth: int, depth: int,
             keymap: Mapping[str, str] | None, plain: bool) -> Tree:
    """element_to_tree's body, called positionally (it recurses once per element with
    children). The hot path of every XML request: plain loops, the dict built in C when no
    key repeats."""
    if depth > max_depth:
        raise BadRequest(f"XML nested deeper than {max_depth} levels (line {el.sourceline})",
                         code="too_deep")
    attrib = None if plain else el.attrib
    if not attrib and not len(el) and not (index and any(v[0] for v in index.values())):
        text = el.text
        return text if text and not text.isspace() else empty
    keys: list[str] = []
    values: list[Any] = []
    add_key, add_value = keys.append, values.append
    if attrib:
        for k, v in (attrib.items() if len(attrib) <= _MANY_ATTRIBUTES else _attributes(el)):
            add_key("@" + (k[k.index("}") + 1:] if k[0] == "{" else k))
            add_value(v)
    text = el.text
    if text and not text.isspace():
        add_key("#text")
        add_value(text)
    below = depth + 1
    for child in el:
        key = child.tag
        if key.__class__ is not str:
            continue  # comments and processing instructions are not data
        if not plain and key[0] == "{":
            key = key[key.index("}") + 1:]
        sub = index.get(key) if index else None
        if sub is None and not len(child) and (plain or not child.attrib):   # a leaf: most elements
            value: Any = child.text
            if not value or value.isspace():
                value = empty
        else:
            value = _convert(child, sub[1] if sub else None, empty, max_depth, below, keymap, plain)
        add_key(key)
        add_value(value)
    if depth + 1 > max_depth and len(el):
        raise BadRequest(f"XML nested deeper than {max_depth} levels (line {el.sourceline})",
                         code="too_deep")
    if not index:
        node = dict(zip(keys, values))
        if len(node) == len(keys):      # no repeated element: nothing to group
            if keymap is None:
                return node
            return dict(zip(map(keymap.__getitem__, keys), values))
    node = _grouped(keys, values, index)
    if keymap is not None:
        return {keymap[k]: v for k, v in node.items()}
    return node


def _grouped(keys: list[str], values: list[Any], index: ListIndex | None) -> dict[str, Any]:
    """Repeated elements as one list under their name, in document order; names the route
    declares as lists are lists even when they occur once or not at all (DESIGN §2)."""
    node: dict[str, Any] = {}
    for key, value in zip(keys, values):
        sub = index.get(key) if index else None
        if sub is not None and sub[0]:
            node.setdefault(key, []).append(value)
        elif key in node:
            existing = node[key]
            if existing.__class__ is list:
                existing.append(value)
            else:
                node[key] = [existing, value]
        else:
            node[key] = value
    if index:
        for key, (is_list, _) in index.items():
            if is_list and key not in node:
                node[key] = []
    return node


def xml_to_tree(data: bytes | str, *, lists: frozenset[tuple[str, ...]] | ListIndex | list[str] = frozenset(),
                recover: bool = False) -> tuple[str, Tree]:
    """Parse a document: (root element name, tree)."""
    if isinstance(lists, dict):
        index = lists
    else:
        index = build_list_index([".".join(p) if isinstance(p, tuple) else p for p in lists])
    root, _ = parse(data, recover=recover)
    return local(root.tag), element_to_tree(root, index)


def tree_to_element(tree: Tree, root: str, namespace: str | None = None) -> Any:
    """A tree as an lxml element named ``root`` (namespace applied to every element)."""
    qn = (lambda name: f"{{{namespace}}}{name}") if namespace else (lambda name: name)
    try:
        el = etree.Element(qn(root), nsmap={None: namespace} if namespace else None)
        _fill(el, tree, qn)
    except ValueError as exc:
        raise StepFailed(f"cannot encode the body as XML: {exc}", code="encode_error") from None
    return el


#: Attributes one element may carry when a tree is encoded: lxml checks each new attribute
#: against the existing ones, so 200k `@` keys from a JSON caller would hold the loop for minutes.
MAX_ATTRIBUTES = 1000


def _fill(el: Any, value: Any, qn: Any) -> None:
    if isinstance(value, dict):
        if len(value) > MAX_ATTRIBUTES and sum(1 for k in value if k[:1] == "@") > MAX_ATTRIBUTES:
            raise ValidationFailed(f"more than {MAX_ATTRIBUTES} attributes on one element "
                                   f"<{local(el.tag)}>", code="too_many_attributes")
        for key, item in value.items():
            _add(el, key, item, qn)
    elif isinstance(value, list):
        raise ValueError("a list cannot be the content of an element without a name")
    elif value is not None:
        el.text = fmt(value)


def _add(parent: Any, key: str, value: Any, qn: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _add(parent, key, item, qn)
    elif key[:1] == "@":
        parent.set(key[1:], fmt(value))
    elif key == "#text":
        parent.text = fmt(value)
    else:
        _fill(etree.SubElement(parent, qn(key)), value, qn)


def serialize(el: Any, *, encoding: str = "utf-8", declaration: bool = True) -> bytes:
    """Serialize with a declaration that names ``encoding`` exactly as given."""
    from bridge.codecs import charset

    codec = charset.python_codec(encoding)
    if codec == "utf-8":
        body = etree.tostring(el, encoding="UTF-8", xml_declaration=False)
        head = f'<?xml version="1.0" encoding="{encoding}"?>\n'.encode() if declaration else b""
        return head + body
    text = etree.tostring(el, encoding="unicode")
    head = f'<?xml version="1.0" encoding="{encoding}"?>\n' if declaration else ""
    return charset.encode(head + text, encoding)


def tree_to_xml(tree: Tree, root: str, *, encoding: str = "utf-8", declaration: bool = True,
                namespace: str | None = None) -> bytes:
    """A tree as an XML document. Plain trees (elements and text, no ``@``/``#text``) are
    written straight to a string, byte for byte what lxml writes; anything else, or anything
    lxml would refuse, goes through the lxml tree (which also raises the proper error)."""
    try:
        text = _direct_xml(tree, root, namespace)
    except (_NeedsLxml, RecursionError):
        return serialize(tree_to_element(tree, root, namespace), encoding=encoding,
                         declaration=declaration)
    from bridge.codecs import charset

    head = _HEADS.get(encoding) if declaration else ""
    if head is None:
        head = f'<?xml version="1.0" encoding="{encoding}"?>\n'
        if len(_HEADS) < 64:
            _HEADS[encoding] = head
    if charset.python_codec(encoding) == "utf-8":
        return (head + text).encode("utf-8")
    return charset.encode(head + text, encoding)


_HEADS: dict[str, str] = {}


class _NeedsLxml(Exception):
    """The direct writer met something it leaves to lxml."""


#: Characters lxml refuses in text (XML 1.0 Char production); surrogates cannot be encoded.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = ("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")
#: Element names already judged by lxml (its rules, not a copy of them); bounded.
_NAME_OK: dict[str, bool] = {}
_NAMESPACE_OK: dict[str, bool] = {}


def _lxml_accepts(name: str, cache: dict[str, bool], make: Any) -> bool:
    ok = cache.get(name)
    if ok is None:
        try:
            make(name)
            ok = True
        except (ValueError, TypeError):
            ok = False
        if len(cache) < 4096:
            cache[name] = ok
    return ok


def _plain_name(name: str) -> None:
    if "{" in name:   # Clark notation: a namespace of its own, which lxml prefixes
        raise ValueError(name)
    etree.Element(name)


def _direct_xml(tree: Tree, root: str, namespace: str | None) -> str:
    if not _lxml_accepts(root, _NAME_OK, _plain_name):
        raise _NeedsLxml
    out: list[str] = []
    if namespace:
        if (not _lxml_accepts(namespace, _NAMESPACE_OK, lambda ns: etree.Element("{%s}a" % ns, nsmap={None: ns}))
                or any(c in namespace for c in '&<>"\r\n\t')):
            raise _NeedsLxml
        _element(out, root, tree, f' xmlns="{namespace}"')
    else:
        _element(out, root, tree, "")
    text = "".join(out)
    # printable text holds none of them (they are all controls, surrogates or unassigned)
    if not text.isprintable() and _NOT_XML_CHAR.search(text) is not None:
        raise _NeedsLxml
    return text


def _escape(text: str) -> str:
    for char, entity in _ESCAPES:
        text = text.replace(char, entity)
    return text


def _element(out: list[str], name: str, value: Any, attrs: str = "") -> None:
    cls = value.__class__
    if cls is dict:
        start = len(out)
        out.append(f"<{name}{attrs}>")
        known = _NAME_OK
        for key, item in value.items():
            if known.get(key) is not True and (key.__class__ is not str
                                               or not _lxml_accepts(key, known, _plain_name)):
                raise _NeedsLxml   # `@attr`, `#text`, or a name lxml must judge
            if item.__class__ is str:        # a text leaf, written here (most elements)
                if "&" in item or "<" in item or ">" in item or "\r" in item:
                    item = _escape(item)
                out.append(f"<{key}>{item}</{key}>")
            elif item.__class__ is list:
                _items(out, key, item)
            else:
                _element(out, key, item)
        if len(out) == start + 1:   # no children (an empty dict, or only empty lists)
            out[start] = f"<{name}{attrs}/>"
        else:
            out.append(f"</{name}>")
    elif value is None:
        out.append(f"<{name}{attrs}/>")
    elif cls is list or isinstance(value, dict):
        raise _NeedsLxml
    else:
        text = value if cls is str else fmt(value)
        if "&" in text or "<" in text or ">" in text or "\r" in text:
            text = _escape(text)
        out.append(f"<{name}{attrs}>{text}</{name}>")


def _items(out: list[str], name: str, items: list[Any]) -> None:
    for item in items:   # a list repeats its element; a list in a list is flattened
        if item.__class__ is list:
            _items(out, name, item)
        else:
            _element(out, name, item)
