"""Generated body trees (DESIGN §2) and bytes for the codec properties."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: XML element names: ASCII letters, digits, ``_``, ``-``; never starting with "xml" (reserved).
xml_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_\-]{0,7}", fullmatch=True).filter(
    lambda n: not n.lower().startswith("xml"))

#: Text an XML document can carry and give back unchanged: no control characters (the XML
#: parser normalises CR and refuses most C0), no surrogates or unassigned code points
#: (U+FFFE/U+FFFF are not XML characters), and not whitespace only (that is formatting).
xml_text = st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn")), min_size=1,
                   max_size=12).filter(lambda t: not t.isspace())


def _element(children: Any) -> Any:
    """An element's content: text, or a non-empty dict of attributes and children."""
    attrs = st.dictionaries(xml_names.map(lambda n: "@" + n), xml_text, max_size=2)
    kids = st.dictionaries(xml_names, children, max_size=4)

    def build(parts: tuple[dict[str, Any], dict[str, Any], str | None]) -> dict[str, Any]:
        a, k, text = parts
        node = {**a, **k}
        if text is not None and a and not k:
            node["#text"] = text              # text beside attributes: kept under #text
        return node
    return st.tuples(attrs, kids, st.none() | xml_text).map(build).filter(bool)


def _value(element: Any) -> Any:
    """A child's value: an element, or a list of >= 2 of them (repeated siblings)."""
    return st.one_of(element, st.lists(element, min_size=2, max_size=3))


xml_elements = st.recursive(xml_text, lambda inner: _element(_value(inner)), max_leaves=12)
#: A body tree as an XML document decodes: the root's content is a non-empty dict.
xml_trees = _element(_value(xml_elements))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=10),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6), inner, max_size=4),
    max_leaves=20)

form_fields = st.dictionaries(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12), max_size=6)


def mutated(seed: bytes) -> Any:
    """``seed`` with a few bytes flipped, inserted, deleted or cut: malformed but close enough
    to valid that parsing gets deep before it fails."""
    edit = st.tuples(st.sampled_from(["flip", "insert", "delete", "cut"]),
                     st.integers(0, max(len(seed) - 1, 0)), st.binary(min_size=1, max_size=4))

    def apply(edits: list[tuple[str, int, bytes]]) -> bytes:
        data = bytearray(seed)
        for op, pos, blob in edits:
            pos = min(pos, len(data))
            if op == "flip" and pos < len(data):
                data[pos] ^= blob[0] or 0x80
            elif op == "insert":
                data[pos:pos] = blob
            elif op == "delete":
                del data[pos:pos + len(blob)]
            elif op == "cut":
                del data[pos:]
        return bytes(data)
    return st.lists(edit, min_size=1, max_size=4).map(apply)
