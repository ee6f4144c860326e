"""Property: the direct XML writer (bridge.codecs.xmltree.tree_to_xml) writes exactly the bytes
the lxml tree writes, for any tree, or hands the tree to lxml, which then raises the same error.

Plain trees take the direct path on every reply; lxml stays the reference for what a correct
document is (names, characters, escaping, empty elements, charsets).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.codecs import xmltree
from bridge.errors import BridgeError

from tests.property.strategies import json_values, xml_names, xml_trees

CHARSETS = ["UTF-8", "utf-8", "GBK", "GB18030"]
#: Text that needs escaping, or that lxml refuses, mixed with ordinary text.
awkward_text = st.text(st.sampled_from(list("a中&<>\"'\r\n\t ]") + ["\x01", "\ud800", "\ufffe", "😀"]),
                       max_size=6)
awkward_names = xml_names | st.sampled_from(["a b", "1a", "", "@id", "#text", "{urn:x}a", "中文", "a:b"])
awkward_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | awkward_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(awkward_names, inner, max_size=3),
    max_leaves=10)


def through_lxml(tree: Any, root: str, encoding: str, namespace: str | None) -> bytes:
    return xmltree.serialize(xmltree.tree_to_element(tree, root, namespace), encoding=encoding)


def same_outcome(tree: Any, root: str, encoding: str = "UTF-8", namespace: str | None = None) -> None:
    try:
        want: bytes | str = through_lxml(tree, root, encoding, namespace)
    except BridgeError as exc:
        want = f"{type(exc).__name__}: {exc.message}"
    try:
        got: bytes | str = xmltree.tree_to_xml(tree, root, encoding=encoding, namespace=namespace)
    except BridgeError as exc:
        got = f"{type(exc).__name__}: {exc.message}"
    assert got == want


@given(xml_trees, xml_names, st.sampled_from(CHARSETS))
def test_decoded_xml_trees(tree: Any, root: str, encoding: str) -> None:
    same_outcome(tree, root, encoding)


@given(awkward_trees, awkward_names, st.sampled_from(CHARSETS), st.sampled_from([None, "urn:a", "urn:a b"]))
def test_any_tree_with_awkward_names_and_text(tree: Any, root: str, encoding: str, ns: str | None) -> None:
    same_outcome(tree, root, encoding, ns)


@given(json_values, st.sampled_from(CHARSETS))
def test_json_shaped_trees(tree: Any, encoding: str) -> None:
    same_outcome(tree, "reply", encoding)


@pytest.mark.parametrize("tree", [
    {"a": "x&y<z>\r"}, {"a": ""}, {"a": None}, {"a": {}}, {"a": [["p"], "q"]}, {"a": True},
    {"a": {"b": []}},
])
def test_examples_take_the_direct_path(tree: Any) -> None:
    text = xmltree._direct_xml(tree, "r", None)   # raises if these went to lxml
    assert xmltree.tree_to_xml(tree, "r", encoding="UTF-8") == through_lxml(tree, "r", "UTF-8", None)
    assert text.startswith("<r>")
